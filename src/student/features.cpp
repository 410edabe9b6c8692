// What the student reads: hashed sub-tokens and standardised counts per node, message-
// passing relations, and structural facts about (caller, callee) pairs. Everything is
// computed from the calls left visible, so held-out calls never leak into the inputs.
#include <algorithm>
#include <cmath>

#include "student/student.h"

namespace yantra::student {
namespace {

// Caps per source of tokens: the embedding's cost grows with the tokens per node.
constexpr size_t kMaxParamTokens = 8, kMaxDocTokens = 16, kMaxCalleeTokens = 24;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}

// Two buckets per token (two hash seeds): two rare tokens rarely share both.
void add_token(std::vector<int64_t>& out, char role, std::string_view token) {
  std::string key(1, role);
  key.append(":").append(token);
  uint64_t h = hash64(key);
  out.push_back(int64_t(h % kTokenBuckets));
  out.push_back(int64_t((h >> 32) % kTokenBuckets));
}

void add_tokens(std::vector<int64_t>& out, char role, std::string_view text, size_t limit) {
  size_t n = 0;
  for (const std::string& t : sub_tokens(text)) {
    if (n++ == limit) break;
    add_token(out, role, t);
  }
}

// Compressed rows of incoming neighbours from (src, dst) pairs.
Csr make_csr(size_t n, const std::vector<std::pair<int32_t, int32_t>>& edges) {
  Csr c;
  c.rowptr.assign(n + 1, 0);
  for (auto [s, d] : edges) c.rowptr[d + 1]++;
  for (size_t i = 0; i < n; ++i) c.rowptr[i + 1] += c.rowptr[i];
  c.col.resize(edges.size());
  std::vector<int64_t> fill(c.rowptr.begin(), c.rowptr.end() - 1);
  for (auto [s, d] : edges) c.col[fill[d]++] = s;
  return c;
}

// Each column's mean and standard deviation over the graph's nodes.
NumericScale measure_scale(const std::vector<float>& m, size_t rows) {
  NumericScale scale;
  for (size_t j = 0; j < size_t(kNumericFeatures); ++j) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < rows; ++i) {
      double x = m[i * kNumericFeatures + j];
      sum += x, sq += x * x;
    }
    double mean = sum / double(std::max<size_t>(rows, 1));
    double var = std::max(0.0, sq / double(std::max<size_t>(rows, 1)) - mean * mean);
    scale.mean[j] = float(mean), scale.sd[j] = float(std::sqrt(var) + 1e-6);
  }
  return scale;
}

// Standardises each column in place; `zero[j]` receives what a raw 0 becomes.
void standardise(std::vector<float>& m, size_t rows, const NumericScale& scale, float* zero) {
  for (size_t j = 0; j < size_t(kNumericFeatures); ++j) {
    double mean = scale.mean[j], sd = scale.sd[j];
    for (size_t i = 0; i < rows; ++i)
      m[i * kNumericFeatures + j] = float((m[i * kNumericFeatures + j] - mean) / sd);
    zero[j] = float(-mean / sd);
  }
}

}  // namespace

std::vector<std::string> sub_tokens(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    if (!is_alnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    if (is_upper(s[i])) {
      // "HTTPServer" -> "http", "server"; "Parser" -> "parser"
      while (j < s.size() && is_upper(s[j])) ++j;
      if (j - i > 1 && j < s.size() && is_lower(s[j]))
        --j;
      else if (j - i == 1)
        while (j < s.size() && is_lower(s[j])) ++j;
    } else if (is_lower(s[i])) {
      while (j < s.size() && is_lower(s[j])) ++j;
    } else {
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    }
    std::string t(s.substr(i, j - i));
    for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(std::move(t));
    i = j;
  }
  return out;
}

ModelInputs build_inputs(const GraphData& g, const std::vector<bool>& hidden_calls,
                         const NumericScale* scale) {
  const size_t n = g.size();
  ModelInputs in;
  std::vector<std::pair<int32_t, int32_t>> visible;
  for (size_t i = 0; i < g.calls_resolved.size(); ++i)
    if (hidden_calls.empty() || !hidden_calls[i]) visible.push_back(g.calls_resolved[i]);

  std::vector<std::vector<int32_t>> callees(n);
  for (auto [u, v] : visible) callees[u].push_back(v);
  for (auto [u, v] : g.calls_external) callees[u].push_back(v);

  // Tokens.
  in.offsets.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    in.offsets.push_back(int64_t(in.tokens.size()));
    add_tokens(in.tokens, 'n', g.kind[i] == Kind::kExternal ? g.qname[i] : g.name[i], 8);
    add_token(in.tokens, 'k', std::to_string(int(g.kind[i])));
    if (g.parent[i] >= 0) add_tokens(in.tokens, 'o', g.name[g.parent[i]], 4);
    add_tokens(in.tokens, 'p', g.signature[i], kMaxParamTokens);
    add_tokens(in.tokens, 'd', g.docstring[i], kMaxDocTokens);
    in.own_end.push_back(int64_t(in.tokens.size()));
    size_t budget = kMaxCalleeTokens;
    for (int32_t c : callees[i]) {
      for (const std::string& t : sub_tokens(g.name[c])) {
        if (budget == 0) break;
        add_token(in.tokens, 'c', t), --budget;
      }
    }
  }

  // Numeric features.
  in.call_in_degree.assign(n, 0);
  std::vector<float> out_degree(n, 0), external(n, 0), children(n, 0);
  for (auto [u, v] : visible) in.call_in_degree[v] += 1, out_degree[u] += 1;
  for (auto [u, v] : g.calls_external) external[u] += 1, in.call_in_degree[v] += 1;
  for (auto [u, v] : g.contains) children[u] += 1;
  in.numeric.assign(n * kNumericFeatures, 0.f);
  for (size_t i = 0; i < n; ++i) {
    float* row = &in.numeric[i * kNumericFeatures];
    row[0] = std::log1p(g.n_params[i]), row[1] = std::log1p(g.n_lines[i]);
    row[2] = std::log1p(g.complexity[i]), row[3] = std::log1p(in.call_in_degree[i]);
    row[4] = std::log1p(out_degree[i]), row[5] = std::log1p(external[i]);
    row[6] = std::log1p(children[i]);
    row[7 + int(g.kind[i])] = 1.f;                                            // 7..12
    for (int b = 0; b < 6; ++b) row[13 + b] = float((g.flags[i] >> b) & 1u);  // 13..18
  }
  in.scale = scale ? *scale : measure_scale(in.numeric, n);
  standardise(in.numeric, n, in.scale, in.zero_numeric.data());

  // Relations: what a node uses (calls, imports, inherits), what uses it, and structure.
  std::vector<std::pair<int32_t, int32_t>> uses, used_by, structure;
  auto both = [&](const std::vector<std::pair<int32_t, int32_t>>& edges) {
    for (auto [u, v] : edges) uses.emplace_back(v, u), used_by.emplace_back(u, v);
  };
  both(visible), both(g.calls_external), both(g.imports), both(g.inherits);
  for (auto [u, v] : g.contains) structure.emplace_back(u, v), structure.emplace_back(v, u);
  in.relations[kUses] = make_csr(n, uses);
  in.relations[kUsedBy] = make_csr(n, used_by);
  in.relations[kStructure] = make_csr(n, structure);

  // Pair-feature indexes.
  int32_t max_file = 0;
  for (int32_t f : g.file) max_file = std::max(max_file, f);
  in.file_calls.assign(size_t(max_file) + 1, {});
  in.file_imports.assign(size_t(max_file) + 1, {});
  std::vector<std::vector<int32_t>> raw(size_t(max_file) + 1);
  for (auto [u, v] : visible)
    if (g.file[u] >= 0 && g.file[v] >= 0) raw[g.file[u]].push_back(g.file[v]);
  for (size_t f = 0; f < raw.size(); ++f) {
    std::sort(raw[f].begin(), raw[f].end());
    for (size_t i = 0; i < raw[f].size();) {
      size_t j = i;
      while (j < raw[f].size() && raw[f][j] == raw[f][i]) ++j;
      in.file_calls[f].emplace_back(raw[f][i], std::log1p(float(j - i)));
      i = j;
    }
  }
  for (auto [u, v] : g.imports)
    if (g.file[u] >= 0 && g.file[v] >= 0) in.file_imports[g.file[u]].push_back(g.file[v]);
  for (auto& l : in.file_imports) std::sort(l.begin(), l.end());
  in.neighbours.assign(n, {});
  for (const Csr& c : in.relations)
    for (size_t v = 0; v < n; ++v)
      for (int64_t k = c.rowptr[v]; k < c.rowptr[v + 1]; ++k) in.neighbours[v].push_back(c.col[k]);
  for (auto& l : in.neighbours) {
    std::sort(l.begin(), l.end());
    l.erase(std::unique(l.begin(), l.end()), l.end());
  }
  return in;
}

void pair_features(const GraphData& g, const ModelInputs& in, int32_t u, int32_t v, float* out) {
  int32_t fu = g.file[u], fv = g.file[v];
  bool files = fu >= 0 && fv >= 0;
  out[0] = float(files && fu == fv);
  out[1] = float(g.parent[u] >= 0 && g.parent[u] == g.parent[v]);
  out[2] = float(files &&
                 std::binary_search(in.file_imports[fu].begin(), in.file_imports[fu].end(), fv));
  out[3] = 0.f;
  if (files) {
    const auto& fc = in.file_calls[fu];
    auto it = std::lower_bound(fc.begin(), fc.end(), std::make_pair(fv, -1.f));
    if (it != fc.end() && it->first == fv) out[3] = it->second;
  }
  out[4] = std::log1p(in.call_in_degree[v]);
  // Common neighbours, capped so a hub costs no more than a scan of 256 entries.
  const auto& a = in.neighbours[u];
  const auto& b = in.neighbours[v];
  size_t i = 0, j = 0, common = 0, steps = 0;
  while (i < a.size() && j < b.size() && steps++ < 512) {
    if (a[i] < b[j])
      ++i;
    else if (b[j] < a[i])
      ++j;
    else
      ++common, ++i, ++j;
  }
  out[5] = std::log1p(float(common));
  out[6] = float(g.parent[v] == u || g.parent[u] == v);
}

}  // namespace yantra::student
