// The aggregation server's storage, behind one interface: SQLite for one machine,
// PostgreSQL for deployments that outgrow it. Chosen by a connection string.
//
//   auto store = open_store("sqlite:/var/lib/yantra/crowd.db").take();
//   bool stored = store->put_patterns("acme", batch, user, patterns_json, n).take();
//   // false: that batch was stored before (a client retry), nothing written
//
// Every write is committed durably before it returns: the server acknowledges an upload
// only after that, so an acknowledged upload survives a crash of the server.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/base.h"

namespace yantra::crowd {

struct StoredDelta {
  std::string batch, user;
  uint64_t examples = 0;
  std::string weights;  // encode(delta)
};

struct StoredVersion {
  std::string version;        // "1.2.0"
  std::string manifest_json;  // SignedManifest::to_json().dump()
};

// Per tenant, for tests and the benchmark.
struct StoreCounts {
  uint64_t pattern_batches = 0, patterns = 0, deltas = 0, versions = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // true: stored; false: (tenant, batch) was stored before and nothing was written.
  virtual Result<bool> put_patterns(const std::string& tenant, const std::string& batch,
                                    const std::string& user, const std::string& patterns_json,
                                    uint64_t count) = 0;
  virtual Result<bool> put_delta(const std::string& tenant, const std::string& batch,
                                 const std::string& user, const std::string& base_version,
                                 uint64_t examples, const std::string& weights) = 0;
  // Every delta uploaded against `base_version`, in upload order.
  virtual Result<std::vector<StoredDelta>> deltas(const std::string& tenant,
                                                  const std::string& base_version) = 0;
  // Distinct users with a delta on `base_version`.
  virtual Result<uint64_t> delta_users(const std::string& tenant,
                                       const std::string& base_version) = 0;

  // Manifest and weights in one transaction. false: that version exists (another
  // aggregation published it first), nothing written.
  virtual Result<bool> put_version(const std::string& tenant, const std::string& version,
                                   const std::string& manifest_json,
                                   const std::string& weights) = 0;
  // The highest semantic version, or none.
  virtual Result<std::optional<StoredVersion>> latest_version(const std::string& tenant) = 0;
  virtual Result<std::optional<std::string>> manifest(const std::string& tenant,
                                                      const std::string& version) = 0;
  virtual Result<std::optional<std::string>> weights(const std::string& tenant,
                                                     const std::string& version) = 0;

  virtual Result<bool> has_pattern_batch(const std::string& tenant, const std::string& batch) = 0;
  virtual Result<bool> has_delta(const std::string& tenant, const std::string& batch) = 0;
  virtual Result<StoreCounts> counts(const std::string& tenant) = 0;
};

// "sqlite:PATH" (the directory is created) or "postgresql://..." / "postgres://..." (a libpq
// URI; the schema is created if missing). Errors name the connection string without its
// password.
Result<std::unique_ptr<Store>> open_store(const std::string& connection);

// The SQLite and PostgreSQL implementations (store_sqlite.cpp, store_postgres.cpp).
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& uri);

// `connection` with any password replaced by "***", for messages and logs.
std::string redact_connection(const std::string& connection);

// Versions are compared as numbers (1.10.0 > 1.9.0): the stores keep them as three ints.
struct VersionParts {
  int64_t major = 0, minor = 0, patch = 0;
};
Result<VersionParts> split_version(const std::string& version);

}  // namespace yantra::crowd
