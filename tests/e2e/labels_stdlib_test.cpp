// Labels of a copy of CPython's json package and its test suite (Debian's python3.11):
// facts read by hand from the sources and from pyflakes' and pylint's own output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "graph/graph.h"
#include "labels/labels.h"

namespace fs = std::filesystem;
using namespace yantra::labels;

namespace {

const fs::path kStdlib = "/usr/lib/python3.11";

class LabelsStdlib : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kStdlib / "json/decoder.py") || !fs::exists(kStdlib / "test/test_json"))
      GTEST_SKIP() << "Debian's python3.11 and libpython3.11-testsuite are needed";
    dir_ = fs::temp_directory_path() / ("yantra-labels-stdlib-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "test");
    // A copy: labels write .yantra/ into the repository, and the stdlib stays untouched.
    fs::copy(kStdlib / "json", dir_ / "json", fs::copy_options::recursive);
    fs::copy(kStdlib / "test/test_json", dir_ / "test/test_json", fs::copy_options::recursive);
    std::ofstream(dir_ / "test/__init__.py") << "";
    for (const char* cache : {"json/__pycache__", "test/test_json/__pycache__"})
      fs::remove_all(dir_ / cache);
    yantra::graph::IndexOptions o;
    o.root = dir_.string();
    o.progress = false;
    auto indexed = yantra::graph::index_repository(yantra::real_file_system(), o);
    ASSERT_TRUE(indexed.ok()) << indexed.error().message;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  LabelReport run(bool pylint) {
    LabelOptions o;
    o.root = dir_.string();
    o.pylint = pylint;
    o.progress = false;
    auto r = extract_labels(o);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : LabelReport{};
  }
  static const FunctionLabels& get(const LabelReport& r, const std::string& qname) {
    for (const FunctionLabels& f : r.functions)
      if (f.qname == qname) return f;
    static const FunctionLabels missing;
    ADD_FAILURE() << qname << " has no labels";
    return missing;
  }
  static bool has(uint32_t bits, TestKind k) { return bits >> k & 1; }
  fs::path dir_;
};

TEST_F(LabelsStdlib, JsonPackageAndItsTests) {
  LabelReport quick = run(false);
  std::cout << "labels, pyflakes only: " << quick.seconds << " s, " << quick.files_analysed
            << " files\n";
  EXPECT_TRUE(quick.problems.empty()) << quick.problems.front().message;
  EXPECT_EQ(quick.files_cached, 0u);
  EXPECT_GE(quick.files_analysed, 20u);
  for (const FunctionLabels& f : quick.functions) EXPECT_TRUE(f.analysed) << f.qname;

  // test_float.TestFloat.test_allow_nan calls self.dumps (json.dumps through PyTest) and
  // checks self.assertRaises(ValueError, self.dumps, [val], allow_nan=False).
  const FunctionLabels& dumps = get(quick, "json.dumps");
  EXPECT_TRUE(dumps.tested);
  EXPECT_TRUE(has(dumps.test_kinds, kException));
  // test_fail.TestFail.test_truncated_input: with self.assertRaises(...) around self.loads.
  const FunctionLabels& loads = get(quick, "json.loads");
  EXPECT_TRUE(loads.tested);
  EXPECT_TRUE(has(loads.test_kinds, kException));
  // Nothing in the suite calls the pure-Python scanner by name.
  EXPECT_FALSE(get(quick, "json.decoder.py_scanstring").tested);
  // test_recursion.py:43 `y = {'a': x, 'b': y}`... pyflakes: local variable 'y' never used.
  EXPECT_NEAR(get(quick, "test.test_json.test_recursion.TestRecursion.test_dictrecursion")
                  .bug_kinds[kUnusedVariable],
              0.95f, 1e-4);
  // pylint's findings are not there without pylint.
  EXPECT_EQ(get(quick, "json.decoder.py_scanstring").bug_kinds[kMutableDefault], 0.0f);
  // The suite reaches json through PyTest/CTest's staticmethod attributes; the graph's
  // `tests` edges land on json.dump, dumps, load and loads (self.json.X is not resolved).
  EXPECT_EQ(quick.tested_functions, 4u);
  EXPECT_GT(quick.test_kind_counts[kException], 0u);
  EXPECT_GT(quick.bug_kind_counts[kUnusedVariable], 0u);

  // pylint from a cold cache as well, to time it alone with pyflakes.
  fs::remove(dir_ / ".yantra/labels.db");
  fs::remove(dir_ / ".yantra/labels.db-wal");
  fs::remove(dir_ / ".yantra/labels.db-shm");
  LabelReport full = run(true);
  std::cout << "labels, pyflakes and pylint: " << full.seconds << " s, " << full.files_analysed
            << " files\n";
  EXPECT_TRUE(full.problems.empty()) << full.problems.front().message;
  EXPECT_EQ(full.files_analysed, quick.files_analysed);
  // decoder.py:69 `def py_scanstring(s, end, strict=True, _b=BACKSLASH, ...)`: a dict default
  // (dangerous-default-value, no confidence: 0.6); decoder.py:114 re-raises KeyError without
  // `from` (raise-missing-from, HIGH: 0.9).
  const FunctionLabels& scan = get(full, "json.decoder.py_scanstring");
  EXPECT_NEAR(scan.bug_kinds[kMutableDefault], 0.6f, 1e-4);
  EXPECT_NEAR(scan.bug_kinds[kRaiseMissingFrom], 0.9f, 1e-4);
  // encoder.py:263-271: nine parameters of _make_iterencode named after builtins
  // (ValueError=ValueError, dict=dict...): 1 - 0.4^9.
  EXPECT_NEAR(get(full, "json.encoder._make_iterencode").bug_kinds[kRedefinition],
              1 - std::pow(0.4f, 9), 1e-4);
  EXPECT_NEAR(get(full, "json.tool.main").bug_kinds[kRaiseMissingFrom], 0.9f, 1e-4);
  // Both analysers on test_recursion.py:43; pylint alone on :85.
  EXPECT_NEAR(get(full, "test.test_json.test_recursion.TestRecursion.test_dictrecursion")
                  .bug_kinds[kUnusedVariable],
              0.98f, 1e-4);
  EXPECT_NEAR(
      get(full, "test.test_json.test_recursion.TestRecursion.test_highly_nested_objects_encoding")
          .bug_kinds[kUnusedVariable],
      0.6f, 1e-4);
  // test_dump.py:36: `def crasher(obj):` nested in a test; the nested function has it.
  EXPECT_NEAR(get(full, "test.test_json.test_dump.TestDump.test_encode_mutated.crasher")
                  .bug_kinds[kUnusedArgument],
              0.9f, 1e-4);
  EXPECT_EQ(
      get(full, "test.test_json.test_dump.TestDump.test_encode_mutated").bug_kinds[kUnusedArgument],
      0.0f);
  EXPECT_GT(full.bug_kind_counts[kRedefinition], 0u);
  EXPECT_EQ(full.test_kind_counts, quick.test_kind_counts);

  LabelReport cached = run(true);
  std::cout << "labels, cached: " << cached.seconds << " s\n";
  EXPECT_EQ(cached.files_analysed, 0u);
  EXPECT_EQ(cached.files_cached, full.files_analysed);
  EXPECT_EQ(cached.bug_kind_counts, full.bug_kind_counts);
}

}  // namespace
