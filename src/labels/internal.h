// Internal to the labels part: the graph it reads, the analysers it runs, the cache it
// keeps, and the test-kind query.
#pragma once

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/base.h"
#include "labels/labels.h"

namespace yantra::labels {

// ---- graph.db (graph_input.cpp) -------------------------------------------------------

enum class NodeKind : uint8_t { kModule, kClass, kFunction, kMethod, kTest };

struct GraphFile {
  int64_t id = 0;
  std::string path;   // relative to the repository root
  uint64_t hash = 0;  // hash64 of the bytes the graph was built from
};

struct GraphNode {
  int64_t id = 0;
  NodeKind kind = NodeKind::kModule;
  std::string qname, name;
  int32_t file = -1;  // index into GraphInput::files
  uint32_t line = 0, end_line = 0;
  int32_t parent = -1;  // the node that contains it (index), -1 for modules
};

struct GraphInput {
  std::vector<GraphFile> files;
  std::vector<GraphNode> nodes;                       // repository nodes, by id
  std::vector<std::pair<int32_t, int32_t>> tests;     // (test, function it tests)
  std::vector<std::pair<int32_t, int32_t>> inherits;  // (class, repository base class)
};

// Reads the repository nodes and the edges labels need; refuses what is not a graph store.
Result<GraphInput> read_graph(const std::string& db_path);

inline bool is_function(NodeKind k) {
  return k == NodeKind::kFunction || k == NodeKind::kMethod || k == NodeKind::kTest;
}

// ---- bug kinds (bug_kinds.cpp): the one mapping from analyser output to BugKind --------

enum class Analyser : uint8_t { kPyflakes, kPylint };
constexpr std::string_view kAnalyserNames[] = {"pyflakes", "pylint"};

// pyflakes gives no confidence; its findings are near certain.
constexpr float kPyflakesProbability = 0.95f;

std::optional<BugKind> pyflakes_kind(std::string_view message);
std::optional<BugKind> pylint_kind(std::string_view symbol);
// The teacher probability of a pylint confidence name ("HIGH", "INFERENCE"...).
float pylint_probability(std::string_view confidence);
// What --enable lists: every mapped symbol, plus the ones that say a file failed.
std::string pylint_enabled_symbols();
// Symbols that mean pylint could not analyse the file (syntax-error, astroid-error...).
bool pylint_failure_symbol(std::string_view symbol);
std::optional<BugKind> bug_kind_from_name(std::string_view name);

// ---- analysers (analysers.cpp, process.cpp) --------------------------------------------

struct Finding {
  uint32_t line = 0;
  BugKind kind = kUndefinedName;
  float probability = 0;
  Analyser analyser = Analyser::kPyflakes;
  std::string code;  // pylint symbol or pyflakes message: for reading labels.db
};

// One analyser's verdict on one file.
struct FileResult {
  bool ok = false;
  std::string error;  // why not ok: "1:12: invalid syntax"
  std::vector<Finding> findings;
};

// The versions of pyflakes and (when asked) pylint, per Analyser ("pylint 2.16.2; astroid
// 2.14.2; Python 3.11.2"), or an Error naming the Debian package to install.
Result<std::array<std::string, 2>> analyser_versions(bool pylint);

// Runs the analyser on `paths` (relative to `root`) in batches, `threads` at once; the
// results are in the order of `paths`. `progress` (may be null) advances per file.
std::vector<FileResult> run_analyser(Analyser analyser, const std::string& root,
                                     const std::vector<std::string>& paths, unsigned threads,
                                     Progress* progress);

// ---- test kinds (test_kinds.cpp) --------------------------------------------------------

// What one test shows. A kind the query can aim at one callee (`f([])` gives f an empty
// input; `assertRaises(E, f)` and `with pytest.raises(E): f(2)` expect f to raise) goes to
// the functions of that name only: the test's other calls (setup, helpers) did not get it.
// Kinds it cannot aim (a mock, a fixture, parametrized values) go to every function the
// test exercises.
struct TestKinds {
  uint32_t everywhere = 0;
  std::vector<std::pair<std::string, uint32_t>> aimed;  // (callee's last name part, kinds)

  // The kinds a tested function gets: `name` is its own; `class_name` its class's, if
  // it is __init__ or __new__ (a call of the class aims at them).
  uint32_t for_function(std::string_view name, std::string_view class_name) const;
  uint32_t aimed_kinds() const;  // the kinds aimed at some callee
  uint32_t all() const { return everywhere | aimed_kinds(); }
  bool operator==(const TestKinds&) const = default;
};

// The test kinds each test's source shows, by the line of its `def`, for the tests of one
// file whose `def` lines are `test_lines`. `source` is UTF-8 (decode_source).
std::unordered_map<uint32_t, TestKinds> source_test_kinds(std::string_view source,
                                                          const std::vector<uint32_t>& test_lines);
// Changes when the query or the rules change: cached test kinds are recomputed then.
uint64_t test_kinds_version();
// The kinds' bits as "exception,needs_mock".
std::string test_kinds_text(uint32_t bits);
// A test's kinds as labels.db keeps them: "needs_mock,empty_input@dumps,exception@loads",
// and back (unknown kind names and empty targets are dropped).
std::string test_kinds_text(const TestKinds& kinds);
TestKinds parse_test_kinds(std::string_view text);

// ---- labels.db (store.cpp) --------------------------------------------------------------

struct CachedTest {
  uint32_t line = 0;  // of its `def`: qnames may change without the file changing
  std::string qname;
  TestKinds kinds;
};

// What labels.db keeps about one file.
struct CachedFile {
  uint64_t hash = 0;
  std::string version[2];      // per Analyser: the version that ran, "" if none ran
  std::string error[2];        // per Analyser: why it could not analyse the file, "" if it could
  uint64_t tests_version = 0;  // test_kinds_version() the tests were read with
  std::vector<Finding> findings;
  std::vector<CachedTest> tests;
};

class LabelStore {
 public:
  // Opens or creates labels.db; refuses a file that is not SQLite, or is another program's.
  static Result<LabelStore> open(const std::string& path);
  LabelStore(LabelStore&& other) noexcept;
  LabelStore& operator=(LabelStore&&) = delete;
  ~LabelStore();

  Result<std::unordered_map<std::string, CachedFile>> load() const;
  // Replaces the rows of `changed` files and deletes `removed` ones, in one transaction.
  Result<void> update(const std::unordered_map<std::string, CachedFile>& changed,
                      const std::vector<std::string>& removed);

 private:
  LabelStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

// ---- labels from the cache (assemble.cpp) ----------------------------------------------

// The labels of every function, method and test node, from the cache rows of their files
// (`files`, by path; a row whose hash is not the graph's is ignored). `readable[f]` is false
// for files that could not be read as indexed; problems name the files analysers failed on.
// `pylint`: whether pylint's findings count (they stay cached when it is not asked for).
LabelReport assemble_labels(const GraphInput& graph,
                            const std::unordered_map<std::string, CachedFile>& files,
                            const std::vector<bool>& readable, bool pylint);

}  // namespace yantra::labels
