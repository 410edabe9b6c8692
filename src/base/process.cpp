#include "base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

extern char** environ;

namespace yantra {
namespace {

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    // O_CLOEXEC: the child keeps only the dup2'ed copies, so EOF comes when it exits, and
    // programs started on other threads do not hold each other's pipes open.
    if (pipe2(fds, O_CLOEXEC) == 0) read = fds[0], write = fds[1];
  }
  ~Pipe() { close_read(), close_write(); }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return read >= 0; }
  void close_read() { close_fd(read); }
  void close_write() { close_fd(write); }
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(std::exchange(fd, -1));
  }
};

// Reads both pipes to EOF; polling both avoids a deadlock on a full pipe.
void drain(Pipe& out_pipe, Pipe& err_pipe, size_t stderr_kept, ProgramRun& run) {
  char buffer[65536];
  pollfd fds[2] = {{out_pipe.read, POLLIN, 0}, {err_pipe.read, POLLIN, 0}};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;  // EOF or error: poll ignores negative fds
        continue;
      }
      std::string& sink = i == 0 ? run.out : run.err;
      sink.append(buffer, static_cast<size_t>(n));
      if (i == 1 && sink.size() > stderr_kept) sink.erase(0, sink.size() - stderr_kept);
    }
  }
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                               const ProgramOptions& options) {
  assert(!argv.empty());
  ProgramRun run;
  Pipe out_pipe, err_pipe;
  if (!out_pipe.ok() || !err_pipe.ok())
    return Error{std::string("cannot create a pipe for ")
                     .append(argv[0])
                     .append(": ")
                     .append(std::strerror(errno))};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe.write, 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe.write, 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  double start = now_seconds();
  pid_t pid = -1;
  // glibc reports a failed exec or chdir (ENOENT...) as posix_spawn's return value.
  int rc = options.search_path
               ? posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ)
               : posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::string where = options.cwd.empty() ? "" : std::string(" in ").append(options.cwd);
    return Error{std::string("cannot run ")
                     .append(argv[0])
                     .append(where)
                     .append(": ")
                     .append(std::strerror(rc))};
  }
  out_pipe.close_write();
  err_pipe.close_write();
  drain(out_pipe, err_pipe, options.stderr_kept, run);
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  run.seconds = now_seconds() - start;
  auto seconds_of = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6;
  };
  run.cpu_seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  run.peak_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // KiB
  run.signaled = WIFSIGNALED(status);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace yantra
