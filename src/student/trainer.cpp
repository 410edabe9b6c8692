// Training the student on next-call prediction: mini-batches of visible calls with sampled
// neighbourhoods, negatives drawn uniformly and from the caller's own file (so locality
// alone cannot win), early stopping on held-out validation calls, rotated checkpoints.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "student/model.h"

namespace yantra::student {
namespace {

constexpr int kFormatVersion = 2;  // 2: node heads and their label sets
constexpr size_t kValidationQueries = 2000;

// Hands out a shuffled sequence in slices, reshuffling each time it wraps around.
template <typename T>
class Cycle {
 public:
  // `in_order`: the first pass takes the items as given (a curriculum), later ones shuffled.
  Cycle(std::vector<T> items, std::mt19937_64& rng, bool in_order = false)
      : items_(std::move(items)), rng_(rng), at_(in_order ? 0 : items_.size()) {}
  std::vector<T> next(size_t count) {
    std::vector<T> out;
    while (out.size() < count && !items_.empty()) {
      if (at_ == items_.size()) std::shuffle(items_.begin(), items_.end(), rng_), at_ = 0;
      size_t take = std::min(count - out.size(), items_.size() - at_);
      out.insert(out.end(), items_.begin() + long(at_), items_.begin() + long(at_ + take));
      at_ += take;
    }
    return out;
  }

 private:
  std::vector<T> items_;
  std::mt19937_64& rng_;
  size_t at_;  // == size: shuffle before the next slice
};

class Negatives {
 public:
  Negatives(const GraphData& g, uint64_t seed) : rng_(seed ^ 0xA5A5ull) {
    for (size_t i = 0; i < g.size(); ++i) {
      if (!g.is_candidate(int32_t(i))) continue;
      all_.push_back(int32_t(i));
      if (g.file[i] >= 0) by_file_[g.file[i]].push_back(int32_t(i));
    }
  }
  int32_t uniform() { return all_[rng_() % all_.size()]; }
  int32_t same_file(const GraphData& g, int32_t u) {
    auto it = by_file_.find(g.file[u]);
    return it == by_file_.end() ? uniform() : it->second[rng_() % it->second.size()];
  }

 private:
  std::mt19937_64 rng_;
  std::vector<int32_t> all_;
  std::unordered_map<int32_t, std::vector<int32_t>> by_file_;
};

nlohmann::json options_json(const StudentOptions& o) {
  return {{"hidden", o.hidden},
          {"layers", o.layers},
          {"dropout", o.dropout},
          {"train_fanouts", o.train_fanouts},
          {"infer_fanouts", o.infer_fanouts},
          {"batch_edges", o.batch_edges},
          {"negatives", o.negatives},
          {"epochs", o.epochs},
          {"lr", o.lr},
          {"temperature", o.temperature},
          {"alpha", o.alpha},
          {"seed", o.seed},
          {"min_steps_per_epoch", o.min_steps_per_epoch},
          {"curriculum", o.curriculum},
          {"node_batch", o.node_batch},
          {"tested_batch", o.tested_batch},
          {"init_from", o.init_from}};
}

// One optimisation step on a batch of visible calls; returns the loss.
double train_step(Sage& model, torch::optim::Adam& opt, const GraphData& g, const ModelInputs& in,
                  Sampler& sampler, Negatives& negatives, const StudentOptions& o,
                  const std::vector<size_t>& calls, const NodeTargets& targets,
                  const std::vector<int32_t>& nodes, const std::vector<int32_t>& tested) {
  std::vector<int32_t> seeds, pair_u, pair_v;
  std::vector<float> target;
  for (size_t c : calls) {
    auto [u, v] = g.calls_resolved[c];
    pair_u.push_back(u), pair_v.push_back(v), target.push_back(1.f);
    for (int k = 0; k < o.negatives; ++k) {
      int32_t x = k == 0 ? negatives.same_file(g, u) : negatives.uniform();
      if (x == v || x == u) x = negatives.uniform();
      pair_u.push_back(u), pair_v.push_back(x), target.push_back(0.f);
    }
  }
  seeds = pair_u;
  seeds.insert(seeds.end(), pair_v.begin(), pair_v.end());
  Block block = sampler.sample(seeds, o.train_fanouts);
  std::vector<int64_t> lu, lv;
  std::vector<float> pairs(pair_u.size() * kPairFeatures);
  for (size_t i = 0; i < pair_u.size(); ++i) {
    lu.push_back(sampler.local_of(pair_u[i])), lv.push_back(sampler.local_of(pair_v[i]));
    pair_features(g, in, pair_u[i], pair_v[i], &pairs[i * kPairFeatures]);
  }
  torch::Tensor z = model->forward_block(in, block);
  torch::Tensor p =
      torch::from_blob(pairs.data(), {int64_t(pair_u.size()), kPairFeatures}, torch::kFloat);
  torch::Tensor logits = model->link_logits(z.index_select(0, torch::tensor(lu)),
                                            z.index_select(0, torch::tensor(lv)), p);
  torch::Tensor y = torch::tensor(target);
  // Positives and negatives weigh the same, whatever the number of negatives.
  torch::Tensor w =
      torch::where(y > 0.5, torch::full_like(y, float(o.negatives)), torch::ones_like(y));
  torch::Tensor loss =
      torch::binary_cross_entropy_with_logits(logits, y, w) * 2.0 / double(o.negatives + 1);
  if (!nodes.empty() || !tested.empty())
    loss = loss + node_head_loss(model, in, sampler, targets, nodes, tested, o);
  opt.zero_grad();
  loss.backward();
  opt.step();
  return loss.item<double>();
}

double validation_mrr(Sage& model, const GraphData& g, const ModelInputs& in,
                      const RankQueries& q) {
  torch::NoGradGuard no_grad;
  model->eval();
  torch::Tensor z = model->forward_full(in, g.size());
  double mrr = rank(q, [&](int32_t u, const std::vector<int32_t>& vs) {
                 return link_scores(model, g, in, z, u, vs);
               }).mrr;
  model->train();
  return mrr;
}

// The node heads' loss on (at most 2,048) functions of validation files.
double validation_node_loss(Sage& model, const ModelInputs& in, Sampler& sampler,
                            const NodeTargets& t, const StudentOptions& o) {
  if (t.validation_nodes.empty()) return 0;
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<int32_t> nodes = t.validation_nodes, tested;
  for (int32_t v : nodes)
    if (t.tested[v]) tested.push_back(v);
  if (nodes.size() > 2048) nodes.resize(2048);
  double loss = node_head_loss(model, in, sampler, t, nodes, tested, o).item<double>();
  model->train();
  return loss;
}

std::string checkpoint_meta(const StudentOptions& o, const Split& split, const TrainReport& r,
                            const NodeTargets& targets, const NumericScale& scale, int epoch,
                            bool with_eval) {
  nlohmann::json j = {
      {"format", kFormatVersion},
      {"yantra", "0.1.0"},
      {"epoch", epoch},
      {"options", options_json(o)},
      {"split", {{"seed", o.seed}, {"fingerprint", std::to_string(split.fingerprint)}}},
      {"train_calls", split.train.size()},
      {"heads",
       {{"next_call", "link prediction over functions, methods, classes"},
        {"imports", "multi-label over the import slots, blind"},
        {"test_kinds", "multi-label, body view (no callers)"},
        {"bug_kinds", "multi-label, distilled from pyflakes/pylint, blind"}}},
      {"labels",
       {{"imports", targets.vocabulary},
        {"test_kinds", labels::kTestKindNames},
        {"bug_kinds", labels::kBugKindNames}}},
      {"numeric_scale", {{"mean", scale.mean}, {"sd", scale.sd}}}};
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochStats& e : r.epochs)
    epochs.push_back({{"epoch", e.epoch},
                      {"loss", e.loss},
                      {"seconds", e.seconds},
                      {"validation_mrr", e.validation_mrr},
                      {"validation_node_loss", e.validation_node_loss}});
  j["epochs"] = epochs;
  if (with_eval) j["metrics"] = eval_report_json(r.eval);
  return j.dump();
}

void rotate(const std::string& dir, int keep) {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().starts_with("epoch-")) found.push_back(e.path());
  std::sort(found.begin(), found.end());
  for (size_t i = 0; i + size_t(keep) < found.size(); ++i) std::filesystem::remove(found[i], ec);
}

}  // namespace

Result<void> save_checkpoint(Sage& model, const std::string& meta_json, const std::string& path) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  try {
    torch::serialize::OutputArchive archive;
    archive.write("meta", c10::IValue(meta_json));
    model->save(archive);
    archive.save_to(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    return Error::in(path, std::string("cannot write the checkpoint: ") + e.what());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error::in(path, "cannot move the checkpoint into place");
  }
  return {};
}

// Each step allocates and frees tensors of many megabytes. glibc maps blocks above its
// mmap threshold straight from the kernel and unmaps them when freed, so every step
// page-faults all its memory in again: a fifth of an epoch on the stdlib graph. LibTorch's
// blocks of 1 MiB and more now come from a caching allocator; for the rest, the largest
// threshold mallopt accepts (32 MiB) and no trimming keep freed blocks for reuse.
static void keep_freed_memory() {
  use_caching_cpu_allocator(size_t(2) << 30);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

Result<TrainReport> torch_side::train_student(const GraphData& g, const StudentOptions& o,
                                              const std::string& out_dir,
                                              const labels::LabelReport* labels) {
  keep_freed_memory();
  if (g.calls_resolved.size() < 20)
    return Error::in(g.db_path, "too few calls inside the repository to learn from (" +
                                    std::to_string(g.calls_resolved.size()) + "; need 20)");
  std::error_code ec;
  std::filesystem::create_directories(out_dir + "/checkpoints", ec);
  if (ec) return Error::in(out_dir, "cannot create the model directory: " + ec.message());
  torch::manual_seed(o.seed);
  at::set_num_threads(o.threads);
  TrainReport report;
  Split split = make_split(g, o.seed);
  report.train_calls = split.train.size(), report.validation_calls = split.validation.size();
  report.test_calls = split.test.size();
  ModelInputs in = build_inputs(g, split.hidden);
  NodeTargets targets = build_targets(g, labels, nullptr, o.seed);
  Sage model(o.hidden, o.layers, o.dropout);
  if (!o.init_from.empty())
    if (auto ok = load_checkpoint(model, o.init_from); !ok) return ok.error();
  init_node_heads_from_priors(model, targets, /*kinds=*/o.init_from.empty());
  for (const auto& p : model->parameters()) report.parameters += uint64_t(p.numel());
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(o.lr));
  Sampler sampler(in, g.size(), o.seed);
  Negatives negatives(g, o.seed);
  std::vector<size_t> val = split.validation;
  if (val.size() > kValidationQueries) val.resize(kValidationQueries);
  RankQueries val_q = make_queries(g, val, o.seed + 1);
  std::mt19937_64 rng(o.seed);
  const std::string best_path = out_dir + "/model.pt";
  double best = -std::numeric_limits<double>::infinity();
  // Tested functions are a few percent of the labelled ones: the test-kind head draws
  // its own rows, so it meets each of them several times an epoch.
  std::vector<int32_t> tested_train;
  for (int32_t v : targets.train_nodes)
    if (targets.tested[v]) tested_train.push_back(v);
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    double start = monotonic_seconds(), loss_sum = 0;
    // At least min_steps_per_epoch steps: a small repository's calls go round again.
    const size_t n_calls = split.train.size();
    size_t batches = std::max((n_calls + size_t(o.batch_edges) - 1) / size_t(o.batch_edges),
                              size_t(std::max(1, o.min_steps_per_epoch)));
    size_t per_batch = std::min(n_calls, size_t(o.batch_edges));
    Cycle<size_t> calls_of(split.train, rng);
    const bool easy_first = o.curriculum && epoch == 1;
    Cycle<int32_t> nodes_of(easy_first ? curriculum_order(targets, o.seed) : targets.train_nodes,
                            rng, easy_first);
    size_t per_step = std::min(targets.train_nodes.size(), size_t(o.node_batch));
    Cycle<int32_t> tested_of(tested_train, rng);
    size_t tested_per_step = std::min(tested_train.size(), size_t(std::max(0, o.tested_batch)));
    Progress bar("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs),
                 o.progress ? batches : 0);
    model->train();
    for (size_t b = 0; b < batches; ++b) {
      std::vector<size_t> calls = calls_of.next(per_batch);
      std::vector<int32_t> nodes = nodes_of.next(per_step);
      std::vector<int32_t> tested = tested_of.next(tested_per_step);
      loss_sum +=
          train_step(model, opt, g, in, sampler, negatives, o, calls, targets, nodes, tested);
      bar.advance();
    }
    bar.finish();
    EpochStats stats{epoch, loss_sum / double(batches), monotonic_seconds() - start, 0};
    stats.validation_mrr = validation_mrr(model, g, in, val_q);
    stats.validation_node_loss = validation_node_loss(model, in, sampler, targets, o);
    report.epochs.push_back(stats);
    if (o.progress)
      fprintf(stderr, "epoch %d: loss %.4f, validation MRR %.4f, node heads %.4f, %.1f s\n", epoch,
              stats.loss, stats.validation_mrr, stats.validation_node_loss, stats.seconds);
    char name[32];
    snprintf(name, sizeof name, "epoch-%04d.pt", epoch);
    std::string meta = checkpoint_meta(o, split, report, targets, in.scale, epoch, false);
    if (auto ok = save_checkpoint(model, meta, out_dir + "/checkpoints/" + name); !ok)
      return ok.error();
    rotate(out_dir + "/checkpoints", o.keep_checkpoints);
    // One score for every head: next-call MRR gained counts as much as node loss lost.
    double score = stats.validation_mrr - stats.validation_node_loss;
    if (score > best) {
      best = score, report.best_epoch = epoch;
      if (auto ok = save_checkpoint(model, meta, best_path); !ok) return ok.error();
    } else if (epoch - report.best_epoch >= o.patience) {
      break;  // early stopping: no validation gain for `patience` epochs
    }
  }
  if (auto ok = load_checkpoint(model, best_path); !ok) return ok.error();
  report.eval = evaluate_split(model, g, in, split, o.seed, &targets, o.infer_fanouts);
  report.checkpoint = best_path;
  if (auto ok = save_checkpoint(
          model, checkpoint_meta(o, split, report, targets, in.scale, report.best_epoch, true),
          best_path);
      !ok)
    return ok.error();
  // The candidates' side of every later `predict`, computed once now.
  if (auto cache = refresh_embeddings(best_path, g); !cache) return cache.error();
  return report;
}

}  // namespace yantra::student
