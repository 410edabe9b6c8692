// source: gitignore semantics (table-driven) and discover_sources on real temporary trees,
// including real symlink loops and faults injected through a wrapping FileSystem.
#include "source/source.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace yantra {
namespace {

// ---- IgnoreRules -----------------------------------------------------------------------

struct IgnoreFile {
  std::string dir_rel;
  std::string text;
};

// Each table lists the paths the rules must ignore and those they must keep; a trailing
// '/' marks a directory ("out/" asks ignored("out", true)).
void expect_cases(const std::vector<IgnoreFile>& files, const std::vector<std::string>& ignored,
                  const std::vector<std::string>& kept) {
  IgnoreRules rules;
  for (const IgnoreFile& file : files) rules.add(file.dir_rel, file.text);
  auto check = [&](std::string path, bool expected) {
    bool is_dir = path.ends_with('/');
    if (is_dir) path.pop_back();
    EXPECT_EQ(rules.ignored(path, is_dir), expected)
        << (expected ? "should ignore " : "should keep ") << path << (is_dir ? " (dir)" : "");
  };
  for (const std::string& path : ignored) check(path, true);
  for (const std::string& path : kept) check(path, false);
}

TEST(IgnoreRulesTest, EmptyRulesIgnoreNothing) {
  IgnoreRules rules;
  EXPECT_TRUE(rules.empty());
  EXPECT_FALSE(rules.ignored("a.py", false));
  rules.add("", "# only a comment\n\n");
  EXPECT_TRUE(rules.empty());
  rules.add("", "x.py\n");
  EXPECT_FALSE(rules.empty());
}

TEST(IgnoreRulesTest, GlobsMatchTheNameAtAnyDepth) {
  expect_cases({{"", "*.pyc\ngen_?.py\n[abc]x.py\nexact.py\n*.sw[op]\nlit\\*.py\n"}},
               {"m.pyc", "deep/er/m.pyc", "gen_1.py", "pkg/bx.py", "exact.py", "a/b/exact.py",
                "f.swp", "a/.f.swo", "lit*.py",
                "a/exact.py/inner.py",  // inside a directory named like the pattern
                ".hidden.pyc"},         // '*' matches a leading dot, as in git
               {"m.py", "gen_12.py", "pkg/dx.py", "exact.pyx", "f.swx", "litx.py", "lit.py"});
}

TEST(IgnoreRulesTest, DoubleStarForms) {
  expect_cases({{"", "**/cache\nlogs/**\ndocs/**/build\n**/t/*.py\n"}},
               {"cache/", "a/b/cache/", "a/b/cache", "logs/x.py", "logs/a/b/x.py",
                "docs/build/",  // zero directories between
                "docs/a/build/", "docs/a/b/c/build/", "t/x.py", "a/b/t/x.py"},
               {"logs/",              // "logs/**" is everything inside, not logs itself
                "other/docs/build/",  // anchored at the root
                "a/b/t/u/x.py"});
}

TEST(IgnoreRulesTest, NegationReincludesAndLaterPatternsWin) {
  expect_cases({{"", "*.py\n!keep.py\n!important_*.py\nimportant_no.py\n"}},
               {"x.py", "important_no.py"}, {"keep.py", "pkg/keep.py", "important_a.py"});
}

TEST(IgnoreRulesTest, NothingInsideAnIgnoredDirectoryCanBeReincluded) {
  expect_cases({{"", "build/\n!build/keep.py\n!keep2.py\n"}},
               {"build/", "build/keep.py", "build/keep2.py"}, {"keep2.py"});
}

TEST(IgnoreRulesTest, TrailingSlashMatchesDirectoriesOnly) {
  expect_cases({{"", "out/\ntmp*/\n"}},
               {"out/", "a/out/", "a/out/x.py",  // through the ignored parent directory
                "tmp1/"},
               {"out", "tmp1", "tmp1.py"});
}

TEST(IgnoreRulesTest, AnchoredVersusUnanchored) {
  expect_cases({{"", "/top.py\nsub/mid.py\nanywhere.py\n/dir/\n"}},
               {"top.py", "sub/mid.py", "anywhere.py", "x/y/anywhere.py", "dir/"},
               {"a/top.py",
                "x/sub/mid.py",  // a middle '/' anchors to the ignore file's directory
                "x/dir/"});
}

TEST(IgnoreRulesTest, NestedIgnoreFileAppliesOnlyBelowItsDirectory) {
  expect_cases(
      {{"", "*.gen.py\n"},
       {"pkg", "local.py\n/only_here.py\n!keep.gen.py\n"},
       {"pkg/sub/", "!local.py\n"}},
      {"pkg/local.py", "pkg/deeper/local.py", "pkg/only_here.py", "a.gen.py", "keep.gen.py"},
      {"local.py", "other/local.py",
       "pkg/sub/local.py",  // re-included by the deeper file
       "pkg/deeper/only_here.py", "pkg/", "pkg/keep.gen.py",
       "pkgx/local.py"});  // "pkg/" is not a prefix of "pkgx/"
}

TEST(IgnoreRulesTest, CommentsEscapesBlankLinesAndSpaces) {
  expect_cases({{"",
                 "# comment.py\n\n   \n\\#hash.py\n\\!bang.py\ntrailing.py   \n"
                 "space\\ \r\ncrlf.py\r\n"}},
               {"#hash.py", "!bang.py", "trailing.py", "space ", "crlf.py"},
               {"comment.py", "# comment.py", "bang.py", "space"});
}

// ---- real temporary trees ------------------------------------------------------------------

class TempTree {
 public:
  TempTree() {
    std::string pattern = testing::TempDir() + "yantra_source_XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    root_ = made;
  }
  ~TempTree() { std::filesystem::remove_all(root_); }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& root() const { return root_; }
  std::string abs(const std::string& rel) const { return root_ + "/" + rel; }

  void write(const std::string& rel, const std::string& text = "x = 1\n") const {
    std::filesystem::create_directories(std::filesystem::path(abs(rel)).parent_path());
    std::ofstream(abs(rel), std::ios::binary) << text;
  }
  void mkdir(const std::string& rel) const { std::filesystem::create_directories(abs(rel)); }
  void symlink(const std::string& target, const std::string& rel) const {
    std::filesystem::create_directories(std::filesystem::path(abs(rel)).parent_path());
    ASSERT_EQ(::symlink(target.c_str(), abs(rel).c_str()), 0) << rel;
  }

 private:
  std::string root_;
};

std::vector<std::string> rel_paths(const SourceScan& scan) {
  std::vector<std::string> out;
  for (const SourceFile& f : scan.files) out.push_back(f.rel_path);
  return out;
}

std::vector<std::string> messages(const SourceScan& scan) {
  std::vector<std::string> out;
  for (const Error& e : scan.skipped) out.push_back(e.message);
  return out;
}

using Paths = std::vector<std::string>;

TEST(DiscoverSourcesTest, CollectsPythonFilesWithStatFields) {
  TempTree tree;
  tree.write("main.py", "print(1)\n");
  tree.write("pkg/mod.py", "");
  tree.write("README.md");
  tree.write("pkg/data.json");
  tree.write("pkg/script.pyc");
  tree.write("pkg/stub.pyi");
  SourceScan scan = discover_sources(real_file_system(), tree.root() + "/");
  EXPECT_EQ(rel_paths(scan), (Paths{"main.py", "pkg/mod.py"}));
  EXPECT_TRUE(scan.skipped.empty()) << ::testing::PrintToString(messages(scan));
  ASSERT_EQ(scan.files.size(), 2u);
  const SourceFile& main_py = scan.files[0];
  EXPECT_EQ(main_py.abs_path, tree.abs("main.py"));  // no doubled '/' from the root's
  EXPECT_EQ(main_py.size, 9u);
  struct stat st;
  ASSERT_EQ(::stat(main_py.abs_path.c_str(), &st), 0);
  EXPECT_EQ(main_py.mtime_ns, int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec);
  EXPECT_GT(main_py.mtime_ns, 0);
}

TEST(DiscoverSourcesTest, HonoursRootAndNestedIgnoreFiles) {
  TempTree tree;
  tree.write(".gitignore", "build/\n*_pb2.py\n# comment\n");
  tree.write(".yantraignore", "/scratch.py\n!keep_pb2.py\n");
  tree.write("build/out.py");
  tree.write("api_pb2.py");
  tree.write("keep_pb2.py");
  tree.write("scratch.py");
  tree.write("pkg/scratch.py");  // "/scratch.py" is anchored to the root
  tree.write("pkg/.gitignore", "local_*.py\n");
  tree.write("pkg/local_a.py");
  tree.write("local_b.py");  // the nested pattern does not reach up
  tree.write("pkg/sub/.yantraignore", "!local_c.py\nskip.py\n");
  tree.write("pkg/sub/local_c.py");
  tree.write("pkg/sub/skip.py");
  tree.write("pkg/skip.py");
  tree.write("app.py");
  SourceScan scan = discover_sources(real_file_system(), tree.root());
  EXPECT_EQ(rel_paths(scan), (Paths{"app.py", "keep_pb2.py", "local_b.py", "pkg/scratch.py",
                                    "pkg/skip.py", "pkg/sub/local_c.py"}));
  EXPECT_TRUE(scan.skipped.empty()) << ::testing::PrintToString(messages(scan));
}

TEST(DiscoverSourcesTest, SkipsHiddenVendoredAndVirtualEnvDirectories) {
  TempTree tree;
  tree.write("app.py");
  tree.write(".git/hooks/x.py");
  tree.write(".tox/y.py");
  tree.write("pkg/__pycache__/z.py");
  tree.write("lib/site-packages/m.py");
  tree.write("lib/dist-packages/d.py");
  tree.write("web/node_modules/n.py");
  tree.write("env/pyvenv.cfg", "home = /usr/bin\n");
  tree.write("env/lib/python3.11/v.py");
  tree.write("pkg/.hidden_ok.py");  // hidden files are kept; only hidden directories go
  tree.write("lib/real.py");
  SourceScan scan = discover_sources(real_file_system(), tree.root());
  EXPECT_EQ(rel_paths(scan), (Paths{"app.py", "lib/real.py", "pkg/.hidden_ok.py"}));
  EXPECT_TRUE(scan.skipped.empty()) << ::testing::PrintToString(messages(scan));
}

TEST(DiscoverSourcesTest, VendoredDirectoriesComeFromOptions) {
  TempTree tree;
  tree.write("third_party/t.py");
  tree.write("node_modules/n.py");
  SourceOptions options;
  options.vendored_dirs = {"third_party"};
  EXPECT_EQ(rel_paths(discover_sources(real_file_system(), tree.root(), options)),
            (Paths{"node_modules/n.py"}));
}

TEST(DiscoverSourcesTest, ReportsSymlinkLoopAndContinues) {
  TempTree tree;
  tree.symlink("b.py", "a.py");
  tree.symlink("a.py", "b.py");
  tree.write("ok.py");
  tree.write("pkg/ok2.py");
  SourceScan scan = discover_sources(real_file_system(), tree.root());
  EXPECT_EQ(rel_paths(scan), (Paths{"ok.py", "pkg/ok2.py"}));
  EXPECT_EQ(messages(scan).size(), 2u);
  std::vector<std::string> sorted = messages(scan);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (Paths{"a.py: symlink loop; remove or fix the link",
                           "b.py: symlink loop; remove or fix the link"}));
}

TEST(DiscoverSourcesTest, ReportsBrokenSymlink) {
  TempTree tree;
  tree.symlink("missing.py", "pkg/gone.py");
  tree.write("pkg/here.py");
  SourceScan scan = discover_sources(real_file_system(), tree.root());
  EXPECT_EQ(rel_paths(scan), (Paths{"pkg/here.py"}));
  ASSERT_EQ(scan.skipped.size(), 1u);
  EXPECT_EQ(scan.skipped[0].message.rfind("pkg/gone.py: broken symlink", 0), 0u)
      << scan.skipped[0].message;
}

TEST(DiscoverSourcesTest, SymlinkedDirectoryIsNotDescended) {
  TempTree tree;
  tree.write("real/mod.py");
  tree.symlink("real", "alias");
  tree.symlink("..", "real/up");          // would loop forever if followed
  tree.symlink("real", "looks_like.py");  // a directory behind a .py name
  SourceScan scan = discover_sources(real_file_system(), tree.root());
  EXPECT_EQ(rel_paths(scan), (Paths{"real/mod.py"}));
  EXPECT_TRUE(scan.skipped.empty()) << ::testing::PrintToString(messages(scan));
}

TEST(DiscoverSourcesTest, SymlinkedPythonFileIsCollected) {
  TempTree tree;
  tree.write("shared/util.py", "def f(): pass\n");
  tree.symlink("../shared/util.py", "pkg/util.py");
  SourceScan scan = discover_sources(real_file_system(), tree.root());
  EXPECT_EQ(rel_paths(scan), (Paths{"pkg/util.py", "shared/util.py"}));
  ASSERT_EQ(scan.files.size(), 2u);
  EXPECT_EQ(scan.files[0].size, 14u);  // the target's size, not the link's
  EXPECT_EQ(scan.files[0].abs_path, tree.abs("pkg/util.py"));
}

TEST(DiscoverSourcesTest, OversizedFileIsSkippedWithAMessage) {
  TempTree tree;
  tree.write("big/gen.py", std::string(3000, '#'));
  tree.write("small.py", std::string(1024, '#'));  // exactly at the limit is kept
  SourceOptions options;
  options.max_file_bytes = 1024;
  SourceScan scan = discover_sources(real_file_system(), tree.root(), options);
  EXPECT_EQ(rel_paths(scan), (Paths{"small.py"}));
  EXPECT_EQ(messages(scan), (Paths{"big/gen.py: skipped: 2.9 KB is over the 1.0 KB limit for one "
                                   "file; raise the limit or add it to .yantraignore"}));
}

TEST(DiscoverSourcesTest, SortsByPathComponents) {
  TempTree tree;
  for (const char* rel : {"a_b.py", "a/b.py", "a/b/c.py", "a.py", "B.py", "a/a.py", "ab/z.py"}) {
    tree.write(rel);
  }
  SourceScan scan = discover_sources(real_file_system(), tree.root());
  // Python: sorted(p.split('/')) -- "b" < "b.py", so a/b/c.py precedes a/b.py, and "a" <
  // "a.py", so everything in a/ precedes a.py; plain string order puts a.py first ('.' < '/').
  EXPECT_EQ(rel_paths(scan),
            (Paths{"B.py", "a/a.py", "a/b/c.py", "a/b.py", "a.py", "a_b.py", "ab/z.py"}));
}

TEST(DiscoverSourcesTest, MissingRootIsReportedNotThrown) {
  SourceScan scan = discover_sources(real_file_system(), "/nonexistent/yantra/root");
  EXPECT_TRUE(scan.files.empty());
  ASSERT_EQ(scan.skipped.size(), 1u);
  EXPECT_EQ(scan.skipped[0].message.rfind("/nonexistent/yantra/root: directory skipped: ", 0), 0u)
      << scan.skipped[0].message;
}

// ---- fault injection ----------------------------------------------------------------

// Real files, except for the paths told to fail (tests run as root, so chmod cannot).
class FaultyFileSystem : public FileSystem {
 public:
  std::string fail_list, fail_stat, fail_read;
  int reads = 0;
  std::vector<std::string> listed;

  Result<std::vector<DirEntry>> list_dir(const std::string& path) override {
    listed.push_back(path);
    if (path == fail_list) return Error::in(path, "permission denied");
    return real_file_system().list_dir(path);
  }
  Result<FileStat> stat(const std::string& path) override {
    if (path == fail_stat) return Error::in(path, "permission denied");
    return real_file_system().stat(path);
  }
  Result<std::string> read(const std::string& path) override {
    ++reads;
    if (path == fail_read) return Error::in(path, "permission denied");
    return real_file_system().read(path);
  }
};

TEST(DiscoverSourcesFaultTest, FailuresAreReportedAndTheWalkContinues) {
  TempTree tree;
  tree.write("locked/hidden.py");
  tree.write("pkg/secret.py");
  tree.write("pkg/open.py");
  tree.write("pkg/.gitignore", "open.py\n");
  tree.write("z/last.py");
  FaultyFileSystem fs;
  fs.fail_list = tree.abs("locked");
  fs.fail_stat = tree.abs("pkg/secret.py");
  fs.fail_read = tree.abs("pkg/.gitignore");
  SourceScan scan = discover_sources(fs, tree.root());
  // The unreadable .gitignore is not applied, so open.py is found.
  EXPECT_EQ(rel_paths(scan), (Paths{"pkg/open.py", "z/last.py"}));
  std::vector<std::string> sorted = messages(scan);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (Paths{"locked: directory skipped: permission denied",
                           "pkg/.gitignore: ignore file not applied: permission denied",
                           "pkg/secret.py: permission denied"}));
}

TEST(DiscoverSourcesFaultTest, ReadsOnlyIgnoreFilesThatExist) {
  TempTree tree;
  tree.write("a/b/c.py");
  tree.write("a/.yantraignore", "");
  FaultyFileSystem fs;
  SourceScan scan = discover_sources(fs, tree.root());
  EXPECT_EQ(rel_paths(scan), (Paths{"a/b/c.py"}));
  EXPECT_EQ(fs.reads, 1);
}

TEST(DiscoverSourcesFaultTest, SkippedDirectoriesAreNeverListed) {
  TempTree tree;
  tree.write(".gitignore", "build/\n");
  tree.write("build/sub/x.py");
  tree.write(".git/objects/y.py");
  tree.write("node_modules/pkg/z.py");
  tree.write("env/pyvenv.cfg");
  tree.write("env/lib/v.py");
  tree.write("src/main.py");
  FaultyFileSystem fs;
  SourceScan scan = discover_sources(fs, tree.root());
  EXPECT_EQ(rel_paths(scan), (Paths{"src/main.py"}));
  std::sort(fs.listed.begin(), fs.listed.end());
  // env is listed to find its pyvenv.cfg, but nothing under it.
  EXPECT_EQ(fs.listed, (Paths{tree.root(), tree.abs("env"), tree.abs("src")}));
}

// ---- RealFileSystem ------------------------------------------------------------------

TEST(RealFileSystemTest, ListDirReportsEntryTypes) {
  TempTree tree;
  tree.write("f.py");
  tree.mkdir("d");
  tree.symlink("f.py", "l.py");
  auto entries = real_file_system().list_dir(tree.root());
  ASSERT_TRUE(entries) << entries.error().message;
  std::vector<std::pair<std::string, DirEntry::Type>> got;
  for (const DirEntry& e : *entries) got.emplace_back(e.name, e.type);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, DirEntry::Type>>{
                     {"d", DirEntry::Type::kDirectory},
                     {"f.py", DirEntry::Type::kFile},
                     {"l.py", DirEntry::Type::kSymlink}}));
}

TEST(RealFileSystemTest, ErrorsNameThePathAndTheReason) {
  TempTree tree;
  tree.symlink("loop_b", "loop_a");
  tree.symlink("loop_a", "loop_b");
  tree.symlink("nowhere", "dangling");
  FileSystem& fs = real_file_system();
  auto loop = fs.stat(tree.abs("loop_a"));
  ASSERT_FALSE(loop);
  EXPECT_EQ(loop.error().message, tree.abs("loop_a") + ": symlink loop; remove or fix the link");
  auto dangling = fs.stat(tree.abs("dangling"));
  ASSERT_FALSE(dangling);
  EXPECT_EQ(dangling.error().message.rfind(tree.abs("dangling") + ": broken symlink", 0), 0u);
  auto missing = fs.read(tree.abs("missing.py"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(tree.abs("missing.py")), std::string::npos);
  auto not_dir = fs.list_dir(tree.abs("missing_dir"));
  ASSERT_FALSE(not_dir);
  EXPECT_NE(not_dir.error().message.find(tree.abs("missing_dir")), std::string::npos);
}

TEST(RealFileSystemTest, ReadReturnsExactBytesAndStatTheSize) {
  TempTree tree;
  std::string text(10000, 'x');
  text += std::string("\0tail", 5);
  tree.write("blob.py", text);
  tree.write("empty.py", "");
  FileSystem& fs = real_file_system();
  auto read = fs.read(tree.abs("blob.py"));
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, text);
  auto empty = fs.read(tree.abs("empty.py"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
  auto st = fs.stat(tree.abs("blob.py"));
  ASSERT_TRUE(st);
  EXPECT_EQ(st->type, FileStat::Type::kFile);
  EXPECT_EQ(st->size, text.size());
  auto dir = fs.stat(tree.root());
  ASSERT_TRUE(dir);
  EXPECT_EQ(dir->type, FileStat::Type::kDirectory);
}

}  // namespace
}  // namespace yantra
