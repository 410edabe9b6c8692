// The real `yantra` binary on Debian's CPython standard library (with its test suite,
// package libpython3.11-testsuite): known facts of that code must be in the graph.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "graph/graph.h"

namespace fs = std::filesystem;
using nlohmann::json;
using yantra::graph::GraphReader;

namespace {

const char* kStdlib = "/usr/lib/python3.11";

struct CommandRun {
  int status = -1;
  std::string out;
};

CommandRun run(const std::string& cmd) {
  CommandRun r;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int rc = pclose(p);
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return r;
}

// Copies the .py files of `from` (what the indexer would see) into `to`.
void copy_python_tree(const fs::path& from, const fs::path& to) {
  auto it = fs::recursive_directory_iterator(from);
  for (; it != fs::recursive_directory_iterator(); ++it) {
    std::string name = it->path().filename().string();
    if (it->is_directory() && (name == "site-packages" || name == "dist-packages" ||
                               name == "__pycache__" || name.starts_with("."))) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->path().extension() != ".py") continue;
    fs::path dest = to / it->path().lexically_relative(from);  // links stay inside the copy
    fs::create_directories(dest.parent_path());
    fs::copy_file(it->path(), dest);
  }
}

// One copy of the stdlib and one cold index per test process: a copy because the
// incremental test must change a file, and /usr must stay untouched. Set-up problems fail
// every test (an assertion in SetUpTestSuite would only mark them skipped).
struct Corpus {
  fs::path dir;
  json cold;
  std::string error;
  ~Corpus() { fs::remove_all(dir); }
};

std::string index_cmd(const Corpus& c) {
  return std::string(YANTRA_BINARY) + " index " + (c.dir / "corpus").string() + " --store " +
         (c.dir / "store").string() + " --json";
}

const Corpus& corpus() {
  static Corpus c = [] {
    Corpus c;
    c.dir = fs::temp_directory_path() / ("yantra-e2e-" + std::to_string(getpid()));
    if (!fs::exists(std::string(kStdlib) + "/test/test_json/test_dump.py")) {
      c.error = "install libpython3.11-testsuite (scripts/setup.sh does)";
      return c;
    }
    fs::remove_all(c.dir);
    copy_python_tree(kStdlib, c.dir / "corpus");
    CommandRun r = run(index_cmd(c));
    if (r.status != 0)
      c.error = "yantra index failed: " + r.out;
    else
      c.cold = json::parse(r.out);
    return c;
  }();
  return c;
}

class Stdlib : public testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(corpus().error, "") << "stdlib corpus set-up failed"; }
  static GraphReader reader() {
    return GraphReader::open((corpus().dir / "store/graph.db").string()).take();
  }
  static bool has_edge(const std::vector<yantra::graph::EdgeInfo>& edges, const std::string& q) {
    for (const auto& e : edges)
      if (e.node.qname == q) return true;
    return false;
  }
};

TEST_F(Stdlib, ColdIndexParsesEveryFile) {
  const json& r = corpus().cold;
  EXPECT_EQ(r["files"]["seen"], 1643);
  // CPython's own tests of bad source encodings (bad_coding.py, badsyntax_pep3120.py,
  // lib2to3's false_encoding.py) cannot be decoded: reported, not indexed.
  EXPECT_EQ(r["files"]["failed"], 3);
  EXPECT_EQ(r["files"]["parsed"], 1640);
  std::string problems = r["problems"].dump();
  for (const char* f : {"test/bad_coding.py", "test/badsyntax_pep3120.py", "false_encoding.py"})
    EXPECT_NE(problems.find(f), std::string::npos) << f << " not reported";
  // Deliberate bad-syntax tests: indexed for what parses, not dropped.
  EXPECT_GE(r["files"]["with_syntax_errors"].get<int>(), 2);
  EXPECT_GT(r["nodes"].get<int>(), 70000);
  EXPECT_GT(r["edges_by_kind"]["calls"].get<int>(), 150000);
  EXPECT_GT(r["edges_by_kind"]["tests"].get<int>(), 10000);
  EXPECT_GT(r["edges_by_kind"]["inherits"].get<int>(), 5000);
}

TEST_F(Stdlib, JsonDumpsCallsJsonEncoderEncode) {
  GraphReader g = reader();
  auto dumps = g.find_one("json.dumps").take();
  EXPECT_EQ(dumps.kind, "function");
  EXPECT_EQ(dumps.file, "json/__init__.py");
  EXPECT_TRUE(has_edge(g.callees(dumps.id), "json.encoder.JSONEncoder.encode"));
  // A dotted suffix finds it among the stdlib's many `encode` functions.
  auto encode = g.find_one("JSONEncoder.encode").take();
  EXPECT_EQ(encode.qname, "json.encoder.JSONEncoder.encode");
  EXPECT_TRUE(has_edge(g.callers(encode.id), "json.dumps"));
  // self.iterencode() inside encode resolves through the class.
  EXPECT_TRUE(has_edge(g.callees(encode.id), "json.encoder.JSONEncoder.iterencode"));
}

TEST_F(Stdlib, TestsInTestJsonLinkToJsonFunctions) {
  GraphReader g = reader();
  size_t linked = 0;
  for (const char* name : {"json.dumps", "json.loads", "json.dump", "json.load",
                           "json.decoder.JSONDecoder.decode", "json.encoder.JSONEncoder.encode"}) {
    for (const auto& e : g.tests_of(g.find_one(name).take().id))
      linked += e.node.qname.starts_with("test.test_json.") && e.node.kind == "test";
  }
  EXPECT_GT(linked, 0u) << "no test in test/test_json links to a json function";
}

TEST_F(Stdlib, ImportsAndInheritanceAreResolved) {
  GraphReader g = reader();
  auto json_pkg = g.find_one("json").take();
  EXPECT_TRUE(
      has_edge(g.out_edges(json_pkg.id, yantra::graph::EdgeKind::kImports), "json.decoder"));
  auto decode_error = g.find_one("json.decoder.JSONDecodeError").take();
  EXPECT_TRUE(has_edge(g.out_edges(decode_error.id, yantra::graph::EdgeKind::kInherits),
                       "builtins.ValueError"));
}

TEST_F(Stdlib, ReindexAfterTouchingOneFileReparsesOneFile) {
  CommandRun unchanged = run(index_cmd(corpus()));
  ASSERT_EQ(unchanged.status, 0);
  EXPECT_TRUE(json::parse(unchanged.out)["up_to_date"].get<bool>());

  fs::path target = corpus().dir / "corpus/json/encoder.py";
  { std::ofstream(target, std::ios::app) << "\ndef yantra_added():\n    return dumps_helper()\n"; }
  CommandRun changed = run(index_cmd(corpus()));
  ASSERT_EQ(changed.status, 0);
  json r = json::parse(changed.out);
  EXPECT_EQ(r["files"]["parsed"], 1);
  EXPECT_EQ(r["files"]["unchanged"], 1642);
  GraphReader g = reader();
  EXPECT_EQ(g.find_one("json.encoder.yantra_added").take().kind, "function");
}

}  // namespace
