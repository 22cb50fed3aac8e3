#include "runtime/secrets.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

extern char** environ;  // NOLINT: POSIX

namespace sf::runtime {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && lower(haystack[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && contains_ci(s.substr(s.size() - suffix.size()), suffix);
}

// The userinfo password of the URL starting at `scheme_end` ("://" position) in `text`: its
// [begin, end) range, or begin == end when the URL has none. The authority ends only where a URL
// says it does ('/', '?', '#') or at whitespace: ',' and ';' may stand in a password as they are.
std::pair<std::size_t, std::size_t> url_password(std::string_view text, std::size_t scheme_end) {
  const std::size_t start = scheme_end + 3;
  std::size_t stop = text.find_first_of("/?# \t\r\n", start);
  if (stop == std::string_view::npos) stop = text.size();
  const std::string_view authority = text.substr(start, stop - start);
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return {0, 0};
  const std::size_t colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos || colon + 1 == at) return {0, 0};
  return {start + colon + 1, start + at};
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The value of a password keyword: libpq's "host=h password = pw" (spaces allowed around '=',
// the value ends at whitespace, or is quoted: password='a b') or a URL query's
// "?password=pw&..." (ends at '&' or '#'): [begin, end), or begin == end when there is none.
std::pair<std::size_t, std::size_t> keyword_password(std::string_view text, std::size_t from) {
  for (std::size_t i = from; i + 8 <= text.size(); ++i) {
    if (!contains_ci(text.substr(i, 8), "password")) continue;
    // A keyword starts the text or follows a separator ("my_password=" is another word).
    const char before = i > 0 ? text[i - 1] : ' ';
    if (!is_space(before) && before != '?' && before != '&') continue;
    std::size_t begin = i + 8;
    while (begin < text.size() && is_space(text[begin])) ++begin;
    if (begin >= text.size() || text[begin] != '=') continue;
    ++begin;
    while (begin < text.size() && is_space(text[begin])) ++begin;
    std::size_t end = begin;
    const bool in_query = before == '?' || before == '&';
    if (!in_query && end < text.size() && text[end] == '\'') {
      ++begin;
      end = text.find('\'', begin);
      if (end == std::string_view::npos) end = text.size();
    } else {
      while (end < text.size() && !is_space(text[end]) &&
             !(in_query && (text[end] == '&' || text[end] == '#')))
        ++end;
    }
    if (end > begin) return {begin, end};
  }
  return {0, 0};
}

bool valid_env_name(std::string_view name) {
  if (name.empty()) return false;
  if (name.front() >= '0' && name.front() <= '9') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

bool is_secret_name(std::string_view name) {
  // Paths to files that hold secrets (SF_SECRETS_FILE, SF_API_TOKENS_FILE, ..._KEY_FILE) are not
  // secrets themselves.
  if (ends_with_ci(name, "_file") || ends_with_ci(name, "_path") || ends_with_ci(name, "_dir"))
    return false;
  for (std::string_view word : {"password", "passwd", "secret", "token", "api_key", "apikey",
                                "access_key", "private_key", "credential", "jaas"})
    if (contains_ci(name, word)) return true;
  return ends_with_ci(name, "_dsn") || (name.size() == 3 && contains_ci(name, "dsn"));
}

bool value_has_credentials(std::string_view value) {
  for (std::size_t p = value.find("://"); p != std::string_view::npos;
       p = value.find("://", p + 3)) {
    auto [begin, end] = url_password(value, p);
    if (end > begin) return true;
  }
  auto [begin, end] = keyword_password(value, 0);
  return end > begin;
}

std::string redact_credentials(std::string_view value) {
  std::string out(value);
  // URL passwords, last first so that earlier positions stay valid.
  std::vector<std::pair<std::size_t, std::size_t>> cuts;
  for (std::size_t p = out.find("://"); p != std::string::npos; p = out.find("://", p + 3)) {
    auto range = url_password(out, p);
    if (range.second > range.first) cuts.push_back(range);
  }
  for (std::size_t from = 0;;) {
    auto range = keyword_password(out, from);
    if (range.second <= range.first) break;
    cuts.push_back(range);
    from = range.second;
  }
  std::sort(cuts.begin(), cuts.end());
  for (auto it = cuts.rbegin(); it != cuts.rend(); ++it)
    out.replace(it->first, it->second - it->first, "***");
  return out;
}

Result<void, std::string> for_each_setting_line(
    std::string_view text,
    const std::function<Result<void, std::string>(std::size_t, std::string_view)>& fn) {
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos <= text.size();) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    if (auto r = fn(line_no, line); !r)
      return unexpected("line " + std::to_string(line_no) + ": " + r.error());
  }
  return {};
}

Result<std::map<std::string, std::string, std::less<>>, std::string> parse_secrets_file(
    std::string_view text) {
  std::map<std::string, std::string, std::less<>> out;
  auto parsed = for_each_setting_line(
      text, [&out](std::size_t, std::string_view line) -> Result<void, std::string> {
        if (line.starts_with("export ")) line.remove_prefix(7);
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) return unexpected(std::string("expected KEY=VALUE"));
        std::string_view key = line.substr(0, eq);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
        if (!valid_env_name(key)) return unexpected(std::string("bad variable name"));
        std::string_view value = line.substr(eq + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
          value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
          value.remove_suffix(1);
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
          value = value.substr(1, value.size() - 2);
        out[std::string(key)] = std::string(value);
        return {};
      });
  if (!parsed) return unexpected(parsed.error());
  return out;
}

Result<std::shared_ptr<SecretStore>, std::string> SecretStore::from_environment() {
  auto store = std::make_shared<SecretStore>();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq + 1 == entry.size()) continue;
    const std::string_view name = entry.substr(0, eq), value = entry.substr(eq + 1);
    if (is_secret(name, value)) store->values_.emplace(std::string(name), std::string(value));
  }
  if (const char* file = std::getenv(kSecretsFileEnv); file != nullptr && *file != '\0') {
    if (auto r = store->add_file(file); !r) return unexpected(r.error());
  }
  return store;
}

void SecretStore::set(std::string name, std::string value) {
  std::lock_guard lock(mu_);
  values_[std::move(name)] = std::move(value);
}

Result<void, std::string> SecretStore::add_file(std::string path) {
  std::lock_guard lock(mu_);
  file_ = std::move(path);
  file_mtime_ns_ = file_size_ = -1;
  return reload_file_locked();
}

Result<void, std::string> SecretStore::reload_file_locked() const {
  if (file_.empty()) return {};
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0)
    return unexpected(std::string(kSecretsFileEnv) + ": cannot read " + file_);
  const std::int64_t mtime =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (mtime == file_mtime_ns_ && st.st_size == file_size_) return {};
  std::ifstream in(file_);
  if (!in) return unexpected(std::string(kSecretsFileEnv) + ": cannot read " + file_);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parse_secrets_file(text.str());
  if (!parsed)
    return unexpected(std::string(kSecretsFileEnv) + " " + file_ + ": " + parsed.error());
  file_values_ = std::move(*parsed);
  file_mtime_ns_ = mtime;
  file_size_ = st.st_size;
  return {};
}

std::vector<std::string> SecretStore::names() const {
  std::lock_guard lock(mu_);
  (void)reload_file_locked();  // a file that went away keeps its last good values
  std::vector<std::string> out;
  for (const auto& [name, value] : values_) out.push_back(name);
  for (const auto& [name, value] : file_values_)
    if (!values_.count(name)) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> SecretStore::get(std::string_view name) const {
  std::lock_guard lock(mu_);
  (void)reload_file_locked();
  // The file wins over the environment: it is the one that gets rotated.
  if (auto it = file_values_.find(name); it != file_values_.end()) return it->second;
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  return std::nullopt;
}

}  // namespace sf::runtime
