// Held-out evaluation of next-call prediction, with the protocol of sage_ref.py so that
// figures compare: each held-out call (u, v) is ranked against 100 candidates drawn
// uniformly from the repository's functions, methods and classes that u never calls.
#include <algorithm>
#include <numeric>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "student/model.h"

namespace yantra::student {

Split make_split(const GraphData& g, uint64_t seed) {
  Split s;
  const size_t n = g.calls_resolved.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  size_t n_test = n / 10, n_val = n / 20;
  s.test.assign(order.begin(), order.begin() + long(n_test));
  s.validation.assign(order.begin() + long(n_test), order.begin() + long(n_test + n_val));
  s.train.assign(order.begin() + long(n_test + n_val), order.end());
  s.hidden.assign(n, false);
  for (size_t i : s.test) s.hidden[i] = true;
  for (size_t i : s.validation) s.hidden[i] = true;
  uint64_t fp = hash64("calls");
  for (auto [u, v] : g.calls_resolved) {
    std::string key = g.qname[u];
    key.append("->").append(g.qname[v]);
    fp = hash64_combine(fp, key);
  }
  s.fingerprint = fp;
  return s;
}

RankQueries make_queries(const GraphData& g, const std::vector<size_t>& calls, uint64_t seed,
                         int negatives) {
  std::vector<int32_t> candidates;
  for (size_t i = 0; i < g.size(); ++i)
    if (g.is_candidate(int32_t(i))) candidates.push_back(int32_t(i));
  std::unordered_set<uint64_t> positive;
  for (auto [u, v] : g.calls_resolved) positive.insert(uint64_t(u) << 32 | uint32_t(v));
  std::mt19937_64 rng(seed ^ 0x51ED5EEDull);
  std::uniform_int_distribution<size_t> pick(0, candidates.size() - 1);
  RankQueries q;
  for (size_t c : calls) {
    auto [u, v] = g.calls_resolved[c];
    std::vector<int32_t> negs;
    while (int(negs.size()) < negatives) {
      int32_t x = candidates[pick(rng)];
      if (x == u || positive.count(uint64_t(u) << 32 | uint32_t(x))) continue;
      negs.push_back(x);
    }
    q.u.push_back(u), q.v.push_back(v), q.negatives.push_back(std::move(negs));
  }
  return q;
}

RankMetrics rank(const RankQueries& q,
                 const std::function<std::vector<float>(int32_t, const std::vector<int32_t>&)>&
                     score) {
  RankMetrics m;
  std::vector<int32_t> vs;
  for (size_t i = 0; i < q.u.size(); ++i) {
    vs.assign(1, q.v[i]);
    vs.insert(vs.end(), q.negatives[i].begin(), q.negatives[i].end());
    std::vector<float> s = score(q.u[i], vs);
    double above = 0, ties = 0;
    for (size_t k = 1; k < s.size(); ++k) above += s[k] > s[0], ties += s[k] == s[0];
    double r = 1 + above + 0.5 * ties;
    m.hits_at_10 += r <= 10, m.mrr += 1 / r;
  }
  m.queries = q.u.size();
  if (m.queries) m.hits_at_10 /= double(m.queries), m.mrr /= double(m.queries);
  return m;
}

std::vector<float> link_scores(Sage& model, const GraphData& g, const ModelInputs& in,
                               const torch::Tensor& z, int32_t u, const std::vector<int32_t>& vs) {
  std::vector<float> pairs(vs.size() * kPairFeatures);
  std::vector<int64_t> index(vs.begin(), vs.end());
  for (size_t k = 0; k < vs.size(); ++k) pair_features(g, in, u, vs[k], &pairs[k * kPairFeatures]);
  torch::Tensor zv = z.index_select(0, torch::tensor(index, torch::kLong));
  torch::Tensor zu = z[u].unsqueeze(0).expand_as(zv);
  torch::Tensor p = torch::from_blob(pairs.data(), {int64_t(vs.size()), kPairFeatures}, torch::kFloat);
  torch::Tensor logits = model->link_logits(zu, zv, p).contiguous();
  return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + vs.size());
}

std::vector<float> in_degree_scores(const ModelInputs& in, const std::vector<int32_t>& vs) {
  std::vector<float> s;
  for (int32_t v : vs) s.push_back(in.call_in_degree[v]);
  return s;
}

Cooccurrence::Cooccurrence(const GraphData& g, const std::vector<bool>& hidden)
    : callees_(g.size()), callers_(g.size()), degree_(g.size(), 0) {
  for (size_t i = 0; i < g.calls_resolved.size(); ++i) {
    if (hidden[i]) continue;
    auto [u, v] = g.calls_resolved[i];
    callees_[u].push_back(v), callers_[v].push_back(u), degree_[v] += 1;
  }
}

// How often v is called by functions that also call one of u's known callees; ties
// (most candidates share no caller) are broken by in-degree.
std::vector<float> Cooccurrence::scores(int32_t u, const std::vector<int32_t>& vs) const {
  std::unordered_set<int32_t> wanted(vs.begin(), vs.end());
  std::unordered_map<int32_t, float> count;
  for (int32_t w : callees_[u]) {
    size_t seen = 0;
    for (int32_t c : callers_[w]) {
      if (c == u || seen++ == 256) continue;
      for (int32_t x : callees_[c])
        if (wanted.count(x)) count[x] += 1;
    }
  }
  std::vector<float> s;
  for (int32_t v : vs) {
    auto it = count.find(v);
    s.push_back((it == count.end() ? 0.f : it->second) + degree_[v] * 1e-4f);
  }
  return s;
}

EvalReport evaluate_split(Sage& model, const GraphData& g, const ModelInputs& in,
                          const Split& split, uint64_t seed, const NodeTargets* targets,
                          const std::vector<int>& fanouts) {
  double start = monotonic_seconds();
  torch::NoGradGuard no_grad;
  model->eval();
  torch::Tensor z = model->forward_full(in, g.size());
  RankQueries q = make_queries(g, split.test, seed);
  EvalReport r;
  r.next_call = rank(q, [&](int32_t u, const std::vector<int32_t>& vs) {
    return link_scores(model, g, in, z, u, vs);
  });
  r.next_call_embedding_only = rank(q, [&](int32_t u, const std::vector<int32_t>& vs) {
    std::vector<int64_t> index(vs.begin(), vs.end());
    torch::Tensor dot = (z.index_select(0, torch::tensor(index, torch::kLong)) * z[u]).sum(-1);
    return std::vector<float>(dot.data_ptr<float>(), dot.data_ptr<float>() + vs.size());
  });
  r.next_call_in_degree =
      rank(q, [&](int32_t, const std::vector<int32_t>& vs) { return in_degree_scores(in, vs); });
  Cooccurrence co(g, split.hidden);
  r.next_call_cooccurrence =
      rank(q, [&](int32_t u, const std::vector<int32_t>& vs) { return co.scores(u, vs); });
  if (targets) evaluate_node_heads(model, g, in, *targets, fanouts, seed, r);
  r.seconds = monotonic_seconds() - start;
  return r;
}

}  // namespace yantra::student
