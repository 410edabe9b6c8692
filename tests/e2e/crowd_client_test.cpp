// The crowd client against a real HTTP server on a free loopback port: a small httplib
// server in this test that plays the crowd server, honest or not (it can serve a tampered
// master, which the real server never would). The student is trained for real on Debian's
// Python `email` package, and the real `yantra` binary runs join, status, push, update and
// rollback against the server.
#include <algorithm>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "../unit/test_support.h"
#include "crowd/crowd.h"
#include "graph/graph.h"
#include "library/library.h"
#include "source/source.h"

namespace fs = std::filesystem;
using nlohmann::json;
namespace crowd = yantra::crowd;
namespace student = yantra::student;

namespace {

const char* kToken = "tok-7f3a-very-secret";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Ran {
  int status = -1;
  std::string out;
};

Ran run(const std::string& cmd) {
  Ran r;
  r.out = yantra::testing::run_capture(cmd + " 2>&1", &r.status);
  return r;
}

// The crowd server's side of the wire protocol, with what it serves set by the test.
class TestServer {
 public:
  TestServer() {
    http_.Get("/v1/key", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_content(json{{"public_key", public_key}}.dump(), "application/json");
    });
    http_.Get(R"(/v1/t/(\w+)/models/latest)", [this](const auto& req, auto& res) {
      std::lock_guard lock(mu_);
      if (!authorised(req, res)) return;
      if (manifest.is_null()) return error(res, 404, "no version yet");
      res.set_content(manifest.dump(), "application/json");
    });
    http_.Get(R"(/v1/t/(\w+)/models/([0-9.]+)/weights)", [this](const auto& req, auto& res) {
      std::lock_guard lock(mu_);
      if (!authorised(req, res)) return;
      res.set_content(weights, "application/octet-stream");
    });
    http_.Post(R"(/v1/t/(\w+)/patterns)", [this](const auto& req, auto& res) {
      std::lock_guard lock(mu_);
      if (!authorised(req, res)) return;
      json batch = json::parse(req.body, nullptr, false);
      if (auto ok = crowd::validate_pattern_batch(batch); !ok) return error(res, 400, ok.error().message);
      batch_ids.push_back(batch["batch"]);
      if (fail_next > 0) return --fail_next, error(res, 503, "restarting");
      bool duplicate = !stored_batches.insert(batch["batch"].get<std::string>()).second;
      if (!duplicate) stored_patterns += batch["patterns"].size();
      res.set_content(json{{"stored", duplicate ? 0 : batch["patterns"].size()}, {"duplicate", duplicate}}.dump(),
                      "application/json");
    });
    http_.Post(R"(/v1/t/(\w+)/deltas)", [this](const auto& req, auto& res) {
      std::lock_guard lock(mu_);
      if (!authorised(req, res)) return;
      deltas.push_back({req.get_param_value("base"), req.get_param_value("examples"),
                        req.get_param_value("batch"), req.body});
      res.set_content(R"({"stored": 1, "duplicate": false})", "application/json");
    });
    port = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestServer() {
    http_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  template <class F>
  void with_lock(F f) {
    std::lock_guard lock(mu_);
    f();
  }

  struct Delta {
    std::string base, examples, batch, body;
  };
  int port = 0;
  std::string public_key;
  json manifest;  // null: nothing published
  std::string weights;
  std::vector<std::string> batch_ids;  // of every request, failed ones included
  std::set<std::string> stored_batches;
  size_t stored_patterns = 0;
  int fail_next = 0;
  std::vector<Delta> deltas;

 private:
  bool authorised(const httplib::Request& req, httplib::Response& res) {
    std::string auth = req.get_header_value("Authorization");
    if (auth == std::string("Bearer ") + kToken) return true;
    // Echoes what it got, as a careless server might: the client must not repeat it.
    error(res, 401, "unknown token '" + auth.substr(std::min<size_t>(7, auth.size())) + "'");
    return false;
  }
  static void error(httplib::Response& res, int status, const std::string& msg) {
    res.status = status;
    res.set_content(json{{"error", msg}}.dump(), "application/json");
  }
  httplib::Server http_;
  std::thread thread_;
  std::mutex mu_;
};

// One repository, indexed and trained once: Debian's `email` package.
struct Repo {
  fs::path dir, repo, store, config;
  std::string model_bytes;  // the trained checkpoint as it first was
  std::string error;
  ~Repo() { fs::remove_all(dir); }
  std::string checkpoint() const { return (store / "student" / "model.pt").string(); }
};

Repo& repo() {
  static Repo r = [] {
    Repo r;
    r.dir = fs::temp_directory_path() / ("yantra-crowd-client-" + std::to_string(getpid()));
    r.repo = r.dir / "repo", r.store = r.repo / ".yantra", r.config = r.dir / "config";
    fs::remove_all(r.dir);
    const fs::path pkg = "/usr/lib/python3.11/email";
    if (!fs::exists(pkg)) {
      r.error = "Debian's python3.11 standard library is missing";
      return r;
    }
    fs::create_directories(r.repo);
    fs::copy(pkg, r.repo / "email", fs::copy_options::recursive);
    yantra::graph::IndexOptions io;
    io.root = r.repo.string(), io.progress = false;
    auto report = yantra::graph::index_repository(yantra::real_file_system(), io);
    if (!report) {
      r.error = report.error().message;
      return r;
    }
    student::GraphData g = student::load_graph(report->db_path).take();
    student::StudentOptions o;
    o.hidden = 32, o.layers = 2, o.train_fanouts = o.infer_fanouts = {4, 2};
    o.epochs = 2, o.batch_edges = 256, o.progress = false;
    o.min_steps_per_epoch = 1;
    auto trained = student::train_student(g, o, (r.store / "student").string());
    if (!trained) {
      r.error = trained.error().message;
      return r;
    }
    r.model_bytes = slurp(r.checkpoint());
    return r;
  }();
  return r;
}

student::GraphData graph_of(const Repo& r) {
  return student::load_graph((r.store / "graph.db").string()).take();
}

class CrowdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(repo().error.empty()) << repo().error;
    Repo& r = repo();
    // Every test starts from the trained model, no crowd files and no configuration.
    std::ofstream(r.checkpoint(), std::ios::binary) << r.model_bytes;
    fs::remove_all(r.store / "crowd");
    fs::remove(r.store / "config.toml");
    fs::remove_all(r.config);
    key_ = crowd::SigningKey::generate();
    server_.with_lock([&] { server_.public_key = key_.public_hex; });
  }

  std::string env() const {
    return "YANTRA_CONFIG_HOME=" + repo().config.string() + " YANTRA_CROWD_TOKEN=" + kToken + " ";
  }
  Ran crowd_cmd(const std::string& args) const {
    return run(env() + YANTRA_BINARY + " crowd " + args + " --repo " + repo().repo.string());
  }
  void join() {
    Ran j = crowd_cmd("join --server " + server_.url() + " --tenant acme --yes");
    ASSERT_EQ(j.status, 0) << j.out;
  }

  // Publishes `w` as master `version` of tenant acme, signed by `key`.
  void publish(const crowd::Weights& w, const crowd::SigningKey& key, const std::string& version = "1.1.0") {
    std::string bytes = crowd::encode(w);
    crowd::Manifest m = crowd::make_manifest("acme", bytes, crowd::Version::parse(version).take(),
                                             "1.0.0", 1234, 2, {{"mrr", 0.5}});
    server_.with_lock([&] {
      server_.manifest = crowd::sign(m, key).to_json();
      server_.weights = bytes;
    });
  }
  crowd::Weights trained_weights() const {
    return student::read_parameters(repo().checkpoint()).take();
  }
  // Nothing of a refused master reached the student or the crowd's records.
  void expect_nothing_installed() const {
    EXPECT_EQ(slurp(repo().checkpoint()), repo().model_bytes);
    EXPECT_FALSE(fs::exists(repo().store / "crowd" / "installed.json"));
    EXPECT_FALSE(fs::exists(repo().store / "crowd" / "candidate.pt"));
    EXPECT_FALSE(fs::exists(repo().store / "crowd" / "master.pt"));
  }

  TestServer server_;
  crowd::SigningKey key_;
};

TEST_F(CrowdClientTest, JoinShowsTheRealPayloadAndPinsTheServersKey) {
  Ran no = crowd_cmd("join --server " + server_.url() + " --tenant acme </dev/null");
  EXPECT_NE(no.status, 0) << no.out;  // no terminal and no --yes: no
  EXPECT_NE(no.out.find("not joined"), std::string::npos) << no.out;
  Ran wrong = crowd_cmd("join --server " + server_.url() + " --tenant acme --yes --public-key " +
                        crowd::SigningKey::generate().public_hex);
  EXPECT_NE(wrong.status, 0);
  EXPECT_NE(wrong.out.find("not the --public-key given"), std::string::npos) << wrong.out;
  Ran yes = crowd_cmd("join --server " + server_.url() + " --tenant acme --yes --noise 0.1");
  ASSERT_EQ(yes.status, 0) << yes.out;
  EXPECT_NE(yes.out.find("\"patterns\""), std::string::npos) << yes.out;
  EXPECT_NE(yes.out.find("epsilon"), std::string::npos) << yes.out;
  EXPECT_EQ(yes.out.find(kToken), std::string::npos);
  Ran status = crowd_cmd("status --json");
  ASSERT_EQ(status.status, 0) << status.out;
  json s = json::parse(status.out);
  EXPECT_TRUE(s["joined"].get<bool>());
  EXPECT_EQ(s["tenant"], "acme");
  EXPECT_EQ(s["user"].get<std::string>().size(), 12u);
  EXPECT_EQ(slurp(repo().store / "config.toml").find(kToken), std::string::npos);
  EXPECT_NE(slurp(repo().store / "config.toml").find(key_.public_hex), std::string::npos);
  ASSERT_EQ(crowd_cmd("leave").status, 0);
  EXPECT_FALSE(json::parse(crowd_cmd("status --json").out)["joined"].get<bool>());
  EXPECT_NE(crowd_cmd("push").status, 0);  // off again: nothing is sent
}

TEST_F(CrowdClientTest, TamperedMastersAreRefusedAndNothingIsInstalled) {
  join();
  crowd::Weights w = trained_weights();
  // A flipped byte of the weights.
  publish(w, key_);
  server_.with_lock([&] { server_.weights[server_.weights.size() / 2] ^= 0x01; });
  Ran flipped = crowd_cmd("update --yes");
  EXPECT_NE(flipped.status, 0) << flipped.out;
  EXPECT_NE(flipped.out.find("refused"), std::string::npos) << flipped.out;
  expect_nothing_installed();
  // An edited manifest field after signing.
  publish(w, key_);
  server_.with_lock([&] { server_.manifest["manifest"]["examples"] = 999999; });
  Ran edited = crowd_cmd("update --yes");
  EXPECT_NE(edited.status, 0) << edited.out;
  EXPECT_NE(edited.out.find("refused"), std::string::npos) << edited.out;
  expect_nothing_installed();
  // A signature by another key than the pinned one.
  publish(w, crowd::SigningKey::generate());
  Ran other = crowd_cmd("update --yes");
  EXPECT_NE(other.status, 0) << other.out;
  EXPECT_NE(other.out.find("refused"), std::string::npos) << other.out;
  expect_nothing_installed();
}

TEST_F(CrowdClientTest, InstallThenRollbackRestoresThePreviousCheckpointByteForByte) {
  join();
  crowd::Weights w = trained_weights();
  crowd::add_gaussian_noise(w, 1e-3, 5);
  publish(w, key_);
  Ran update = crowd_cmd("update --yes --tolerance 1");
  ASSERT_EQ(update.status, 0) << update.out;
  EXPECT_NE(update.out.find("installed 1.1.0"), std::string::npos) << update.out;
  EXPECT_NE(update.out.find("held-out next-call MRR"), std::string::npos) << update.out;
  EXPECT_NE(slurp(repo().checkpoint()), repo().model_bytes);
  EXPECT_EQ(json::parse(crowd_cmd("status --json").out)["installed_version"], "1.1.0");
  EXPECT_NE(crowd_cmd("update --yes").out.find("up to date"), std::string::npos);
  crowd::Weights installed = trained_weights();
  EXPECT_EQ(crowd::encode(installed), crowd::encode(w));
  Ran back = crowd_cmd("rollback");
  ASSERT_EQ(back.status, 0) << back.out;
  EXPECT_EQ(slurp(repo().checkpoint()), repo().model_bytes);
  EXPECT_EQ(json::parse(crowd_cmd("status --json").out)["installed_version"], "");
  EXPECT_NE(crowd_cmd("rollback").status, 0);  // nothing left to roll back to
}

TEST_F(CrowdClientTest, AcceptanceCheckRefusesAWorseModelAndAcceptsAnEqualOne) {
  crowd::LocalModels local(repo().store.string());
  student::GraphData g = graph_of(repo());
  crowd::SignedManifest m = crowd::sign(
      crowd::make_manifest("acme", "", crowd::Version{1, 1, 0}, "1.0.0", 1, 1, {}), key_);
  crowd::Weights zero = trained_weights();
  for (auto& [name, t] : zero) std::fill(t.values.begin(), t.values.end(), 0.0f);
  crowd::Acceptance worse = local.stage(m, zero, g, 0.01).take();
  EXPECT_FALSE(worse.accepted) << worse.describe();
  EXPECT_LT(worse.candidate_mrr, worse.current_mrr - 0.01) << worse.describe();
  EXPECT_FALSE(fs::exists(local.candidate_checkpoint()));
  crowd::Acceptance equal = local.stage(m, trained_weights(), g, 0.01).take();
  EXPECT_TRUE(equal.accepted) << equal.describe();
  EXPECT_DOUBLE_EQ(equal.candidate_mrr, equal.current_mrr);
  EXPECT_GT(equal.current_mrr, 0.0);
  EXPECT_EQ(slurp(repo().checkpoint()), repo().model_bytes);  // staging installs nothing
}

TEST_F(CrowdClientTest, PushSendsEachValidatedGenerationOnceAndRetriesWithTheSameBatch) {
  {
    auto lib = yantra::library::Library::open(repo().repo.string(), student::kTextEmbeddingDim).take();
    yantra::library::Entry e;
    e.request = "Return the charset of a message part, or a default";
    e.entry_point = "get_charset_or";
    e.code = "def get_charset_or(part, default='us-ascii'):\n"
             "    charset = part.get_content_charset()\n"
             "    return charset if charset else default\n";
    e.tests = {"assert get_charset_or(type('P', (), {'get_content_charset': lambda s: None})()) == 'us-ascii'"};
    e.embedding = student::text_embedding(e.entry_point, {"part", "default"}, e.request);
    e.tier = "open_local", e.tests_passed = 1, e.confidence = 0.9;
    if (lib.size().take() == 0) {
      lib.add(e).take();
      e.avoid = true, e.code = "def get_charset_or(part):\n    return None\n";
      lib.add(e).take();
    }
  }
  join();
  server_.with_lock([&] { server_.fail_next = 1, server_.batch_ids.clear(), server_.stored_patterns = 0; });
  Ran push = crowd_cmd("push");
  ASSERT_EQ(push.status, 0) << push.out;
  server_.with_lock([&] {
    ASSERT_EQ(server_.batch_ids.size(), 2u);  // a 503, then the retry
    EXPECT_EQ(server_.batch_ids[0], server_.batch_ids[1]);
    EXPECT_EQ(server_.stored_patterns, 1u);  // the avoid entry is never sent
  });
  Ran again = crowd_cmd("push");
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("nothing new"), std::string::npos) << again.out;
  EXPECT_EQ(json::parse(crowd_cmd("status --json").out)["patterns_sent"], 1);
}

TEST_F(CrowdClientTest, DeltaOfAModelTrainedFromTheInstalledMaster) {
  join();
  publish(trained_weights(), key_);
  ASSERT_EQ(crowd_cmd("update --yes").status, 0);
  Ran refused = crowd_cmd("push --delta");
  EXPECT_NE(refused.status, 0);  // the checkpoint was not trained from the master
  EXPECT_NE(refused.out.find("--init-from"), std::string::npos) << refused.out;
  crowd::LocalModels local(repo().store.string());
  student::GraphData g = graph_of(repo());
  student::StudentOptions o;
  o.hidden = 32, o.layers = 2, o.train_fanouts = o.infer_fanouts = {4, 2};
  o.epochs = 1, o.batch_edges = 256, o.progress = false, o.lr = 0.05;
  o.min_steps_per_epoch = 1;
  o.init_from = local.master_checkpoint();
  ASSERT_TRUE(student::train_student(g, o, (repo().store / "student").string()).ok());
  Ran push = crowd_cmd("push --delta --clip 0.5");
  ASSERT_EQ(push.status, 0) << push.out;
  server_.with_lock([&] {
    ASSERT_EQ(server_.deltas.size(), 1u);
    EXPECT_EQ(server_.deltas[0].base, "1.1.0");
    EXPECT_GT(std::stoull(server_.deltas[0].examples), 100u);
    crowd::Weights d = crowd::decode(server_.deltas[0].body, "delta").take();
    EXPECT_LE(crowd::l2_norm(d), 0.5 + 1e-4);
    EXPECT_GT(crowd::l2_norm(d), 0.0);
    // Import slots name this repository's imports: they never leave it.
    for (const char* own : {"imports_out.weight", "imports_out.bias", "imports_local"}) {
      ASSERT_TRUE(d.count(own)) << own;
      for (float v : d.at(own).values) ASSERT_EQ(v, 0.f) << own;
    }
    const auto& shared = d.at("conv0.weight").values;
    EXPECT_TRUE(std::any_of(shared.begin(), shared.end(), [](float v) { return v != 0.f; }));
  });
}

TEST_F(CrowdClientTest, ErrorsCarryTheServersMessageNeverTheToken) {
  crowd::CrowdClient wrong(server_.url(), "acme", "tok-wrong-secret-42", 5, 1);
  auto r = wrong.latest();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("401"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("unknown token"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("tok-wrong-secret-42"), std::string::npos) << r.error().message;
  crowd::CrowdClient right(server_.url(), "acme", kToken, 5, 1);
  server_.with_lock([&] { server_.manifest = nullptr; });
  auto none = right.latest();
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none->has_value());
  crowd::CrowdClient nobody("http://127.0.0.1:1", "acme", kToken, 2, 1);
  auto down = nobody.public_key();
  ASSERT_FALSE(down.ok());
  EXPECT_NE(down.error().message.find("connection failed"), std::string::npos) << down.error().message;
}

}  // namespace

namespace {

// The issue's end to end: two clients and the real server (`CrowdServer`, SQLite). Both
// install the initial master, train from it, send their deltas; the server averages them
// into a new signed version, which both verify and install.
TEST_F(CrowdClientTest, TwoClientsAndTheRealServerEndToEnd) {
  Repo& r = repo();
  fs::path cloud = r.dir / "cloud", b_store = r.dir / "b-store";
  for (const fs::path& p : {cloud, b_store, r.dir / "home-a", r.dir / "home-b"}) fs::remove_all(p);
  fs::create_directories(cloud);
  fs::create_directories(b_store / "student");
  fs::copy_file(r.store / "graph.db", b_store / "graph.db");
  fs::copy_file(r.checkpoint(), b_store / "student" / "model.pt");
  fs::copy_file(r.checkpoint(), cloud / "initial.pt");
  crowd::ServerOptions o;
  o.storage = "sqlite:" + (cloud / "crowd.db").string();
  o.tenants = {{kToken, "acme"}};
  o.key_path = (cloud / "signing.key").string();
  o.initial_model = (cloud / "initial.pt").string();
  o.min_clients = 2;
  o.threads = 4;
  auto server = crowd::CrowdServer::start(o).take();
  std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  auto store_of = [&](char who) { return who == 'a' ? r.store : b_store; };
  auto cmd = [&](char who, const std::string& args) {
    return run("YANTRA_CONFIG_HOME=" + (r.dir / (std::string("home-") + who)).string() +
               " YANTRA_CROWD_TOKEN=" + kToken + " " + YANTRA_BINARY + " crowd " + args +
               " --repo " + r.repo.string() + " --store " + store_of(who).string());
  };
  for (char who : {'a', 'b'}) {
    Ran join = cmd(who, "join --global --yes --server " + url + " --tenant acme");
    ASSERT_EQ(join.status, 0) << join.out;
    EXPECT_NE(join.out.find(server->public_key()), std::string::npos) << join.out;
    Ran update = cmd(who, "update --yes");
    ASSERT_EQ(update.status, 0) << update.out;
    EXPECT_NE(update.out.find("installed 1.0.0"), std::string::npos) << update.out;
  }
  for (char who : {'a', 'b'}) {
    student::GraphData g = student::load_graph((store_of(who) / "graph.db").string()).take();
    student::StudentOptions t;
    t.hidden = 32, t.layers = 2, t.train_fanouts = t.infer_fanouts = {4, 2};
    t.epochs = 1, t.batch_edges = 256, t.progress = false, t.seed = who == 'a' ? 1 : 2;
    t.min_steps_per_epoch = 1;
    t.init_from = (store_of(who) / "crowd" / "master.pt").string();
    ASSERT_TRUE(student::train_student(g, t, (store_of(who) / "student").string()).ok());
    Ran push = cmd(who, "push --delta");
    ASSERT_EQ(push.status, 0) << push.out;
    EXPECT_NE(push.out.find("delta: sent against 1.0.0"), std::string::npos) << push.out;
  }
  // The second user's delta makes the server aggregate (min_clients 2).
  crowd::CrowdClient client(url, "acme", kToken, 5, 1);
  std::optional<crowd::SignedManifest> latest;
  for (int i = 0; i < 100 && (!latest || latest->manifest.version == "1.0.0"); ++i) {
    latest = client.latest().take();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(latest.has_value());
  ASSERT_EQ(latest->manifest.version, "1.1.0");
  EXPECT_EQ(latest->manifest.parent, "1.0.0");
  EXPECT_EQ(latest->manifest.contributors, 2u);
  for (char who : {'a', 'b'}) {
    Ran update = cmd(who, "update --yes --tolerance 1");
    ASSERT_EQ(update.status, 0) << update.out;
    EXPECT_NE(update.out.find("installed 1.1.0"), std::string::npos) << update.out;
  }
  std::string a = crowd::encode(student::read_parameters(r.checkpoint()).take());
  std::string b = crowd::encode(student::read_parameters((b_store / "student" / "model.pt").string()).take());
  EXPECT_EQ(a, b);
  EXPECT_EQ(crowd::sha256_hex(a), latest->manifest.weights_sha256);
  server->stop();
}

}  // namespace
