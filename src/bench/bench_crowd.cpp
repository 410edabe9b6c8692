// `yantra bench crowd`: uploads per second and latency of the aggregation server, per
// storage backend, with many clients on loopback uploading patterns and deltas while the
// server aggregates.
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "bench/bench.h"
#include "crowd/crowd.h"
#include "crowd/patterns_internal.h"
#include "crowd/store.h"
#include "crowd/temp_postgres.h"

namespace yantra::bench {
namespace {

const std::string kToken = "bench-token";

std::string hex(uint64_t a, uint64_t b, size_t digits) {
  char buf[65];
  std::snprintf(buf, sizeof buf, "%016llx%016llx%016llx%016llx", (unsigned long long)a,
                (unsigned long long)b, (unsigned long long)(a ^ 0x5bd1e995), (unsigned long long)b);
  return std::string(buf, digits);
}

nlohmann::json batch(const std::string& id, const std::string& user, int n) {
  std::vector<crowd::Pattern> patterns(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    crowd::Pattern& p = patterns[size_t(i)];
    for (const auto& k : crowd::detail::node_kinds()) p.counts.nodes[k] = uint32_t(i + 1);
    for (const auto& k : crowd::detail::edge_kinds()) p.counts.edges[k] = uint32_t(i);
    for (const auto& k : crowd::detail::flag_names()) p.flags[k] = false;
    p.embedding.assign(student::kTextEmbeddingDim, 0.0f);
    p.embedding[size_t(i)] = 1.0f;
    p.tests_passed = 2;
    p.tier = "open_local";
    p.confidence_before = 0.4;
    p.confidence_after = 0.6;
  }
  return crowd::pattern_batch(id, user, patterns);
}

struct Tally {
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::atomic<uint64_t> patterns{0}, deltas{0}, stale{0}, errors{0};
};

double timed_ms(const std::function<int()>& request, int* status) {
  double start = monotonic_seconds();
  *status = request();
  return (monotonic_seconds() - start) * 1000;
}

void client(int port, int id, const std::atomic<bool>& stop, Tally& tally) {
  httplib::Client http("127.0.0.1", port);
  http.set_keep_alive(true);
  // httplib writes headers and body apart: without this Nagle and delayed ACK add 40 ms.
  http.set_tcp_nodelay(true);
  httplib::Headers auth = {{"Authorization", "Bearer " + kToken}};
  const std::string user = hex(uint64_t(id), 42, 64);
  const std::string delta = crowd::encode(synthetic_weights(uint32_t(id), 0.001f));
  auto latest = [&] {
    auto r = http.Get("/v1/t/bench/models/latest", auth);
    auto j = r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
    return j.is_object() ? j["manifest"].value("version", "") : std::string();
  };
  std::string base = latest();
  std::vector<double> mine;
  for (uint64_t i = 0; !stop; ++i) {
    const std::string bid = hex(uint64_t(id), i, 32);
    int status = 0;
    std::string body = batch(bid, user, 2).dump();
    double ms = timed_ms([&] {
      auto r = http.Post("/v1/t/bench/patterns", auth, body, "application/json");
      return r ? r->status : -1;
    }, &status);
    if (status == 200) {
      ++tally.patterns;
      mine.push_back(ms);
    } else {
      ++tally.errors;
    }
    std::string query = "/v1/t/bench/deltas?batch=" + bid + "&user=" + user + "&base=" + base +
                        "&examples=" + std::to_string(1 + i % 10);
    ms = timed_ms([&] {
      auto r = http.Post(query, auth, delta, "application/octet-stream");
      return r ? r->status : -1;
    }, &status);
    if (status == 200) {
      ++tally.deltas;
      mine.push_back(ms);
    } else if (status == 409) {  // aggregation moved the version on: train on the new one
      ++tally.stale;
      base = latest();
    } else {
      ++tally.errors;
    }
  }
  std::lock_guard lock(tally.mutex);
  tally.latencies_ms.insert(tally.latencies_ms.end(), mine.begin(), mine.end());
}

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, size_t(q * double(v.size())));
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return v[k];
}

Result<CrowdBackendResult> measure(const std::string& backend, const std::string& storage,
                                   const std::string& work, const CrowdBenchOptions& o) {
  std::string model = work + "/initial.ywts";
  if (auto ok = write_file_atomic(model, crowd::encode(synthetic_weights(1, 0.5f))); !ok)
    return ok.error();
  crowd::ServerOptions so;
  so.storage = storage;
  so.tenants = {{kToken, "bench"}};
  so.key_path = work + "/signing.key";
  so.initial_model = model;
  so.min_clients = o.min_clients;
  so.threads = size_t(o.clients) + 8;
  auto server = crowd::CrowdServer::start(so);
  if (!server) return server.error();
  Tally tally;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  double start = monotonic_seconds();
  for (int c = 0; c < o.clients; ++c)
    threads.emplace_back([&, c] { client((*server)->port(), c, stop, tally); });
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  CrowdBackendResult r;
  r.backend = backend;
  r.ran = true;
  r.seconds = monotonic_seconds() - start;
  (*server)->stop();
  auto store = crowd::open_store(storage);
  if (store) r.versions = (*store)->counts("bench").take().versions;
  r.pattern_uploads = tally.patterns;
  r.delta_uploads = tally.deltas;
  r.uploads = r.pattern_uploads + r.delta_uploads;
  r.stale = tally.stale;
  r.errors = tally.errors;
  r.uploads_per_s = double(r.uploads) / r.seconds;
  r.p50_ms = percentile(tally.latencies_ms, 0.50);
  r.p99_ms = percentile(tally.latencies_ms, 0.99);
  return r;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void render(CrowdBenchResult& out, const CrowdBenchOptions& o) {
  Table t({"backend", "uploads", "patterns", "deltas", "uploads/s", "p50 ms", "p99 ms",
           "stale 409", "errors", "versions"});
  nlohmann::json backends = nlohmann::json::object();
  for (const auto& r : out.backends) {
    if (!r.ran) {
      t.add({r.backend, "not run: " + r.not_run, "", "", "", "", "", "", "", ""});
      backends[r.backend] = {{"ran", false}, {"not_run", r.not_run}};
      continue;
    }
    t.add({r.backend, std::to_string(r.uploads), std::to_string(r.pattern_uploads),
           std::to_string(r.delta_uploads), fixed(r.uploads_per_s, 0), fixed(r.p50_ms, 2),
           fixed(r.p99_ms, 2), std::to_string(r.stale), std::to_string(r.errors),
           std::to_string(r.versions)});
    backends[r.backend] = {{"ran", true},           {"uploads", r.uploads},
                           {"uploads_per_s", r.uploads_per_s}, {"p50_ms", r.p50_ms},
                           {"p99_ms", r.p99_ms},    {"stale", r.stale},
                           {"errors", r.errors},    {"versions", r.versions},
                           {"seconds", r.seconds}};
  }
  out.table = "crowd server: " + std::to_string(o.clients) + " clients on loopback, " +
              fixed(o.seconds, 0) + " s per backend (pattern batch + delta per round)\n" +
              t.render();
  out.json_line = nlohmann::json{{"bench", "crowd"},
                                 {"clients", o.clients},
                                 {"seconds", o.seconds},
                                 {"backends", backends}}
                      .dump();
}

}  // namespace

// A small model, a few KB encoded: the benchmark measures the server, not the network.
crowd::Weights synthetic_weights(uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  crowd::Weights w;
  for (auto [name, shape] : {std::pair<const char*, std::vector<int64_t>>{"encoder.weight", {24, 16}},
                             {"encoder.bias", {16}},
                             {"head.weight", {16, 4}}}) {
    crowd::Tensor& t = w[name];
    t.shape = shape;
    t.values.resize(size_t(shape[0] * (shape.size() > 1 ? shape[1] : 1)));
    for (float& v : t.values) v = dist(rng);
  }
  return w;
}

Result<CrowdBenchResult> run_crowd_bench(const CrowdBenchOptions& options) {
  std::string pattern = (std::filesystem::temp_directory_path() / "yantra-bench-crowd-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) return Error{"cannot create a temporary directory"};
  const std::string work = pattern;
  CrowdBenchResult out;
  auto sqlite = measure("sqlite", "sqlite:" + work + "/sqlite/crowd.db", work, options);
  if (!sqlite) return sqlite.error();
  out.backends.push_back(*sqlite);
  CrowdBackendResult pg_row{.backend = "postgresql"};
  if (!crowd::TempPostgres::bin_dir()) {
    pg_row.not_run = "PostgreSQL binaries not installed (run scripts/setup.sh)";
  } else if (auto pg = crowd::TempPostgres::start(); !pg) {
    pg_row.not_run = "PostgreSQL did not start: " + pg.error().message.substr(0, 200);
  } else {
    std::filesystem::create_directories(work + "/pg");
    auto uri = (*pg)->create_database("bench");
    if (!uri) return uri.error();
    auto r = measure("postgresql", *uri, work + "/pg", options);
    if (!r) return r.error();
    pg_row = *r;
  }
  out.backends.push_back(pg_row);
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  render(out, options);
  return out;
}

}  // namespace yantra::bench
