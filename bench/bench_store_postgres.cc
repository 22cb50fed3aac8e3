// PostgreSQL ingest throughput: N trades (default 1,000,000) through PostgresStore::upsert_trades
// in batches (default 10,000), against the baseline of psql's `\copy` of the same rows, in the
// same column layout, into a table of the same shape (columns, primary key, time index). Prints
// both rates and their ratio (ours / \copy), then the rate of replaying the same batches (every
// key exists: the merge path).
//
//   bench_store_postgres [--rows N] [--batch N] [--dsn DSN]
//
// The DSN comes from --dsn, else SF_BENCH_POSTGRES_DSN, SF_TEST_POSTGRES_DSN or POSTGRES_DSN
// (bench/pg_ingest.sh starts a server and passes one). Everything is written to a fresh schema
// that is dropped at the end; psql must be on PATH.
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "store/store.h"

namespace {

using sf::Decimal;
using sf::Symbol;
using sf::Trade;
using Clock = std::chrono::steady_clock;

constexpr sf::TimestampUs kT0 = 1767225600039409;
constexpr std::int64_t kFirstId = 50093239218;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_store_postgres: %s\n", message.c_str());
  std::exit(1);
}

// Realistic BTCUSDT trades: 8-decimal prices and quantities, ids and µs times increasing (as in
// bench_store.cc).
std::vector<Trade> make_batch(std::int64_t first_id, std::size_t size) {
  static const Symbol kSymbol = *Symbol::parse("BTCUSDT");
  std::vector<Trade> batch;
  batch.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    const std::int64_t id = first_id + static_cast<std::int64_t>(i);
    const sf::TimestampUs time = kT0 + id * 137;
    batch.push_back(Trade{.symbol = kSymbol,
                          .trade_id = id,
                          .price = Decimal::from_parts(6183763000000 + (id % 5000) * 1000000, 8),
                          .quantity = Decimal::from_parts(2000000 + (id % 97) * 10000, 8),
                          .trade_time = time,
                          .event_time = time + 350,
                          .receive_time = time + 1200,
                          .is_buyer_maker = id % 3 == 0,
                          .is_best_match = true});
  }
  return batch;
}

// One CSV line in the trades table's column order.
void append_csv(const Trade& t, std::string* out) {
  char buf[Decimal::kMaxTextLength + 2];
  out->append(t.symbol.view()).push_back(',');
  out->append(std::to_string(t.trade_id)).push_back(',');
  out->append(buf, t.price.format_to(buf)).push_back(',');
  out->append(buf, t.quantity.format_to(buf)).push_back(',');
  out->append(std::to_string(t.trade_time)).push_back(',');
  out->append(std::to_string(t.event_time)).push_back(',');
  out->append(std::to_string(t.receive_time)).push_back(',');
  out->append(t.is_buyer_maker ? "t," : "f,");
  if (t.is_best_match) out->append(*t.is_best_match ? "t" : "f");
  out->push_back('\n');
}

class AdminConnection {
 public:
  explicit AdminConnection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) die(std::string("connect: ") + PQerrorMessage(conn_));
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
  ~AdminConnection() { PQfinish(conn_); }
  AdminConnection(const AdminConnection&) = delete;
  AdminConnection& operator=(const AdminConnection&) = delete;

  std::string scalar(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string message = PQresultErrorMessage(result);
      PQclear(result);
      die(sql + ": " + message);
    }
    std::string out = PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return out;
  }

 private:
  PGconn* conn_;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t rows = 1'000'000;
  std::size_t batch_size = 10'000;
  std::string dsn;
  for (const char* name : {"SF_BENCH_POSTGRES_DSN", "SF_TEST_POSTGRES_DSN", "POSTGRES_DSN"}) {
    if (const char* value = std::getenv(name); dsn.empty() && value != nullptr) dsn = value;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rows") == 0) {
      rows = std::stoul(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--batch") == 0) {
      batch_size = std::stoul(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--dsn") == 0) {
      dsn = argv[i + 1];
    } else {
      die(std::string("unknown option ") + argv[i]);
    }
  }
  if (dsn.empty()) die("no DSN: pass --dsn or set SF_BENCH_POSTGRES_DSN (see bench/pg_ingest.sh)");
  if (rows == 0 || batch_size == 0) die("--rows and --batch must be positive");

  const std::string schema = "sf_bench_" + std::to_string(::getpid());
  const std::string url =
      dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
  AdminConnection admin(dsn);
  admin.scalar("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  admin.scalar("CREATE SCHEMA " + schema);
  admin.scalar("SET search_path = " + schema);
  const std::filesystem::path csv = std::filesystem::temp_directory_path() /
                                    ("sf_bench_pg_" + std::to_string(::getpid()) + ".csv");

  std::printf("PostgreSQL ingest, %zu trades, batches of %zu (server %s)\n", rows, batch_size,
              admin.scalar("SHOW server_version").c_str());
  std::fflush(stdout);

  // 1. Ours: batches through the store, timing only the upsert calls (not building the rows).
  auto opened = sf::store::open_store(url);
  if (!opened) die("open_store: " + opened.error().message);
  std::unique_ptr<sf::store::Store> store = std::move(*opened);
  double ours_seconds = 0;
  for (std::size_t done = 0; done < rows; done += batch_size) {
    const std::vector<Trade> batch =
        make_batch(kFirstId + static_cast<std::int64_t>(done), std::min(batch_size, rows - done));
    const auto start = Clock::now();
    auto written = store->upsert_trades(batch);
    ours_seconds += seconds_since(start);
    if (!written) die("upsert_trades: " + written.error().message);
  }

  // 2. The baseline: the same rows as CSV, loaded by psql's \copy into a table of the same shape.
  {
    std::ofstream out(csv, std::ios::binary);
    std::string text;
    for (std::size_t done = 0; done < rows; done += batch_size) {
      text.clear();
      for (const Trade& t : make_batch(kFirstId + static_cast<std::int64_t>(done),
                                       std::min(batch_size, rows - done))) {
        append_csv(t, &text);
      }
      out << text;
    }
    if (!out) die("writing " + csv.string());
  }
  admin.scalar("CREATE TABLE trades_copy (LIKE trades INCLUDING ALL)");
  const std::string command =
      "psql -X -q -v ON_ERROR_STOP=1 " + shell_quoted(dsn) + " -c " +
      shell_quoted("\\copy " + schema + ".trades_copy FROM '" + csv.string() + "' CSV");
  const auto copy_start = Clock::now();
  const int status = std::system(command.c_str());
  const double copy_seconds = seconds_since(copy_start);
  std::filesystem::remove(csv);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("psql \\copy failed");

  // 3. Not part of the comparison: replaying every batch (at-least-once redelivery), where each
  // row takes the staging + INSERT ... ON CONFLICT DO UPDATE path.
  double replay_seconds = 0;
  for (std::size_t done = 0; done < rows; done += batch_size) {
    const std::vector<Trade> batch =
        make_batch(kFirstId + static_cast<std::int64_t>(done), std::min(batch_size, rows - done));
    const auto start = Clock::now();
    auto written = store->upsert_trades(batch);
    replay_seconds += seconds_since(start);
    if (!written) die("replaying upsert_trades: " + written.error().message);
  }
  store.reset();

  const std::string ours_rows = admin.scalar("SELECT COUNT(*) FROM trades");
  const std::string copy_rows = admin.scalar("SELECT COUNT(*) FROM trades_copy");
  const std::string same = admin.scalar(
      "SELECT COUNT(*) FROM (SELECT * FROM trades EXCEPT SELECT * FROM trades_copy) AS d");
  admin.scalar("DROP SCHEMA " + schema + " CASCADE");
  if (ours_rows != std::to_string(rows) || copy_rows != std::to_string(rows) || same != "0") {
    die("row check failed: trades " + ours_rows + ", trades_copy " + copy_rows + ", differing " +
        same);
  }

  const double ours_rate = static_cast<double>(rows) / ours_seconds;
  const double copy_rate = static_cast<double>(rows) / copy_seconds;
  std::printf("PostgresStore::upsert_trades  %8.2f s  %10.0f rows/s\n", ours_seconds, ours_rate);
  std::printf("psql \\copy (CSV)              %8.2f s  %10.0f rows/s\n", copy_seconds, copy_rate);
  std::printf("ratio (ours / \\copy)          %8.2f\n", ours_rate / copy_rate);
  std::printf("replay of the same batches    %8.2f s  %10.0f rows/s  (upsert of existing keys)\n",
              replay_seconds, static_cast<double>(rows) / replay_seconds);
  return 0;
}
