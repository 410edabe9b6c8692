// Anonymous patterns of validated generations: what the code's graph looks like, counted.
// The code is parsed with the graph's own extractor (graph/facts.h), and only counts,
// flags, numbers and words of a fixed vocabulary leave this file.
#include <cmath>
#include <random>
#include <set>

#include "crowd/crowd.h"
#include "crowd/patterns_internal.h"
#include "graph/facts.h"
#include "graph/graph.h"
#include "library/library.h"

namespace yantra::crowd {
namespace {

using nlohmann::json;

constexpr graph::NodeKind kNodeKinds[] = {graph::NodeKind::kModule, graph::NodeKind::kClass,
                                          graph::NodeKind::kFunction, graph::NodeKind::kMethod,
                                          graph::NodeKind::kTest, graph::NodeKind::kExternal};
constexpr graph::EdgeKind kEdgeKinds[] = {graph::EdgeKind::kCalls, graph::EdgeKind::kContains,
                                          graph::EdgeKind::kImports, graph::EdgeKind::kInherits,
                                          graph::EdgeKind::kTests};
constexpr std::pair<uint32_t, const char*> kFlagNames[] = {
    {graph::kFlagRaises, "raises"}, {graph::kFlagValidation, "validation"},
    {graph::kFlagDb, "db"},         {graph::kFlagHttp, "http"},
    {graph::kFlagIo, "io"},         {graph::kFlagAuth, "auth"}};
constexpr const char* kOutcomeKeys[] = {"tests_passed", "tests_failed", "bugs_found"};
constexpr const char* kPatternKeys[] = {
    "v",     "language", "nodes", "edges",     "complexity",      "lines",  "params", "async",
    "flags", "embedding", "embedding_noise", "outcome", "tier", "confidence_before",
    "confidence_after"};
constexpr const char* kBatchKeys[] = {"batch", "user", "patterns"};

// The router's update of an entry's confidence by its reuses (router/pipeline.cpp:
// a Beta prior of weight 4 around the confidence it was learned with).
double confidence_after_reuse(const library::Entry& e) {
  constexpr double kPriorWeight = 4;
  double prior = std::clamp(e.confidence, 0.0, 1.0);
  return (e.use_passes + kPriorWeight * prior) / (e.uses + kPriorWeight);
}

// Divided, not multiplied, by the power of ten: 0.497 comes out as the double nearest 0.497.
double round_to(double x, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(x * scale) / scale;
}

bool is_test_name(const std::string& name) { return name.starts_with("test"); }

std::string join_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out.append(out.empty() ? "" : ".").append(p);
  return out;
}

PatternCounts count_graph(const graph::FileFacts& facts) {
  PatternCounts c;
  for (auto k : kNodeKinds) c.nodes[std::string(graph::to_string(k))] = 0;
  for (auto k : kEdgeKinds) c.edges[std::string(graph::to_string(k))] = 0;
  std::set<std::string> defined;  // names defined by the code itself
  for (const auto& s : facts.scopes) {
    if (s.kind == graph::ScopeKind::kModule) {
      ++c.nodes["module"];
      continue;
    }
    defined.insert(s.name);
    bool in_class = s.parent >= 0 && facts.scopes[size_t(s.parent)].kind == graph::ScopeKind::kClass;
    if (s.kind == graph::ScopeKind::kClass)
      ++c.nodes["class"];
    else if (is_test_name(s.name))
      ++c.nodes["test"];
    else
      ++c.nodes[in_class ? "method" : "function"];
    ++c.edges["contains"];
    c.edges["inherits"] += uint32_t(s.bases.size());
  }
  // One calls edge per (caller, callee) pair, as in the graph; callees the code does not
  // define are external nodes, counted once each.
  std::set<std::pair<uint32_t, std::string>> calls;
  std::set<std::string> external;
  for (const auto& call : facts.calls) {
    std::string callee = join_parts(call.parts);
    if (!calls.insert({call.scope, callee}).second) continue;
    ++c.edges["calls"];
    bool local = call.kind == graph::CalleeKind::kDotted && call.parts.size() == 1 &&
                 defined.contains(call.parts[0]);
    if (!local && call.kind == graph::CalleeKind::kDotted) external.insert(callee);
    if (local && is_test_name(facts.scopes[call.scope].name)) ++c.edges["tests"];
  }
  for (const auto& imp : facts.imports) {
    ++c.edges["imports"];
    external.insert(imp.full.empty() ? imp.module : imp.full);
  }
  c.nodes["external"] = uint32_t(external.size());
  return c;
}

// The entry point's scope, else the most complex function, else none.
const graph::ScopeFacts* main_function(const graph::FileFacts& facts, const std::string& name) {
  const graph::ScopeFacts* best = nullptr;
  for (const auto& s : facts.scopes) {
    if (s.kind != graph::ScopeKind::kFunction) continue;
    if (s.name == name) return &s;
    if (!best || s.complexity > best->complexity) best = &s;
  }
  return best;
}

// Clipped to norm 1 (so one entry moves the vector by at most 2: the sensitivity the
// epsilon assumes), noised, rounded to 1e-4 (no more precision than a model needs).
std::vector<float> anonymous_embedding(const std::vector<float>& in, double sigma, uint64_t seed) {
  double norm = 0;
  for (float x : in) norm += double(x) * x;
  norm = std::sqrt(norm);
  double scale = norm > 1 ? 1 / norm : 1;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, sigma > 0 ? sigma : 1);
  std::vector<float> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    double x = in[i] * scale + (sigma > 0 ? noise(rng) : 0);
    out[i] = float(round_to(x, 4));
  }
  return out;
}

}  // namespace

bool is_shareable(const library::Entry& e) { return e.valid && !e.avoid && !e.pending; }

Result<Pattern> extract_pattern(const library::Entry& entry, const PatternOptions& options) {
  std::string what = "library entry #" + std::to_string(entry.id);
  if (!is_shareable(entry))
    return Error::in(what, "only validated generations are shared (this one is " +
                               std::string(entry.avoid ? "a failed candidate" :
                                           entry.pending ? "pending" : "invalidated") + ")");
  if (entry.embedding.size() != size_t(student::kTextEmbeddingDim))
    return Error::in(what, "its embedding has " + std::to_string(entry.embedding.size()) +
                               " values, not " + std::to_string(student::kTextEmbeddingDim));
  if (!(options.embedding_noise >= 0 && options.embedding_noise <= kMaxEmbeddingNoise))
    return Error::in(what, "embedding noise must be from 0 to " + format_fixed(kMaxEmbeddingNoise, 1));
  auto tier = std::find(std::begin(library::kTiers), std::end(library::kTiers), entry.tier);
  if (tier == std::end(library::kTiers)) return Error::in(what, "unknown tier");
  graph::FileFacts facts = graph::extract_facts(entry.code, {"generated", false}, false);
  if (facts.syntax_errors > 0)
    return Error::in(what, "its code does not parse as Python, so it is not shared");
  Pattern p;
  p.counts = count_graph(facts);
  p.lines = facts.n_lines;
  uint32_t flags = 0;
  for (const auto& s : facts.scopes) flags |= s.flags;
  for (auto [bit, name] : kFlagNames) p.flags[name] = (flags & bit) != 0;
  if (const graph::ScopeFacts* f = main_function(facts, entry.entry_point)) {
    p.complexity = f->complexity, p.params = uint32_t(f->params.size()), p.is_async = f->is_async;
  }
  p.embedding = anonymous_embedding(entry.embedding, options.embedding_noise,
                                    hash64_combine(options.noise_seed, std::to_string(entry.id)));
  p.embedding_noise = options.embedding_noise;
  p.tests_passed = std::max(0, entry.tests_passed), p.tests_failed = std::max(0, entry.tests_failed);
  p.bugs_found = options.bugs_found;
  p.tier = std::string(*tier);
  p.confidence_before = round_to(std::clamp(entry.confidence, 0.0, 1.0), 3);
  p.confidence_after = round_to(confidence_after_reuse(entry), 3);
  return p;
}

json to_json(const Pattern& p) {
  // As doubles with 4 decimals, so that -0.497f is sent as -0.497, not -0.4970000088214874.
  std::vector<double> embedding;
  for (float x : p.embedding) embedding.push_back(round_to(x, 4));
  json outcome = {{"tests_passed", p.tests_passed}, {"tests_failed", p.tests_failed},
                  {"bugs_found", p.bugs_found ? json(*p.bugs_found) : json(nullptr)}};
  return {{"v", kProtocolVersion},
          {"language", "python"},
          {"nodes", p.counts.nodes},
          {"edges", p.counts.edges},
          {"complexity", p.complexity},
          {"lines", p.lines},
          {"params", p.params},
          {"async", p.is_async},
          {"flags", p.flags},
          {"embedding", embedding},
          {"embedding_noise", p.embedding_noise},
          {"outcome", outcome},
          {"tier", p.tier},
          {"confidence_before", p.confidence_before},
          {"confidence_after", p.confidence_after}};
}

json pattern_batch(const std::string& batch_id, const std::string& user,
                   const std::vector<Pattern>& patterns) {
  json list = json::array();
  for (const Pattern& p : patterns) list.push_back(to_json(p));
  return {{"batch", batch_id}, {"user", user}, {"patterns", std::move(list)}};
}

const std::vector<std::string>& pattern_vocabulary() {
  static const std::vector<std::string> words = [] {
    std::set<std::string> w;
    for (const char* k : kPatternKeys) w.insert(k);
    for (const char* k : kOutcomeKeys) w.insert(k);
    for (const char* k : kBatchKeys) w.insert(k);
    for (auto k : kNodeKinds) w.insert(std::string(graph::to_string(k)));
    for (auto k : kEdgeKinds) w.insert(std::string(graph::to_string(k)));
    for (auto [bit, name] : kFlagNames) w.insert(name);
    for (auto t : library::kTiers) w.insert(std::string(t));
    w.insert("python");
    return std::vector<std::string>(w.begin(), w.end());
  }();
  return words;
}

double embedding_epsilon(double sigma, double delta) {
  if (sigma <= 0) return INFINITY;
  constexpr double kSensitivity = 2;  // two unit vectors are at most 2 apart
  return std::sqrt(2 * std::log(1.25 / delta)) * kSensitivity / sigma;
}

bool valid_tenant(std::string_view t) {
  if (t.empty() || t.size() > 64) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

namespace detail {
std::span<const char* const> pattern_keys() { return kPatternKeys; }
std::span<const char* const> outcome_keys() { return kOutcomeKeys; }
std::span<const char* const> batch_keys() { return kBatchKeys; }
std::vector<std::string> node_kinds() {
  std::vector<std::string> out;
  for (auto k : kNodeKinds) out.emplace_back(graph::to_string(k));
  return out;
}
std::vector<std::string> edge_kinds() {
  std::vector<std::string> out;
  for (auto k : kEdgeKinds) out.emplace_back(graph::to_string(k));
  return out;
}
std::vector<std::string> flag_names() {
  std::vector<std::string> out;
  for (auto [bit, name] : kFlagNames) out.emplace_back(name);
  return out;
}
}  // namespace detail

}  // namespace yantra::crowd
