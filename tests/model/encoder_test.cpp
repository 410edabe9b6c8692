// The request encoder trained on real requests: the 110 HumanEval dev prompts, each against
// augmented views of itself. Its InfoNCE loss falls; the plain C++ forward pass that
// encodes requests at run time agrees with what LibTorch trained (its own loss, computed
// from encode(), falls the same way); the weights file round-trips exactly; online, the
// encoder retrains every N learned requests and the library is re-embedded with it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "../unit/test_support.h"
#include "library/library.h"
#include "model_support.h"
#include "router/router.h"

namespace yantra::student {
namespace {

std::vector<RequestPair> humaneval_requests() {
  std::vector<RequestPair> out;
  const std::string path =
      std::string(YANTRA_SHARED_DIR) + "/data/humaneval/HumanEval-dev.jsonl.gz";
  for (const auto& p : testing::read_gz_lines(path))
    out.push_back({p["prompt"], p["entry_point"], p["task_id"]});
  return out;
}

// InfoNCE of the first `n` pairs as one batch, computed from RequestEncoder::encode.
double loss_in_cpp(const RequestEncoder& enc, const std::vector<EncoderPair>& pairs, size_t n,
                   double temperature) {
  std::vector<std::vector<float>> a, p;
  for (size_t i = 0; i < n; ++i)
    a.push_back(enc.encode(pairs[i].anchor)), p.push_back(enc.encode(pairs[i].positive));
  double loss = 0;
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> logits(n);
    double top = -1e30;
    for (size_t j = 0; j < n; ++j) {
      double dot = 0;
      for (size_t k = 0; k < a[i].size(); ++k) dot += double(a[i][k]) * p[j][k];
      logits[j] = dot / temperature;
      top = std::max(top, logits[j]);
    }
    double sum = 0;
    for (double l : logits) sum += std::exp(l - top);
    loss += -(logits[i] - top - std::log(sum));
  }
  return loss / double(n);
}

TEST(RequestEncoder, LossFallsAndTheRuntimeForwardPassAgrees) {
  std::vector<RequestPair> requests = humaneval_requests();
  ASSERT_EQ(requests.size(), 110u);
  // One view per request: the first 110 pairs are of 110 different groups.
  std::vector<EncoderPair> pairs = augmented_pairs(requests, 1, 7);
  ASSERT_EQ(pairs.size(), 110u);
  EncoderTrainOptions o;
  o.steps = 60;
  o.batch = 64;
  o.lr = 0.01;
  EncoderWeights w = EncoderWeights::initial(3);
  RequestEncoder before = RequestEncoder::from_weights(w).take();
  auto report = train_encoder(pairs, o, w);
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_EQ(report->losses.size(), 10u);
  EXPECT_LT(report->losses.back(), 0.7 * report->losses.front())
      << report->losses.front() << " -> " << report->losses.back();
  RequestEncoder after = RequestEncoder::from_weights(w).take();
  EXPECT_NE(after.version(), before.version());
  double cpp_before = loss_in_cpp(before, pairs, 64, o.temperature);
  double cpp_after = loss_in_cpp(after, pairs, 64, o.temperature);
  EXPECT_LT(cpp_after, 0.7 * cpp_before) << cpp_before << " -> " << cpp_after;
  // A batch of 64 from training's last tenth against all 64 here: the same scale.
  EXPECT_LT(std::abs(cpp_after - report->losses.back()), 0.5 * report->losses.front());
}

TEST(RequestEncoder, WeightsRoundTripAndBadFilesSayWhatToDo) {
  auto dir = std::filesystem::temp_directory_path() / "yantra-encoder-test";
  std::filesystem::create_directories(dir);
  RequestEncoder enc = RequestEncoder::from_weights(EncoderWeights::initial(9)).take();
  std::string path = (dir / "encoder.bin").string();
  ASSERT_TRUE(enc.save(path).ok());
  RequestEncoder again = RequestEncoder::load(path).take();
  EXPECT_EQ(again.version(), enc.version());
  RequestView v = view_request("def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n", "add");
  EXPECT_EQ(again.encode(v), enc.encode(v));
  std::filesystem::resize_file(path, 1000);
  auto cut = RequestEncoder::load(path);
  ASSERT_FALSE(cut.ok());
  EXPECT_TRUE(testing::contains(cut.error().message, "cut short")) << cut.error().message;
  auto missing = RequestEncoder::load((dir / "none.bin").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(testing::contains(missing.error().message, "yantra train --encoder"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace yantra::student

namespace yantra::student {
namespace {

library::Entry learned_entry(const std::string& prompt, const std::string& name) {
  library::Entry e;
  e.request = prompt;
  e.entry_point = name;
  e.code = "def " + name + "(x):\n    return x\n";
  e.embedding = view_embedding(view_request(prompt, name));
  e.tier = "premium";
  e.confidence = 0.99;
  return e;
}

// Online learning: once the library has learned `every` requests more than the encoder
// last trained on, the encoder fine-tunes on them, is saved in the repository, and the
// library is re-embedded with it; before that, nothing happens.
TEST(RequestEncoder, RetrainsOnlineEveryNLearnedRequestsAndReembedsTheLibrary) {
  TempDir repo;
  auto lib = library::Library::open(repo.path.string(), kTextEmbeddingDim);
  ASSERT_TRUE(lib.ok()) << lib.error().message;
  auto base = router::repository_embedder(repo.path.string());
  ASSERT_TRUE(base.ok()) << base.error().message << " (the build trains the base encoder)";
  ASSERT_TRUE(lib->use_embedder(*base).ok());
  std::vector<RequestPair> requests = humaneval_requests();
  for (size_t i = 0; i < 3; ++i)
    ASSERT_TRUE(lib->add(learned_entry(requests[i].request, requests[i].entry_point)).ok());
  auto early = router::retrain_encoder_if_due(repo.path.string(), *lib, 4);
  ASSERT_TRUE(early.ok()) << early.error().message;
  EXPECT_FALSE(early->has_value()) << "3 learned requests, retraining every 4";
  EXPECT_FALSE(std::filesystem::exists(repo_encoder_path(repo.path.string())));

  ASSERT_TRUE(lib->add(learned_entry(requests[3].request, requests[3].entry_point)).ok());
  auto due = router::retrain_encoder_if_due(repo.path.string(), *lib, 4);
  ASSERT_TRUE(due.ok()) << due.error().message;
  ASSERT_TRUE(due->has_value());
  EXPECT_EQ((*due)->requests, 4u);
  EXPECT_EQ((*due)->reembedded, 4u);
  EXPECT_NE((*due)->embedder.name, base->name);
  ASSERT_TRUE(std::filesystem::exists(repo_encoder_path(repo.path.string())));
  auto own = router::repository_embedder(repo.path.string());
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->name, (*due)->embedder.name) << "the repository's own encoder is used from now on";
  // Each learned request is still its own nearest entry in the new space.
  for (size_t i = 0; i < 4; ++i) {
    library::Entry q;
    q.request = requests[i].request;
    q.entry_point = requests[i].entry_point;
    auto hits = lib->nearest(own->embed(q), 1);
    ASSERT_TRUE(hits.ok() && hits->size() == 1);
    EXPECT_EQ(hits->front().entry.entry_point, requests[i].entry_point);
    EXPECT_GT(hits->front().similarity, 0.999f);
  }
  auto again = router::retrain_encoder_if_due(repo.path.string(), *lib, 4);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value()) << "nothing new learned since";
}

}  // namespace
}  // namespace yantra::student
