// Publishing master versions: the initial model, and FedAvg of the deltas on the latest
// version into the next one, signed, stored atomically, then served.
#include <iostream>
#include <set>

#include "crowd/server_internal.h"

namespace yantra::crowd::server {

Result<Weights> read_initial_model(const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes)
    return Error::in(path, "cannot read the initial model (" + bytes.error().message +
                               "); check --initial-model");
  if (bytes->starts_with("YWTS")) return decode(*bytes, path);
  return student::read_parameters(path);
}

Core::Core(ServerOptions options, std::unique_ptr<Store> store, SigningKey key)
    : options_(std::move(options)), store_(std::move(store)), key_(std::move(key)) {
  for (const auto& [token, tenant] : options_.tenants) {
    token_digests_[sha256_hex(token)] = tenant;
    if (!tenants_.count(tenant)) tenants_[tenant] = std::make_unique<TenantState>();
  }
}

Core::~Core() { shutdown(); }

void Core::shutdown() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_wake_.notify_all();
  if (aggregator_.joinable()) aggregator_.join();
}

Result<void> Core::load(const std::optional<Weights>& initial) {
  for (const auto& [tenant, state] : tenants_)
    if (auto ok = load_tenant(tenant, initial); !ok) return ok;
  aggregator_ = std::thread([this] { aggregation_loop(); });
  // Deltas that reached min_clients before a crash are averaged now.
  for (const auto& [tenant, state] : tenants_) request_aggregation(tenant);
  return {};
}

Result<void> Core::load_tenant(const std::string& tenant, const std::optional<Weights>& initial) {
  auto latest = store_->latest_version(tenant);
  if (!latest) return latest.error();
  if (!*latest && initial) {
    std::string bytes = encode(*initial);
    Manifest m = make_manifest(tenant, bytes, Version{1, 0, 0}, "", 0, 0, {});
    auto put = store_->put_version(tenant, m.version, sign(m, key_).to_json().dump(), bytes);
    if (!put) return put.error();
    latest = store_->latest_version(tenant);  // ours, or one another server just published
    if (!latest) return latest.error();
  }
  if (!*latest) return {};
  TenantState& t = state(tenant);
  auto version = Version::parse((*latest)->version);
  if (!version) return Error{"tenant '" + tenant + "': stored " + version.error().message};
  auto bytes = store_->weights(tenant, (*latest)->version);
  if (!bytes) return bytes.error();
  auto master = decode(bytes->value_or(""), "tenant '" + tenant + "' master " + version->str());
  if (!master) return master.error();
  t.latest = *version;
  t.latest_text = version->str();
  t.master = std::move(*master);
  return {};
}

Result<std::optional<SignedManifest>> Core::publish_next(const std::string& tenant,
                                                         TenantState& t) {
  if (!t.latest) return std::optional<SignedManifest>();
  auto rows = store_->deltas(tenant, t.latest_text);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<SignedManifest>();
  std::vector<Contribution> contributions;
  std::set<std::string> users;
  uint64_t examples = 0;
  for (StoredDelta& row : *rows) {
    auto delta = decode(row.weights, "stored delta " + row.batch);
    if (!delta) return delta.error();
    // Clipped again here: the server cannot trust that a client clipped its own.
    if (options_.clip_norm > 0) *delta = clip_l2(std::move(*delta), options_.clip_norm);
    contributions.push_back({std::move(*delta), row.examples});
    users.insert(row.user);
    examples += row.examples;
  }
  auto average = fed_avg(contributions);
  if (!average) return average.error();
  Version next = t.latest->next_minor();
  if (options_.dp_sigma > 0)
    add_gaussian_noise(*average, options_.dp_sigma,
                       hash64_combine(options_.seed, tenant + "/" + next.str()));
  auto weights = add(t.master, *average);
  if (!weights) return weights.error();
  std::string bytes = encode(*weights);
  std::map<std::string, double> metrics{
      {"contributors", static_cast<double>(users.size())},
      {"examples", static_cast<double>(examples)},
      {"deltas", static_cast<double>(contributions.size())},
      {"update_l2", l2_norm(*average)},
      {"dp_sigma", options_.dp_sigma},
      {"clip_norm", options_.clip_norm}};
  Manifest m = make_manifest(tenant, bytes, next, t.latest_text, examples, users.size(),
                             std::move(metrics));
  SignedManifest signed_manifest = sign(m, key_);
  auto put = store_->put_version(tenant, next.str(), signed_manifest.to_json().dump(), bytes);
  if (!put) return put.error();
  if (!*put)
    return Error{"version " + next.str() + " of tenant '" + tenant +
                 "' was published by another server on the same storage; restart this one"};
  t.latest = next;
  t.latest_text = next.str();
  t.master = std::move(*weights);
  std::cerr << "crowd server: tenant " << tenant << " published " << t.latest_text << " from "
            << contributions.size() << " deltas of " << users.size() << " users\n";
  return std::optional<SignedManifest>(std::move(signed_manifest));
}

Reply Core::post_aggregate(const std::string& tenant) {
  TenantState& t = state(tenant);
  std::unique_lock lock(t.publish);
  auto published = publish_next(tenant, t);
  if (!published)
    return error_reply(500, "aggregation failed: " + published.error().message);
  if (!*published)
    return error_reply(409, t.latest ? "no delta waits on version " + t.latest_text +
                                           "; nothing to aggregate"
                                     : "tenant '" + tenant + "' has no published model yet");
  return json_reply(200, (*published)->to_json());
}

void Core::request_aggregation(const std::string& tenant) {
  {
    std::lock_guard lock(queue_mutex_);
    queue_.insert(tenant);
  }
  queue_wake_.notify_one();
}

// One thread publishes for every tenant, off the request path: an upload never waits for
// an aggregation it triggered.
void Core::aggregation_loop() {
  for (;;) {
    std::string tenant;
    {
      std::unique_lock lock(queue_mutex_);
      queue_wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      tenant = *queue_.begin();
      queue_.erase(queue_.begin());
    }
    TenantState& t = state(tenant);
    std::unique_lock lock(t.publish);
    if (!t.latest) continue;
    auto users = store_->delta_users(tenant, t.latest_text);
    if (!users) {
      std::cerr << "crowd server: " << users.error().message << "\n";
      continue;
    }
    if (*users < options_.min_clients) continue;
    if (auto published = publish_next(tenant, t); !published)
      std::cerr << "crowd server: aggregation for tenant " << tenant
                << " failed: " << published.error().message << "\n";
  }
}

}  // namespace yantra::crowd::server
