// The student's embedding cache (embeddings.bin): written by training, refreshed after an
// edit by recomputing only what the edit reaches, and equal to a full recomputation; a
// damaged or foreign cache is rebuilt with a note, never trusted.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model_support.h"

namespace yantra::student {
namespace {

class EmbeddingCache : public ::testing::Test {
 protected:
  void SetUp() override {
    write_toy_repo(repo.path);
    GraphData g = index_and_load(repo.path, store.path);
    StudentOptions o;
    o.hidden = 32, o.epochs = 1, o.batch_edges = 64, o.min_steps_per_epoch = 5;
    o.progress = false;
    checkpoint = train_student(g, o, (store.path / "student").string()).take().checkpoint;
  }
  // Calls predicted for a few functions, from a student loaded as the cache now stands.
  std::vector<Prediction> predictions(const GraphData& g, EmbeddingRefresh* refresh = nullptr) {
    Student s = Student::load(checkpoint, g).take();
    if (refresh) *refresh = s.embeddings();
    std::vector<Prediction> out;
    for (const char* name : {"topic0.handle_0_0_0", "topic0.handle_0_1_2", "topic5.handle_5_3_1",
                             "topic0.handle_0_9_0"})
      if (int32_t node = g.find(name); node >= 0) out.push_back(s.predict(node, 20).take());
    return out;
  }
  TempDir repo, store;
  std::string checkpoint;
};

void expect_same(const std::vector<Prediction>& a, const std::vector<Prediction>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].calls.size(), b[i].calls.size());
    for (size_t k = 0; k < a[i].calls.size(); ++k) {
      EXPECT_NEAR(a[i].calls[k].p, b[i].calls[k].p, 1e-5) << a[i].qname << " #" << k;
      if (std::abs(a[i].calls[k].p - b[i].calls[k].p) > 1e-4) continue;  // a near-tie may swap
      EXPECT_EQ(a[i].calls[k].label, b[i].calls[k].label) << a[i].qname << " #" << k;
    }
  }
}

TEST_F(EmbeddingCache, TrainingWritesItAndAnUnchangedGraphReadsItWhole) {
  ASSERT_TRUE(fs::exists(embedding_cache_path(checkpoint)));
  GraphData g = load_graph((store.path / "graph.db").string()).take();
  EmbeddingRefresh r = refresh_embeddings(checkpoint, g).take();
  EXPECT_EQ(r.nodes, g.size());
  EXPECT_EQ(r.changed, 0u);
  EXPECT_EQ(r.recomputed, 0u);
  EXPECT_EQ(r.cache_note, "");
}

TEST_F(EmbeddingCache, AnEditRecomputesOnlyWhatItReachesAndMatchesAFullPass) {
  {
    std::ofstream out(repo.path / "topic0.py", std::ios::app);
    out << "def handle_0_9_0(x):\n    if check_0_1(x):\n        return store_0_2(x)\n";
  }
  GraphData g = index_and_load(repo.path, store.path);
  EmbeddingRefresh r = refresh_embeddings(checkpoint, g).take();
  EXPECT_GT(r.changed, 0u);
  EXPECT_GE(r.recomputed, r.changed);
  // One module's nodes and what they call: the other eleven topics stay as cached.
  EXPECT_FALSE(r.full);
  EXPECT_LT(r.recomputed, g.size() / 4) << r.recomputed << " of " << g.size();
  EXPECT_EQ(r.cache_note, "");

  EmbeddingRefresh again;
  std::vector<Prediction> cached = predictions(g, &again);
  EXPECT_EQ(again.changed, 0u) << "the refresh left stale rows behind";
  fs::remove(embedding_cache_path(checkpoint));
  EmbeddingRefresh full;
  std::vector<Prediction> fresh = predictions(g, &full);
  EXPECT_TRUE(full.full);
  ASSERT_EQ(cached.size(), 4u);
  expect_same(cached, fresh);
}

TEST_F(EmbeddingCache, RowsInAnotherOrderAreMatchedByNodeId) {
  const std::string path = embedding_cache_path(checkpoint);
  GraphData g = load_graph((store.path / "graph.db").string()).take();
  std::vector<Prediction> before = predictions(g);
  // Reverse the file's rows, (id, fingerprint) entries and embedding rows alike; the layout
  // is the one embedding_cache.cpp documents: a 32-byte header, 16 bytes a row, then floats.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  uint32_t width = 0;
  uint64_t rows = 0;
  std::memcpy(&width, bytes.data() + 16, 4);
  std::memcpy(&rows, bytes.data() + 24, 8);
  ASSERT_EQ(rows, g.size());
  ASSERT_EQ(bytes.size(), 32 + rows * (16 + uint64_t(width) * 4));
  std::string reversed = bytes.substr(0, 32);
  const size_t floats_at = 32 + rows * 16, row_bytes = size_t(width) * 4;
  for (size_t r = rows; r-- > 0;) reversed += bytes.substr(32 + r * 16, 16);
  for (size_t r = rows; r-- > 0;) reversed += bytes.substr(floats_at + r * row_bytes, row_bytes);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << reversed;

  EmbeddingRefresh r;
  std::vector<Prediction> after = predictions(g, &r);
  EXPECT_EQ(r.changed, 0u) << "a reordered cache was not matched by node id";
  EXPECT_FALSE(r.full);
  EXPECT_EQ(r.cache_note, "");
  ASSERT_EQ(after.size(), 3u);  // handle_0_9_0 exists only after the edit test's edit
  expect_same(before, after);
}

TEST_F(EmbeddingCache, ADamagedCacheIsRebuiltWithANote) {
  const std::string path = embedding_cache_path(checkpoint);
  GraphData g = load_graph((store.path / "graph.db").string()).take();
  std::vector<Prediction> before = predictions(g);
  fs::resize_file(path, fs::file_size(path) - 100);
  EmbeddingRefresh r;
  std::vector<Prediction> after = predictions(g, &r);
  EXPECT_NE(r.cache_note.find("damaged"), std::string::npos) << r.cache_note;
  EXPECT_NE(r.cache_note.find(path), std::string::npos) << r.cache_note;
  EXPECT_TRUE(r.full);
  expect_same(before, after);
  EXPECT_EQ(refresh_embeddings(checkpoint, g).take().changed, 0u) << "not rewritten";
}

TEST_F(EmbeddingCache, ACacheOfAnotherCheckpointIsNotTrusted) {
  GraphData g = load_graph((store.path / "graph.db").string()).take();
  std::vector<Prediction> before = predictions(g);
  // Retrain into the same place: same graph, different weights.
  StudentOptions o;
  o.hidden = 32, o.epochs = 1, o.batch_edges = 64, o.min_steps_per_epoch = 5, o.seed = 7;
  o.progress = false;
  const std::string cache = embedding_cache_path(checkpoint);
  const std::string kept = cache + ".old";
  fs::copy_file(cache, kept);
  train_student(g, o, (store.path / "student").string()).take();
  fs::rename(kept, cache);  // the first model's cache beside the second model
  EmbeddingRefresh r = refresh_embeddings(checkpoint, g).take();
  EXPECT_NE(r.cache_note.find("another checkpoint"), std::string::npos) << r.cache_note;
  EXPECT_TRUE(r.full);
}

TEST_F(EmbeddingCache, YantraIndexRefreshesItAfterAnEdit) {
  {
    std::ofstream out(repo.path / "topic3.py", std::ios::app);
    out << "def handle_3_9_0(x):\n    return store_3_0(x)\n";
  }
  std::string command = std::string(YANTRA_BINARY) + " index " + repo.path.string() + " --store " +
                        store.path.string() + " --json";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, p)) > 0;) out.append(buffer, n);
  ASSERT_EQ(pclose(p), 0) << out;
  auto e = nlohmann::json::parse(out).at("student_embeddings");
  EXPECT_GT(e.at("recomputed").get<size_t>(), 0u) << out;
  EXPECT_LT(e.at("recomputed").get<size_t>(), e.at("nodes").get<size_t>() / 4) << out;
  GraphData g = load_graph((store.path / "graph.db").string()).take();
  EXPECT_EQ(refresh_embeddings(checkpoint, g).take().changed, 0u) << "index left it stale";
}

}  // namespace
}  // namespace yantra::student
