// A trained student answering about one graph: loading checkpoints, single-function
// prediction from a sampled neighbourhood, held-out evaluation, distillation losses.
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "student/model.h"
#include "student/torch_module.h"

namespace yantra::student {
namespace {

Result<torch::serialize::InputArchive> open_archive(const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const std::exception&) {
    return Error::in(path, "not a Yantra student checkpoint (cannot read it); run `yantra train`");
  }
  return archive;
}

}  // namespace

Result<std::string> read_checkpoint_meta(const std::string& path) {
  auto archive = open_archive(path);
  if (!archive) return archive.error();
  c10::IValue meta;
  if (!archive->try_read("meta", meta) || !meta.isString())
    return Error::in(path, "checkpoint without its header; run `yantra train` again");
  return meta.toStringRef();
}

Result<void> load_checkpoint(Sage& model, const std::string& path) {
  auto archive = open_archive(path);
  if (!archive) return archive.error();
  try {
    model->load(*archive);
  } catch (const std::exception& e) {
    return Error::in(path, std::string("checkpoint does not fit this model: ") + e.what());
  }
  return {};
}

// A loaded checkpoint answering about one graph.
class TorchStudent final : public Student::Impl {
 public:
  explicit TorchStudent(const GraphData& g) : graph(g) {}
  Result<Prediction> predict(int32_t node, size_t top_k) override;
  Result<EvalReport> evaluate(uint64_t seed, const labels::LabelReport* labels) override;
  Result<InferenceTiming> time_inference(size_t queries, uint64_t seed) override;
  std::string describe() const override { return meta.dump(); }
  const EmbeddingRefresh& embeddings() const override { return refresh; }

  const GraphData& graph;
  nlohmann::json meta;
  StudentOptions options;
  Sage model{nullptr};
  ModelInputs inputs;
  std::unique_ptr<Sampler> sampler;
  torch::Tensor z;                      // full-graph embeddings of every node: the candidates' side
  std::vector<std::string> vocabulary;  // the checkpoint's import slots
  NodeTargets targets;                  // import slots of each node's module
  std::optional<NumericScale> scale;    // the training graph's (none in older checkpoints)
  EmbeddingRefresh refresh;
};

Result<std::unique_ptr<Student::Impl>> torch_side::load_student(const std::string& path,
                                                                const GraphData& graph) {
  auto text = read_checkpoint_meta(path);
  if (!text) return text.error();
  auto impl = std::make_unique<TorchStudent>(graph);
  try {
    impl->meta = nlohmann::json::parse(*text);
    const auto& o = impl->meta.at("options");
    impl->options.hidden = o.at("hidden"), impl->options.layers = o.at("layers");
    impl->options.dropout = o.at("dropout");
    impl->options.infer_fanouts = o.at("infer_fanouts").get<std::vector<int>>();
    impl->options.seed = o.at("seed");
    if (impl->meta.value("format", 1) < 2)
      return Error::in(path, "a checkpoint from before the node heads; run `yantra train` again");
    impl->vocabulary = impl->meta.at("labels").at("imports").get<std::vector<std::string>>();
    if (impl->meta.contains("numeric_scale")) {
      const auto& scale = impl->meta["numeric_scale"];
      impl->scale = NumericScale{scale.at("mean"), scale.at("sd")};
    }
  } catch (const std::exception& e) {
    return Error::in(path, std::string("unreadable checkpoint header: ") + e.what());
  }
  impl->model = Sage(impl->options.hidden, impl->options.layers, impl->options.dropout);
  if (auto ok = load_checkpoint(impl->model, path); !ok) return ok.error();
  impl->model->eval();
  impl->inputs = build_inputs(graph, {}, impl->scale ? &*impl->scale : nullptr);
  impl->sampler = std::make_unique<Sampler>(impl->inputs, graph.size(), impl->options.seed);
  impl->targets = build_targets(graph, nullptr, &impl->vocabulary, impl->options.seed);
  auto z = cached_embeddings(impl->model, graph, impl->inputs, path, &impl->refresh);
  if (!z) return z.error();
  impl->z = std::move(*z);
  return std::unique_ptr<Student::Impl>(std::move(impl));
}

Result<Prediction> TorchStudent::predict(int32_t node, size_t top_k) {
  TorchStudent& s = *this;
  if (node < 0 || size_t(node) >= s.graph.size())
    return Error{"predict: no such node; give a qualified name from `yantra graph show`"};
  double start = monotonic_seconds();
  torch::NoGradGuard no_grad;
  // The function's own embedding from its sampled neighbourhood, as for a new function.
  Block block = s.sampler->sample({node}, s.options.infer_fanouts);
  torch::Tensor zu = s.model->forward_block(s.inputs, block)[0];
  std::vector<int32_t> candidates;
  for (size_t i = 0; i < s.graph.size(); ++i)
    if (int32_t(i) != node && s.graph.is_candidate(int32_t(i))) candidates.push_back(int32_t(i));
  std::vector<float> pairs(candidates.size() * kPairFeatures);
  for (size_t k = 0; k < candidates.size(); ++k)
    pair_features(s.graph, s.inputs, node, candidates[k], &pairs[k * kPairFeatures]);
  std::vector<int64_t> index(candidates.begin(), candidates.end());
  torch::Tensor p =
      torch::from_blob(pairs.data(), {int64_t(candidates.size()), kPairFeatures}, torch::kFloat);
  torch::Tensor prob =
      torch::sigmoid(s.model->link_logits_one(zu, s.z, torch::tensor(index, torch::kLong), p));
  auto [values, order] = prob.topk(int64_t(std::min(top_k, candidates.size())));
  Prediction out;
  out.qname = s.graph.qname[node];
  for (int64_t i = 0; i < values.size(0); ++i)
    out.calls.push_back(
        {s.graph.qname[candidates[order[i].item<int64_t>()]], values[i].item<double>()});
  // The node heads see the function as they were trained and measured (score_nodes).
  NodeScores heads =
      score_nodes(s.model, s.inputs, *s.sampler, s.targets, {node}, s.options.infer_fanouts);
  auto ranked = [&](const std::vector<float>& p, auto name_of, size_t n, size_t k) {
    std::vector<Scored> out;
    for (size_t i = 0; i < n; ++i) out.push_back({std::string(name_of(i)), double(p[i])});
    std::stable_sort(out.begin(), out.end(),
                     [](const Scored& a, const Scored& b) { return a.p > b.p; });
    if (out.size() > k) out.resize(k);
    return out;
  };
  out.imports = ranked(
      heads.imports, [&](size_t i) { return s.vocabulary[i]; }, s.vocabulary.size(), top_k);
  out.test_kinds = ranked(
      heads.test_kinds, [](size_t i) { return labels::kTestKindNames[i]; }, labels::kTestKinds,
      labels::kTestKinds);
  out.bug_kinds = ranked(
      heads.bug_kinds, [](size_t i) { return labels::kBugKindNames[i]; }, labels::kBugKinds,
      labels::kBugKinds);
  out.seconds = monotonic_seconds() - start;
  return out;
}

Result<void> check_split(const std::string& meta_text, const GraphData& graph);

Result<EvalReport> TorchStudent::evaluate(uint64_t seed, const labels::LabelReport* labels) {
  TorchStudent& s = *this;
  if (auto ok = check_split(s.meta.dump(), s.graph); !ok) return ok.error();
  Split split = make_split(s.graph, s.options.seed);
  ModelInputs held_out = build_inputs(s.graph, split.hidden, s.scale ? &*s.scale : nullptr);
  NodeTargets targets = build_targets(s.graph, labels, &s.vocabulary, s.options.seed);
  return evaluate_split(s.model, s.graph, held_out, split, seed, &targets, s.options.infer_fanouts);
}

Result<InferenceTiming> TorchStudent::time_inference(size_t queries, uint64_t seed) {
  std::vector<int32_t> functions;
  for (size_t i = 0; i < graph.size(); ++i)
    if (graph.kind[i] == Kind::kFunction || graph.kind[i] == Kind::kMethod)
      functions.push_back(int32_t(i));
  if (functions.empty() || queries == 0)
    return Error::in(graph.db_path, "no functions to time inference on");
  std::mt19937_64 rng(seed);
  torch::NoGradGuard no_grad;
  std::vector<double> ms;
  for (size_t q = 0; q < queries + 10; ++q) {
    int32_t node = functions[rng() % functions.size()];
    double start = monotonic_seconds();
    Block block = sampler->sample({node}, options.infer_fanouts);
    torch::Tensor z = model->forward_block(inputs, block);
    (void)z[0][0].item<float>();  // the embedding is computed, not just scheduled
    if (q >= 10) ms.push_back(1e3 * (monotonic_seconds() - start));
  }
  std::sort(ms.begin(), ms.end());
  InferenceTiming t;
  t.queries = ms.size();
  const size_t n = ms.size();
  t.p50_ms = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  t.p99_ms = ms[std::min(ms.size() - 1, size_t(std::ceil(0.99 * double(ms.size()))) - 1)];
  t.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / double(ms.size());
  double start = monotonic_seconds();
  torch::Tensor all = model->forward_full(inputs, graph.size());
  (void)all[0][0].item<float>();
  t.full_graph_seconds = monotonic_seconds() - start;
  return t;
}

// The split a checkpoint was trained with; a changed graph would leak test calls.
Result<void> check_split(const std::string& meta_text, const GraphData& graph) {
  auto meta = nlohmann::json::parse(meta_text, nullptr, false);
  if (meta.is_discarded()) return Error{"unreadable checkpoint header"};
  uint64_t seed = meta["options"].value("seed", uint64_t(0));
  std::string want = meta["split"].value("fingerprint", std::string());
  if (std::to_string(make_split(graph, seed).fingerprint) != want)
    return Error::in(graph.db_path,
                     "the graph's calls changed since the student was trained, so its held-out "
                     "calls are no longer held out; run `yantra train` again, then `yantra eval`");
  return {};
}

double torch_side::bernoulli_distillation(const std::vector<float>& student_logits,
                                          const std::vector<float>& teacher_probs,
                                          double temperature) {
  auto s = torch::tensor(student_logits).unsqueeze(0),
       t = torch::tensor(teacher_probs).unsqueeze(0);
  return bernoulli_kl(s, t, temperature).item<double>();
}

double torch_side::softmax_distillation(const std::vector<float>& student_logits,
                                        const std::vector<float>& teacher_probs,
                                        double temperature) {
  auto s = torch::tensor(student_logits).unsqueeze(0),
       t = torch::tensor(teacher_probs).unsqueeze(0);
  return softmax_kl(s, t, temperature).item<double>();
}

std::string torch_side::blas_library() {
  // Multiply once so LibTorch has loaded (and bound) the BLAS it will use.
  torch::mm(torch::ones({64, 64}), torch::ones({64, 64})).sum().item<float>();
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string base = path.substr(path.rfind('/') + 1);
    if (base.find("blas") != std::string::npos && found.find(path) == std::string::npos)
      found += (found.empty() ? "" : " ") + path;
  }
  return found;
}

}  // namespace yantra::student
