// Labels from a real repository: Debian's pyflakes and pylint on a small package with real
// findings, pytest and unittest tests whose kinds the query reads, the labels.db cache
// across edits and deletions, and the inputs it must refuse or survive.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>

#include "graph/graph.h"
#include "labels/internal.h"
#include "labels/labels.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace yantra::labels;
using yantra::testing::contains;

namespace {

constexpr const char* kCore = R"(import os
import math


def parse(text):
    unused = 1
    try:
        return int(text)
    except:
        return None


def collect(item, bucket=[]):
    bucket.append(item)
    return bucket


def total(values):
    return sum(values) + missing_offset


def ratio(a, b):
    return a / b


def scale(value, factor):
    return value * 2


def clamp(value, low, high):
    return max(low, min(high, value))


def load(path):
    with open(path) as f:
        return f.read()


def outer(n):
    def inner(k):
        return k + undefined_inner
    return inner(n)


def untested(x):
    import json
    return math.sqrt(x)


class Store:
    def __init__(self):
        self.items = {}

    def put(self, key, value):
        self.items[key] = value

    @staticmethod
    def make(items=[]):
        return Store()
)";

constexpr const char* kTests = R"(import unittest
from unittest import mock

import pytest

from calc.core import Store, clamp, collect, load, parse, ratio, scale, total


def test_parse_empty():
    with pytest.raises(ValueError):
        parse("")


def test_total_approx():
    assert total([0.1, 0.2]) == pytest.approx(0.3)


def test_total_large():
    with pytest.warns(UserWarning):
        assert total(list(range(10000))) >= 0


@pytest.mark.parametrize("value", [2, 3])
def test_scale(value):
    assert scale(value, 2) == value * 2


def test_collect_fixture(bucket_factory):
    assert collect(bucket_factory()) == [1]


@mock.patch("calc.core.math")
def test_clamp_mocked(fake_math):
    assert clamp(5, None, 10) == 5


def test_load(tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "C")
    target = tmp_path / "f.txt"
    target.write_text("x")
    assert load(str(target)) == "x"


class TestRatio(unittest.TestCase):
    def setUp(self):
        self.store = Store()

    def test_ratio(self):
        self.assertAlmostEqual(ratio(1, 3), 0.333, places=3)
)";

constexpr const char* kConftest = R"(import pytest


@pytest.fixture
def bucket_factory():
    return lambda: 1
)";

uint32_t bits(std::initializer_list<TestKind> kinds) {
  uint32_t b = 0;
  for (TestKind k : kinds) b |= 1u << k;
  return b;
}

std::string kind_names(uint32_t b) {
  return test_kinds_text(b);
}

class Labels : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("yantra-labels-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(repo());
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path repo() const { return dir_ / "repo"; }
  fs::path labels_db() const { return repo() / ".yantra" / "labels.db"; }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((repo() / rel).parent_path());
    std::ofstream(repo() / rel, std::ios::binary) << text;
  }
  void write_fixture() {
    write("calc/__init__.py", "");
    write("calc/core.py", kCore);
    write("tests/test_core.py", kTests);
    write("tests/conftest.py", kConftest);
  }
  void index() {
    yantra::graph::IndexOptions o;
    o.root = repo().string();
    o.progress = false;
    auto r = yantra::graph::index_repository(yantra::real_file_system(), o);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  yantra::Result<LabelReport> extract(bool pylint) {
    LabelOptions o;
    o.root = repo().string();
    o.pylint = pylint;
    o.threads = 2;
    o.progress = false;
    return extract_labels(o);
  }
  LabelReport labels(bool pylint) {
    auto r = extract(pylint);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : LabelReport{};
  }
  static const FunctionLabels* find(const LabelReport& r, const std::string& qname) {
    for (const FunctionLabels& f : r.functions)
      if (f.qname == qname) return &f;
    return nullptr;
  }
  // Every bug kind of `qname`: the listed ones at their probability, the others zero.
  static void expect_bugs(const LabelReport& r, const std::string& qname,
                          const std::map<BugKind, float>& want) {
    const FunctionLabels* f = find(r, qname);
    ASSERT_NE(f, nullptr) << qname;
    for (int k = 0; k < kBugKinds; ++k) {
      auto it = want.find(static_cast<BugKind>(k));
      float expected = it == want.end() ? 0.0f : it->second;
      EXPECT_NEAR(f->bug_kinds[k], expected, 1e-4) << qname << " " << kBugKindNames[k];
    }
  }
  static void expect_tests(const LabelReport& r, const std::string& qname, bool tested,
                           uint32_t kinds) {
    const FunctionLabels* f = find(r, qname);
    ASSERT_NE(f, nullptr) << qname;
    EXPECT_EQ(f->tested, tested) << qname;
    EXPECT_EQ(kind_names(f->test_kinds), kind_names(kinds)) << qname;
  }
  // Rows of labels.db's label_files for `path` (0 or 1).
  int64_t cached_rows(const std::string& path) {
    sqlite3* db = nullptr;
    int64_t n = -1;
    if (sqlite3_open_v2(labels_db().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db,
                         "SELECT (SELECT count(*) FROM label_files WHERE path = ?1) + "
                         "(SELECT count(*) FROM label_findings JOIN label_files f ON f.id = "
                         "file_id WHERE f.path = ?1)",
                         -1, &s, nullptr);
      sqlite3_bind_text(s, 1, path.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
      sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return n;
  }
  fs::path dir_;
};

const std::map<BugKind, float> kNone;

TEST_F(Labels, PyflakesAndPylintLabelEveryFunction) {
  write_fixture();
  index();
  LabelReport r = labels(true);
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.files_analysed, 3u);  // calc/__init__.py has no function
  EXPECT_EQ(r.files_cached, 0u);
  for (const FunctionLabels& f : r.functions) EXPECT_TRUE(f.analysed) << f.qname;
  // pyflakes 0.95 and pylint UNDEFINED 0.6 on one line: 1 - 0.05 * 0.4.
  expect_bugs(r, "calc.core.parse", {{kUnusedVariable, 0.98f}, {kBroadExcept, 0.9f}});
  expect_bugs(r, "calc.core.collect", {{kMutableDefault, 0.6f}});
  expect_bugs(r, "calc.core.total", {{kUndefinedName, 0.98f}});
  expect_bugs(r, "calc.core.scale", {{kUnusedArgument, 0.9f}});
  expect_bugs(r, "calc.core.ratio", kNone);
  // The innermost function holds the finding, not the one around it.
  expect_bugs(r, "calc.core.outer.inner", {{kUndefinedName, 0.98f}});
  expect_bugs(r, "calc.core.outer", kNone);
  // An import inside a function is its own; `import os` at module level labels nothing.
  expect_bugs(r, "calc.core.untested", {{kUnusedImport, 0.98f}});
  // A finding on a decorated `def` line belongs to that method. pylint infers that a
  // staticmethod's argument is unused (INFERENCE 0.7), and gives no confidence for the default.
  expect_bugs(r, "calc.core.Store.make", {{kMutableDefault, 0.6f}, {kUnusedArgument, 0.7f}});
  expect_bugs(r, "calc.core.Store.put", kNone);
  expect_bugs(r, "tests.test_core.test_clamp_mocked", {{kUnusedArgument, 0.9f}});

  expect_tests(r, "calc.core.parse", true, bits({kException, kEmptyInput}));
  expect_tests(r, "calc.core.total", true, bits({kFloatTolerance, kWarning, kLargeInput}));
  expect_tests(r, "calc.core.scale", true, bits({kParametrized}));
  expect_tests(r, "calc.core.collect", true, bits({kNeedsFixture}));
  // The mock @patch passes in is not a fixture; None is passed to clamp.
  expect_tests(r, "calc.core.clamp", true, bits({kNeedsMock, kNoneInput}));
  // tmp_path and monkeypatch are fixtures of their own kinds.
  expect_tests(r, "calc.core.load", true, bits({kTempFiles, kNeedsMock}));
  // setUp in the TestCase; 1 passed to ratio.
  expect_tests(r, "calc.core.ratio", true, bits({kFloatTolerance, kBoundary, kNeedsFixture}));
  expect_tests(r, "calc.core.untested", false, 0);
  expect_tests(r, "calc.core.Store.put", false, 0);
  expect_tests(r, "tests.test_core.test_parse_empty", false, 0);

  EXPECT_EQ(r.tested_functions, 7u);
  EXPECT_EQ(r.test_kind_counts[kNeedsFixture], 2u);
  EXPECT_EQ(r.test_kind_counts[kFloatTolerance], 2u);
  EXPECT_EQ(r.test_kind_counts[kNeedsMock], 2u);
  EXPECT_EQ(r.bug_kind_counts[kUndefinedName], 2u);
  EXPECT_EQ(r.bug_kind_counts[kMutableDefault], 2u);
  EXPECT_EQ(r.bug_kind_counts[kUnusedArgument], 3u);
  EXPECT_EQ(r.bug_kind_counts[kBroadExcept], 1u);
}

TEST_F(Labels, PyflakesAloneGivesItsOwnProbabilities) {
  write_fixture();
  index();
  LabelReport r = labels(false);
  EXPECT_EQ(r.files_analysed, 3u);
  expect_bugs(r, "calc.core.parse", {{kUnusedVariable, 0.95f}});
  expect_bugs(r, "calc.core.total", {{kUndefinedName, 0.95f}});
  expect_bugs(r, "calc.core.outer.inner", {{kUndefinedName, 0.95f}});
  expect_bugs(r, "calc.core.untested", {{kUnusedImport, 0.95f}});
  expect_bugs(r, "calc.core.collect", kNone);
  expect_bugs(r, "calc.core.Store.make", kNone);
  // Test kinds do not depend on the analysers.
  expect_tests(r, "calc.core.parse", true, bits({kException, kEmptyInput}));

  // pylint asked for later: only pylint runs, on every file; its findings join pyflakes'.
  LabelReport both = labels(true);
  EXPECT_EQ(both.files_analysed, 3u);
  expect_bugs(both, "calc.core.parse", {{kUnusedVariable, 0.98f}, {kBroadExcept, 0.9f}});
  // pylint's findings stay cached, but count only when pylint is asked for.
  LabelReport again = labels(false);
  EXPECT_EQ(again.files_analysed, 0u);
  expect_bugs(again, "calc.core.parse", {{kUnusedVariable, 0.95f}});
}

TEST_F(Labels, SecondRunReusesTheCacheAndEditsAreIncremental) {
  write_fixture();
  write("calc/extra.py", "def spare(a):\n    b = 2\n    return a\n");
  index();
  LabelReport first = labels(true);
  EXPECT_EQ(first.files_analysed, 4u);
  LabelReport second = labels(true);
  EXPECT_EQ(second.files_analysed, 0u);
  EXPECT_EQ(second.files_cached, 4u);
  ASSERT_EQ(first.functions.size(), second.functions.size());
  for (size_t i = 0; i < first.functions.size(); ++i) {
    const FunctionLabels &a = first.functions[i], &b = second.functions[i];
    EXPECT_EQ(a.qname, b.qname);
    EXPECT_EQ(a.tested, b.tested) << a.qname;
    EXPECT_EQ(a.test_kinds, b.test_kinds) << a.qname;
    EXPECT_EQ(a.analysed, b.analysed) << a.qname;
    for (int k = 0; k < kBugKinds; ++k) EXPECT_EQ(a.bug_kinds[k], b.bug_kinds[k]) << a.qname;
  }
  EXPECT_EQ(first.test_kind_counts, second.test_kind_counts);
  EXPECT_EQ(first.bug_kind_counts, second.bug_kind_counts);

  // One file's content changes: only it is analysed again, and its new finding shows.
  write("calc/core.py", std::string(kCore) + "\n\ndef added():\n    return nowhere\n");
  index();
  LabelReport third = labels(true);
  EXPECT_EQ(third.files_analysed, 1u);
  EXPECT_EQ(third.files_cached, 3u);
  expect_bugs(third, "calc.core.added", {{kUndefinedName, 0.98f}});
  expect_bugs(third, "calc.extra.spare", {{kUnusedVariable, 0.98f}});

  // A deleted file's rows leave labels.db.
  EXPECT_GT(cached_rows("calc/extra.py"), 1);
  fs::remove(repo() / "calc/extra.py");
  index();
  LabelReport fourth = labels(true);
  EXPECT_EQ(fourth.files_analysed, 0u);
  EXPECT_EQ(fourth.files_cached, 3u);
  EXPECT_EQ(find(fourth, "calc.extra.spare"), nullptr);
  EXPECT_EQ(cached_rows("calc/extra.py"), 0);
  EXPECT_GT(cached_rows("calc/core.py"), 1);
}

TEST_F(Labels, SyntaxErrorIsAProblemAndTheRunGoesOn) {
  write_fixture();
  write("calc/broken.py", "def fine():\n    return 1\n\n\ndef broken(:\n    return 2\n");
  index();
  for (bool pylint : {false, true}) {
    LabelReport r = labels(pylint);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_TRUE(r.problems[0].message.starts_with("calc/broken.py: pyflakes: "))
        << r.problems[0].message;
    EXPECT_TRUE(contains(r.problems[0].message, "invalid syntax")) << r.problems[0].message;
    const FunctionLabels* fine = find(r, "calc.broken.fine");
    ASSERT_NE(fine, nullptr);
    EXPECT_FALSE(fine->analysed);
    const FunctionLabels* parse = find(r, "calc.core.parse");
    ASSERT_NE(parse, nullptr);
    EXPECT_TRUE(parse->analysed);
    EXPECT_NEAR(parse->bug_kinds[kUnusedVariable], pylint ? 0.98f : 0.95f, 1e-4);
  }
  // The failure is cached like a result: still reported, not analysed again.
  LabelReport again = labels(true);
  EXPECT_EQ(again.files_analysed, 0u);
  ASSERT_EQ(again.problems.size(), 1u);
  EXPECT_TRUE(again.problems[0].message.starts_with("calc/broken.py: "));
}

TEST_F(Labels, FileGoneSinceIndexingIsAProblem) {
  write_fixture();
  write("calc/extra.py", "def spare(a):\n    b = 2\n    return a\n");
  index();
  fs::remove(repo() / "calc/extra.py");
  write("calc/core.py", std::string(kCore) + "\n# edited after indexing\n");
  LabelReport r = labels(false);
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_TRUE(r.problems[0].message.starts_with("calc/core.py: changed since it was indexed"))
      << r.problems[0].message;
  EXPECT_TRUE(r.problems[1].message.starts_with("calc/extra.py: cannot be read"))
      << r.problems[1].message;
  EXPECT_FALSE(find(r, "calc.extra.spare")->analysed);
  EXPECT_FALSE(find(r, "calc.core.parse")->analysed);
  EXPECT_TRUE(find(r, "tests.test_core.test_load")->analysed);
  EXPECT_EQ(r.files_analysed, 2u);
}

TEST_F(Labels, MissingGraphSaysToIndex) {
  write_fixture();
  auto r = extract(false);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, (repo() / ".yantra/graph.db").string()));
  EXPECT_TRUE(contains(r.error().message, "yantra index"));
  EXPECT_FALSE(fs::exists(labels_db()));
}

TEST_F(Labels, ForeignLabelsStoreIsRefusedAndLeftAlone) {
  write_fixture();
  index();
  auto refused = [&](const std::string& why) {
    std::string before = yantra::testing::read_bytes(labels_db());
    auto r = extract(false);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_TRUE(contains(r.error().message, labels_db().string())) << r.error().message;
    EXPECT_EQ(yantra::testing::read_bytes(labels_db()), before) << why;
    EXPECT_FALSE(fs::exists(labels_db().string() + "-wal")) << why;
  };
  // Not SQLite at all.
  { std::ofstream(labels_db(), std::ios::binary) << std::string(8192, 'x'); }
  refused("garbage");
  // Another program's SQLite file, with no application id.
  fs::remove(labels_db());
  auto make_db = [&](const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(labels_db().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  };
  make_db("CREATE TABLE users(name TEXT); INSERT INTO users VALUES('ada');");
  refused("another program's tables");
  // A SQLite file that names another application.
  fs::remove(labels_db());
  make_db("PRAGMA application_id=1234; CREATE TABLE t(x);");
  refused("another application id");
  // Our own store is accepted again once moved aside.
  fs::remove(labels_db());
  EXPECT_TRUE(extract(false).ok());
}

TEST_F(Labels, ManyFilesAndOddPathsInBatches) {
  // More files than one pyflakes batch holds, some with names a shell or a parser of
  // "path:line:" output would get wrong.
  const std::vector<std::string> odd = {"pkg/with space.py", "pkg/-dash.py", "pkg/colon:3:x.py"};
  for (int i = 0; i < 150; ++i)
    write("pkg/m" + std::to_string(i) + ".py",
          "def f" + std::to_string(i) + "():\n    return undefined_" + std::to_string(i) + "\n");
  for (const std::string& p : odd) write(p, "def g():\n    v = 1\n    return 0\n");
  index();
  LabelReport r = labels(false);
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.files_analysed, 153u);
  size_t undefined = 0, unused = 0;
  for (const FunctionLabels& f : r.functions) {
    EXPECT_TRUE(f.analysed) << f.qname;
    undefined += f.bug_kinds[kUndefinedName] == 0.95f;
    unused += f.bug_kinds[kUnusedVariable] == 0.95f;
  }
  EXPECT_EQ(undefined, 150u);
  EXPECT_EQ(unused, odd.size());
}

TEST_F(Labels, FixturesFromSetUpInBaseClassesAndModules) {
  write("calc/__init__.py", "");
  write("calc/core.py", kCore);
  write("tests/test_base.py",
        "import unittest\nfrom calc.core import ratio\n\n\nclass Base(unittest.TestCase):\n"
        "    def setUp(self):\n        self.n = 2\n\n\nclass TestChild(Base):\n"
        "    def test_ratio(self):\n        self.assertEqual(ratio(4, self.n), 2)\n");
  write("tests/test_module.py",
        "from calc.core import total\n\n\ndef setup_module():\n    pass\n\n\n"
        "def test_total():\n    assert total([2]) == 2\n");
  write("tests/test_plain.py",
        "from calc.core import scale\n\n\ndef test_scale():\n    assert scale(3, 2) == 6\n");
  index();
  LabelReport r = labels(false);
  expect_tests(r, "calc.core.ratio", true, bits({kNeedsFixture}));
  expect_tests(r, "calc.core.total", true, bits({kNeedsFixture}));
  // Tested, with no kind to show: a label of its own, unlike an untested function.
  expect_tests(r, "calc.core.scale", true, 0);
  expect_tests(r, "calc.core.clamp", false, 0);
}

// A kind aimed at one callee labels that function only; the test's other calls do not get
// it. With every kind given to every tested function, scale and make would both show
// empty_input and none_input, and parse would show exception and boundary.
TEST_F(Labels, KindsAimedAtOneCalleeLabelOnlyThatFunction) {
  write("calc/__init__.py", "");
  write("calc/core.py", kCore);
  write("tests/test_aim.py",
        "import pytest\nfrom calc.core import Store, parse, ratio, scale\n\n\n"
        "def test_scale_of_made():\n    scale(Store.make([]), None)\n\n\n"
        "def test_ratio_raises():\n    with pytest.raises(ZeroDivisionError):\n"
        "        ratio(parse('4'), 0)\n");
  index();
  LabelReport r = labels(false);
  expect_tests(r, "calc.core.scale", true, bits({kNoneInput}));
  expect_tests(r, "calc.core.Store.make", true, bits({kEmptyInput}));
  expect_tests(r, "calc.core.ratio", true, bits({kException, kBoundary}));
  expect_tests(r, "calc.core.parse", true, 0);
}

TEST_F(Labels, OddPathsReachPylintToo) {
  const std::vector<std::string> odd = {"pkg/with space.py", "pkg/-dash.py", "pkg/colon:3:x.py",
                                        "pkg/new\nline.py"};
  for (const std::string& p : odd) write(p, "def g():\n    v = 1\n    return 0\n");
  index();
  LabelReport r = labels(true);
  EXPECT_TRUE(r.problems.empty()) << r.problems.front().message;
  EXPECT_EQ(r.files_analysed, odd.size());
  ASSERT_EQ(r.functions.size(), odd.size());
  for (const FunctionLabels& f : r.functions) {
    EXPECT_TRUE(f.analysed) << f.qname;
    EXPECT_NEAR(f.bug_kinds[kUnusedVariable], 0.98f, 1e-4) << f.qname;
  }
}

}  // namespace
