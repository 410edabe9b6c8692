// An incremental index must leave exactly the graph a cold index of the same tree builds,
// whatever changed: edits, new and deleted files, renamed functions, moved imports. And a
// stored facts blob that cannot be read must mean a re-parse, never a lost file.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "graph/graph.h"
#include "graph_dump.h"

namespace fs = std::filesystem;
using yantra::graph::IndexOptions;
using yantra::graph::IndexReport;

namespace {

class Incremental : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("yantra-incr-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "repo");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / "repo" / rel).parent_path());
    std::ofstream(dir_ / "repo" / rel, std::ios::binary) << text;
  }
  IndexReport index(const std::string& store) {
    IndexOptions o;
    o.root = (dir_ / "repo").string();
    o.store_dir = (dir_ / store).string();
    o.progress = false;
    auto r = yantra::graph::index_repository(yantra::real_file_system(), o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r).value() : IndexReport{};
  }
  std::string dump(const std::string& store) {
    return yantra::testing::dump_graph((dir_ / store / "graph.db").string());
  }
  fs::path dir_;
};

TEST_F(Incremental, EveryKindOfEditLeavesTheColdGraph) {
  write("app/__init__.py", "from .core import run\n");
  write("app/core.py",
        "from app.util import helper\n\n"
        "class Base:\n    def step(self):\n        return helper()\n\n"
        "class Job(Base):\n    def run(self):\n        return self.step()\n\n"
        "def run():\n    return Job().run()\n");
  write("app/util.py", "def helper():\n    return 1\n\ndef unused():\n    return helper()\n");
  write("tests/test_core.py",
        "from app.core import run\n\ndef test_run():\n    assert run() == 1\n");
  index("store");

  // Rename a function its callers use, delete a file, add one, change an import.
  write("app/util.py", "def assist():\n    return 2\n");
  write("app/core.py",
        "from app.util import assist as helper\n\n"
        "class Base:\n    def step(self):\n        return helper()\n\n"
        "class Job(Base):\n    def run(self):\n        return super().step()\n\n"
        "def run():\n    return Job().run()\n");
  fs::remove(dir_ / "repo/tests/test_core.py");
  write("tests/test_util.py",
        "from app.util import assist\n\ndef test_assist():\n    assert assist() == 2\n");
  IndexReport r = index("store");
  EXPECT_EQ(r.files_parsed, 3u);
  EXPECT_EQ(r.files_removed, 1u);
  EXPECT_EQ(r.files_unchanged, 1u);

  index("cold");
  std::string incremental = dump("store"), cold = dump("cold");
  EXPECT_EQ(incremental, cold);
  EXPECT_NE(incremental.find("edge tests tests.test_util.test_assist -> app.util.assist"),
            std::string::npos);
  EXPECT_EQ(incremental.find("app.util.helper"), std::string::npos) << "stale node kept";
  EXPECT_EQ(incremental.find("test_core"), std::string::npos) << "deleted file kept";
}

TEST_F(Incremental, ContentUnchangedIsNotReparsed) {
  write("a.py", "def f():\n    return 1\n");
  index("store");
  // Same bytes, new mtime: read and hashed, not parsed; the graph is up to date.
  write("a.py", "def f():\n    return 1\n");
  fs::last_write_time(dir_ / "repo/a.py",
                      fs::last_write_time(dir_ / "repo/a.py") + std::chrono::hours(1));
  IndexReport r = index("store");
  EXPECT_EQ(r.files_parsed, 0u);
  EXPECT_TRUE(r.up_to_date);
}

TEST_F(Incremental, UnreadableStoredFactsMeanReparseNotLoss) {
  write("a.py", "def f():\n    return g()\n\ndef g():\n    return 1\n");
  write("b.py", "def h():\n    return 2\n");
  index("store");
  std::string before = dump("store");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "store/graph.db").string().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE files SET facts = x'0102' WHERE path = 'a.py'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  write("b.py", "def h():\n    return 3\n");  // any change makes the run resolve again
  IndexReport r = index("store");
  EXPECT_EQ(r.files_parsed, 2u) << "a.py's damaged facts must be re-parsed";
  EXPECT_EQ(dump("store"), before);
}

}  // namespace
