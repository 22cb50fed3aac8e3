// A private schema on the PostgreSQL server named by SF_TEST_POSTGRES_DSN, for one test.
//
// Each test gets a fresh schema (created here, dropped with everything in it on destruction) and a
// store URL whose `options=-csearch_path=SCHEMA` puts the store's tables there, so tests never see
// each other's rows and need no cleanup between them. Without SF_TEST_POSTGRES_DSN the schema is
// unavailable and tests skip with unavailable_reason().
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>

namespace sf::store::testing {

inline constexpr const char* kPostgresDsnVariable = "SF_TEST_POSTGRES_DSN";
inline constexpr const char* kPostgresUnavailable =
    "set SF_TEST_POSTGRES_DSN (scripts/postgres.sh start prints one)";

class PostgresTestSchema {
 public:
  PostgresTestSchema() {
    const char* dsn = std::getenv(kPostgresDsnVariable);
    if (dsn == nullptr || dsn[0] == '\0') return;
    base_dsn_ = dsn;
    static std::atomic<int> counter{0};
    const auto clock = std::chrono::steady_clock::now().time_since_epoch().count();
    schema_ = "sf_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
              std::to_string(clock % 1'000'000);
    admin_ = PQconnectdb(base_dsn_.c_str());
    if (PQstatus(admin_) != CONNECTION_OK) {
      ADD_FAILURE() << kPostgresDsnVariable
                    << " is set but the server refuses: " << PQerrorMessage(admin_);
      return;
    }
    PQsetNoticeProcessor(
        admin_, [](void*, const char*) {}, nullptr);
    exec("CREATE SCHEMA " + schema_);
    exec("SET search_path = " + schema_);
  }
  ~PostgresTestSchema() {
    if (admin_ != nullptr) {
      if (PQstatus(admin_) == CONNECTION_OK) exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
      PQfinish(admin_);
    }
  }
  PostgresTestSchema(const PostgresTestSchema&) = delete;
  PostgresTestSchema& operator=(const PostgresTestSchema&) = delete;

  bool available() const { return !base_dsn_.empty(); }
  std::string unavailable_reason() const { return available() ? "" : kPostgresUnavailable; }
  const std::string& schema() const { return schema_; }
  const std::string& base_dsn() const { return base_dsn_; }

  // The store URL: the base DSN with the schema as search_path and as application_name (which
  // finds the store's server process in pg_stat_activity).
  std::string url() const {
    const char separator = base_dsn_.find('?') == std::string::npos ? '?' : '&';
    return base_dsn_ + separator + "options=-csearch_path%3D" + schema_ +
           "&application_name=" + schema_;
  }

  // Runs SQL on a separate connection whose search_path is the schema.
  void exec(const std::string& sql) {
    PGresult* result = PQexec(admin_, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(result);
    }
    PQclear(result);
  }

  // The first column of the first row as text ("" when there is no row, "NULL" for NULL).
  std::string scalar(const std::string& sql) {
    PGresult* result = PQexec(admin_, sql.c_str());
    std::string out;
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(result);
    } else if (PQntuples(result) > 0) {
      out = PQgetisnull(result, 0, 0) ? "NULL" : PQgetvalue(result, 0, 0);
    }
    PQclear(result);
    return out;
  }

 private:
  std::string base_dsn_;
  std::string schema_;
  PGconn* admin_ = nullptr;
};

}  // namespace sf::store::testing
