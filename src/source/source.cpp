// discover_sources: the walk over a repository, and the real FileSystem it normally uses.
#include "source/source.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yantra {
namespace {

constexpr std::string_view kPythonSuffix = ".py";
constexpr std::string_view kVenvMarker = "pyvenv.cfg";
// Read in this order, so .yantraignore (Yantra-specific) overrides .gitignore.
constexpr std::string_view kIgnoreFileNames[] = {".gitignore", ".yantraignore"};

// ---- RealFileSystem ----------------------------------------------------------------

std::string errno_reason(int err) {
  if (err == EACCES || err == EPERM) {
    return "permission denied; fix its permissions or add it to .yantraignore";
  }
  return std::strerror(err);
}

FileStat to_file_stat(const struct stat& st) {
  FileStat out;
  if (S_ISREG(st.st_mode)) {
    out.type = FileStat::Type::kFile;
  } else if (S_ISDIR(st.st_mode)) {
    out.type = FileStat::Type::kDirectory;
  }
  out.size = static_cast<uint64_t>(st.st_size);
  out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return out;
}

DirEntry::Type entry_type_from_mode(mode_t mode) {
  if (S_ISREG(mode)) return DirEntry::Type::kFile;
  if (S_ISDIR(mode)) return DirEntry::Type::kDirectory;
  if (S_ISLNK(mode)) return DirEntry::Type::kSymlink;
  return DirEntry::Type::kOther;
}

// Some file systems report DT_UNKNOWN; lstat (not stat) keeps symlinks recognisable.
DirEntry::Type entry_type(const std::string& dir, const dirent& entry) {
  switch (entry.d_type) {
    case DT_REG:
      return DirEntry::Type::kFile;
    case DT_DIR:
      return DirEntry::Type::kDirectory;
    case DT_LNK:
      return DirEntry::Type::kSymlink;
    case DT_UNKNOWN: {
      struct stat st;
      std::string path = dir + '/' + entry.d_name;
      if (::lstat(path.c_str(), &st) != 0) return DirEntry::Type::kOther;
      return entry_type_from_mode(st.st_mode);
    }
    default:
      return DirEntry::Type::kOther;
  }
}

class RealFileSystem final : public FileSystem {
 public:
  Result<std::vector<DirEntry>> list_dir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return Error::in(path, errno_reason(errno));
    std::vector<DirEntry> entries;
    errno = 0;
    while (const dirent* entry = ::readdir(dir)) {
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") {
        entries.push_back(DirEntry{std::string(name), entry_type(path, *entry)});
      }
      errno = 0;
    }
    int read_error = errno;
    ::closedir(dir);
    if (read_error != 0) return Error::in(path, errno_reason(read_error));
    return entries;
  }

  Result<FileStat> stat(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return to_file_stat(st);
    int err = errno;
    if (err == ELOOP) return Error::in(path, "symlink loop; remove or fix the link");
    if (err == ENOENT && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      return Error::in(path, "broken symlink: its target does not exist; remove or fix the link");
    }
    return Error::in(path, errno_reason(err));
  }

  Result<std::string> read(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error::in(path, "cannot open: " + errno_reason(errno));
    // One byte beyond the stat size lets the read that sees end-of-file skip a regrowth;
    // files that grow meanwhile (or report size 0, as in /proc) still read completely.
    std::string text;
    struct stat st;
    size_t expected = ::fstat(fd, &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
    text.resize(expected + 1);
    size_t used = 0;
    while (true) {
      if (used == text.size()) text.resize(std::max<size_t>(4096, text.size() * 2));
      ssize_t n = ::read(fd, text.data() + used, text.size() - used);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return Error::in(path, "cannot read: " + errno_reason(err));
      }
      if (n == 0) break;
      used += static_cast<size_t>(n);
    }
    ::close(fd);
    text.resize(used);
    return text;
  }
};

// ---- the walk ------------------------------------------------------------------------

// FileSystem errors name the absolute path; messages for the user name the path relative
// to the root instead, so the absolute prefix is dropped when present.
std::string_view reason_of(const Error& error, std::string_view abs_path) {
  std::string_view message = error.message;
  if (message.starts_with(abs_path) && message.substr(abs_path.size()).starts_with(": ")) {
    message.remove_prefix(abs_path.size() + 2);
  }
  return message;
}

// Python's sorted(rel.split('/')) order, without building the lists.
bool component_less(std::string_view a, std::string_view b) {
  while (!a.empty() && !b.empty()) {
    size_t a_end = std::min(a.find('/'), a.size());
    size_t b_end = std::min(b.find('/'), b.size());
    int order = a.substr(0, a_end).compare(b.substr(0, b_end));
    if (order != 0) return order < 0;
    a.remove_prefix(std::min(a_end + 1, a.size()));
    b.remove_prefix(std::min(b_end + 1, b.size()));
  }
  return a.empty() && !b.empty();
}

struct DirMarkers {
  bool is_venv = false;
  bool has_ignore_file[std::size(kIgnoreFileNames)] = {};
};

DirMarkers find_markers(const std::vector<DirEntry>& entries) {
  DirMarkers markers;
  for (const DirEntry& entry : entries) {
    if (entry.type != DirEntry::Type::kFile && entry.type != DirEntry::Type::kSymlink) continue;
    if (entry.name == kVenvMarker) markers.is_venv = true;
    for (size_t i = 0; i < std::size(kIgnoreFileNames); ++i) {
      if (entry.name == kIgnoreFileNames[i]) markers.has_ignore_file[i] = true;
    }
  }
  return markers;
}

class SourceWalker {
 public:
  SourceWalker(FileSystem& fs, const std::string& root, const SourceOptions& options)
      : fs_(fs), options_(options), abs_(root) {
    while (!abs_.empty() && abs_.back() == '/') abs_.pop_back();
  }

  SourceScan run() && {
    walk_current_dir(/*is_root=*/true);
    std::sort(scan_.files.begin(), scan_.files.end(), [](const SourceFile& a, const SourceFile& b) {
      return component_less(a.rel_path, b.rel_path);
    });
    return std::move(scan_);
  }

 private:
  // rel_ and abs_ grow and shrink as the walk enters and leaves entries, so no path is
  // rebuilt from scratch in the loop.
  void enter(std::string_view name) {
    if (!rel_.empty()) rel_ += '/';
    rel_ += name;
    abs_ += '/';
    abs_ += name;
  }
  void leave(std::string_view name) {
    rel_.resize(rel_.size() > name.size() ? rel_.size() - name.size() - 1 : 0);
    abs_.resize(abs_.size() - name.size() - 1);
  }

  void skip(std::string_view what, const Error& error) {
    scan_.skipped.push_back(Error::in(rel_.empty() ? abs_ : rel_,
                                      std::string(what) + std::string(reason_of(error, abs_))));
  }

  bool is_vendored(const std::string& name) const {
    const auto& vendored = options_.vendored_dirs;
    return std::find(vendored.begin(), vendored.end(), name) != vendored.end();
  }

  void walk_current_dir(bool is_root) {
    // The root "/" was trimmed to "", which cannot be listed.
    auto listed = fs_.list_dir(abs_.empty() ? std::string("/") : abs_);
    if (!listed) return skip("directory skipped: ", listed.error());
    std::vector<DirEntry>& entries = *listed;
    DirMarkers markers = find_markers(entries);
    // A virtual environment holds installed packages, not the project; the root is
    // scanned anyway because the user named it.
    if (markers.is_venv && !is_root) return;
    load_ignore_files(markers);
    for (const DirEntry& entry : entries) {
      if (entry.type == DirEntry::Type::kFile || entry.type == DirEntry::Type::kSymlink) {
        consider_file(entry.name);
      }
    }
    for (const DirEntry& entry : entries) {
      if (entry.type != DirEntry::Type::kDirectory) continue;
      if (entry.name.front() == '.' || is_vendored(entry.name)) continue;
      enter(entry.name);
      if (!rules_.ignored(rel_, /*is_dir=*/true)) walk_current_dir(/*is_root=*/false);
      leave(entry.name);
    }
  }

  void load_ignore_files(const DirMarkers& markers) {
    for (size_t i = 0; i < std::size(kIgnoreFileNames); ++i) {
      if (!markers.has_ignore_file[i]) continue;  // no failed open per directory
      std::string dir_rel = rel_;
      enter(kIgnoreFileNames[i]);
      auto text = fs_.read(abs_);
      if (text) {
        rules_.add(dir_rel, *text);
      } else {
        skip("ignore file not applied: ", text.error());
      }
      leave(kIgnoreFileNames[i]);
    }
  }

  // Plain files and symlinks: only the name is checked before stat, so non-Python files
  // and symlinks to directories cost nothing.
  void consider_file(const std::string& name) {
    if (!name.ends_with(kPythonSuffix)) return;
    enter(name);
    if (!rules_.ignored(rel_, /*is_dir=*/false)) collect_current_file();
    leave(name);
  }

  void collect_current_file() {
    auto stat = fs_.stat(abs_);  // follows symlinks
    if (!stat) return skip("", stat.error());
    if (stat->type != FileStat::Type::kFile) return;  // e.g. a symlink to a directory
    if (stat->size > options_.max_file_bytes) {
      scan_.skipped.push_back(
          Error::in(rel_, "skipped: " + human_bytes(stat->size) + " is over the " +
                              human_bytes(options_.max_file_bytes) +
                              " limit for one file; raise the limit or add it to .yantraignore"));
      return;
    }
    scan_.files.push_back(SourceFile{rel_, abs_, stat->size, stat->mtime_ns});
  }

  FileSystem& fs_;
  const SourceOptions& options_;
  IgnoreRules rules_;
  SourceScan scan_;
  std::string rel_;  // the current entry relative to the root, "" at the root
  std::string abs_;  // root + '/' + rel_ (just the root, trailing '/' trimmed, at the root)
};

}  // namespace

FileSystem& real_file_system() {
  static RealFileSystem file_system;
  return file_system;
}

SourceScan discover_sources(FileSystem& fs, const std::string& root, const SourceOptions& options) {
  return SourceWalker(fs, root, options).run();
}

}  // namespace yantra
