// Library: opening the store, its schema and dimension, transactions, and small helpers.
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "library/internal.h"
#include "library/library.h"

namespace yantra::library {
namespace {

constexpr int kBusyTimeoutMs = 10000;
constexpr int kMaxDim = 1 << 16;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS library_entries(
  id INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,
  request TEXT NOT NULL,
  entry_point TEXT NOT NULL,
  signature TEXT NOT NULL,
  code TEXT NOT NULL,
  tests TEXT NOT NULL,
  embedding BLOB NOT NULL,
  tier TEXT NOT NULL,
  model TEXT NOT NULL,
  tests_passed INTEGER NOT NULL,
  tests_failed INTEGER NOT NULL,
  confidence REAL NOT NULL,
  avoid INTEGER NOT NULL,
  pending INTEGER NOT NULL DEFAULT 0,
  relies_on TEXT NOT NULL,
  fingerprints TEXT NOT NULL,
  valid INTEGER NOT NULL,
  invalid_reason TEXT NOT NULL,
  uses INTEGER NOT NULL,
  use_passes INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS library_entries_by_valid ON library_entries(valid, id);
CREATE TABLE IF NOT EXISTS library_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO library_info VALUES('schema_version', '1');
)sql";

Result<void> check_store(sqlite3* db, const std::string& path) {
  return check_yantra_store(db, path, "library", "move it aside and the library starts empty");
}

// Creates the tables, or checks the existing ones: schema version and dimension.
Result<void> prepare_schema(sqlite3* db, const std::string& path, int dim) {
  // WAL lets the indexer, the ledger and other libraries read and write beside this one.
  if (auto ok = exec(db, "PRAGMA journal_mode=WAL", path); !ok) return ok;
  if (auto ok = exec(db, "PRAGMA synchronous=NORMAL", path); !ok) return ok;
  auto tx = Transaction::begin(db, path);
  if (!tx) return tx.error();
  if (auto ok = exec(db, kSchema, path); !ok) return ok;
  Statement version(db, "SELECT value FROM library_info WHERE key='schema_version'", path);
  auto row = version.step();
  if (!row) return row.error();
  if (*row && std::atoi(version.text(0).c_str()) > kSchemaVersion)
    return Error::in(path, "library written by a newer Yantra (schema " + version.text(0) +
                               "); upgrade yantra to read it");
  Statement stored(db, "SELECT value FROM library_info WHERE key='dim'", path);
  row = stored.step();
  if (!row) return row.error();
  if (*row) {
    std::string text = stored.text(0);
    if (text != std::to_string(dim))
      return Error::in(path, "this library holds " + text +
                                 "-dimensional embeddings, but the student now gives " +
                                 std::to_string(dim) +
                                 "-dimensional ones; its entries cannot be searched with the "
                                 "new student. Delete " +
                                 path + " to start over with the new student");
  } else {
    Statement put(db, "INSERT INTO library_info VALUES('dim', ?)", path);
    if (auto ok = put.bind(1, std::to_string(dim)).run(); !ok) return ok;
    std::string app = "PRAGMA application_id=" + std::to_string(kYantraApplicationId);
    if (auto ok = exec(db, app.c_str(), path); !ok) return ok;
  }
  return tx->commit();
}

}  // namespace

Result<void> exec(sqlite3* db, const char* sql, const std::string& path) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) == SQLITE_OK) return {};
  std::string why = err ? err : sqlite3_errmsg(db);
  sqlite3_free(err);
  return Error::in(path, "library: " + why);
}

Result<Transaction> Transaction::begin(sqlite3* db, const std::string& path) {
  if (auto ok = exec(db, "BEGIN IMMEDIATE", path); !ok) return ok.error();
  return Transaction(db, path);
}

Result<void> Transaction::commit() {
  if (!db_) return Error::in(path_, "library: transaction already ended");
  auto ok = exec(std::exchange(db_, nullptr), "COMMIT", path_);
  return ok;
}

Transaction::~Transaction() {
  if (db_) exec(db_, "ROLLBACK", path_).ok();
}

std::vector<float> normalised(std::span<const float> v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  double norm = std::sqrt(sum);
  if (!(norm > 0) || !std::isfinite(norm)) return {};
  std::vector<float> unit(v.size());
  for (size_t i = 0; i < v.size(); ++i) unit[i] = static_cast<float>(v[i] / norm);
  return unit;
}

Result<void> check_vector(std::span<const float> v, int dim, std::string_view what,
                          const std::string& path) {
  std::string name(what);
  if (v.size() != static_cast<size_t>(dim))
    return Error::in(path, "library: " + name + " has " + std::to_string(v.size()) +
                               " values, this library holds " + std::to_string(dim) +
                               "-dimensional embeddings; embed it with the student the "
                               "library was made with, or delete " +
                               path + " to start over with the new student");
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      return Error::in(path, "library: " + name + " value " + std::to_string(i) +
                                 " is not a finite number; the student's output is broken");
  if (normalised(v).empty())
    return Error::in(path, "library: " + name +
                               " is all zeros (or too large to measure); it has no direction "
                               "to compare by cosine similarity");
  return {};
}

std::string utc_now() {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  time_t whole = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return text;
}

Library::State::~State() {
  if (db) sqlite3_close(db);
}

// A file of its own beside graph.db: a first index builds its store from scratch and
// renames it into place, which would drop anything else kept in graph.db.
std::string Library::db_path_for(const std::string& repo_dir) {
  return repo_dir + "/.yantra/library.db";
}

Library::Library(std::unique_ptr<State> state) : state_(std::move(state)) {}
Library::Library(Library&& other) noexcept = default;
Library& Library::operator=(Library&& other) noexcept = default;
Library::~Library() = default;

int Library::dim() const {
  return state_->dim;
}
const std::string& Library::path() const {
  return state_->path;
}

Result<Library> Library::open(const std::string& repo_dir, int dim) {
  std::string dir = repo_dir + "/.yantra";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error::in(dir, "cannot create the store directory: " + ec.message());
  return open_db(db_path_for(repo_dir), dim);
}

Result<Library> Library::open_db(const std::string& db_path, int dim) {
  if (dim <= 0 || dim > kMaxDim)
    return Error::in(db_path, "library: embedding dimension " + std::to_string(dim) +
                                  " is out of range; it must be 1 to " + std::to_string(kMaxDim));
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(db_path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error::in(db_path, "cannot open the library store: " + why);
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  Library library(std::make_unique<State>(db, db_path, dim));
  if (auto ok = check_store(db, db_path); !ok) return ok.error();
  if (auto ok = prepare_schema(db, db_path, dim); !ok) return ok.error();
  if (auto ok = sync(*library.state_); !ok) return ok.error();
  return library;
}

}  // namespace yantra::library
