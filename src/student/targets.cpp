// What the student's node heads learn, per function: the imports it relies on (read from
// the graph), the kinds of test its tests exercise and the kinds of bug the analysers
// found (from the labels part), and which files are held out to measure them.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unordered_map>

#include "student/student.h"

namespace yantra::student {
namespace {

int32_t module_of(const GraphData& g, int32_t node) {
  int32_t m = node;
  while (m >= 0 && g.kind[m] != Kind::kModule) m = g.parent[m];
  return m;
}

bool is_function(const GraphData& g, int32_t node) {
  return g.kind[node] == Kind::kFunction || g.kind[node] == Kind::kMethod;
}

// `name` is `prefix` or lies under it ("os.path.join" under "os.path", not "os.pathx").
bool under(const std::string& name, const std::string& prefix) {
  return name.size() >= prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
         (name.size() == prefix.size() || name[prefix.size()] == '.');
}

// The repository's import targets, most imported first: the import head's label set.
std::vector<int32_t> import_vocabulary(const GraphData& g, int slots) {
  std::unordered_map<int32_t, int> count;
  for (auto [m, t] : g.imports) count[t] += 1;
  std::vector<std::pair<int, int32_t>> ranked;
  for (auto [t, n] : count) ranked.emplace_back(n, t);
  std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : g.qname[a.second] < g.qname[b.second];
  });
  std::vector<int32_t> vocabulary;
  for (size_t i = 0; i < ranked.size() && int(i) < slots; ++i)
    vocabulary.push_back(ranked[i].second);
  return vocabulary;
}

// Seeded 10 % of files for testing and 5 % for validation, as `yantra train` holds out
// calls: node heads are measured on functions whose files never trained them.
enum FileRole : uint8_t { kTrainFile, kTestFile, kValidationFile };
std::vector<uint8_t> file_roles(const GraphData& g, uint64_t seed) {
  int32_t max_file = -1;
  for (int32_t f : g.file) max_file = std::max(max_file, f);
  std::vector<int32_t> files(size_t(max_file + 1));
  std::iota(files.begin(), files.end(), 0);
  std::mt19937_64 rng(seed ^ 0xF11E5ull);
  std::shuffle(files.begin(), files.end(), rng);
  std::vector<uint8_t> role(files.size(), kTrainFile);
  size_t n_test = files.size() / 10, n_val = files.size() / 20;
  for (size_t i = 0; i < n_test + n_val; ++i)
    role[size_t(files[i])] = i < n_test ? kTestFile : kValidationFile;
  return role;
}

}  // namespace

NodeTargets build_targets(const GraphData& g, const labels::LabelReport* found,
                          const std::vector<std::string>* vocabulary, uint64_t seed) {
  const size_t n = g.size();
  NodeTargets t;
  std::unordered_map<int32_t, uint16_t> slot_of;
  if (vocabulary) {
    // A checkpoint's slots: targets are found by name; one the graph lost stays unused.
    t.vocabulary = *vocabulary;
    std::unordered_map<std::string_view, uint16_t> by_name;
    for (size_t s = 0; s < t.vocabulary.size(); ++s) by_name.emplace(t.vocabulary[s], uint16_t(s));
    for (auto [m, target] : g.imports)
      if (auto it = by_name.find(g.qname[target]); it != by_name.end())
        slot_of.emplace(target, it->second);
  } else {
    for (int32_t target : import_vocabulary(g, kImportSlots)) {
      slot_of.emplace(target, uint16_t(t.vocabulary.size()));
      t.vocabulary.push_back(g.qname[target]);
    }
  }
  std::vector<std::vector<int32_t>> module_imports(n);
  for (auto [m, target] : g.imports) module_imports[m].push_back(target);

  std::vector<std::vector<int32_t>> callees(n);
  for (auto [u, v] : g.calls_resolved) callees[u].push_back(v);
  for (auto [u, v] : g.calls_external) callees[u].push_back(v);

  t.imports.assign(n, {});
  t.file_imports.assign(n, {});
  t.has_imports.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    int32_t u = int32_t(i);
    if (!is_function(g, u)) continue;
    int32_t m = module_of(g, u);
    if (m < 0) continue;
    t.has_imports[i] = 1;
    for (int32_t target : module_imports[m]) {
      auto slot = slot_of.find(target);
      if (slot == slot_of.end()) continue;
      t.file_imports[i].push_back(slot->second);
      bool used = std::any_of(callees[i].begin(), callees[i].end(),
                              [&](int32_t v) { return under(g.qname[v], g.qname[target]); });
      if (used) t.imports[i].push_back(slot->second);
    }
    std::sort(t.file_imports[i].begin(), t.file_imports[i].end());
    std::sort(t.imports[i].begin(), t.imports[i].end());
  }

  t.test_kinds.assign(n, 0);
  t.tested.assign(n, 0);
  t.bug_kinds.assign(n, {});
  t.analysed.assign(n, 0);
  if (found) {
    std::unordered_map<std::string_view, int32_t> by_qname;
    for (size_t i = 0; i < n; ++i)
      if (g.kind[i] != Kind::kExternal) by_qname.emplace(g.qname[i], int32_t(i));
    for (const labels::FunctionLabels& f : found->functions) {
      auto it = by_qname.find(f.qname);
      if (it == by_qname.end() || !is_function(g, it->second)) continue;
      size_t i = size_t(it->second);
      t.tested[i] = f.tested, t.test_kinds[i] = f.test_kinds;
      t.analysed[i] = f.analysed, t.bug_kinds[i] = f.bug_kinds;
    }
  }

  std::vector<uint8_t> role = file_roles(g, seed);
  t.held_out.assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    uint8_t r = g.file[i] >= 0 ? role[size_t(g.file[i])] : uint8_t(kTrainFile);
    t.held_out[i] = r != kTrainFile;
    if (!(t.has_imports[i] || t.tested[i] || t.analysed[i])) continue;
    (r == kTestFile         ? t.test_nodes
     : r == kValidationFile ? t.validation_nodes
                            : t.train_nodes)
        .push_back(int32_t(i));
  }
  return t;
}

double teacher_confidence(const NodeTargets& t, int32_t node) {
  if (!t.analysed[size_t(node)]) return 1.0;
  double sum = 0;
  for (float p : t.bug_kinds[size_t(node)]) sum += std::abs(2.0 * p - 1.0);
  return sum / double(labels::kBugKinds);
}

std::vector<int32_t> curriculum_order(const NodeTargets& t, uint64_t seed) {
  std::vector<int32_t> order = t.train_nodes;
  std::mt19937_64 rng(seed ^ 0xC0441Cull);
  std::shuffle(order.begin(), order.end(), rng);
  // Only the functions with unsure labels move, among the places they hold: sorting every
  // function would put all the sure "no bug found" ones first and teach the bug head that
  // nothing is ever wrong before it meets a finding.
  std::vector<size_t> places;
  std::vector<std::pair<double, int32_t>> unsure;
  for (size_t i = 0; i < order.size(); ++i)
    if (double c = teacher_confidence(t, order[i]); c < 1.0)
      places.push_back(i), unsure.emplace_back(c, order[i]);
  std::stable_sort(unsure.begin(), unsure.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; k < places.size(); ++k) order[places[k]] = unsure[k].second;
  return order;
}

}  // namespace yantra::student
