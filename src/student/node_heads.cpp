// The node heads: required imports, test kinds and bug kinds of a function. Imports and
// bug kinds are learned on blind embeddings (the function as just declared: its name,
// parameters, docstring and place, none of its calls or callers), so what they predict
// for a function being written is what they were measured on, and a label read off a
// function's calls cannot leak in. Test kinds are learned on the body view (its code too,
// none of its callers): the tests that call a function hold its labels and stay hidden,
// and what its code does (raising, I/O, warnings, floats) is most of the evidence.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "student/model.h"

namespace yantra::student {
namespace {

torch::Tensor rows_where(const std::vector<int32_t>& nodes,
                         const std::function<bool(int32_t)>& keep) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (keep(nodes[i])) rows.push_back(int64_t(i));
  return torch::tensor(rows, torch::kLong);
}

// log(p / (1 - p)), with p kept off 0 and 1 so a label never seen is unlikely, not -inf.
float logit(double hits, double trials) {
  double p = std::clamp((hits + 0.5) / (trials + 1.0), 1e-4, 1 - 1e-4);
  return float(std::log(p / (1 - p)));
}

// The output layer answers `bias` for every function until training moves it.
void start_at(torch::nn::Linear& out, const std::vector<float>& bias) {
  out->weight.zero_();
  for (size_t k = 0; k < bias.size(); ++k) out->bias[int64_t(k)] = bias[k];
}

}  // namespace

void init_node_heads_from_priors(Sage& model, const NodeTargets& t, bool kinds) {
  torch::NoGradGuard no_grad;
  std::vector<double> in_module(size_t(kImportSlots), 0), used(size_t(kImportSlots), 0);
  std::vector<double> test_hits(labels::kTestKinds, 0), bug_hits(labels::kBugKinds, 0);
  double tested = 0, analysed = 0;
  for (int32_t v : t.train_nodes) {
    for (uint16_t s : t.file_imports[size_t(v)]) in_module[s] += 1;
    for (uint16_t s : t.imports[size_t(v)]) used[s] += 1;
    if (t.tested[v]) {
      tested += 1;
      for (int k = 0; k < labels::kTestKinds; ++k)
        test_hits[size_t(k)] += t.test_kinds[v] >> k & 1u;
    }
    if (t.analysed[v]) {
      analysed += 1;
      for (int k = 0; k < labels::kBugKinds; ++k) bug_hits[size_t(k)] += t.bug_kinds[v][size_t(k)];
    }
  }
  const float never = logit(0, 1e4);  // a slot the module does not import
  std::vector<float> import_bias(size_t(kImportSlots), never);
  start_at(model->imports_out, import_bias);
  for (size_t s = 0; s < size_t(kImportSlots); ++s)
    model->imports_local[int64_t(s)] = logit(used[s], in_module[s]) - never;
  if (!kinds) return;
  std::vector<float> test_bias, bug_bias;
  for (double h : test_hits) test_bias.push_back(logit(h, tested));
  for (double h : bug_hits) bug_bias.push_back(logit(h, analysed));
  start_at(model->test_kinds_out, test_bias);
  start_at(model->bug_kinds_out, bug_bias);
}

torch::Tensor file_imports_tensor(const NodeTargets& t, const std::vector<int32_t>& nodes) {
  torch::Tensor x = torch::zeros({int64_t(nodes.size()), kImportSlots});
  float* p = x.data_ptr<float>();
  for (size_t i = 0; i < nodes.size(); ++i)
    for (uint16_t s : t.file_imports[size_t(nodes[i])]) p[i * kImportSlots + s] = 1.f;
  return x;
}

NodeLogits seed_logits(Sage& model, const ModelInputs& in, Sampler& sampler, const NodeTargets& t,
                       const std::vector<int32_t>& nodes, const std::vector<int>& fanouts,
                       SeedView view) {
  Block block = sampler.sample(nodes, fanouts, view);
  torch::Tensor z = model->forward_block(in, block, view);
  std::vector<int64_t> local;
  for (int32_t v : nodes) local.push_back(sampler.local_of(v));
  z = z.index_select(0, torch::tensor(local, torch::kLong));
  return model->node_logits(z, file_imports_tensor(t, nodes));
}

torch::Tensor node_head_loss(Sage& model, const ModelInputs& in, Sampler& sampler,
                             const NodeTargets& t, const std::vector<int32_t>& nodes,
                             const std::vector<int32_t>& tested, const StudentOptions& o) {
  torch::Tensor loss = torch::zeros({});
  // Test kinds: every row is labelled.
  if (!tested.empty()) {
    torch::Tensor logits =
        seed_logits(model, in, sampler, t, tested, o.train_fanouts, SeedView::kBody).test_kinds;
    torch::Tensor y = torch::zeros({int64_t(tested.size()), labels::kTestKinds});
    float* p = y.data_ptr<float>();
    for (size_t i = 0; i < tested.size(); ++i)
      for (int k = 0; k < labels::kTestKinds; ++k)
        p[i * labels::kTestKinds + size_t(k)] = float(t.test_kinds[size_t(tested[i])] >> k & 1u);
    loss = loss + torch::binary_cross_entropy_with_logits(logits, y);
  }
  if (nodes.empty()) return loss;
  NodeLogits l = seed_logits(model, in, sampler, t, nodes, o.train_fanouts, SeedView::kBlind);
  const int64_t n = int64_t(nodes.size());
  // Imports: every slot the vocabulary fills, for functions inside a module.
  torch::Tensor rows = rows_where(nodes, [&](int32_t v) { return t.has_imports[v] != 0; });
  int64_t slots = int64_t(t.vocabulary.size());
  if (rows.numel() > 0 && slots > 0) {
    torch::Tensor y = torch::zeros({n, kImportSlots});
    float* p = y.data_ptr<float>();
    for (size_t i = 0; i < nodes.size(); ++i)
      for (uint16_t s : t.imports[size_t(nodes[i])]) p[i * kImportSlots + s] = 1.f;
    loss = loss + torch::binary_cross_entropy_with_logits(
                      l.imports.index_select(0, rows).narrow(1, 0, slots),
                      y.index_select(0, rows).narrow(1, 0, slots));
  }
  // Bug kinds: hard labels where the analysers are confident, plus distillation of their
  // soft labels, KL(teacher_T || student_T) * T^2, weighted by alpha.
  rows = rows_where(nodes, [&](int32_t v) { return t.analysed[v] != 0; });
  if (rows.numel() > 0) {
    std::vector<float> soft;
    for (int32_t v : nodes) soft.insert(soft.end(), t.bug_kinds[v].begin(), t.bug_kinds[v].end());
    torch::Tensor teacher =
        torch::from_blob(soft.data(), {n, labels::kBugKinds}, torch::kFloat).index_select(0, rows);
    torch::Tensor logits = l.bug_kinds.index_select(0, rows);
    torch::Tensor hard = (teacher >= 0.5).to(torch::kFloat);
    loss = loss + (1 - o.alpha) * torch::binary_cross_entropy_with_logits(logits, hard) +
           o.alpha * bernoulli_kl(logits, teacher, o.temperature) / double(labels::kBugKinds);
  }
  return loss;
}

NodeScores score_nodes(Sage& model, const ModelInputs& in, Sampler& sampler, const NodeTargets& t,
                       const std::vector<int32_t>& nodes, const std::vector<int>& fanouts) {
  torch::NoGradGuard no_grad;
  NodeScores s;
  constexpr size_t kChunk = 1024;
  auto append = [](std::vector<float>& out, const torch::Tensor& logits) {
    torch::Tensor p = torch::sigmoid(logits).contiguous();
    out.insert(out.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  };
  for (size_t from = 0; from < nodes.size(); from += kChunk) {
    std::vector<int32_t> chunk(nodes.begin() + long(from),
                               nodes.begin() + long(std::min(nodes.size(), from + kChunk)));
    NodeLogits blind = seed_logits(model, in, sampler, t, chunk, fanouts, SeedView::kBlind);
    NodeLogits body = seed_logits(model, in, sampler, t, chunk, fanouts, SeedView::kBody);
    append(s.imports, blind.imports), append(s.test_kinds, body.test_kinds);
    append(s.bug_kinds, blind.bug_kinds);
  }
  return s;
}

}  // namespace yantra::student

namespace yantra::student {
namespace {

// P@5 / R@5 over functions that need at least one import; `score(row, slot)`.
SetMetrics at_5(const NodeTargets& t, const std::vector<int32_t>& nodes,
                const std::function<float(size_t, int)>& score) {
  SetMetrics m;
  const int slots = int(t.vocabulary.size());
  std::vector<int> order(static_cast<size_t>(slots));
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto& want = t.imports[size_t(nodes[i])];
    if (want.empty()) continue;
    std::iota(order.begin(), order.end(), 0);
    int k = std::min(5, slots);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
      float sa = score(i, a), sb = score(i, b);
      return sa != sb ? sa > sb : a < b;
    });
    double hits = 0;
    for (int j = 0; j < k; ++j)
      hits += std::binary_search(want.begin(), want.end(), uint16_t(order[size_t(j)]));
    m.precision_at_5 += hits / 5, m.recall_at_5 += hits / double(want.size());
    ++m.queries;
  }
  if (m.queries) m.precision_at_5 /= double(m.queries), m.recall_at_5 /= double(m.queries);
  double p = m.precision_at_5, r = m.recall_at_5;
  m.f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
  return m;
}

// (score, label) pairs of a multi-label head, pooled over functions and kinds.
struct Pairs {
  std::vector<float> score;
  std::vector<uint8_t> label;
  size_t functions = 0;
};

double f1_at(const Pairs& p, double threshold) {
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < p.score.size(); ++i) {
    bool yes = p.score[i] >= threshold;
    tp += yes && p.label[i], fp += yes && !p.label[i], fn += !yes && p.label[i];
  }
  return tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0;
}

// The score above which calling a pair positive gives the best F1 on `p`: a sweep
// over its scores from the top, so a head whose probabilities are all tiny (distilled
// from confident analysers) is thresholded where its ranking is, not on a fixed grid.
double best_f1_threshold(const Pairs& p) {
  std::vector<size_t> order(p.score.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return p.score[a] > p.score[b]; });
  double positives = double(std::count(p.label.begin(), p.label.end(), 1));
  double tp = 0, called = 0, best = 0, threshold = 0.5;
  for (size_t i = 0; i < order.size(); ++i) {
    tp += p.label[order[i]], called += 1;
    bool boundary = i + 1 == order.size() || p.score[order[i + 1]] != p.score[order[i]];
    if (!boundary) continue;
    double f1 = 2 * tp / (called + positives);
    // Halfway to the next lower score: a held-out positive a little below the lowest
    // tuning positive is still called.
    double below = i + 1 < order.size() ? p.score[order[i + 1]] : 0.0;
    if (f1 > best) best = f1, threshold = (p.score[order[i]] + below) / 2;
  }
  return threshold;
}

// Area under the ROC curve by ranks, ties counted half.
double auroc(const Pairs& p) {
  std::vector<size_t> order(p.score.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return p.score[a] < p.score[b]; });
  double positives = 0, rank_sum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && p.score[order[j]] == p.score[order[i]]) ++j;
    double mid_rank = (double(i) + double(j) + 1) / 2;  // 1-based average rank of the tie
    for (size_t k = i; k < j; ++k)
      if (p.label[order[k]]) rank_sum += mid_rank, positives += 1;
    i = j;
  }
  double negatives = double(order.size()) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

// F1 at the threshold that is best on the training pairs; AUROC on the held-out ones.
KindMetrics kind_metrics(const Pairs& train, const Pairs& test) {
  KindMetrics m;
  m.threshold = best_f1_threshold(train);
  m.micro_f1 = f1_at(test, m.threshold);
  m.auroc = auroc(test);
  m.functions = test.functions;
  for (uint8_t y : test.label) m.positives += y;
  return m;
}

// Pairs of one head for `nodes` labelled by it: `label(node, k)`, `score(row, k)`.
Pairs pairs_of(const std::vector<int32_t>& nodes, int kinds,
               const std::function<bool(int32_t)>& labelled,
               const std::function<bool(int32_t, int)>& label,
               const std::function<float(size_t, int)>& score) {
  Pairs p;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!labelled(nodes[i])) continue;
    ++p.functions;
    for (int k = 0; k < kinds; ++k)
      p.score.push_back(score(i, k)), p.label.push_back(label(nodes[i], k));
  }
  return p;
}

}  // namespace

void evaluate_node_heads(Sage& model, const GraphData& g, const ModelInputs& in,
                         const NodeTargets& t, const std::vector<int>& fanouts, uint64_t seed,
                         EvalReport& r) {
  torch::NoGradGuard no_grad;
  model->eval();
  Sampler sampler(in, g.size(), seed ^ 0x40DEull);
  // Thresholds are chosen on validation functions: their files trained no head, so their
  // scores are as confident as test files' (a training function's are more). A head with
  // no positive there tunes on (at most 4,096) training functions. Test functions never
  // tune anything.
  const std::vector<int32_t>& validation = t.validation_nodes;
  std::vector<int32_t> train = t.train_nodes;
  std::mt19937_64 rng(seed);
  std::shuffle(train.begin(), train.end(), rng);
  if (train.size() > 4096) train.resize(4096);
  const std::vector<int32_t>& test = t.test_nodes;
  NodeScores s_train = score_nodes(model, in, sampler, t, train, fanouts);
  NodeScores s_validation = score_nodes(model, in, sampler, t, validation, fanouts);
  NodeScores s_test = score_nodes(model, in, sampler, t, test, fanouts);

  // Imports, against how often each slot is needed by training functions.
  std::vector<float> frequency(kImportSlots, 0.f);
  for (int32_t v : t.train_nodes)
    for (uint16_t s : t.imports[size_t(v)]) frequency[s] += 1;
  r.imports =
      at_5(t, test, [&](size_t i, int s) { return s_test.imports[i * kImportSlots + size_t(s)]; });
  r.imports_frequency = at_5(t, test, [&](size_t, int s) { return frequency[size_t(s)]; });
  r.imports_file_frequency = at_5(t, test, [&](size_t i, int s) {
    const auto& f = t.file_imports[size_t(test[i])];
    bool local = std::binary_search(f.begin(), f.end(), uint16_t(s));
    return frequency[size_t(s)] + (local ? 1e6f : 0.f);  // counts stay exact in a float
  });

  // Test kinds and bug kinds, against each kind's frequency among training functions.
  auto tested = [&](int32_t v) { return t.tested[v] != 0; };
  auto test_label = [&](int32_t v, int k) { return (t.test_kinds[v] >> k & 1u) != 0; };
  auto analysed = [&](int32_t v) { return t.analysed[v] != 0; };
  auto bug_label = [&](int32_t v, int k) { return t.bug_kinds[v][size_t(k)] >= 0.5f; };
  std::vector<float> test_prior(labels::kTestKinds, 0.f), bug_prior(labels::kBugKinds, 0.f);
  double n_tested = 0, n_analysed = 0;
  for (int32_t v : t.train_nodes) {
    if (tested(v)) {
      n_tested += 1;
      for (int k = 0; k < labels::kTestKinds; ++k) test_prior[size_t(k)] += test_label(v, k);
    }
    if (analysed(v)) {
      n_analysed += 1;
      for (int k = 0; k < labels::kBugKinds; ++k) bug_prior[size_t(k)] += bug_label(v, k);
    }
  }
  for (float& p : test_prior) p /= float(std::max(1.0, n_tested));
  for (float& p : bug_prior) p /= float(std::max(1.0, n_analysed));
  auto model_test = [](const NodeScores& s) {
    return [&s](size_t i, int k) { return s.test_kinds[i * labels::kTestKinds + size_t(k)]; };
  };
  auto model_bug = [](const NodeScores& s) {
    return [&s](size_t i, int k) { return s.bug_kinds[i * labels::kBugKinds + size_t(k)]; };
  };
  auto prior_of = [](const std::vector<float>& prior) {
    return [&prior](size_t, int k) { return prior[size_t(k)]; };
  };
  // Scores of one head on the tuning functions: validation ones when they hold a positive.
  auto tuning = [&](int kinds, auto labelled, auto label, auto model_score, auto prior) {
    Pairs v = pairs_of(validation, kinds, labelled, label, model_score(s_validation));
    bool use_validation = std::count(v.label.begin(), v.label.end(), 1) > 0;
    if (!use_validation) v = pairs_of(train, kinds, labelled, label, model_score(s_train));
    Pairs p = pairs_of(use_validation ? validation : train, kinds, labelled, label, prior);
    return std::pair(v, p);
  };
  auto [test_tune, test_prior_tune] =
      tuning(labels::kTestKinds, tested, test_label, model_test, prior_of(test_prior));
  r.test_kinds = kind_metrics(
      test_tune, pairs_of(test, labels::kTestKinds, tested, test_label, model_test(s_test)));
  r.test_kinds_prior = kind_metrics(test_prior_tune, pairs_of(test, labels::kTestKinds, tested,
                                                              test_label, prior_of(test_prior)));
  auto [bug_tune, bug_prior_tune] =
      tuning(labels::kBugKinds, analysed, bug_label, model_bug, prior_of(bug_prior));
  r.bug_kinds = kind_metrics(
      bug_tune, pairs_of(test, labels::kBugKinds, analysed, bug_label, model_bug(s_test)));
  r.bug_kinds_prior = kind_metrics(
      bug_prior_tune, pairs_of(test, labels::kBugKinds, analysed, bug_label, prior_of(bug_prior)));
}

}  // namespace yantra::student
