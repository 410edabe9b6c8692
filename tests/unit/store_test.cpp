// The SQLite store through index_repository() and GraphReader, on real files in a fresh
// temporary directory: stores that are not ours are refused and never overwritten, the
// index lock keeps a second indexer out, incremental runs parse only what changed, and a
// file that cannot be read is reported without losing the rest of the repository.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/base.h"
#include "graph/graph.h"
#include "graph/store.h"
#include "source/source.h"

#include "test_support.h"

namespace yantra::graph {
namespace {

namespace fs = std::filesystem;

using yantra::testing::contains;
using yantra::testing::read_bytes;

// A FileSystem whose read() fails for paths ending in `failing` (empty: none), as a disk
// error or a file removed mid-scan would.
class FailingReads : public FileSystem {
 public:
  Result<std::vector<DirEntry>> list_dir(const std::string& path) override {
    return real_file_system().list_dir(path);
  }
  Result<FileStat> stat(const std::string& path) override { return real_file_system().stat(path); }
  Result<std::string> read(const std::string& path) override {
    if (!failing.empty() && path.ends_with(failing))
      return Error::in(path, "Input/output error (injected)");
    return real_file_system().read(path);
  }
  std::string failing;
};

// A repository (dir/repo) and its store (dir/store) in a directory of their own.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("yantra-store-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "repo");
    write("app/__init__.py", "");
    write("app/core.py",
          "def compute(x):\n    return helper(x)\n\n"
          "def helper(x):\n    return x + 1\n");
    write("app/cli.py", "from app.core import compute\n\ndef main():\n    return compute(1)\n");
    write("app/extra.py", "def unused():\n    pass\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / "repo" / rel).parent_path());
    std::ofstream(dir_ / "repo" / rel, std::ios::binary | std::ios::trunc) << text;
  }
  std::string store() const { return (dir_ / "store").string(); }
  std::string db() const { return (dir_ / "store" / "graph.db").string(); }

  Result<IndexReport> index(FileSystem& fs = real_file_system()) {
    IndexOptions options;
    options.root = (dir_ / "repo").string();
    options.store_dir = store();
    options.progress = false;
    options.threads = 2;
    return index_repository(fs, options);
  }
  // A run that must succeed.
  IndexReport index_ok(FileSystem& fs = real_file_system()) {
    auto r = index(fs);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r).value() : IndexReport{};
  }
  std::vector<std::string> qnames(const std::vector<EdgeInfo>& edges) {
    std::vector<std::string> out;
    for (const EdgeInfo& e : edges) out.push_back(e.node.qname);
    return out;
  }
  // Whether the graph defines `qname` (a call to a missing one makes an external node).
  static bool defines(const GraphReader& g, const std::string& qname) {
    for (const NodeInfo& n : g.find(qname))
      if (n.qname == qname && n.kind != "external") return true;
    return false;
  }
  GraphReader reader() {
    auto r = GraphReader::open(db());
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return std::move(r).take();
  }

  // index_repository must refuse the graph.db already there, say where and what to do,
  // and leave its bytes exactly as they were; so must the read side.
  void expect_refused(const std::vector<std::string>& words) {
    std::string before = read_bytes(db());
    ASSERT_FALSE(before.empty());
    auto r = index();
    ASSERT_FALSE(r.ok()) << "a foreign graph.db was accepted";
    const std::string& message = r.error().message;
    EXPECT_TRUE(contains(message, db())) << message;
    for (const std::string& w : words) EXPECT_TRUE(contains(message, w)) << w << " in " << message;
    EXPECT_EQ(read_bytes(db()), before) << "the refused file was modified";
    EXPECT_FALSE(fs::exists(db() + ".new")) << "a scratch store was left behind";
    auto g = GraphReader::open(db());
    EXPECT_FALSE(g.ok()) << "GraphReader opened a store index_repository refuses";
    EXPECT_EQ(read_bytes(db()), before) << "GraphReader::open modified the refused file";
  }

  // A SQLite database made through the sqlite3 API, as another program would.
  void make_sqlite(const std::string& sql) {
    fs::create_directories(store());
    sqlite3* db_handle = nullptr;
    ASSERT_EQ(sqlite3_open(db().c_str(), &db_handle), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_handle, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db_handle);
  }

  fs::path dir_;
};

// ---- refusal ------------------------------------------------------------------------------

TEST_F(StoreTest, TextFileIsRefusedAndLeftUntouched) {
  fs::create_directories(store());
  std::ofstream(db(), std::ios::binary) << "hello";
  expect_refused({"move it aside"});
}

TEST_F(StoreTest, AnotherProgramsDatabaseIsRefusedAndLeftUntouched) {
  make_sqlite(
      "CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL);"
      "INSERT INTO invoices(total) VALUES (9.5), (12.25);");
  expect_refused({"another program", "--store"});
}

TEST_F(StoreTest, StoreFromANewerSchemaIsRefusedAndLeftUntouched) {
  make_sqlite("PRAGMA application_id=" + std::to_string(kApplicationId) +
              "; PRAGMA user_version=" + std::to_string(kSchemaVersion + 1) +
              "; CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);");
  expect_refused({"newer", "upgrade"});
}

TEST_F(StoreTest, ReadingAMissingStoreSaysToRunIndex) {
  auto g = GraphReader::open(db());
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(contains(g.error().message, db())) << g.error().message;
  EXPECT_TRUE(contains(g.error().message, "yantra index")) << g.error().message;
  EXPECT_FALSE(fs::exists(db())) << "reading must not create a store";
}

// ---- the index lock -----------------------------------------------------------------------

TEST_F(StoreTest, IndexIsRefusedWhileAnotherHoldsTheLock) {
  fs::create_directories(store());
  {
    auto lock = FileLock::try_acquire(store() + "/index.lock", "`yantra index`");
    ASSERT_TRUE(lock.ok()) << lock.error().message;
    auto r = index();
    ASSERT_FALSE(r.ok()) << "indexed while another indexer held the lock";
    EXPECT_TRUE(contains(r.error().message, "another")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "index.lock")) << r.error().message;
    EXPECT_FALSE(fs::exists(db())) << "the locked-out run touched the store";
  }
  IndexReport r = index_ok();  // the lock is released with its holder
  EXPECT_EQ(r.files_parsed, 4u);
}

// ---- incremental runs ---------------------------------------------------------------------

TEST_F(StoreTest, SecondRunIsUpToDate) {
  IndexReport first = index_ok();
  EXPECT_EQ(first.files_seen, 4u);
  EXPECT_EQ(first.files_parsed, 4u);
  EXPECT_FALSE(first.up_to_date);
  IndexReport second = index_ok();
  EXPECT_TRUE(second.up_to_date);
  EXPECT_EQ(second.files_parsed, 0u);
  EXPECT_EQ(second.files_unchanged, 4u);
  EXPECT_TRUE(defines(reader(), "app.core.compute"));
}

TEST_F(StoreTest, ModifiedFileIsTheOnlyOneParsed) {
  index_ok();
  write("app/cli.py",
        "from app.core import compute\n\ndef main():\n    return compute(2)\n\n"
        "def second():\n    return main()\n");
  IndexReport r = index_ok();
  EXPECT_FALSE(r.up_to_date);
  EXPECT_EQ(r.files_parsed, 1u);
  EXPECT_EQ(r.files_unchanged, 3u);
  GraphReader g = reader();
  auto second = g.find_one("app.cli.second");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(qnames(g.callees(second->id)), std::vector<std::string>{"app.cli.main"});
}

TEST_F(StoreTest, RepositoryNodeIsFoundBeforeAnExternalOfTheSameName) {
  // A bare call the indexer cannot resolve leaves an external named "compute".
  write("app/shadow.py", "import os\n\ndef use():\n    return compute(os.path.join('a'))\n");
  index_ok();
  GraphReader g = reader();
  auto use = g.find_one("app.shadow.use");
  ASSERT_TRUE(use.ok()) << use.error().message;
  std::vector<std::string> kinds;
  for (const EdgeInfo& e : g.callees(use->id)) kinds.push_back(e.node.qname + ":" + e.node.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"compute:external", "os.path.join:external"}));

  auto compute = g.find_one("compute");
  ASSERT_TRUE(compute.ok()) << compute.error().message;
  EXPECT_EQ(compute->qname, "app.core.compute");
  EXPECT_EQ(compute->kind, "function");
  // With nothing of the repository by that name, the external is what is found.
  auto join = g.find_one("os.path.join");
  ASSERT_TRUE(join.ok()) << join.error().message;
  EXPECT_EQ(join->kind, "external");
}

TEST_F(StoreTest, UnknownNameSuggestsTheNearestNode) {
  index_ok();
  GraphReader g = reader();
  auto typo = g.find_one("app.core.computte");
  ASSERT_FALSE(typo.ok());
  EXPECT_TRUE(contains(typo.error().message, "did you mean 'app.core.compute'?"))
      << typo.error().message;
  auto bare = g.find_one("helpr");
  ASSERT_FALSE(bare.ok());
  EXPECT_TRUE(contains(bare.error().message, "did you mean 'app.core.helper'?"))
      << bare.error().message;
  auto unknown = g.find_one("zzqqxx.yyvvww");
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(contains(unknown.error().message, "give a qualified name"))
      << unknown.error().message;
  EXPECT_FALSE(contains(unknown.error().message, "did you mean")) << unknown.error().message;
}

TEST_F(StoreTest, DeletedFileIsRemovedWithItsNodes) {
  index_ok();
  ASSERT_TRUE(defines(reader(), "app.extra.unused"));
  fs::remove(dir_ / "repo/app/extra.py");
  IndexReport r = index_ok();
  EXPECT_EQ(r.files_removed, 1u);
  EXPECT_EQ(r.files_parsed, 0u);
  GraphReader g = reader();
  EXPECT_TRUE(g.find("app.extra.unused").empty());
  EXPECT_TRUE(g.find("app.extra").empty());
  EXPECT_EQ(g.stats().files, 3);
}

TEST_F(StoreTest, RenamedFunctionTakesItsEdgesAlong) {
  index_ok();
  write("app/core.py",
        "def compute(x):\n    return assist(x)\n\n"
        "def assist(x):\n    return x + 1\n");
  IndexReport r = index_ok();
  EXPECT_EQ(r.files_parsed, 1u);
  GraphReader g = reader();
  EXPECT_TRUE(g.find("app.core.helper").empty()) << "the old name is still in the graph";
  EXPECT_TRUE(defines(g, "app.core.assist"));
  auto assist = g.find_one("app.core.assist");
  ASSERT_TRUE(assist.ok()) << assist.error().message;
  EXPECT_EQ(qnames(g.callers(assist->id)), std::vector<std::string>{"app.core.compute"});
  auto compute = g.find_one("app.core.compute");
  ASSERT_TRUE(compute.ok()) << compute.error().message;
  EXPECT_EQ(qnames(g.callees(compute->id)), std::vector<std::string>{"app.core.assist"});
  EXPECT_EQ(qnames(g.callers(compute->id)), std::vector<std::string>{"app.cli.main"});
}

// A new mtime with the same bytes (touch, checkout, copy): the file is read and hashed but
// not parsed, and the graph is unchanged.
TEST_F(StoreTest, TouchedButUnchangedFileIsNotReparsed) {
  IndexReport first = index_ok();
  fs::path core = dir_ / "repo/app/core.py";
  fs::last_write_time(core, fs::last_write_time(core) + std::chrono::hours(1));
  IndexReport r = index_ok();
  EXPECT_EQ(r.files_parsed, 0u);
  EXPECT_EQ(r.files_failed, 0u);
  EXPECT_TRUE(r.up_to_date);
  GraphStats stats = reader().stats();
  EXPECT_EQ(static_cast<size_t>(stats.nodes), first.nodes);
  EXPECT_EQ(static_cast<size_t>(stats.edges), first.edges);
}

// ---- faults -------------------------------------------------------------------------------

TEST_F(StoreTest, UnreadableFileIsReportedAndIndexedOnceReadable) {
  FailingReads faulty;
  faulty.failing = "/app/core.py";
  IndexReport r = index_ok(faulty);
  EXPECT_EQ(r.files_failed, 1u);
  EXPECT_EQ(r.files_parsed, 3u);
  bool named = false;
  for (const Error& e : r.problems)
    named |= contains(e.message, "app/core.py") && contains(e.message, "injected");
  EXPECT_TRUE(named) << "no problem names app/core.py and its read error";
  {
    GraphReader g = reader();
    EXPECT_TRUE(defines(g, "app.cli.main")) << "the readable files must be indexed";
    EXPECT_FALSE(defines(g, "app.core.compute"));
  }

  // The fault is gone; nothing about the file changed on disk. It must be read now.
  faulty.failing.clear();
  IndexReport again = index_ok(faulty);
  EXPECT_FALSE(again.up_to_date) << "app/core.py has never been indexed";
  EXPECT_EQ(again.files_parsed, 1u);
  GraphReader g = reader();
  ASSERT_TRUE(defines(g, "app.core.compute")) << "app/core.py is still missing from the graph";
  auto compute = g.find_one("app.core.compute");
  ASSERT_TRUE(compute.ok()) << compute.error().message;
  EXPECT_EQ(qnames(g.callers(compute->id)), std::vector<std::string>{"app.cli.main"});
}

// A file indexed before and unreadable now keeps its previous facts: a passing fault must
// not make a function disappear from the graph.
TEST_F(StoreTest, FileUnreadableOnALaterRunKeepsItsPreviousIndex) {
  index_ok();
  write("app/core.py",
        "def compute(x):\n    return helper(x) * 2\n\ndef helper(x):\n    return x\n");
  write("app/extra.py", "def unused():\n    return 0\n");
  FailingReads faulty;
  faulty.failing = "/app/core.py";
  IndexReport r = index_ok(faulty);
  EXPECT_EQ(r.files_parsed, 1u);  // extra.py
  bool kept = false;
  for (const Error& e : r.problems)
    kept |= contains(e.message, "app/core.py") && contains(e.message, "previous index");
  EXPECT_TRUE(kept) << "the problem should say the previous index was kept";
  GraphReader g = reader();
  EXPECT_TRUE(defines(g, "app.core.compute"));
  EXPECT_TRUE(defines(g, "app.core.helper"));
}

}  // namespace
}  // namespace yantra::graph
