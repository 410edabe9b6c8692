// The crowd store on PostgreSQL (libpqxx): for deployments that run several servers or
// outgrow one disk. Same tables and guarantees as the SQLite store; each write is one
// transaction committed (synchronous_commit, the server's default) before it returns.
#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>

#include "crowd/store.h"

namespace yantra::crowd {
namespace {

// Connections kept open; a request waits for one when all are busy.
constexpr size_t kMaxConnections = 8;
// Serialises schema creation between servers starting at once (CREATE ... IF NOT EXISTS
// races in the catalogue otherwise).
constexpr int64_t kSchemaLockId = 0x7961'6e74'7261;  // "yantra"

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS pattern_batches (
  tenant TEXT NOT NULL, batch TEXT NOT NULL, user_id TEXT NOT NULL,
  pattern_count BIGINT NOT NULL, patterns TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, batch));
CREATE TABLE IF NOT EXISTS deltas (
  id BIGSERIAL PRIMARY KEY,
  tenant TEXT NOT NULL, batch TEXT NOT NULL, user_id TEXT NOT NULL, base TEXT NOT NULL,
  examples BIGINT NOT NULL, weights BYTEA NOT NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (tenant, batch));
CREATE INDEX IF NOT EXISTS deltas_by_base ON deltas (tenant, base);
CREATE TABLE IF NOT EXISTS versions (
  tenant TEXT NOT NULL, version TEXT NOT NULL,
  major BIGINT NOT NULL, minor BIGINT NOT NULL, patch BIGINT NOT NULL,
  manifest TEXT NOT NULL, weights BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, version));
CREATE INDEX IF NOT EXISTS versions_by_order ON versions (tenant, major, minor, patch);
)sql";

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(std::string uri) : uri_(std::move(uri)) {}

  Result<void> init() {
    auto done = run([](pqxx::work& w) {
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLockId);
      w.exec(kSchema);
      return true;
    });
    if (!done) return done.error();
    return {};
  }

  Result<bool> put_patterns(const std::string& tenant, const std::string& batch,
                            const std::string& user, const std::string& patterns_json,
                            uint64_t count) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "INSERT INTO pattern_batches (tenant, batch, user_id, pattern_count, patterns) "
          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
          tenant, batch, user, static_cast<int64_t>(count), patterns_json);
      return r.affected_rows() == 1;
    });
  }

  Result<bool> put_delta(const std::string& tenant, const std::string& batch,
                         const std::string& user, const std::string& base_version,
                         uint64_t examples, const std::string& weights) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "INSERT INTO deltas (tenant, batch, user_id, base, examples, weights) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
          tenant, batch, user, base_version, static_cast<int64_t>(examples),
          pqxx::binarystring(weights));
      return r.affected_rows() == 1;
    });
  }

  Result<std::vector<StoredDelta>> deltas(const std::string& tenant,
                                          const std::string& base_version) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT batch, user_id, examples, weights FROM deltas "
          "WHERE tenant = $1 AND base = $2 ORDER BY id",
          tenant, base_version);
      std::vector<StoredDelta> out;
      for (const auto& row : r)
        out.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                       static_cast<uint64_t>(row[2].as<int64_t>()),
                       pqxx::binarystring(row[3]).str()});
      return out;
    });
  }

  Result<uint64_t> delta_users(const std::string& tenant,
                               const std::string& base_version) override {
    return count("SELECT count(DISTINCT user_id) FROM deltas WHERE tenant = $1 AND base = $2",
                 tenant, base_version);
  }

  Result<bool> put_version(const std::string& tenant, const std::string& version,
                           const std::string& manifest_json, const std::string& weights) override {
    auto parts = split_version(version);
    if (!parts) return parts.error();
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "INSERT INTO versions (tenant, version, major, minor, patch, manifest, weights) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
          tenant, version, parts->major, parts->minor, parts->patch, manifest_json,
          pqxx::binarystring(weights));
      return r.affected_rows() == 1;
    });
  }

  Result<std::optional<StoredVersion>> latest_version(const std::string& tenant) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT version, manifest FROM versions WHERE tenant = $1 "
          "ORDER BY major DESC, minor DESC, patch DESC LIMIT 1",
          tenant);
      if (r.empty()) return std::optional<StoredVersion>();
      return std::optional<StoredVersion>(
          StoredVersion{r[0][0].as<std::string>(), r[0][1].as<std::string>()});
    });
  }

  Result<std::optional<std::string>> manifest(const std::string& tenant,
                                              const std::string& version) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("SELECT manifest FROM versions WHERE tenant = $1 AND version = $2",
                             tenant, version);
      if (r.empty()) return std::optional<std::string>();
      return std::optional<std::string>(r[0][0].as<std::string>());
    });
  }

  Result<std::optional<std::string>> weights(const std::string& tenant,
                                             const std::string& version) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params("SELECT weights FROM versions WHERE tenant = $1 AND version = $2",
                             tenant, version);
      if (r.empty()) return std::optional<std::string>();
      return std::optional<std::string>(pqxx::binarystring(r[0][0]).str());
    });
  }

  Result<bool> has_pattern_batch(const std::string& tenant, const std::string& batch) override {
    auto n = count("SELECT count(*) FROM pattern_batches WHERE tenant = $1 AND batch = $2",
                   tenant, batch);
    if (!n) return n.error();
    return *n > 0;
  }
  Result<bool> has_delta(const std::string& tenant, const std::string& batch) override {
    auto n = count("SELECT count(*) FROM deltas WHERE tenant = $1 AND batch = $2", tenant, batch);
    if (!n) return n.error();
    return *n > 0;
  }

  Result<StoreCounts> counts(const std::string& tenant) override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT (SELECT count(*) FROM pattern_batches WHERE tenant = $1),"
          " (SELECT coalesce(sum(pattern_count), 0) FROM pattern_batches WHERE tenant = $1),"
          " (SELECT count(*) FROM deltas WHERE tenant = $1),"
          " (SELECT count(*) FROM versions WHERE tenant = $1)",
          tenant);
      auto n = [&](int i) { return static_cast<uint64_t>(r[0][i].as<int64_t>()); };
      return StoreCounts{n(0), n(1), n(2), n(3)};
    });
  }

 private:
  // Runs `body` in one transaction on a pooled connection and commits it. libpqxx reports
  // failures as exceptions; here they become values naming the store.
  template <class F>
  auto run(F body) -> Result<decltype(body(std::declval<pqxx::work&>()))> {
    std::unique_ptr<pqxx::connection> c = acquire();  // null: a slot to open one in
    try {
      if (!c) c = std::make_unique<pqxx::connection>(uri_);
      pqxx::work w(*c);
      auto out = body(w);
      w.commit();
      release(std::move(c));
      return out;
    } catch (const std::exception& e) {
      drop();
      return Error{"crowd store " + redact_connection(uri_) + ": " + e.what()};
    }
  }

  template <class... Args>
  Result<uint64_t> count(const char* sql, const Args&... args) {
    return run([&](pqxx::work& w) {
      return static_cast<uint64_t>(w.exec_params(sql, args...)[0][0].template as<int64_t>());
    });
  }

  // An idle connection, or null with a slot reserved for a new one.
  std::unique_ptr<pqxx::connection> acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [this] { return !idle_.empty() || open_ < kMaxConnections; });
    if (idle_.empty()) {
      ++open_;
      return nullptr;
    }
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }

  void release(std::unique_ptr<pqxx::connection> c) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(std::move(c));
    }
    available_.notify_one();
  }

  // A connection that failed is closed, not reused: the next request opens a fresh one.
  void drop() {
    {
      std::lock_guard lock(mutex_);
      --open_;
    }
    available_.notify_one();
  }

  std::string uri_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  size_t open_ = 0;  // idle and in use
};

}  // namespace

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& uri) {
  auto store = std::make_unique<PostgresStore>(uri);
  if (auto ok = store->init(); !ok)
    return Error{ok.error().message + "; check --storage and that the server is running"};
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace yantra::crowd
