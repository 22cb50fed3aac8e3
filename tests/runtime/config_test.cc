#include "runtime/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace sf::runtime {
namespace {

using namespace std::chrono_literals;

ConfigParser make_parser() {
  ConfigParser parser("streamforge dummy-service", "Consumes a queue and does nothing.");
  parser.add({.name = "QUEUE_ID", .help = "Queue to consume", .required = true});
  parser.add(
      {.name = "PORT", .type = OptionType::kInt, .default_value = "8080", .help = "HTTP port"});
  parser.add({.name = "RATIO", .type = OptionType::kDouble, .default_value = "0.5"});
  parser.add(
      {.name = "VERBOSE", .type = OptionType::kBool, .default_value = "false", .help = "Log more"});
  parser.add({.name = "POLL_TIMEOUT",
              .type = OptionType::kDuration,
              .default_value = "1.5",
              .help = "How long a poll waits"});
  parser.add({.name = "NOTE", .help = "Optional text"});
  return parser;
}

// An environment that only holds what the test puts in it.
ConfigParser::EnvLookup fake_env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents)
      : path_(std::filesystem::temp_directory_path() /
              ("sf_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++) +
               ".env")) {
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(ConfigTest, FlagBeatsEnvBeatsFileBeatsDefault) {
  ConfigParser parser("svc");
  for (const char* name : {"SFTEST_A", "SFTEST_B", "SFTEST_C", "SFTEST_D"}) {
    parser.add({.name = name, .type = OptionType::kInt, .default_value = "4"});
  }
  // '#' starts a comment only at the beginning of a line: trailing text is part of the value.
  TempFile file("# settings\nSFTEST_A=3\n\nSFTEST_B = 3\n  SFTEST_C=\"3\"  # not a comment\n");
  TempFile clean("# settings\nSFTEST_A=3\n\nSFTEST_B = 3\n  SFTEST_C=\"3\"\n");
  ::setenv("SFTEST_A", "2", 1);
  ::setenv("SFTEST_B", "2", 1);
  ::setenv("SF_CONFIG", clean.path().c_str(), 1);
  const char* argv[] = {"svc", "--sftest-a", "1"};
  auto config = parser.parse(3, argv);
  ::unsetenv("SFTEST_A");
  ::unsetenv("SFTEST_B");
  ::unsetenv("SF_CONFIG");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->get_int("SFTEST_A"), 1);
  EXPECT_EQ(config->get_int("SFTEST_B"), 2);
  EXPECT_EQ(config->get_int("SFTEST_C"), 3);
  EXPECT_EQ(config->get_int("SFTEST_D"), 4);
  EXPECT_EQ(config->source("SFTEST_A"), ConfigSource::kFlag);
  EXPECT_EQ(config->source("SFTEST_B"), ConfigSource::kEnv);
  EXPECT_EQ(config->source("SFTEST_C"), ConfigSource::kFile);
  EXPECT_EQ(config->source("SFTEST_D"), ConfigSource::kDefault);
  EXPECT_EQ(config->config_file(), clean.path());

  // A value with trailing text is not a number: the error names the file and line.
  auto bad = parser.parse({"--config", file.path()}, fake_env({}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find(file.path() + " line 5"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("SFTEST_C"), std::string::npos) << bad.error();
}

TEST(ConfigTest, ConfigFlagWinsOverSfConfigEnv) {
  ConfigParser parser("svc");
  parser.add({.name = "NAME"});
  TempFile from_env("NAME=env-file\n");
  TempFile from_flag("export NAME='flag-file'\n");
  auto config =
      parser.parse({"--config=" + from_flag.path()}, fake_env({{"SF_CONFIG", from_env.path()}}));
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->get_string("NAME"), "flag-file");
}

TEST(ConfigTest, FlagSyntaxes) {
  auto config =
      make_parser().parse({"--queue-id=q1", "--port", "9000", "--verbose", "pos1", "--ratio=-2.5",
                           "--poll-timeout", "250ms", "--", "--not-a-flag"},
                          fake_env({}));
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->get_string("QUEUE_ID"), "q1");
  EXPECT_EQ(config->get_int("PORT"), 9000);
  EXPECT_TRUE(config->get_bool("VERBOSE"));
  EXPECT_EQ(config->get_double("RATIO"), -2.5);
  EXPECT_EQ(config->get_duration("POLL_TIMEOUT"), 250ms);
  EXPECT_FALSE(config->has("NOTE"));
  EXPECT_TRUE(config->has("PORT"));
  EXPECT_EQ(config->positional(), (std::vector<std::string>{"pos1", "--not-a-flag"}));
  EXPECT_FALSE(config->help_requested());

  auto negated =
      make_parser().parse({"--queue-id", "q", "--no-verbose"}, fake_env({{"VERBOSE", "true"}}));
  ASSERT_TRUE(negated) << negated.error();
  EXPECT_FALSE(negated->get_bool("VERBOSE"));

  auto explicit_false =
      make_parser().parse({"--queue-id", "q", "--verbose=off", "-5"}, fake_env({}));
  ASSERT_TRUE(explicit_false) << explicit_false.error();
  EXPECT_FALSE(explicit_false->get_bool("VERBOSE"));
  EXPECT_EQ(explicit_false->positional(), (std::vector<std::string>{"-5"}));
}

TEST(ConfigTest, DefaultsAndEnvironment) {
  auto config = make_parser().parse(
      {},
      fake_env({{"QUEUE_ID", "from-env"}, {"PORT", "7"}, {"POLL_TIMEOUT", "2m"}, {"NOTE", ""}}));
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->get_string("QUEUE_ID"), "from-env");
  EXPECT_EQ(config->get_int("PORT"), 7);
  EXPECT_EQ(config->get_duration("POLL_TIMEOUT"), 120s);
  EXPECT_EQ(config->get_double("RATIO"), 0.5);
  EXPECT_FALSE(config->get_bool("VERBOSE"));
  EXPECT_FALSE(config->has("NOTE"));  // empty variables count as unset
  ASSERT_EQ(config->entries().size(), 6u);
  EXPECT_EQ(config->entries()[0].spec.name, "QUEUE_ID");
  EXPECT_EQ(config->entries()[0].source, ConfigSource::kEnv);
}

TEST(ConfigTest, ErrorsNameTheCulprit) {
  auto unknown = make_parser().parse({"--queue-id", "q", "--bogus", "1"}, fake_env({}));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("unknown flag --bogus"), std::string::npos) << unknown.error();

  auto single_dash = make_parser().parse({"-x"}, fake_env({}));
  ASSERT_FALSE(single_dash);
  EXPECT_NE(single_dash.error().find("-x"), std::string::npos);

  auto bad_int = make_parser().parse({"--queue-id", "q", "--port", "abc"}, fake_env({}));
  ASSERT_FALSE(bad_int);
  EXPECT_NE(bad_int.error().find("--port"), std::string::npos) << bad_int.error();
  EXPECT_NE(bad_int.error().find("'abc'"), std::string::npos) << bad_int.error();
  EXPECT_NE(bad_int.error().find("integer"), std::string::npos) << bad_int.error();

  auto bad_int_inline = make_parser().parse({"--queue-id=q", "--port=12x"}, fake_env({}));
  ASSERT_FALSE(bad_int_inline);
  EXPECT_NE(bad_int_inline.error().find("--port"), std::string::npos);

  auto bad_env = make_parser().parse({"--queue-id", "q"}, fake_env({{"PORT", "eighty"}}));
  ASSERT_FALSE(bad_env);
  EXPECT_NE(bad_env.error().find("environment variable PORT"), std::string::npos)
      << bad_env.error();

  auto bad_bool = make_parser().parse({"--queue-id", "q", "--verbose=maybe"}, fake_env({}));
  ASSERT_FALSE(bad_bool);
  EXPECT_NE(bad_bool.error().find("--verbose"), std::string::npos);

  auto bad_duration =
      make_parser().parse({"--queue-id", "q", "--poll-timeout", "soon"}, fake_env({}));
  ASSERT_FALSE(bad_duration);
  EXPECT_NE(bad_duration.error().find("--poll-timeout"), std::string::npos);

  auto missing_value = make_parser().parse({"--queue-id", "q", "--port"}, fake_env({}));
  ASSERT_FALSE(missing_value);
  EXPECT_NE(missing_value.error().find("--port requires a value"), std::string::npos)
      << missing_value.error();

  auto missing_required = make_parser().parse({}, fake_env({}));
  ASSERT_FALSE(missing_required);
  EXPECT_NE(missing_required.error().find("--queue-id"), std::string::npos);
  EXPECT_NE(missing_required.error().find("QUEUE_ID"), std::string::npos);

  auto missing_file =
      make_parser().parse({"--queue-id", "q", "--config", "/nonexistent/x.env"}, fake_env({}));
  ASSERT_FALSE(missing_file);
  EXPECT_NE(missing_file.error().find("/nonexistent/x.env"), std::string::npos);

  TempFile unknown_key("QUEUE_ID=q\nPROT=80\n");
  auto typo = make_parser().parse({"--config", unknown_key.path()}, fake_env({}));
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().find("line 2: unknown option PROT"), std::string::npos) << typo.error();

  TempFile no_equals("QUEUE_ID\n");
  EXPECT_FALSE(make_parser().parse({"--config", no_equals.path()}, fake_env({})));
}

TEST(ConfigTest, HelpListsEveryFlagWithEnvAndDefault) {
  const ConfigParser parser = make_parser();
  auto config = parser.parse({"--port", "abc", "--help"}, fake_env({}));
  // Invalid values before --help are reported; help after valid args short-circuits.
  EXPECT_FALSE(config);
  auto help = parser.parse({"--help", "--port", "abc"}, fake_env({}));
  ASSERT_TRUE(help);
  EXPECT_TRUE(help->help_requested());

  const std::string text = parser.help_text();
  EXPECT_TRUE(text.starts_with("Usage: streamforge dummy-service [options]")) << text;
  EXPECT_NE(text.find("Consumes a queue and does nothing."), std::string::npos);
  EXPECT_NE(text.find("--queue-id STRING\n      Queue to consume (env QUEUE_ID, required)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("--port INT\n      HTTP port (env PORT, default 8080)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("--verbose\n      Log more (env VERBOSE, default false, --no-verbose"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("--poll-timeout DURATION"), std::string::npos);
  EXPECT_NE(text.find("--ratio NUMBER"), std::string::npos);
  EXPECT_NE(text.find("--config FILE"), std::string::npos);
  EXPECT_NE(text.find("SF_CONFIG"), std::string::npos);
  EXPECT_NE(text.find("--help"), std::string::npos);
}

TEST(ConfigTest, ValueParsers) {
  EXPECT_EQ(*parse_duration("1.5"), 1500ms);
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("2h"), 2h);
  EXPECT_FALSE(parse_duration("-1"));
  EXPECT_FALSE(parse_duration("ms"));
  EXPECT_FALSE(parse_duration("1d"));
  EXPECT_TRUE(*parse_bool("YES"));
  EXPECT_FALSE(*parse_bool("0"));
  EXPECT_FALSE(parse_bool("2"));
  EXPECT_EQ(flag_for("QUEUE_ID"), "--queue-id");
}

TEST(ConfigTest, DeclarationMistakesThrow) {
  ConfigParser parser("svc");
  parser.add({.name = "A"});
  EXPECT_THROW(parser.add({.name = "A"}), std::invalid_argument);
  EXPECT_THROW(parser.add({.name = "lower"}), std::invalid_argument);
  EXPECT_THROW(parser.add({.name = "N", .type = OptionType::kInt, .default_value = "x"}),
               std::invalid_argument);
  EXPECT_THROW(parser.add({.name = "R", .default_value = "x", .required = true}),
               std::invalid_argument);
  auto config = parser.parse({}, fake_env({}));
  ASSERT_TRUE(config);
  EXPECT_THROW((void)config->get_int("A"), std::logic_error);
  EXPECT_THROW((void)config->get_string("MISSING"), std::logic_error);
}

}  // namespace
}  // namespace sf::runtime
