// source: finds a repository's Python files the way a developer expects, through a
// file-system interface that tests can fault.
//
//   SourceScan scan = discover_sources(real_file_system(), "/path/to/repo");
//   for (const SourceFile& f : scan.files) index(f.abs_path);   // sorted, stable order
//   for (const Error& e : scan.skipped) warn(e.message);         // "x.py: symlink loop; ..."
//
// Honours .gitignore and .yantraignore at every level (gitignore syntax: globs, `**`,
// `!negation`, trailing `/` for directories, leading `/` anchors). Skips hidden
// directories, virtual environments (a directory holding pyvenv.cfg) and vendored trees
// (site-packages, dist-packages, node_modules, __pycache__). Symlinked files are followed;
// symlinked directories are not descended (so a symlink loop cannot trap the walk).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace yantra {

struct FileStat {
  enum class Type { kFile, kDirectory, kOther };
  Type type = Type::kOther;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

struct DirEntry {
  enum class Type { kFile, kDirectory, kSymlink, kOther };
  std::string name;
  Type type = Type::kOther;
};

// Every file-system read Yantra's indexer makes. Errors name the path and the reason.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Entries of a directory, without "." and "..", in no particular order.
  virtual Result<std::vector<DirEntry>> list_dir(const std::string& path) = 0;
  // stat(2), following symlinks ("symlink loop" for ELOOP, "broken symlink" for ENOENT).
  virtual Result<FileStat> stat(const std::string& path) = 0;
  virtual Result<std::string> read(const std::string& path) = 0;
};

FileSystem& real_file_system();

struct SourceFile {
  std::string rel_path;  // relative to the root, '/' separated
  std::string abs_path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

struct SourceOptions {
  // Larger files are skipped with a message: generated tables, minified bundles.
  uint64_t max_file_bytes = 10ull << 20;
  // Directory names never descended (besides hidden ones and virtual environments).
  std::vector<std::string> vendored_dirs = {"site-packages", "dist-packages", "node_modules",
                                            "__pycache__"};
};

struct SourceScan {
  // Sorted by path components as Python's sorted(rel.split('/')) orders them ("a/b/c.py"
  // < "a/b.py" < "a_b.py"), so node order is stable between runs and matches the
  // reference graph builder's.
  std::vector<SourceFile> files;
  // One message per file or directory that could not be considered, naming it and why.
  std::vector<Error> skipped;
};

SourceScan discover_sources(FileSystem& fs, const std::string& root,
                            const SourceOptions& options = {});

// gitignore semantics for one tree. Patterns from a file in directory `dir_rel` ("" for
// the root) apply to paths under it; later patterns override earlier ones.
class IgnoreRules {
 public:
  void add(std::string_view dir_rel, std::string_view file_text);
  // `rel_path` is relative to the root, '/' separated.
  bool ignored(std::string_view rel_path, bool is_dir) const;
  bool empty() const { return patterns_.empty(); }

 private:
  struct Pattern {
    std::string base;  // directory of the ignore file, "" or "a/b/"
    std::string glob;
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // contains a '/' before the end: matched against the path from base
  };
  std::vector<Pattern> patterns_;
};

}  // namespace yantra
