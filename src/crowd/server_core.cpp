// The server's uploads and downloads, HTTP-free: each request's checks in the order a
// client can fix them, and an acknowledgement only after the store committed.
#include <charconv>
#include <cmath>
#include <iostream>

#include "crowd/server_internal.h"

namespace yantra::crowd::server {
namespace {

// Large enough for any honest client's count, small enough that one upload cannot drown
// everyone else's in the example-weighted average by claiming an absurd number.
constexpr uint64_t kMaxExamplesPerDelta = 1'000'000'000;
constexpr size_t kBatchHexDigits = 32;
constexpr size_t kUserHexDigits = 64;

bool is_lower_hex(std::string_view s, size_t digits) {
  if (s.size() != digits) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

Reply stored_reply(bool stored, uint64_t count) {
  return json_reply(200, {{"stored", stored ? count : 0}, {"duplicate", !stored}});
}

Reply store_failure(const Error& e) {
  // The store's message names the database, never a token; the client may retry.
  std::cerr << "crowd server: " << e.message << "\n";
  return error_reply(503, "the server could not store or read this (" + e.message +
                              "); nothing was acknowledged, retry later");
}

struct DeltaParams {
  std::string batch, user;
  Version base;
  uint64_t examples = 0;
};

Result<DeltaParams> parse_delta_query(const DeltaQuery& q) {
  DeltaParams p;
  if (!q.batch || !is_lower_hex(*q.batch, kBatchHexDigits))
    return Error{"query parameter 'batch' must be 32 lowercase hex digits (an id that repeats "
                 "when the same delta is sent again)"};
  if (!q.user || !is_lower_hex(*q.user, kUserHexDigits))
    return Error{"query parameter 'user' must be 64 lowercase hex digits (the HMAC user id)"};
  if (!q.base) return Error{"query parameter 'base' is missing: the version the delta is against"};
  auto base = Version::parse(*q.base);
  if (!base) return Error{"query parameter 'base': " + base.error().message};
  p.base = *base;
  const std::string e = q.examples.value_or("");
  auto [end, ec] = std::from_chars(e.data(), e.data() + e.size(), p.examples);
  if (e.empty() || ec != std::errc() || end != e.data() + e.size() || p.examples == 0 ||
      p.examples > kMaxExamplesPerDelta)
    return Error{"query parameter 'examples' must be a whole number from 1 to " +
                 std::to_string(kMaxExamplesPerDelta) + ": the training examples behind the delta"};
  p.batch = *q.batch;
  p.user = *q.user;
  return p;
}

}  // namespace

Reply json_reply(int status, const nlohmann::json& body) {
  return {status, body.dump(), "application/json"};
}

Reply error_reply(int status, const std::string& message) {
  return json_reply(status, {{"error", message}});
}

std::optional<std::string> Core::tenant_for_token(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  // Digests of equal length are compared, so the lookup's timing tells nothing useful
  // about the tokens themselves.
  auto it = token_digests_.find(sha256_hex(token));
  if (it == token_digests_.end()) return std::nullopt;
  return it->second;
}

Reply Core::post_patterns(const std::string& tenant, const std::string& body) {
  if (body.size() > options_.max_pattern_bytes)
    return error_reply(413, "the pattern batch is " + std::to_string(body.size()) +
                                " bytes, over this server's limit of " +
                                std::to_string(options_.max_pattern_bytes) +
                                " bytes; split it into smaller batches");
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded())
    return error_reply(400, "the body is not valid JSON; send {\"batch\": ID, \"user\": HMAC, "
                            "\"patterns\": [...]}");
  if (auto ok = validate_pattern_batch(j); !ok) return error_reply(400, ok.error().message);
  const auto& patterns = j.at("patterns");
  auto stored = store_->put_patterns(tenant, j.at("batch").get<std::string>(),
                                     j.at("user").get<std::string>(), patterns.dump(),
                                     patterns.size());
  if (!stored) return store_failure(stored.error());
  return stored_reply(*stored, patterns.size());
}

Result<void> Core::check_delta_shapes(const TenantState& t, const Weights& delta) const {
  for (const auto& [name, tensor] : delta) {
    auto it = t.master.find(name);
    if (it == t.master.end())
      return Error{"parameter '" + name + "' is not in master " + t.latest_text +
                   "; compute the delta against that version's weights"};
    if (it->second.shape != tensor.shape)
      return Error{"parameter '" + name + "' has shape " + shape_text(tensor.shape) +
                   " but master " + t.latest_text + " has " + shape_text(it->second.shape)};
    for (float v : tensor.values)
      if (!std::isfinite(v))
        return Error{"parameter '" + name + "' holds a NaN or infinite value; fix the local "
                     "training run before sending its delta"};
  }
  for (const auto& [name, tensor] : t.master)
    if (!delta.count(name))
      return Error{"parameter '" + name + "' of master " + t.latest_text +
                   " is missing from the delta; send every parameter"};
  return {};
}

Reply Core::post_delta(const std::string& tenant, const DeltaQuery& query,
                       const std::string& body) {
  if (body.size() > options_.max_delta_bytes)
    return error_reply(413, "the delta is " + std::to_string(body.size()) +
                                " bytes, over this server's limit of " +
                                std::to_string(options_.max_delta_bytes) + " bytes");
  auto params = parse_delta_query(query);
  if (!params) return error_reply(400, params.error().message);
  // Decoding is the expensive part: done before taking the tenant's lock.
  auto delta = decode(body, "the delta body");
  if (!delta)
    return error_reply(400, delta.error().message + "; send encode(delta) as the body");

  TenantState& t = state(tenant);
  std::shared_lock lock(t.publish);
  if (!t.latest)
    return error_reply(409, "tenant '" + tenant + "' has no published model yet; the "
                            "operator must start the server with --initial-model");
  if (params->base != *t.latest) {
    // A retry of a delta stored before the version moved on is still a duplicate.
    auto seen = store_->has_delta(tenant, params->batch);
    if (!seen) return store_failure(seen.error());
    if (*seen) return stored_reply(false, 1);
    return error_reply(409, "query parameter 'base' is " + params->base.str() +
                                " but the latest version is " + t.latest_text +
                                "; download it, train on it and send a new delta");
  }
  if (auto ok = check_delta_shapes(t, *delta); !ok) return error_reply(400, ok.error().message);
  auto stored = store_->put_delta(tenant, params->batch, params->user, t.latest_text,
                                  params->examples, body);
  if (!stored) return store_failure(stored.error());
  lock.unlock();
  if (*stored) request_aggregation(tenant);
  return stored_reply(*stored, 1);
}

Reply Core::get_latest(const std::string& tenant) {
  auto latest = store_->latest_version(tenant);
  if (!latest) return store_failure(latest.error());
  if (!*latest)
    return error_reply(404, "tenant '" + tenant + "' has no published model yet");
  return {200, (*latest)->manifest_json, "application/json"};
}

Reply Core::get_manifest(const std::string& tenant, const std::string& version) {
  auto m = store_->manifest(tenant, version);
  if (!m) return store_failure(m.error());
  if (!*m)
    return error_reply(404, "tenant '" + tenant + "' has no version '" + version +
                                "'; GET /v1/t/" + tenant + "/models/latest names the newest");
  return {200, **m, "application/json"};
}

Reply Core::get_weights(const std::string& tenant, const std::string& version) {
  auto w = store_->weights(tenant, version);
  if (!w) return store_failure(w.error());
  if (!*w)
    return error_reply(404, "tenant '" + tenant + "' has no version '" + version +
                                "'; GET /v1/t/" + tenant + "/models/latest names the newest");
  return {200, std::move(**w), "application/octet-stream"};
}

}  // namespace yantra::crowd::server
