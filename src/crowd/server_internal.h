// Inside the aggregation server: the HTTP-free core (server_core.cpp, server_aggregate.cpp)
// that server.cpp puts behind cpp-httplib.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>

#include "crowd/crowd.h"
#include "crowd/store.h"

namespace yantra::crowd::server {

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};
Reply json_reply(int status, const nlohmann::json& body);
// {"error": message}: the message names the field and says what to do.
Reply error_reply(int status, const std::string& message);

// The query of POST /deltas, as received.
struct DeltaQuery {
  std::optional<std::string> batch, user, base, examples;
};

// A shared mutex that lets a waiting writer in first. glibc's rwlock prefers readers, and
// 50 clients uploading back to back would otherwise keep aggregation out indefinitely.
class WriterFirstMutex {
 public:
  void lock_shared() {
    std::lock_guard gate(gate_);
    rw_.lock_shared();
  }
  void unlock_shared() { rw_.unlock_shared(); }
  void lock() {
    std::lock_guard gate(gate_);  // new readers queue here while the writer waits
    rw_.lock();
  }
  void unlock() { rw_.unlock(); }

 private:
  std::mutex gate_;
  std::shared_mutex rw_;
};

// One tenant's published master, cached: deltas are checked against it.
struct TenantState {
  // Shared by delta uploads (check the base, store); exclusive while a new version is
  // published, so a delta is either averaged into it or refused as stale, never orphaned.
  WriterFirstMutex publish;
  std::optional<Version> latest;
  std::string latest_text;
  Weights master;
};

class Core {
 public:
  Core(ServerOptions options, std::unique_ptr<Store> store, SigningKey key);
  ~Core();

  // Publishes the initial model as 1.0.0 for every tenant without a version, then caches
  // each tenant's latest master and starts the aggregation thread.
  Result<void> load(const std::optional<Weights>& initial);
  void shutdown();  // stops the aggregation thread

  // The tenant whose token this is, if any. Compares digests, never logs the token.
  std::optional<std::string> tenant_for_token(std::string_view token) const;
  const std::string& public_key() const { return key_.public_hex; }

  Reply post_patterns(const std::string& tenant, const std::string& body);
  Reply post_delta(const std::string& tenant, const DeltaQuery& query, const std::string& body);
  Reply post_aggregate(const std::string& tenant);
  Reply get_latest(const std::string& tenant);
  Reply get_manifest(const std::string& tenant, const std::string& version);
  Reply get_weights(const std::string& tenant, const std::string& version);

  const ServerOptions& options() const { return options_; }

 private:
  TenantState& state(const std::string& tenant) { return *tenants_.at(tenant); }
  Result<void> load_tenant(const std::string& tenant, const std::optional<Weights>& initial);
  Result<void> check_delta_shapes(const TenantState& t, const Weights& delta) const;
  // Averages every delta on the latest version into the next one; the caller holds
  // t.publish exclusively. nullopt: no delta waits.
  Result<std::optional<SignedManifest>> publish_next(const std::string& tenant, TenantState& t);
  void aggregation_loop();
  void request_aggregation(const std::string& tenant);

  ServerOptions options_;
  std::unique_ptr<Store> store_;
  SigningKey key_;
  std::map<std::string, std::string> token_digests_;          // sha256(token) -> tenant
  std::map<std::string, std::unique_ptr<TenantState>> tenants_;  // fixed at start

  std::mutex queue_mutex_;
  std::condition_variable queue_wake_;
  std::set<std::string> queue_;
  bool stopping_ = false;
  std::thread aggregator_;
};

// Reads the initial model: encoded weights ("YWTS") or a student checkpoint.
Result<Weights> read_initial_model(const std::string& path);

}  // namespace yantra::crowd::server
