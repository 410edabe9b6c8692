// The aggregation server under load and under SIGKILL, against SQLite and a real
// PostgreSQL: 50 concurrent clients on loopback for YANTRA_CROWD_LOAD_SECONDS (default 30)
// lose nothing, and the real `yantra cloud serve` killed mid-upload and restarted on the
// same storage still has every upload it acknowledged.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "crowd/store.h"
#include "crowd_test_support.h"
#include "postgres_fixture.h"

namespace {

using yantra::testing::CrowdHttp;
using yantra::testing::hex_id;
using yantra::testing::Reply;
using yantra::testing::sample_batch;
using yantra::testing::synthetic_weights;

const std::string kToken = "load-token-3b9d27c4e1f08a65";

double load_seconds() {
  const char* env = std::getenv("YANTRA_CROWD_LOAD_SECONDS");
  return env && std::atof(env) > 0 ? std::atof(env) : 30.0;
}

// What the clients were told was stored, and what went wrong.
struct Ledger {
  std::mutex mutex;
  std::vector<std::string> patterns, deltas;
  std::atomic<int> stale{0}, unexpected{0};
  std::string first_unexpected;

  void acked(std::vector<std::string>& list, const std::string& id) {
    std::lock_guard lock(mutex);
    list.push_back(id);
  }
  void unexpected_reply(const std::string& what, const Reply& r) {
    std::lock_guard lock(mutex);
    if (unexpected++ == 0)
      first_unexpected = what + ": HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 300);
  }
};

// One client: a pattern batch, then a delta against the latest version (fetched again when
// the server says it moved on), until `stop` or until the server stops answering.
void client_loop(int port, int client, const std::atomic<bool>& stop, Ledger& ledger,
                 bool tolerate_disconnect) {
  CrowdHttp http(port, "acme", kToken);
  const std::string user = hex_id(client, 77, 64);
  const std::string delta = yantra::crowd::encode(synthetic_weights(client, 0.001f));
  std::string base = http.latest_version();
  for (uint64_t i = 0; !stop; ++i) {
    std::string id = hex_id(client, i);
    Reply p = http.patterns(sample_batch(id, user, 1 + int(i % 3)));
    if (p.status == 200 && p.json()["stored"].get<int>() > 0) ledger.acked(ledger.patterns, id);
    else if (p.status == -1 && tolerate_disconnect) return;
    else ledger.unexpected_reply("patterns", p);
    for (int attempt = 0; attempt < 5 && !stop; ++attempt) {
      Reply d = http.delta(id, user, base, 1 + i % 10, delta);
      if (d.status == 200 && d.json()["stored"] == 1) {
        ledger.acked(ledger.deltas, id);
        break;
      }
      if (d.status == -1 && tolerate_disconnect) return;
      if (d.status != 409) {
        ledger.unexpected_reply("delta", d);
        break;
      }
      ++ledger.stale;  // aggregation moved the version on: train on the new one
      base = http.latest_version();
    }
  }
}

// Every acknowledged upload is in the store, and nothing else was stored.
void expect_all_stored(const std::string& storage, Ledger& ledger, bool exact) {
  auto store = yantra::crowd::open_store(storage).take();
  size_t missing_patterns = 0, missing_deltas = 0;
  for (const auto& id : ledger.patterns) missing_patterns += !store->has_pattern_batch("acme", id).take();
  for (const auto& id : ledger.deltas) missing_deltas += !store->has_delta("acme", id).take();
  EXPECT_EQ(missing_patterns, 0u) << "of " << ledger.patterns.size() << " acknowledged batches";
  EXPECT_EQ(missing_deltas, 0u) << "of " << ledger.deltas.size() << " acknowledged deltas";
  auto counts = store->counts("acme").take();
  if (exact) {
    EXPECT_EQ(counts.pattern_batches, ledger.patterns.size());
    EXPECT_EQ(counts.deltas, ledger.deltas.size());
  } else {  // uploads in flight at the kill may be stored without an acknowledgement
    EXPECT_GE(counts.pattern_batches, ledger.patterns.size());
    EXPECT_GE(counts.deltas, ledger.deltas.size());
  }
  std::cout << "stored " << counts.pattern_batches << " pattern batches (" << counts.patterns
            << " patterns), " << counts.deltas << " deltas, " << counts.versions << " versions; "
            << ledger.stale << " stale-base retries\n";
}

class CrowdLoadTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    storage_ = yantra::testing::fresh_storage(GetParam(), dir_);
    ASSERT_FALSE(storage_.empty());
    model_ = dir_.path() + "/initial.ywts";
    ASSERT_TRUE(yantra::write_file_atomic(model_, yantra::crowd::encode(synthetic_weights(1, 0.5f))).ok());
  }
  yantra::testing::TempDir dir_;
  std::string storage_, model_;
};

TEST_P(CrowdLoadTest, FiftyConcurrentClientsLoseNothing) {
  yantra::crowd::ServerOptions o;
  o.storage = storage_;
  o.tenants = {{kToken, "acme"}};
  o.key_path = dir_.path() + "/signing.key";
  o.initial_model = model_;
  o.min_clients = 10;  // versions move on during the run: uploads race aggregation
  auto server = yantra::crowd::CrowdServer::start(o).take();
  Ledger ledger;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 50; ++c)
    clients.emplace_back([&, c] { client_loop(server->port(), c, stop, ledger, false); });
  std::this_thread::sleep_for(std::chrono::duration<double>(load_seconds()));
  stop = true;
  for (auto& t : clients) t.join();
  CrowdHttp http(server->port(), "acme", kToken);
  Reply latest = http.get("/models/latest");
  server->stop();
  EXPECT_EQ(ledger.unexpected.load(), 0) << ledger.first_unexpected;
  EXPECT_GT(ledger.patterns.size(), 50u);
  EXPECT_GT(ledger.deltas.size(), 50u);
  expect_all_stored(storage_, ledger, true);
  // Aggregation ran under the load, and what it published verifies.
  auto m = yantra::crowd::SignedManifest::from_json(latest.json()).take();
  EXPECT_NE(m.manifest.version, "1.0.0");
  auto store = yantra::crowd::open_store(storage_).take();
  std::string weights = store->weights("acme", m.manifest.version).take().value_or("");
  EXPECT_TRUE(yantra::crowd::verify(m, weights, server->public_key()).ok());
}

// `yantra cloud serve` as a child; its address and key are read from what it prints.
struct Child {
  pid_t pid = -1;
  int port = 0;
  std::string public_key, printed;
};

Child spawn_serve(const std::vector<std::string>& args) {
  int out[2];
  if (::pipe(out) != 0) return {};
  Child child;
  child.pid = ::fork();
  if (child.pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::vector<char*> argv{const_cast<char*>(YANTRA_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(YANTRA_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  double deadline = yantra::monotonic_seconds() + 60;
  while (child.printed.find("public key: ") == std::string::npos ||
         child.printed.back() != '\n') {
    if (yantra::monotonic_seconds() > deadline) break;
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    child.printed.append(buf, size_t(n));
  }
  ::close(out[0]);
  const std::string listen = "listening on http://127.0.0.1:", key = "public key: ";
  if (auto at = child.printed.find(listen); at != std::string::npos)
    child.port = std::atoi(child.printed.c_str() + at + listen.size());
  if (auto at = child.printed.find(key); at != std::string::npos)
    child.public_key = child.printed.substr(at + key.size(), 64);
  return child;
}

int wait_exit(pid_t pid, double seconds) {
  int status = 0;
  for (double end = yantra::monotonic_seconds() + seconds; yantra::monotonic_seconds() < end;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

TEST_P(CrowdLoadTest, SigkillMidUploadLosesNoAcknowledgedUpload) {
  const std::string tokens = dir_.path() + "/tokens";
  ASSERT_TRUE(yantra::write_file_atomic(tokens, "# tenants\nacme=" + kToken + "\n").ok());
  const std::vector<std::string> args = {
      "cloud",  "serve",           "--storage",    storage_,     "--port", "0",
      "--key",  dir_.path() + "/signing.key",      "--tokens-file", tokens,
      "--initial-model", model_,   "--min-clients", "5"};
  Child first = spawn_serve(args);
  ASSERT_GT(first.port, 0) << "yantra cloud serve printed: " << first.printed;
  Ledger ledger;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c)
    clients.emplace_back([&, c] { client_loop(first.port, c, stop, ledger, true); });
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_EQ(::kill(first.pid, SIGKILL), 0);
  wait_exit(first.pid, 10);
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(ledger.unexpected.load(), 0) << ledger.first_unexpected;
  EXPECT_GT(ledger.patterns.size() + ledger.deltas.size(), 20u);

  Child second = spawn_serve(args);
  ASSERT_GT(second.port, 0) << "restart printed: " << second.printed;
  EXPECT_EQ(second.public_key, first.public_key);
  expect_all_stored(storage_, ledger, false);
  // The restarted server takes uploads again, on whatever version it had published.
  CrowdHttp http(second.port, "acme", kToken);
  std::string user = hex_id(999, 1, 64);
  EXPECT_EQ(http.patterns(sample_batch(hex_id(999, 2), user, 1)).status, 200);
  // The restart may publish from deltas that waited: then the base moves once more.
  Reply d;
  for (int attempt = 0; attempt < 3 && d.status != 200; ++attempt)
    d = http.delta(hex_id(999, 3), user, http.latest_version(), 1,
                   yantra::crowd::encode(synthetic_weights(4, 0.001f)));
  EXPECT_EQ(d.status, 200) << d.body;
  ASSERT_EQ(::kill(second.pid, SIGTERM), 0);
  int status = wait_exit(second.pid, 20);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

INSTANTIATE_TEST_SUITE_P(Backends, CrowdLoadTest, ::testing::Values("sqlite", "postgres"),
                         yantra::testing::backend_name);

}  // namespace
