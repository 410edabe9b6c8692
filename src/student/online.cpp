// The pass-probability head, learned online: one step per validation outcome on the new
// example plus a replayed batch, checkpointed (replay buffer included) every N steps.
#include <unistd.h>

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "student/model.h"
#include "student/torch_module.h"

namespace yantra::student {
namespace {

struct PassNetImpl : torch::nn::Module {
  explicit PassNetImpl(int hidden)
      : in(register_module("input", torch::nn::Linear(kPassFeatures, hidden))),
        out(register_module("output", torch::nn::Linear(hidden, 1))) {}
  torch::Tensor forward(const torch::Tensor& x) { return out(torch::relu(in(x))).squeeze(-1); }
  torch::nn::Linear in, out;
};
TORCH_MODULE(PassNet);

nlohmann::json options_json(const OnlineOptions& o) {
  return {{"hidden", o.hidden},
          {"replay_capacity", o.replay_capacity},
          {"replay_batch", o.replay_batch},
          {"lr", o.lr},
          {"temperature", o.temperature},
          {"alpha", o.alpha},
          {"checkpoint_every", o.checkpoint_every},
          {"seed", o.seed}};
}

OnlineOptions options_from(const nlohmann::json& j) {
  OnlineOptions o;
  o.hidden = j.at("hidden"), o.replay_capacity = j.at("replay_capacity");
  o.replay_batch = j.at("replay_batch"), o.lr = j.at("lr"), o.temperature = j.at("temperature");
  o.alpha = j.at("alpha"), o.checkpoint_every = j.at("checkpoint_every"), o.seed = j.at("seed");
  return o;
}

}  // namespace

class TorchLearner final : public OnlineLearner::Impl {
 public:
  double predict(const std::vector<float>& features) override;
  Result<double> observe(const Observation& observation) override;
  Result<void> save() override;
  uint64_t steps() const override { return n_steps; }
  size_t replay_size() const override { return rows(); }
  PassCalibration calibration() const override;

  std::string path;
  OnlineOptions options;
  PassNet net{nullptr};
  std::unique_ptr<torch::optim::Adam> optimiser;
  // The replay buffer, row-major: features, hard labels, soft labels (< 0: none).
  std::vector<float> x, y, soft;
  uint64_t seen = 0, n_steps = 0;
  std::mt19937_64 rng;
  // Prequential calibration: each prediction is scored before the head learns from it.
  static constexpr int kBins = 10;
  std::array<double, kBins> bin_n{}, bin_p{}, bin_y{};
  double brier_sum = 0;

  void score(double p, double y) {
    int b = std::min(kBins - 1, int(p * kBins));
    bin_n[size_t(b)] += 1, bin_p[size_t(b)] += p, bin_y[size_t(b)] += y;
    brier_sum += (p - y) * (p - y);
  }

  void init(const OnlineOptions& o) {
    options = o;
    torch::manual_seed(o.seed);
    net = PassNet(o.hidden);
    optimiser =
        std::make_unique<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(o.lr));
    rng.seed(o.seed);
  }
  size_t rows() const { return y.size(); }

  // Reservoir sampling: every observation so far is in the buffer with equal probability.
  void remember(const Observation& ob) {
    ++seen;
    size_t slot = rows();
    if (slot >= size_t(options.replay_capacity)) {
      slot = std::uniform_int_distribution<uint64_t>(0, seen - 1)(rng);
      if (slot >= size_t(options.replay_capacity)) return;
      std::copy(ob.features.begin(), ob.features.end(), x.begin() + long(slot * kPassFeatures));
      y[slot] = ob.label, soft[slot] = ob.soft_label;
      return;
    }
    x.insert(x.end(), ob.features.begin(), ob.features.end());
    y.push_back(ob.label), soft.push_back(ob.soft_label);
  }
};

Result<std::unique_ptr<OnlineLearner::Impl>> torch_side::open_learner(
    const std::string& path, const OnlineOptions& options) {
  auto impl = std::make_unique<TorchLearner>();
  impl->path = path;
  if (access(path.c_str(), F_OK) != 0) {
    impl->init(options);
    return std::unique_ptr<OnlineLearner::Impl>(std::move(impl));
  }
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue meta_value;
    if (!archive.try_read("meta", meta_value) || !meta_value.isString())
      return Error::in(path, "not a pass-probability checkpoint; move it away to start afresh");
    auto meta = nlohmann::json::parse(meta_value.toStringRef());
    impl->init(options_from(meta.at("options")));
    impl->net->load(archive);
    impl->seen = meta.at("seen"), impl->n_steps = meta.at("steps");
    if (meta.contains("calibration")) {
      const auto& c = meta["calibration"];
      impl->brier_sum = c.at("brier_sum");
      for (int b = 0; b < TorchLearner::kBins; ++b) {
        impl->bin_n[size_t(b)] = c.at("n").at(size_t(b));
        impl->bin_p[size_t(b)] = c.at("p").at(size_t(b));
        impl->bin_y[size_t(b)] = c.at("y").at(size_t(b));
      }
    }
    impl->rng.seed(impl->options.seed ^ impl->n_steps);
    torch::Tensor x, y, soft;
    archive.read("replay_x", x), archive.read("replay_y", y), archive.read("replay_soft", soft);
    impl->x.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    impl->y.assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
    impl->soft.assign(soft.data_ptr<float>(), soft.data_ptr<float>() + soft.numel());
    if (impl->x.size() != impl->y.size() * kPassFeatures || impl->soft.size() != impl->y.size())
      return Error::in(path, "the replay buffer in this checkpoint is damaged; move it away");
  } catch (const std::exception& e) {
    return Error::in(path, std::string("unreadable pass-probability checkpoint (") + e.what() +
                               "); move it away to start afresh");
  }
  return std::unique_ptr<OnlineLearner::Impl>(std::move(impl));
}

PassCalibration TorchLearner::calibration() const {
  const TorchLearner& s = *this;
  PassCalibration c;
  double p = 0, y = 0, gap = 0;
  for (int b = 0; b < TorchLearner::kBins; ++b) {
    c.outcomes += size_t(s.bin_n[size_t(b)]);
    p += s.bin_p[size_t(b)], y += s.bin_y[size_t(b)];
    gap += std::abs(s.bin_p[size_t(b)] - s.bin_y[size_t(b)]);  // n * |mean p - pass rate|
  }
  if (c.outcomes == 0) return c;
  const double n = double(c.outcomes);
  c.mean_p = p / n, c.pass_rate = y / n, c.brier = s.brier_sum / n, c.ece = gap / n;
  return c;
}

double TorchLearner::predict(const std::vector<float>& features) {
  if (features.size() != size_t(kPassFeatures)) return 0.5;  // assert-level misuse: no opinion
  torch::NoGradGuard no_grad;
  net->eval();
  auto x = torch::from_blob(const_cast<float*>(features.data()), {1, kPassFeatures}, torch::kFloat);
  return torch::sigmoid(net->forward(x))[0].item<double>();
}

Result<double> TorchLearner::observe(const Observation& ob) {
  TorchLearner& s = *this;
  if (ob.features.size() != size_t(kPassFeatures))
    return Error{"pass head: " + std::to_string(ob.features.size()) + " features, expected " +
                 std::to_string(kPassFeatures) + " (from pass_features)"};
  s.score(predict(ob.features), ob.label);
  // The batch: the new example and up to replay_batch remembered ones.
  std::vector<float> bx(ob.features), by{ob.label}, bsoft{ob.soft_label};
  size_t replayed = std::min(s.rows(), size_t(s.options.replay_batch));
  for (size_t k = 0; k < replayed; ++k) {
    size_t r = std::uniform_int_distribution<size_t>(0, s.rows() - 1)(s.rng);
    bx.insert(bx.end(), s.x.begin() + long(r * kPassFeatures),
              s.x.begin() + long((r + 1) * kPassFeatures));
    by.push_back(s.y[r]), bsoft.push_back(s.soft[r]);
  }
  const int64_t n = int64_t(by.size());
  auto x = torch::from_blob(bx.data(), {n, kPassFeatures}, torch::kFloat);
  auto y = torch::from_blob(by.data(), {n}, torch::kFloat);
  auto soft = torch::from_blob(bsoft.data(), {n}, torch::kFloat);
  s.net->train();
  s.optimiser->zero_grad();
  torch::Tensor logits = s.net->forward(x);
  torch::Tensor loss = torch::binary_cross_entropy_with_logits(logits, y);
  torch::Tensor has_soft = soft.ge(0);
  if (s.options.alpha > 0 && has_soft.any().item<bool>()) {
    torch::Tensor rows = has_soft.nonzero().squeeze(1);
    loss = loss + s.options.alpha * bernoulli_kl(logits.index_select(0, rows).unsqueeze(1),
                                                 soft.index_select(0, rows).unsqueeze(1),
                                                 s.options.temperature);
  }
  loss.backward();
  s.optimiser->step();
  s.remember(ob);
  ++s.n_steps;
  if (s.options.checkpoint_every > 0 && s.n_steps % uint64_t(s.options.checkpoint_every) == 0)
    if (auto ok = save(); !ok) return ok.error();
  return loss.item<double>();
}

Result<void> TorchLearner::save() {
  TorchLearner& s = *this;
  nlohmann::json meta{
      {"format", 1},
      {"head", "pass probability"},
      {"options", options_json(s.options)},
      {"seen", s.seen},
      {"steps", s.n_steps},
      {"calibration",
       {{"brier_sum", s.brier_sum}, {"n", s.bin_n}, {"p", s.bin_p}, {"y", s.bin_y}}}};
  const std::string tmp = s.path + ".tmp." + std::to_string(getpid());
  try {
    torch::serialize::OutputArchive archive;
    archive.write("meta", c10::IValue(meta.dump()));
    s.net->save(archive);
    const int64_t n = int64_t(s.rows());
    archive.write("replay_x",
                  torch::from_blob(s.x.data(), {n, kPassFeatures}, torch::kFloat).clone());
    archive.write("replay_y", torch::from_blob(s.y.data(), {n}, torch::kFloat).clone());
    archive.write("replay_soft", torch::from_blob(s.soft.data(), {n}, torch::kFloat).clone());
    archive.save_to(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    return Error::in(s.path,
                     std::string("cannot write the pass-probability checkpoint: ") + e.what());
  }
  if (std::rename(tmp.c_str(), s.path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error::in(s.path, "cannot move the pass-probability checkpoint into place");
  }
  return {};
}

}  // namespace yantra::student
