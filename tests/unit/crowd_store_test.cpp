// The crowd server's stores, SQLite and a real PostgreSQL, through the same tests:
// idempotent uploads, deltas by base version, versions in numeric order, durability
// across reopening, and concurrent writers.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "../e2e/postgres_fixture.h"
#include "crowd/store.h"

namespace {

using yantra::crowd::open_store;
using yantra::crowd::Store;
using yantra::testing::TempDir;

// Bytes a text column would mangle: NUL, high bytes, the "YWTS" magic.
std::string binary_blob(size_t n, char seed) {
  std::string out = "YWTS";
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>((i * 37 + seed) % 256));
  out.push_back('\0');
  return out;
}

class CrowdStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    connection_ = yantra::testing::fresh_storage(GetParam(), dir_);
    ASSERT_FALSE(connection_.empty());
    store_ = open();
  }
  std::unique_ptr<Store> open() {
    auto s = open_store(connection_);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s ? std::move(s).value() : nullptr;
  }
  TempDir dir_;
  std::string connection_;
  std::unique_ptr<Store> store_;
};

TEST_P(CrowdStoreTest, PatternBatchStoredOncePerTenant) {
  ASSERT_TRUE(store_);
  EXPECT_TRUE(store_->put_patterns("acme", "b1", "u1", "[{}, {}]", 2).take());
  EXPECT_FALSE(store_->put_patterns("acme", "b1", "u1", "[{}, {}]", 2).take());  // a retry
  EXPECT_TRUE(store_->put_patterns("other", "b1", "u1", "[{}]", 1).take());  // another tenant
  EXPECT_TRUE(store_->put_patterns("acme", "b2", "u2", "[{}]", 1).take());
  EXPECT_TRUE(store_->has_pattern_batch("acme", "b2").take());
  EXPECT_FALSE(store_->has_pattern_batch("acme", "b3").take());
  auto c = store_->counts("acme").take();
  EXPECT_EQ(c.pattern_batches, 2u);
  EXPECT_EQ(c.patterns, 3u);
  EXPECT_EQ(store_->counts("other").take().pattern_batches, 1u);
}

TEST_P(CrowdStoreTest, DeltasByBaseVersionBinarySafeAndIdempotent) {
  ASSERT_TRUE(store_);
  const std::string w1 = binary_blob(5000, 1), w2 = binary_blob(300, 2), w3 = binary_blob(7, 3);
  EXPECT_TRUE(store_->put_delta("acme", "d1", "alice", "1.0.0", 5, w1).take());
  EXPECT_TRUE(store_->put_delta("acme", "d2", "bob", "1.0.0", 7, w2).take());
  EXPECT_TRUE(store_->put_delta("acme", "d3", "alice", "1.0.0", 1, w3).take());
  EXPECT_TRUE(store_->put_delta("acme", "d4", "carol", "1.1.0", 2, w3).take());
  EXPECT_FALSE(store_->put_delta("acme", "d2", "bob", "1.0.0", 7, w2).take());
  // A retry after the version moved on is still the same batch.
  EXPECT_FALSE(store_->put_delta("acme", "d1", "alice", "1.1.0", 5, w1).take());

  auto on_base = store_->deltas("acme", "1.0.0").take();
  ASSERT_EQ(on_base.size(), 3u);
  EXPECT_EQ(on_base[0].batch, "d1");
  EXPECT_EQ(on_base[0].weights, w1);
  EXPECT_EQ(on_base[1].user, "bob");
  EXPECT_EQ(on_base[1].examples, 7u);
  EXPECT_EQ(on_base[2].weights, w3);
  EXPECT_EQ(store_->delta_users("acme", "1.0.0").take(), 2u);
  EXPECT_EQ(store_->delta_users("acme", "1.1.0").take(), 1u);
  EXPECT_EQ(store_->delta_users("acme", "2.0.0").take(), 0u);
  EXPECT_TRUE(store_->deltas("other", "1.0.0").take().empty());
  EXPECT_TRUE(store_->has_delta("acme", "d4").take());
  EXPECT_EQ(store_->counts("acme").take().deltas, 4u);
}

TEST_P(CrowdStoreTest, VersionsInNumericOrderAndNeverReplaced) {
  ASSERT_TRUE(store_);
  EXPECT_FALSE(store_->latest_version("acme").take().has_value());
  for (const char* v : {"1.2.0", "1.10.0", "1.9.0", "0.99.3"})
    EXPECT_TRUE(store_->put_version("acme", v, std::string("{\"v\":\"") + v + "\"}",
                                    binary_blob(100, v[2]))
                    .take());
  auto latest = store_->latest_version("acme").take();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->version, "1.10.0");
  EXPECT_EQ(latest->manifest_json, "{\"v\":\"1.10.0\"}");
  // Publishing an existing version again changes nothing.
  EXPECT_FALSE(store_->put_version("acme", "1.10.0", "{}", "x").take());
  EXPECT_EQ(*store_->manifest("acme", "1.10.0").take(), "{\"v\":\"1.10.0\"}");
  EXPECT_EQ(*store_->weights("acme", "1.10.0").take(), binary_blob(100, '1'));
  EXPECT_FALSE(store_->weights("acme", "3.0.0").take().has_value());
  EXPECT_FALSE(store_->manifest("other", "1.10.0").take().has_value());
  EXPECT_EQ(store_->counts("acme").take().versions, 4u);
  auto bad = store_->put_version("acme", "1.x", "{}", "w");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("MAJOR.MINOR.PATCH"), std::string::npos);
}

TEST_P(CrowdStoreTest, EverythingSurvivesReopening) {
  ASSERT_TRUE(store_);
  store_->put_patterns("acme", "b1", "u", "[{}]", 1).take();
  store_->put_delta("acme", "d1", "u", "1.0.0", 3, binary_blob(64, 9)).take();
  store_->put_version("acme", "1.0.0", "{}", binary_blob(64, 8)).take();
  store_.reset();
  store_ = open();
  ASSERT_TRUE(store_);
  EXPECT_TRUE(store_->has_pattern_batch("acme", "b1").take());
  EXPECT_EQ(store_->deltas("acme", "1.0.0").take().at(0).weights, binary_blob(64, 9));
  EXPECT_EQ(store_->latest_version("acme").take()->version, "1.0.0");
}

TEST_P(CrowdStoreTest, ConcurrentWritersLoseNothingAndStoreRetriesOnce) {
  ASSERT_TRUE(store_);
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> stored{0}, failed{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Two threads send each batch: one stores it, the other sees a duplicate.
        std::string id = std::to_string((t / 2) * kEach + i);
        // append, not literal + string: GCC 12 warns falsely (-Wrestrict) on the latter.
        auto p = store_->put_patterns("acme", std::string("p").append(id), "u", "[{}]", 1);
        auto d = store_->put_delta("acme", std::string("d").append(id),
                                   std::string("u").append(std::to_string(t)), "1.0.0", 1, id);
        if (!p || !d) {
          ++failed;
          continue;
        }
        stored += *p + *d;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(stored.load(), kThreads / 2 * kEach * 2);
  auto c = store_->counts("acme").take();
  EXPECT_EQ(c.pattern_batches, uint64_t(kThreads / 2 * kEach));
  EXPECT_EQ(c.deltas, uint64_t(kThreads / 2 * kEach));
}

INSTANTIATE_TEST_SUITE_P(Backends, CrowdStoreTest, ::testing::Values("sqlite", "postgres"),
                         yantra::testing::backend_name);

TEST(CrowdStoreOpen, ConnectionStringsAreCheckedAndPasswordsHidden) {
  auto unknown = open_store("mysql://root:hunter2@db/crowd");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message.find("hunter2"), std::string::npos) << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("sqlite:PATH"), std::string::npos);
  auto empty = open_store("sqlite:");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("sqlite:PATH"), std::string::npos);
  auto down = open_store("postgresql://crowd:s3cret@127.0.0.1:1/crowd?connect_timeout=2");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().message.find("s3cret"), std::string::npos) << down.error().message;
  EXPECT_EQ(yantra::crowd::redact_connection("postgresql:///db?user=a&password=pw&x=1"),
            "postgresql:///db?user=a&password=***&x=1");
}

TEST(CrowdStoreOpen, VersionsSplitIntoNumbers) {
  auto v = yantra::crowd::split_version("2.10.3").take();
  EXPECT_EQ(v.major, 2);
  EXPECT_EQ(v.minor, 10);
  EXPECT_EQ(v.patch, 3);
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "a.b.c", "1..2", "-1.0.0", "1.0.0 "})
    EXPECT_FALSE(yantra::crowd::split_version(bad).ok()) << bad;
}

}  // namespace
