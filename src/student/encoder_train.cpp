// Training the request encoder (LibTorch): InfoNCE over batches of (request, augmented
// view) pairs, the other pairs of a batch as negatives. The forward pass is the one
// RequestEncoder::encode runs in plain C++ (encoder.cpp); the two must stay the same.
#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <set>

#include "student/model.h"

namespace yantra::student::torch_side {
namespace {

// A batch of views as the inputs of one embedding_bag call.
struct Packed {
  torch::Tensor buckets, offsets, weights, base;
};

Packed pack(const std::vector<const EncoderInput*>& views) {
  std::vector<int64_t> buckets, offsets;
  std::vector<float> weights, base;
  for (const EncoderInput* v : views) {
    offsets.push_back(int64_t(buckets.size()));
    buckets.insert(buckets.end(), v->buckets.begin(), v->buckets.end());
    weights.insert(weights.end(), v->weights.begin(), v->weights.end());
    base.insert(base.end(), v->base.begin(), v->base.end());
  }
  auto n = int64_t(views.size());
  return {torch::tensor(buckets, torch::kLong), torch::tensor(offsets, torch::kLong),
          torch::tensor(weights, torch::kFloat),
          torch::tensor(base, torch::kFloat).reshape({n, kTextEmbeddingDim})};
}

torch::Tensor forward(const Packed& p, const torch::Tensor& table, const torch::Tensor& proj) {
  // mode 0: sum, each feature scaled by its weight
  auto bag = torch::embedding_bag(table, p.buckets, p.offsets, /*scale_grad_by_freq=*/false,
                                  /*mode=*/0, /*sparse=*/false, p.weights);
  torch::Tensor h = torch::tanh(std::get<0>(bag));
  torch::Tensor y = p.base + torch::matmul(h, proj.t());
  return torch::nn::functional::normalize(y, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

// The pairs in an order where neighbours look alike: sorted by the signs of 16 random
// projections of the anchor's view (locality-sensitive hashing). A batch of neighbours
// holds hard negatives; random negatives are told apart by the view alone, and teach
// nothing.
std::vector<size_t> similar_order(const std::vector<EncoderPair>& pairs, std::mt19937_64& rng) {
  constexpr int kPlanes = 16;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> planes(size_t(kPlanes) * kTextEmbeddingDim);
  for (float& x : planes) x = normal(rng);
  std::vector<std::pair<uint32_t, size_t>> keyed;
  for (size_t i = 0; i < pairs.size(); ++i) {
    uint32_t key = 0;
    for (int p = 0; p < kPlanes; ++p) {
      float dot = 0;
      for (int d = 0; d < kTextEmbeddingDim; ++d)
        dot += planes[size_t(p) * kTextEmbeddingDim + size_t(d)] * pairs[i].anchor.base[size_t(d)];
      key = key << 1 | (dot > 0);
    }
    keyed.emplace_back(key, i);
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<size_t> order;
  for (const auto& [key, i] : keyed) order.push_back(i);
  return order;
}

// The pairs of one batch: neighbours in `order` from a random start, no two of one group.
std::vector<size_t> next_batch(const std::vector<EncoderPair>& pairs,
                               const std::vector<size_t>& order, size_t size,
                               std::mt19937_64& rng) {
  std::vector<size_t> batch;
  std::set<int64_t> groups;
  size_t at = rng() % order.size();
  for (size_t looked = 0; batch.size() < size && looked < order.size(); ++looked) {
    size_t i = order[(at + looked) % order.size()];
    if (groups.insert(pairs[i].group).second) batch.push_back(i);
  }
  return batch;
}

}  // namespace

Result<EncoderTrainReport> train_encoder(const std::vector<EncoderPair>& pairs,
                                         const EncoderTrainOptions& options,
                                         EncoderWeights& weights) {
  if (pairs.size() < 2) return Error{"train_encoder: at least two pairs are needed"};
  if (weights.table.size() != size_t(kEncoderBuckets) * kEncoderHidden ||
      weights.projection.size() != size_t(kTextEmbeddingDim) * kEncoderHidden)
    return Error{"train_encoder: starting weights of the wrong shape"};
  auto started = std::chrono::steady_clock::now();
  torch::manual_seed(options.seed);
  std::mt19937_64 rng(options.seed);
  torch::NoGradGuard no_grad_for_setup;
  torch::Tensor table = torch::tensor(weights.table).reshape({kEncoderBuckets, kEncoderHidden});
  torch::Tensor proj =
      torch::tensor(weights.projection).reshape({kTextEmbeddingDim, kEncoderHidden});
  table.set_requires_grad(true);
  proj.set_requires_grad(true);
  torch::optim::Adam adam({table, proj}, torch::optim::AdamOptions(options.lr));

  // Every other batch of neighbours (hard negatives), the rest drawn at random.
  std::vector<size_t> similar = similar_order(pairs, rng), shuffled(pairs.size());
  std::iota(shuffled.begin(), shuffled.end(), 0);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  EncoderTrainReport report;
  const int per_report = std::max(1, options.steps / 10);
  double sum = 0;
  int counted = 0;
  for (int step = 0; step < options.steps; ++step) {
    std::vector<size_t> batch =
        next_batch(pairs, step % 2 ? shuffled : similar, size_t(options.batch), rng);
    if (batch.size() < 2) return Error{"train_encoder: every pair is of one group"};
    std::vector<const EncoderInput*> anchors, positives;
    for (size_t i : batch)
      anchors.push_back(&pairs[i].anchor), positives.push_back(&pairs[i].positive);
    Packed a = pack(anchors), p = pack(positives);
    torch::Tensor loss;
    {
      torch::AutoGradMode grad(true);
      torch::Tensor ya = forward(a, table, proj), yp = forward(p, table, proj);
      torch::Tensor logits = torch::matmul(ya, yp.t()) / options.temperature;
      torch::Tensor target = torch::arange(int64_t(batch.size()), torch::kLong);
      loss = (torch::nn::functional::cross_entropy(logits, target) +
              torch::nn::functional::cross_entropy(logits.t(), target)) /
             2;
      adam.zero_grad();
      loss.backward();
      adam.step();
    }
    sum += loss.item<double>();
    if (++counted == per_report || step + 1 == options.steps) {
      report.losses.push_back(sum / counted);
      sum = 0, counted = 0;
    }
  }
  table = table.contiguous(), proj = proj.contiguous();
  weights.table.assign(table.data_ptr<float>(), table.data_ptr<float>() + table.numel());
  weights.projection.assign(proj.data_ptr<float>(), proj.data_ptr<float>() + proj.numel());
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace yantra::student::torch_side
