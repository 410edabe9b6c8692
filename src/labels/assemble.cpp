// The labels of every function from the cached findings and test kinds: each finding goes
// to the innermost function whose lines hold it, each test's kinds to what it tests.
#include <algorithm>
#include <unordered_set>

#include "labels/internal.h"

namespace yantra::labels {
namespace {

// Methods whose state every test of their class (or a subclass) starts from.
const std::unordered_set<std::string_view> kClassSetup = {"setUp", "setUpClass", "asyncSetUp",
                                                          "setup_method", "setup_class"};
// Module functions pytest and unittest run before the module's tests.
const std::unordered_set<std::string_view> kModuleSetup = {"setUpModule", "setup_module"};
constexpr size_t kMaxBaseClasses = 64;  // inheritance walked for setUp, cycles or not

struct Tree {
  std::vector<std::vector<int32_t>> children, bases;
};

bool has_child_named(const GraphInput& g, const Tree& t, int32_t node,
                     const std::unordered_set<std::string_view>& names) {
  for (int32_t c : t.children[node])
    if (is_function(g.nodes[c].kind) && names.contains(g.nodes[c].name)) return true;
  return false;
}

// needs_fixture from the graph: setUp / setUpClass in the test's class or a repository base
// class of it, setUpModule / setup_module in its module, setup_function for module tests.
bool setup_fixture(const GraphInput& g, const Tree& t, int32_t test) {
  int32_t parent = g.nodes[test].parent;
  if (parent < 0) return false;
  if (g.nodes[parent].kind == NodeKind::kClass) {
    std::vector<int32_t> queue = {parent};
    std::unordered_set<int32_t> seen = {parent};
    for (size_t i = 0; i < queue.size() && i < kMaxBaseClasses; ++i) {
      if (has_child_named(g, t, queue[i], kClassSetup)) return true;
      for (int32_t b : t.bases[queue[i]])
        if (seen.insert(b).second) queue.push_back(b);
    }
  } else if (g.nodes[parent].kind == NodeKind::kModule &&
             has_child_named(g, t, parent, {"setup_function"})) {
    return true;
  }
  int32_t module = parent;
  while (module >= 0 && g.nodes[module].kind != NodeKind::kModule) module = g.nodes[module].parent;
  return module >= 0 && has_child_named(g, t, module, kModuleSetup);
}

// The innermost of `functions` (node indices of one file) whose lines hold `line`.
int32_t innermost(const GraphInput& g, const std::vector<int32_t>& functions, uint32_t line) {
  int32_t best = -1;
  for (int32_t f : functions) {
    const GraphNode& n = g.nodes[f];
    if (n.line > line || n.end_line < line) continue;
    if (best < 0 || n.line > g.nodes[best].line ||
        (n.line == g.nodes[best].line && n.end_line < g.nodes[best].end_line))
      best = f;
  }
  return best;
}

}  // namespace

LabelReport assemble_labels(const GraphInput& g,
                            const std::unordered_map<std::string, CachedFile>& files,
                            const std::vector<bool>& readable, bool pylint) {
  LabelReport report;
  Tree tree;
  tree.children.resize(g.nodes.size());
  tree.bases.resize(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].parent >= 0) tree.children[g.nodes[i].parent].push_back(static_cast<int32_t>(i));
  for (auto [cls, base] : g.inherits) tree.bases[cls].push_back(base);

  std::vector<const CachedFile*> entry(g.files.size(), nullptr);
  for (size_t f = 0; f < g.files.size(); ++f) {
    auto it = files.find(g.files[f].path);
    if (readable[f] && it != files.end() && it->second.hash == g.files[f].hash)
      entry[f] = &it->second;
  }
  std::vector<std::vector<int32_t>> functions_of(g.files.size());
  std::vector<int32_t> slot(g.nodes.size(), -1);  // node -> index in report.functions
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!is_function(g.nodes[i].kind)) continue;
    slot[i] = static_cast<int32_t>(report.functions.size());
    functions_of[g.nodes[i].file].push_back(static_cast<int32_t>(i));
    FunctionLabels l;
    l.qname = g.nodes[i].qname;
    report.functions.push_back(std::move(l));
  }

  std::vector<TestKinds> own_kinds(g.nodes.size());  // per test node
  for (size_t f = 0; f < g.files.size(); ++f) {
    const CachedFile* c = entry[f];
    if (!c || functions_of[f].empty()) continue;
    const int analysers = pylint ? 2 : 1;
    bool analysed = true;
    for (int a = 0; a < analysers; ++a) analysed &= !c->version[a].empty() && c->error[a].empty();
    for (int a = 0; a < analysers; ++a)
      if (!c->error[a].empty()) {
        report.problems.push_back(Error::in(g.files[f].path, c->error[a]));
        break;  // one line per file: a syntax error fails both analysers
      }
    for (int32_t n : functions_of[f]) report.functions[slot[n]].analysed = analysed;
    for (const Finding& x : c->findings) {
      if (x.analyser == Analyser::kPylint && !pylint) continue;
      int32_t n = innermost(g, functions_of[f], x.line);
      if (n < 0) continue;  // module or class level: no function to label
      float& p = report.functions[slot[n]].bug_kinds[x.kind];
      p = 1 - (1 - p) * (1 - x.probability);
    }
    std::unordered_map<uint32_t, const TestKinds*> by_line;
    for (const CachedTest& t : c->tests) by_line[t.line] = &t.kinds;
    for (int32_t n : functions_of[f])
      if (g.nodes[n].kind == NodeKind::kTest)
        if (auto k = by_line.find(g.nodes[n].line); k != by_line.end()) own_kinds[n] = *k->second;
  }
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].kind == NodeKind::kTest && setup_fixture(g, tree, static_cast<int32_t>(i)))
      own_kinds[i].everywhere |= 1u << kNeedsFixture;
  for (auto [test, fn] : g.tests) {
    if (slot[fn] < 0) continue;
    FunctionLabels& l = report.functions[slot[fn]];
    l.tested = true;
    const GraphNode& node = g.nodes[fn];
    std::string_view class_name = node.parent >= 0 ? g.nodes[node.parent].name : "";
    l.test_kinds |= own_kinds[test].for_function(node.name, class_name);
  }
  for (const FunctionLabels& l : report.functions) {
    report.tested_functions += l.tested;
    for (int k = 0; k < kTestKinds; ++k) report.test_kind_counts[k] += l.test_kinds >> k & 1;
    for (int k = 0; k < kBugKinds; ++k) report.bug_kind_counts[k] += l.bug_kinds[k] >= 0.5f;
  }
  return report;
}

}  // namespace yantra::labels
