// Helpers for the crowd server tests: synthetic weights, valid pattern batches, ids, and a
// small HTTP client that speaks the wire protocol of crowd.h.
#pragma once

#include <httplib.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "bench/bench.h"
#include "crowd/crowd.h"
#include "crowd/patterns_internal.h"

namespace yantra::testing {

using bench::synthetic_weights;

// `digits` lowercase hex digits derived from (a, b): batch ids (32) and user ids (64).
inline std::string hex_id(uint64_t a, uint64_t b, size_t digits = 32) {
  std::string out;
  for (uint64_t part = 0; out.size() < digits; ++part) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>(part % 2 == 0 ? a * 0x9e3779b97f4a7c15ULL + part
                                                                : b ^ (part << 56)));
    out += buf;
  }
  return out.substr(0, digits);
}

// A pattern the client's schema accepts (every count, flag and a unit embedding).
inline crowd::Pattern sample_pattern(int i) {
  crowd::Pattern p;
  for (const auto& k : crowd::detail::node_kinds()) p.counts.nodes[k] = uint32_t(i % 7);
  for (const auto& k : crowd::detail::edge_kinds()) p.counts.edges[k] = uint32_t(i % 5);
  for (const auto& k : crowd::detail::flag_names()) p.flags[k] = (i % 2) == 0;
  p.embedding.assign(student::kTextEmbeddingDim, 0.0f);
  p.embedding[size_t(i) % p.embedding.size()] = 1.0f;
  p.complexity = 1 + uint32_t(i % 9);
  p.lines = 3 + uint32_t(i % 40);
  p.params = uint32_t(i % 4);
  p.tests_passed = 1 + i % 6;
  p.tier = "student";
  p.confidence_before = 0.5;
  p.confidence_after = 0.75;
  return p;
}

inline nlohmann::json sample_batch(const std::string& batch, const std::string& user, int n) {
  std::vector<crowd::Pattern> patterns;
  for (int i = 0; i < n; ++i) patterns.push_back(sample_pattern(i));
  return crowd::pattern_batch(batch, user, patterns);
}

struct Reply {
  int status = -1;  // -1: no HTTP answer (connection refused or reset)
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string error() const {
    auto j = json();
    return j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                           : "";
  }
};

class CrowdHttp {
 public:
  CrowdHttp(int port, std::string tenant, std::string token)
      : http_("127.0.0.1", port), tenant_(std::move(tenant)), token_(std::move(token)) {
    http_.set_keep_alive(true);
    http_.set_tcp_nodelay(true);  // headers and body are written apart: no 40 ms Nagle wait
    http_.set_connection_timeout(5);
    http_.set_read_timeout(30);
    http_.set_write_timeout(30);
  }

  Reply patterns(const nlohmann::json& batch) { return post("/patterns", batch.dump(), "application/json"); }
  Reply delta(const std::string& batch, const std::string& user, const std::string& base,
              uint64_t examples, const std::string& body) {
    return post("/deltas?batch=" + batch + "&user=" + user + "&base=" + base +
                    "&examples=" + std::to_string(examples),
                body, "application/octet-stream");
  }
  Reply post(const std::string& tail, const std::string& body, const char* type) {
    return wrap(http_.Post(("/v1/t/" + tenant_ + tail).c_str(), headers(), body, type));
  }
  Reply get(const std::string& tail) {
    return wrap(http_.Get(("/v1/t/" + tenant_ + tail).c_str(), headers()));
  }
  Reply get_raw(const std::string& path) { return wrap(http_.Get(path.c_str())); }
  // The latest version's name, or "" if the server did not answer with one.
  std::string latest_version() {
    auto j = get("/models/latest").json();
    return j.is_object() && j.contains("manifest") ? j["manifest"].value("version", "") : "";
  }

 private:
  httplib::Headers headers() const {
    if (token_.empty()) return {};
    return {{"Authorization", "Bearer " + token_}};
  }
  static Reply wrap(const httplib::Result& r) {
    if (!r) return {};
    return {r->status, r->body};
  }
  httplib::Client http_;
  std::string tenant_, token_;
};

}  // namespace yantra::testing
