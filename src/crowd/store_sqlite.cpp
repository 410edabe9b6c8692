// The crowd store in one SQLite file: WAL with synchronous=FULL, so a commit that returned
// is on disk before the server acknowledges the upload, and survives SIGKILL or power loss.
#include <sqlite3.h>

#include <filesystem>
#include <mutex>

#include "base/sqlite_statement.h"
#include "crowd/store.h"

namespace yantra::crowd {
namespace {

constexpr int kBusyTimeoutMs = 10000;
constexpr std::string_view kPart = "crowd store";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS pattern_batches (
  tenant TEXT NOT NULL, batch TEXT NOT NULL, user_id TEXT NOT NULL,
  pattern_count INTEGER NOT NULL, patterns TEXT NOT NULL,
  received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  PRIMARY KEY (tenant, batch));
CREATE TABLE IF NOT EXISTS deltas (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL, batch TEXT NOT NULL, user_id TEXT NOT NULL, base TEXT NOT NULL,
  examples INTEGER NOT NULL, weights BLOB NOT NULL,
  received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  UNIQUE (tenant, batch));
CREATE INDEX IF NOT EXISTS deltas_by_base ON deltas (tenant, base);
CREATE TABLE IF NOT EXISTS versions (
  tenant TEXT NOT NULL, version TEXT NOT NULL,
  major INTEGER NOT NULL, minor INTEGER NOT NULL, patch INTEGER NOT NULL,
  manifest TEXT NOT NULL, weights BLOB NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  PRIMARY KEY (tenant, version));
CREATE INDEX IF NOT EXISTS versions_by_order ON versions (tenant, major, minor, patch);
)sql";

std::string blob_string(std::span<const unsigned char> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// One connection behind a mutex: SQLite serialises writers anyway, and every write is a
// single short transaction.
class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteStore() override { sqlite3_close(db_); }

  Result<void> init() {
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kSchema})
      if (auto ok = exec(sql); !ok) return ok;
    return {};
  }

  Result<bool> put_patterns(const std::string& tenant, const std::string& batch,
                            const std::string& user, const std::string& patterns_json,
                            uint64_t count) override {
    std::lock_guard lock(mutex_);
    SqliteStatement s(db_,
                      "INSERT OR IGNORE INTO pattern_batches (tenant, batch, user_id, "
                      "pattern_count, patterns) VALUES (?, ?, ?, ?, ?)",
                      path_, kPart);
    s.bind(1, tenant).bind(2, batch).bind(3, user).bind(4, static_cast<int64_t>(count));
    s.bind(5, patterns_json);
    if (auto ok = s.run(); !ok) return ok.error();
    return sqlite3_changes(db_) == 1;
  }

  Result<bool> put_delta(const std::string& tenant, const std::string& batch,
                         const std::string& user, const std::string& base_version,
                         uint64_t examples, const std::string& weights) override {
    std::lock_guard lock(mutex_);
    SqliteStatement s(db_,
                      "INSERT OR IGNORE INTO deltas (tenant, batch, user_id, base, examples, "
                      "weights) VALUES (?, ?, ?, ?, ?, ?)",
                      path_, kPart);
    s.bind(1, tenant).bind(2, batch).bind(3, user).bind(4, base_version);
    s.bind(5, static_cast<int64_t>(examples)).bind_blob(6, weights.data(), weights.size());
    if (auto ok = s.run(); !ok) return ok.error();
    return sqlite3_changes(db_) == 1;
  }

  Result<std::vector<StoredDelta>> deltas(const std::string& tenant,
                                          const std::string& base_version) override {
    std::lock_guard lock(mutex_);
    SqliteStatement s(db_,
                      "SELECT batch, user_id, examples, weights FROM deltas "
                      "WHERE tenant = ? AND base = ? ORDER BY id",
                      path_, kPart);
    s.bind(1, tenant).bind(2, base_version);
    std::vector<StoredDelta> out;
    auto read = s.for_each_row([&] {
      out.push_back(
          {s.text(0), s.text(1), static_cast<uint64_t>(s.int64(2)), blob_string(s.blob(3))});
    });
    if (!read) return read.error();
    return out;
  }

  Result<uint64_t> delta_users(const std::string& tenant,
                               const std::string& base_version) override {
    return count("SELECT count(DISTINCT user_id) FROM deltas WHERE tenant = ? AND base = ?", tenant,
                 base_version);
  }

  Result<bool> put_version(const std::string& tenant, const std::string& version,
                           const std::string& manifest_json, const std::string& weights) override {
    auto parts = split_version(version);
    if (!parts) return parts.error();
    std::lock_guard lock(mutex_);
    // One statement is one transaction: the manifest never exists without its weights.
    SqliteStatement s(db_,
                      "INSERT OR IGNORE INTO versions (tenant, version, major, minor, patch, "
                      "manifest, weights) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      path_, kPart);
    s.bind(1, tenant).bind(2, version).bind(3, parts->major).bind(4, parts->minor);
    s.bind(5, parts->patch).bind(6, manifest_json).bind_blob(7, weights.data(), weights.size());
    if (auto ok = s.run(); !ok) return ok.error();
    return sqlite3_changes(db_) == 1;
  }

  Result<std::optional<StoredVersion>> latest_version(const std::string& tenant) override {
    std::lock_guard lock(mutex_);
    SqliteStatement s(db_,
                      "SELECT version, manifest FROM versions WHERE tenant = ? "
                      "ORDER BY major DESC, minor DESC, patch DESC LIMIT 1",
                      path_, kPart);
    s.bind(1, tenant);
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return std::optional<StoredVersion>();
    return std::optional<StoredVersion>(StoredVersion{s.text(0), s.text(1)});
  }

  Result<std::optional<std::string>> manifest(const std::string& tenant,
                                              const std::string& version) override {
    return version_column("manifest", tenant, version);
  }
  Result<std::optional<std::string>> weights(const std::string& tenant,
                                             const std::string& version) override {
    return version_column("weights", tenant, version);
  }

  Result<bool> has_pattern_batch(const std::string& tenant, const std::string& batch) override {
    auto n =
        count("SELECT count(*) FROM pattern_batches WHERE tenant = ? AND batch = ?", tenant, batch);
    if (!n) return n.error();
    return *n > 0;
  }
  Result<bool> has_delta(const std::string& tenant, const std::string& batch) override {
    auto n = count("SELECT count(*) FROM deltas WHERE tenant = ? AND batch = ?", tenant, batch);
    if (!n) return n.error();
    return *n > 0;
  }

  Result<StoreCounts> counts(const std::string& tenant) override {
    StoreCounts c;
    struct Query {
      const char* sql;
      uint64_t* out;
    };
    for (const Query& q :
         {Query{"SELECT count(*) FROM pattern_batches WHERE tenant = ?", &c.pattern_batches},
          Query{"SELECT coalesce(sum(pattern_count), 0) FROM pattern_batches WHERE tenant = ?",
                &c.patterns},
          Query{"SELECT count(*) FROM deltas WHERE tenant = ?", &c.deltas},
          Query{"SELECT count(*) FROM versions WHERE tenant = ?", &c.versions}}) {
      auto n = count(q.sql, tenant);
      if (!n) return n.error();
      *q.out = *n;
    }
    return c;
  }

 private:
  Result<void> exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return {};
    std::string why = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return Error::in(path_, std::string(kPart) + ": " + why);
  }

  template <class... Args>
  Result<uint64_t> count(const char* sql, const Args&... args) {
    std::lock_guard lock(mutex_);
    SqliteStatement s(db_, sql, path_, kPart);
    int i = 0;
    (s.bind(++i, std::string_view(args)), ...);
    auto row = s.step();
    if (!row) return row.error();
    return *row ? static_cast<uint64_t>(s.int64(0)) : 0;
  }

  Result<std::optional<std::string>> version_column(const std::string& column,
                                                    const std::string& tenant,
                                                    const std::string& version) {
    std::lock_guard lock(mutex_);
    SqliteStatement s(db_, "SELECT " + column + " FROM versions WHERE tenant = ? AND version = ?",
                      path_, kPart);
    s.bind(1, tenant).bind(2, version);
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(blob_string(s.blob(0)));
  }

  sqlite3* db_;
  std::string path_;
  std::mutex mutex_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return Error::in(dir.string(), "cannot create the storage directory: " + ec.message());
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error::in(path, "cannot open the crowd store: " + why + "; check --storage");
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  auto store = std::make_unique<SqliteStore>(db, path);
  if (auto ok = store->init(); !ok) return ok.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace yantra::crowd
