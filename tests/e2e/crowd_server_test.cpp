// The aggregation server over real HTTP on loopback, against SQLite and a real PostgreSQL:
// FedAvg equals the weighted mean computed here, published versions verify against the
// server's key (and a flipped byte does not), retries are stored once, and every kind of
// bad request gets its status while a good client next to it is not disturbed.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "crowd/store.h"
#include "crowd_test_support.h"
#include "postgres_fixture.h"

namespace {

using nlohmann::json;
using yantra::crowd::CrowdServer;
using yantra::crowd::ServerOptions;
using yantra::crowd::Weights;
using yantra::testing::CrowdHttp;
using yantra::testing::hex_id;
using yantra::testing::Reply;
using yantra::testing::sample_batch;
using yantra::testing::synthetic_weights;

const std::string kAcmeToken = "acme-token-7f3a9c21d4e8b650";
const std::string kBetaToken = "beta-token-0c5e8d1f2a7b9346";

class CrowdServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    storage_ = yantra::testing::fresh_storage(GetParam(), dir_);
    ASSERT_FALSE(storage_.empty());
    initial_ = synthetic_weights(1, 0.5f);
    ASSERT_TRUE(yantra::write_file_atomic(dir_.path() + "/initial.ywts",
                                          yantra::crowd::encode(initial_))
                    .ok());
  }
  ServerOptions options() const {
    ServerOptions o;
    o.storage = storage_;
    o.tenants = {{kAcmeToken, "acme"}, {kBetaToken, "beta"}};
    o.key_path = dir_.path() + "/signing.key";
    o.initial_model = dir_.path() + "/initial.ywts";
    o.min_clients = 1000;  // aggregation only when a test asks for it
    return o;
  }
  std::unique_ptr<CrowdServer> start(const ServerOptions& o) {
    auto s = CrowdServer::start(o);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s ? std::move(s).value() : nullptr;
  }
  std::unique_ptr<yantra::crowd::Store> store() { return yantra::crowd::open_store(storage_).take(); }

  yantra::testing::TempDir dir_;
  std::string storage_;
  Weights initial_;
};

std::string user_of(int i) { return hex_id(1000 + i, 7, 64); }

TEST_P(CrowdServerTest, FedAvgIsTheExampleWeightedMeanAndTheVersionIsSigned) {
  auto server = start(options());
  ASSERT_TRUE(server);
  CrowdHttp acme(server->port(), "acme", kAcmeToken);
  ASSERT_EQ(acme.latest_version(), "1.0.0");
  const uint64_t examples[] = {1, 3, 6};
  std::vector<Weights> deltas;
  for (int i = 0; i < 3; ++i) {
    deltas.push_back(synthetic_weights(100 + i, 0.1f));
    Reply r = acme.delta(hex_id(i, 1), user_of(i), "1.0.0", examples[i],
                         yantra::crowd::encode(deltas.back()));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["stored"], 1);
  }
  Reply published = acme.post("/aggregate", "", "application/json");
  ASSERT_EQ(published.status, 200) << published.body;
  auto signed_manifest = yantra::crowd::SignedManifest::from_json(published.json()).take();
  const auto& m = signed_manifest.manifest;
  EXPECT_EQ(m.version, "1.1.0");
  EXPECT_EQ(m.parent, "1.0.0");
  EXPECT_EQ(m.tenant, "acme");
  EXPECT_EQ(m.examples, 10u);
  EXPECT_EQ(m.contributors, 3u);
  EXPECT_EQ(m.metrics.at("contributors"), 3.0);
  EXPECT_EQ(m.metrics.at("examples"), 10.0);

  Reply weights = acme.get("/models/1.1.0/weights");
  ASSERT_EQ(weights.status, 200);
  Weights next = yantra::crowd::decode(weights.body, "downloaded 1.1.0").take();
  // The weighted mean, computed here in double, independently of fed_avg().
  for (const auto& [name, tensor] : initial_) {
    ASSERT_TRUE(next.count(name)) << name;
    ASSERT_EQ(next[name].shape, tensor.shape);
    for (size_t k = 0; k < tensor.values.size(); ++k) {
      double sum = 0;
      for (int i = 0; i < 3; ++i) sum += double(examples[i]) * deltas[i].at(name).values[k];
      double expected = tensor.values[k] + sum / 10.0;
      ASSERT_NEAR(next[name].values[k], expected, 1e-6) << name << "[" << k << "]";
    }
  }

  std::string key = acme.get_raw("/v1/key").json()["public_key"];
  EXPECT_EQ(key, server->public_key());
  EXPECT_TRUE(yantra::crowd::verify(signed_manifest, weights.body, key).ok());
  std::string flipped = weights.body;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(yantra::crowd::verify(signed_manifest, flipped, key).ok());
  auto forged = signed_manifest;
  forged.manifest.examples = 11;
  EXPECT_FALSE(yantra::crowd::verify(forged, weights.body, key).ok());

  EXPECT_EQ(acme.get("/models/latest").json(), published.json());
  EXPECT_EQ(acme.get("/models/1.1.0").json(), published.json());
  Reply again = acme.post("/aggregate", "", "application/json");
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_NE(again.error().find("no delta waits"), std::string::npos) << again.body;
  // The other tenant's model did not move.
  CrowdHttp beta(server->port(), "beta", kBetaToken);
  EXPECT_EQ(beta.latest_version(), "1.0.0");
}

TEST_P(CrowdServerTest, AggregatesByItselfOnceMinClientsUsersSentDeltas) {
  ServerOptions o = options();
  o.min_clients = 2;
  o.clip_norm = 0.05;  // every delta below is larger: clipped again on the server
  auto server = start(o);
  ASSERT_TRUE(server);
  CrowdHttp acme(server->port(), "acme", kAcmeToken);
  std::string delta = yantra::crowd::encode(synthetic_weights(5, 0.1f));
  ASSERT_EQ(acme.delta(hex_id(1, 2), user_of(1), "1.0.0", 4, delta).status, 200);
  ASSERT_EQ(acme.delta(hex_id(2, 2), user_of(1), "1.0.0", 4, delta).status, 200);  // same user
  EXPECT_EQ(acme.latest_version(), "1.0.0");
  ASSERT_EQ(acme.delta(hex_id(3, 2), user_of(2), "1.0.0", 2, delta).status, 200);
  std::string version;
  for (int i = 0; i < 200 && version != "1.1.0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    version = acme.latest_version();
  }
  ASSERT_EQ(version, "1.1.0");
  auto m = acme.get("/models/latest").json()["manifest"];
  EXPECT_EQ(m["contributors"], 2);
  EXPECT_EQ(m["examples"], 10);
  EXPECT_NEAR(m["metrics"]["update_l2"].get<double>(), 0.05, 1e-5);
  // A delta on the old base is now stale...
  Reply stale = acme.delta(hex_id(4, 2), user_of(3), "1.0.0", 1, delta);
  EXPECT_EQ(stale.status, 409);
  EXPECT_NE(stale.error().find("1.1.0"), std::string::npos) << stale.body;
  // ...but a retry of one that was stored on it is still acknowledged, as a duplicate.
  Reply retry = acme.delta(hex_id(1, 2), user_of(1), "1.0.0", 4, delta);
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(retry.json()["duplicate"], true);
}

// Central DP: the published master is the plain mean plus N(0, sigma^2) per value.
TEST_P(CrowdServerTest, CentralDpNoiseHasTheConfiguredSigma) {
  ServerOptions o = options();
  o.dp_sigma = 0.02;
  o.seed = 11;
  auto server = start(o);
  ASSERT_TRUE(server);
  CrowdHttp acme(server->port(), "acme", kAcmeToken);
  Weights delta = synthetic_weights(21, 0.1f);
  ASSERT_EQ(acme.delta(hex_id(1, 3), user_of(1), "1.0.0", 5, yantra::crowd::encode(delta)).status,
            200);
  Reply published = acme.post("/aggregate", "", "application/json");
  ASSERT_EQ(published.status, 200) << published.body;
  EXPECT_EQ(published.json()["manifest"]["metrics"]["dp_sigma"], 0.02);
  Weights next = yantra::crowd::decode(acme.get("/models/1.1.0/weights").body, "1.1.0").take();
  double sum = 0, sum_sq = 0;
  size_t n = 0;
  for (const auto& [name, tensor] : initial_)
    for (size_t k = 0; k < tensor.values.size(); ++k) {
      double noise = double(next[name].values[k]) - tensor.values[k] - delta[name].values[k];
      sum += noise;
      sum_sq += noise * noise;
      ++n;
    }
  double mean = sum / double(n), sd = std::sqrt(sum_sq / double(n) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.005);  // 4 standard errors with 464 values
  EXPECT_NEAR(sd, 0.02, 0.004);
}

TEST_P(CrowdServerTest, RetriedBatchesAreStoredOnce) {
  auto server = start(options());
  ASSERT_TRUE(server);
  CrowdHttp acme(server->port(), "acme", kAcmeToken);
  json batch = sample_batch(hex_id(9, 9), user_of(1), 3);
  Reply first = acme.patterns(batch);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json(), json({{"stored", 3}, {"duplicate", false}}));
  Reply second = acme.patterns(batch);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json(), json({{"stored", 0}, {"duplicate", true}}));
  std::string delta = yantra::crowd::encode(synthetic_weights(3, 0.01f));
  EXPECT_EQ(acme.delta(hex_id(5, 5), user_of(1), "1.0.0", 2, delta).json()["duplicate"], false);
  EXPECT_EQ(acme.delta(hex_id(5, 5), user_of(1), "1.0.0", 2, delta).json()["duplicate"], true);
  // The same batch id in another tenant is another batch.
  CrowdHttp beta(server->port(), "beta", kBetaToken);
  EXPECT_EQ(beta.patterns(batch).json()["duplicate"], false);
  server->stop();
  auto counts = store()->counts("acme").take();
  EXPECT_EQ(counts.pattern_batches, 1u);
  EXPECT_EQ(counts.patterns, 3u);
  EXPECT_EQ(counts.deltas, 1u);
}

struct BadCase {
  std::string what;
  int status;
  Reply reply;
  std::string must_mention;
};

TEST_P(CrowdServerTest, BadRequestsGetTheirStatusAndGoodClientsAreUndisturbed) {
  ServerOptions o = options();
  o.max_pattern_bytes = 32 * 1024;
  o.max_delta_bytes = 128 * 1024;
  auto server = start(o);
  ASSERT_TRUE(server);
  const int port = server->port();

  // A good client uploads throughout; every one of its uploads must be acknowledged.
  std::atomic<bool> done{false};
  std::atomic<int> good_ok{0}, good_bad{0};
  std::thread good([&] {
    CrowdHttp c(port, "acme", kAcmeToken);
    std::string delta = yantra::crowd::encode(synthetic_weights(77, 0.01f));
    for (int i = 0; !done || i < 20; ++i) {
      bool ok = c.patterns(sample_batch(hex_id(i, 100), user_of(0), 2)).status == 200 &&
                c.delta(hex_id(i, 200), user_of(0), "1.0.0", 1, delta).status == 200;
      (ok ? good_ok : good_bad)++;
    }
  });

  CrowdHttp acme(port, "acme", kAcmeToken);
  CrowdHttp wrong_tenant(port, "beta", kAcmeToken);
  CrowdHttp no_such_tenant(port, "nobody", kAcmeToken);
  CrowdHttp bad_token(port, "acme", "not-a-real-token-55aa");
  CrowdHttp no_token(port, "acme", "");
  const std::string user = user_of(5), base = "1.0.0";
  const std::string good_delta = yantra::crowd::encode(synthetic_weights(8, 0.01f));
  Weights reshaped = synthetic_weights(8, 0.01f);
  reshaped["head.weight"].shape = {4, 16};
  Weights missing = synthetic_weights(8, 0.01f);
  missing.erase("encoder.bias");
  Weights extra = synthetic_weights(8, 0.01f);
  extra["decoder.weight"] = {{2}, {0.f, 0.f}};
  Weights not_finite = synthetic_weights(8, 0.01f);
  not_finite["encoder.bias"].values[3] = std::numeric_limits<float>::quiet_NaN();
  json unknown_key = sample_batch(hex_id(1, 300), user, 1);
  unknown_key["patterns"][0]["source_code"] = "def f(): pass";
  json no_user = sample_batch(hex_id(2, 300), user, 1);
  no_user.erase("user");
  json big = sample_batch(hex_id(3, 300), user, 30);  // ~60 KB, over the 32 KiB limit

  std::vector<BadCase> cases = {
      {"malformed JSON", 400, acme.post("/patterns", "{\"batch\": ", "application/json"), "JSON"},
      {"missing user", 400, acme.patterns(no_user), "user"},
      {"unknown pattern key", 400, acme.patterns(unknown_key), "patterns[0]"},
      {"oversized pattern batch", 413, acme.patterns(big), "32768"},
      {"oversized delta", 413, acme.delta(hex_id(4, 300), user, base, 1, std::string(200000, 'x')),
       "131072"},
      {"wrong tenant", 403, wrong_tenant.patterns(sample_batch(hex_id(5, 300), user, 1)), "beta"},
      {"unknown tenant", 403, no_such_tenant.get("/models/latest"), "nobody"},
      {"bad token", 401, bad_token.patterns(sample_batch(hex_id(6, 300), user, 1)), "token"},
      {"no token", 401, no_token.get("/models/latest"), "Bearer"},
      {"stale base", 409, acme.delta(hex_id(7, 300), user, "0.9.0", 1, good_delta), "1.0.0"},
      {"future base", 409, acme.delta(hex_id(8, 300), user, "2.0.0", 1, good_delta), "latest"},
      {"malformed base", 400, acme.delta(hex_id(9, 300), user, "one", 1, good_delta), "base"},
      {"bad batch id", 400, acme.delta("xyz", user, base, 1, good_delta), "batch"},
      {"zero examples", 400, acme.delta(hex_id(10, 300), user, base, 0, good_delta), "examples"},
      {"not encoded weights", 400, acme.delta(hex_id(11, 300), user, base, 1, "hello"), "delta"},
      {"wrong shape", 400,
       acme.delta(hex_id(12, 300), user, base, 1, yantra::crowd::encode(reshaped)), "head.weight"},
      {"missing parameter", 400,
       acme.delta(hex_id(13, 300), user, base, 1, yantra::crowd::encode(missing)), "encoder.bias"},
      {"extra parameter", 400,
       acme.delta(hex_id(14, 300), user, base, 1, yantra::crowd::encode(extra)), "decoder.weight"},
      {"NaN value", 400,
       acme.delta(hex_id(15, 300), user, base, 1, yantra::crowd::encode(not_finite)), "NaN"},
      {"unknown version", 404, acme.get("/models/7.0.0/weights"), "7.0.0"},
      {"unknown path", 404, acme.get_raw("/v2/everything"), "unknown path"},
  };
  done = true;
  good.join();
  for (const BadCase& c : cases) {
    EXPECT_EQ(c.reply.status, c.status) << c.what << ": " << c.reply.body;
    EXPECT_NE(c.reply.error().find(c.must_mention), std::string::npos)
        << c.what << ": the error should mention '" << c.must_mention << "': " << c.reply.body;
    EXPECT_EQ(c.reply.body.find(kAcmeToken), std::string::npos) << c.what;
    EXPECT_EQ(c.reply.body.find("not-a-real-token"), std::string::npos) << c.what;
  }
  EXPECT_EQ(good_bad.load(), 0);
  EXPECT_GE(good_ok.load(), 20);
  EXPECT_EQ(acme.get_raw("/v1/health").json(), json({{"ok", true}}));
  server->stop();
  auto counts = store()->counts("acme").take();
  // Only the good client's uploads are in the store.
  EXPECT_EQ(counts.pattern_batches, uint64_t(good_ok.load()));
  EXPECT_EQ(counts.deltas, uint64_t(good_ok.load()));
  EXPECT_EQ(store()->counts("beta").take().pattern_batches, 0u);
}

TEST_P(CrowdServerTest, StartupErrorsNameTheOption) {
  ServerOptions o = options();
  o.tenants.clear();
  auto none = CrowdServer::start(o);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("--tenant"), std::string::npos);
  o = options();
  o.initial_model = dir_.path() + "/missing.pt";
  auto missing = CrowdServer::start(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("missing.pt"), std::string::npos);
  o = options();
  o.tenants = {{kAcmeToken, "acme corp"}};
  auto bad_name = CrowdServer::start(o);
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().message.find(kAcmeToken), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, CrowdServerTest, ::testing::Values("sqlite", "postgres"),
                         yantra::testing::backend_name);

}  // namespace
