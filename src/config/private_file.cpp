// Files only their owner may read: the key store and its secret key.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "config/internal.h"

namespace yantra::config::internal {
namespace {

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string errno_text() {
  return std::strerror(errno);
}

Result<void> write_all(int fd, std::string_view bytes, const std::string& path) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::in(path, "write failed: " + errno_text());
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return Error::in(path, "flush failed: " + errno_text());
  return {};
}

}  // namespace

Result<std::optional<std::string>> read_private_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Error::in(path, "cannot open: " + errno_text());
  }
  // Checked on the open descriptor, so the file judged is the file read.
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0)
    problem = "cannot stat: " + errno_text();
  else if (!S_ISREG(st.st_mode))
    problem = "not a regular file";
  else if (st.st_uid != ::geteuid())
    problem = "owned by another user; it must be yours and 0600";
  else if (st.st_mode & 077) {
    problem = "permissions " + octal_mode(st.st_mode) +
              " let other users read or change it, so it is not used; run `chmod 600 " + path +
              "` and try again";
  }
  std::string bytes;
  if (problem.empty()) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        problem = "read failed: " + errno_text();
        break;
      }
      bytes.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (!problem.empty()) return Error::in(path, problem);
  return std::optional<std::string>(std::move(bytes));
}

Result<bool> write_private_file(const std::string& path, std::string_view bytes,
                                bool must_not_exist) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());  // a leftover of a killed run of this pid
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Error::in(path, "cannot create temp file: " + errno_text());
  auto written = write_all(fd, bytes, path);
  if (::fchmod(fd, 0600) != 0 && written)
    written = Error::in(path, "chmod failed: " + errno_text());
  if (::close(fd) != 0 && written) written = Error::in(path, "close failed: " + errno_text());
  if (!written) {
    ::unlink(tmp.c_str());
    return written.error();
  }
  bool placed = true;
  if (must_not_exist) {
    // link(2) fails if `path` exists: a concurrent writer's file is kept, never replaced.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      if (errno != EEXIST) written = Error::in(path, "cannot create: " + errno_text());
      placed = false;
    }
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    written = Error::in(path, "rename failed: " + errno_text());
    ::unlink(tmp.c_str());
  }
  if (!written) return written.error();
  return placed;
}

Result<void> make_dirs(const std::string& dir, unsigned mode) {
  if (dir.empty()) return {};
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  auto parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty() && parent != std::filesystem::path(dir)) {
    auto made = make_dirs(parent.string(), mode);
    if (!made) return made;
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return Error::in(dir, "cannot create directory: " + errno_text());
  return {};
}

}  // namespace yantra::config::internal
