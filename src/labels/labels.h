// labels: what the repository itself and static analysers teach the student about each
// function: the kinds of test its tests exercise, and the kinds of bug it carries.
//
//   LabelOptions options;
//   options.root = "/path/to/repo";          // reads .yantra/graph.db, caches in .yantra/labels.db
//   LabelReport report = extract_labels(options).take();
//   for (const FunctionLabels& f : report.functions)
//     if (f.tested && (f.test_kinds >> kException & 1)) printf("%s raises\n", f.qname.c_str());
//
// Test kinds come from the tests the graph links to a function (`tests` edges): a
// tree-sitter query (queries/test_kinds.scm) marks what each test body does
// (`pytest.raises` -> exception, empty literals as arguments -> empty input, `mock.patch`
// -> needs mock...); a kind aimed at one callee (`f([])`, `assertRaises(E, f)`) labels
// only the tested functions of that name. Bug kinds come from Debian's pyflakes (fast, always) and
// pylint (slow, optional), each finding placed in the innermost function whose lines hold it;
// pylint's confidence makes them soft labels. Analysis is cached per file by content hash, so a
// second run re-analyses only files that changed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace yantra::labels {

// What a function's tests exercise.
enum TestKind : int {
  kEmptyInput,      // an empty literal ("", [], {}, (), set()) passed to the function
  kNoneInput,       // None passed as an argument
  kBoundary,        // 0, -1, 1, sys.maxsize, float('inf'), nan... as arguments
  kException,       // pytest.raises, assertRaises(Regex)
  kLargeInput,      // range/repetition of 1000 or more, big literals
  kNeedsMock,       // unittest.mock / mock.patch / MagicMock / monkeypatch
  kNeedsFixture,    // pytest fixture parameters, setUp / setUpClass state
  kFloatTolerance,  // pytest.approx, assertAlmostEqual, math.isclose
  kWarning,         // pytest.warns, assertWarns(Regex)
  kTempFiles,       // tmp_path, tempfile, TemporaryDirectory, os_helper.TESTFN
  kParametrized,    // pytest.mark.parametrize, subTest loops
  kTestKinds
};
constexpr std::array<std::string_view, kTestKinds> kTestKindNames = {
    "empty_input",   "none_input",      "boundary", "exception",  "large_input", "needs_mock",
    "needs_fixture", "float_tolerance", "warning",  "temp_files", "parametrized"};

// What a function risks, aligned with pyflakes messages and pylint symbols.
enum BugKind : int {
  kUndefinedName,   // pyflakes UndefinedName; pylint undefined-variable
  kUnusedImport,    // pyflakes UnusedImport; pylint unused-import (imports inside the function)
  kUnusedVariable,  // pyflakes UnusedVariable; pylint unused-variable
  kUnusedArgument,  // pylint unused-argument
  kRedefinition,    // pyflakes RedefinedWhileUnused; pylint redefined-outer-name, -builtin
  kBroadExcept,     // pylint bare-except, broad-exception-caught
  kMutableDefault,  // pylint dangerous-default-value
  kUnreachable,     // pylint unreachable
  kUsedBeforeAssignment,  // pyflakes UndefinedLocal; pylint used-before-assignment
  kInconsistentReturn,    // pylint inconsistent-return-statements
  kFormatString,          // pyflakes % / .format / f-string findings; pylint format checks
  kLiteralComparison,     // pyflakes IsLiteral; pylint literal-comparison, singleton-comparison
  kCellVarFromLoop,       // pylint cell-var-from-loop
  kRaiseMissingFrom,      // pylint raise-missing-from
  kGlobalStatement,       // pylint global-statement, global-variable-not-assigned
  kBugKinds
};
constexpr std::array<std::string_view, kBugKinds> kBugKindNames = {
    "undefined_name",         "unused_import",       "unused_variable", "unused_argument",
    "redefinition",           "broad_except",        "mutable_default", "unreachable",
    "used_before_assignment", "inconsistent_return", "format_string",   "literal_comparison",
    "cell_var_from_loop",     "raise_missing_from",  "global_statement"};

// Labels of one function, method or test node of the graph.
struct FunctionLabels {
  std::string qname;        // the node's qname in graph.db
  bool tested = false;      // a `tests` edge reaches it: test_kinds is a label, not "unknown"
  uint32_t test_kinds = 0;  // bit k: a linked test shows TestKind k, aimed at this function
                            // (`f([])`, `assertRaises(E, f)`) or at no callee in particular
  // Teacher probability per BugKind, 0 where no analyser found it: pyflakes findings 0.95,
  // pylint by confidence (HIGH 0.9, CONTROL_FLOW 0.8, INFERENCE 0.7, INFERENCE_FAILURE 0.5,
  // UNDEFINED 0.6); several findings of one kind combine as 1 - prod(1 - p).
  std::array<float, kBugKinds> bug_kinds{};
  bool analysed = false;  // its file was analysed (false: the analysers failed on it)
};

struct LabelOptions {
  std::string root;       // the indexed repository
  std::string store_dir;  // default: ROOT/.yantra (graph.db is read there, labels.db written)
  bool pylint = true;     // the slow teacher; pyflakes always runs
  unsigned threads = 0;   // analyser processes at once; 0: every core
  bool progress = true;   // a progress bar when stderr is a terminal
};

struct LabelReport {
  std::vector<FunctionLabels> functions;  // every function, method and test node
  size_t files_analysed = 0;              // analysed this run (new or changed content)
  size_t files_cached = 0;                // findings reused from labels.db
  size_t tested_functions = 0;
  std::array<size_t, kTestKinds> test_kind_counts{};
  std::array<size_t, kBugKinds> bug_kind_counts{};  // functions with p >= 0.5
  double seconds = 0;
  std::vector<Error> problems;  // files an analyser could not handle: path: message
};

// Reads graph.db (run `yantra index` first), analyses what changed, updates labels.db in
// one transaction. A missing analyser is an Error that says which Debian package to install.
Result<LabelReport> extract_labels(const LabelOptions& options);

}  // namespace yantra::labels
