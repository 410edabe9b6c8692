// bench: the call-recall comparison and the index benchmark on a small real tree, with the
// real yantra binary, the real gold_graph.py and the real ctags.
#include "bench/bench.h"
#include "test_support.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace yantra::bench {
namespace {

namespace fs = std::filesystem;

const std::string kPeers = yantra::testing::shared_path("shared/peers");

// Calls across modules, through an import alias, via self, and to a class.
const std::vector<std::pair<std::string, std::string>> kTree = {
    {"util.py", R"(def clamp(x, lo, hi):
    return max(lo, min(x, hi))


def scale(x, k):
    return clamp(x * k, 0, 100)
)"},
    {"shapes.py", R"(from util import scale


class Shape:
    def __init__(self, size):
        self.size = size

    def area(self):
        return self.size * self.size

    def grow(self, k):
        self.size = scale(self.size, k)
        return self.area()
)"},
    {"app.py", R"(import util as u
from shapes import Shape


def main():
    s = Shape(3)
    s.grow(2)
    return u.clamp(s.size, 0, 10)


if __name__ == "__main__":
    main()
)"},
};

// A fresh directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = fs::temp_directory_path().string() + "/yantra-bench-test-XXXXXX";
    path_ = mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

uint64_t write_tree(const std::string& root) {
  uint64_t bytes = 0;
  for (const auto& [name, text] : kTree) {
    std::ofstream(root + "/" + name) << text;
    bytes += text.size();
  }
  fs::create_directories(root + "/__pycache__");  // skipped by the copy
  std::ofstream(root + "/__pycache__/stale.py") << "def stale():\n    pass\n";
  return bytes;
}

int run(const std::string& command) {
  return std::system((command + " >/dev/null").c_str());
}

// Runs the real peer and the real index on the tree; returns (edges.jsonl, graph.db).
std::pair<std::string, std::string> gold_and_index(const std::string& dir) {
  std::string tree = dir + "/tree";
  fs::create_directories(tree);
  write_tree(tree);
  EXPECT_EQ(run("/usr/bin/python3 " + kPeers + "/gold_graph.py " + tree + " " + dir + "/gold"), 0);
  EXPECT_EQ(run(std::string(YANTRA_BINARY) + " index " + tree + " --store " + dir + "/store"), 0);
  return {dir + "/gold.edges.jsonl", dir + "/store/graph.db"};
}

TEST(BenchGoldCompareTest, FindsEveryResolvedCallOfASmallTreeAndMissesADeletedOne) {
  ASSERT_TRUE(fs::exists(YANTRA_BINARY)) << "build the yantra binary first";
  TempDir dir;
  auto [gold, db] = gold_and_index(dir.path());
  CallRecall before = compare_calls_with_gold(gold, db).take();
  // util.scale->clamp, Shape.grow->scale, Shape.grow->area, main->Shape, main->clamp,
  // app->main.
  EXPECT_EQ(before.gold, 6u);
  EXPECT_EQ(before.found, before.gold);
  for (const std::string& m : before.missing_sample) ADD_FAILURE() << "missing: " << m;

  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "DELETE FROM edges WHERE kind = 'calls' AND "
                         "src = (SELECT id FROM nodes WHERE qname = 'util.scale') AND "
                         "dst = (SELECT id FROM nodes WHERE qname = 'util.clamp')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_changes(raw), 1);
  sqlite3_close(raw);

  CallRecall after = compare_calls_with_gold(gold, db).take();
  EXPECT_EQ(after.gold, before.gold);
  EXPECT_EQ(after.found, before.found - 1);
  EXPECT_EQ(after.missing_sample, std::vector<std::string>{"util.scale -> util.clamp"});
}

TEST(BenchGoldCompareTest, UnreadableInputsAreErrorsNamingThem) {
  TempDir dir;
  auto missing_gold = compare_calls_with_gold(dir.path() + "/none.edges.jsonl", "x.db");
  ASSERT_FALSE(missing_gold);
  EXPECT_NE(missing_gold.error().message.find("none.edges.jsonl"), std::string::npos);

  std::ofstream(dir.path() + "/bad.jsonl") << "{\"type\": \"calls\"}\nnot json\n";
  auto bad_line = compare_calls_with_gold(dir.path() + "/bad.jsonl", "x.db");
  ASSERT_FALSE(bad_line);
  EXPECT_NE(bad_line.error().message.find("bad.jsonl:2:"), std::string::npos);

  std::ofstream(dir.path() + "/empty.jsonl") << "";
  auto missing_db = compare_calls_with_gold(dir.path() + "/empty.jsonl", dir.path() + "/no.db");
  ASSERT_FALSE(missing_db);
  EXPECT_NE(missing_db.error().message.find("no.db"), std::string::npos);
}

// Points TMPDIR, where the bench makes its work directory, at `dir` for one scope.
class ScopedTmpdir {
 public:
  explicit ScopedTmpdir(const std::string& dir) {
    const char* old = getenv("TMPDIR");
    had_old_ = old != nullptr;
    old_ = old ? old : "";
    setenv("TMPDIR", dir.c_str(), 1);
  }
  ~ScopedTmpdir() {
    if (had_old_)
      setenv("TMPDIR", old_.c_str(), 1);
    else
      unsetenv("TMPDIR");
  }

 private:
  bool had_old_;
  std::string old_;
};

IndexBenchOptions options_for(const std::string& corpus) {
  IndexBenchOptions o;
  o.corpus = corpus;
  o.yantra_binary = YANTRA_BINARY;
  o.peers_dir = kPeers;
  return o;
}

TEST(BenchIndexTest, MeasuresEveryStepOnASmallCorpus) {
  ASSERT_TRUE(fs::exists(YANTRA_BINARY)) << "build the yantra binary first";
  TempDir dir, tmp;
  uint64_t bytes = write_tree(dir.path());
  IndexBenchResult r = [&] {
    ScopedTmpdir scoped(tmp.path());
    return run_index_bench(options_for(dir.path())).take();
  }();
  EXPECT_TRUE(fs::is_empty(tmp.path())) << "the temporary work directory was left behind";
  EXPECT_EQ(r.files, kTree.size());
  EXPECT_EQ(r.bytes, bytes);
  for (const Measured* m : {&r.cold, &r.incremental, &r.gold, &r.ctags}) {
    EXPECT_TRUE(m->ran) << m->name << ": " << m->not_run;
    EXPECT_GT(m->seconds, 0) << m->name;
    EXPECT_GT(m->peak_rss_bytes, 100u * 1024) << m->name;
  }
  // Python starting up alone costs CPU: the reference's CPU time is measured, not left 0.
  EXPECT_GT(r.gold.cpu_seconds, 0.005);
  EXPECT_GT(r.cold.cpu_seconds, 0);
  EXPECT_EQ(r.incremental_files_parsed, 1u);
  EXPECT_EQ(r.gold_calls, 6u);
  EXPECT_EQ(r.gold_calls_found, 6u);

  EXPECT_EQ(r.json_line.find('\n'), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(r.json_line);
  for (const char* key : {"bench",
                          "corpus",
                          "files",
                          "bytes",
                          "cold_s",
                          "cold_files_per_s",
                          "cold_mb_per_s",
                          "cold_peak_rss_mb",
                          "incremental_s",
                          "incremental_files_parsed",
                          "gold_s",
                          "ctags_s",
                          "speedup_vs_gold",
                          "speedup_vs_ctags",
                          "gold_calls",
                          "gold_calls_found",
                          "gold_call_recall",
                          "cold_cpu_s",
                          "cold_floor_s",
                          "incremental_cpu_s",
                          "gold_cpu_s",
                          "ctags_cpu_s",
                          "speedup_ceiling_vs_gold"})
    EXPECT_TRUE(j.contains(key) && !j[key].is_null()) << key;
  // The floor is the cold index's CPU time spread over every core.
  EXPECT_NEAR(j["cold_floor_s"].get<double>(), r.cold.cpu_seconds / j["cores"].get<double>(),
              0.001);
  EXPECT_NEAR(j["speedup_ceiling_vs_gold"].get<double>(),
              r.gold.seconds / (r.cold.cpu_seconds / j["cores"].get<double>()), 0.01);
  EXPECT_EQ(j["bench"], "index");
  EXPECT_EQ(j["corpus"], dir.path());
  EXPECT_EQ(j["incremental_files_parsed"], 1);
  EXPECT_DOUBLE_EQ(j["gold_call_recall"].get<double>(), 1.0);

  for (const char* row :
       {"yantra index (cold)", "yantra index (incremental, 1 file changed)", "gold_graph.py",
        "ctags -R", "vs yantra cold", "CPU s", "cores busy on average", "faster than gold_graph.py",
        "call edges of the reference graph found: 6 / 6 (100.0 %)"})
    EXPECT_NE(r.table.find(row), std::string::npos) << row << " not in\n" << r.table;
  // The corpus itself is never edited: the incremental step touches the copy.
  EXPECT_EQ(fs::file_size(dir.path() + "/" + kTree[1].first), kTree[1].second.size());
}

TEST(BenchIndexTest, MissingPeersAreReportedNotFatal) {
  ASSERT_TRUE(fs::exists(YANTRA_BINARY)) << "build the yantra binary first";
  TempDir dir, work;
  write_tree(dir.path());
  IndexBenchOptions o = options_for(dir.path());
  o.peers_dir = dir.path() + "/no-peers";
  o.ctags = dir.path() + "/no-ctags";
  o.work_dir = work.path() + "/kept";
  IndexBenchResult r = run_index_bench(o).take();
  EXPECT_FALSE(r.gold.ran);
  EXPECT_NE(r.gold.not_run.find("gold_graph.py"), std::string::npos) << r.gold.not_run;
  EXPECT_FALSE(r.ctags.ran);
  EXPECT_NE(r.ctags.not_run.find("no-ctags"), std::string::npos) << r.ctags.not_run;
  nlohmann::json j = nlohmann::json::parse(r.json_line);
  EXPECT_TRUE(j["gold_s"].is_null());
  EXPECT_TRUE(j["ctags_s"].is_null());
  EXPECT_TRUE(j["gold_call_recall"].is_null());
  EXPECT_TRUE(j["gold_cpu_s"].is_null());
  EXPECT_TRUE(j["speedup_ceiling_vs_gold"].is_null());
  EXPECT_NE(r.table.find("not run"), std::string::npos);
  EXPECT_EQ(r.table.find("faster than gold_graph.py"), std::string::npos);
  // A work directory the user named is kept, with the copy and the store.
  EXPECT_TRUE(fs::exists(o.work_dir + "/store/graph.db"));
  EXPECT_TRUE(fs::exists(o.work_dir + "/corpus/util.py"));
  EXPECT_FALSE(fs::exists(o.work_dir + "/corpus/__pycache__"));
}

// Without --peers, gold_graph.py is looked for as shared/peers beside an ancestor of the
// yantra binary: here a layout T/repo/build/yantra + T/shared/peers/gold_graph.py, whose
// script leaves a marker and then runs the real one.
TEST(BenchIndexTest, FindsPeersBesideAnAncestorOfTheBinary) {
  ASSERT_TRUE(fs::exists(YANTRA_BINARY)) << "build the yantra binary first";
  TempDir corpus, layout;
  write_tree(corpus.path());
  fs::create_directories(layout.path() + "/repo/build");
  fs::create_directories(layout.path() + "/shared/peers");
  std::string binary = layout.path() + "/repo/build/yantra";
  std::ofstream(binary) << "#!/bin/sh\nexec " YANTRA_BINARY " \"$@\"\n";
  fs::permissions(binary, fs::perms::owner_all);
  std::ofstream(layout.path() + "/shared/peers/gold_graph.py")
      << "import pathlib, runpy, sys\npathlib.Path(sys.argv[2] + '.marker').touch()\n"
      << "sys.argv[0] = '" << kPeers << "/gold_graph.py'\nrunpy.run_path(sys.argv[0], "
      << "run_name='__main__')\n";
  IndexBenchOptions o = options_for(corpus.path());
  o.peers_dir.clear();
  o.yantra_binary = binary;
  o.run_ctags = false;
  o.work_dir = layout.path() + "/work";
  const char* env = getenv("YANTRA_PEERS");
  std::string saved = env ? env : "";
  unsetenv("YANTRA_PEERS");
  auto r = run_index_bench(o);
  if (env) setenv("YANTRA_PEERS", saved.c_str(), 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->gold.ran) << r->gold.not_run;
  EXPECT_TRUE(fs::exists(o.work_dir + "/gold.marker"));
  EXPECT_EQ(r->gold_calls_found, 6u);
  EXPECT_FALSE(r->ctags.ran);
}

TEST(BenchIndexTest, MissingCorpusIsAnErrorNamingIt) {
  auto r = run_index_bench(options_for("/nonexistent/yantra-corpus"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent/yantra-corpus"), std::string::npos);
}

// The temporary work directory goes away after a failed index run too, whose error names
// the command and shows its stderr.
TEST(BenchIndexTest, FailedIndexRunIsAnErrorAndLeavesNoTempDir) {
  TempDir dir, tmp;
  write_tree(dir.path());
  std::string failing = dir.path() + "/fail.sh";
  std::ofstream(failing) << "#!/bin/sh\necho 'first line' >&2\necho 'store is locked' >&2\n"
                            "exit 3\n";
  fs::permissions(failing, fs::perms::owner_all);
  IndexBenchOptions o = options_for(dir.path());
  o.yantra_binary = failing;
  auto r = [&] {
    ScopedTmpdir scoped(tmp.path());
    return run_index_bench(o);
  }();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("status 3"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("store is locked"), std::string::npos) << r.error().message;
  EXPECT_TRUE(fs::is_empty(tmp.path())) << "the work directory was left behind";
}

}  // namespace
}  // namespace yantra::bench
