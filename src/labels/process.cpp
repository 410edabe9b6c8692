// Running an analyser: posix_spawn with an argument vector (paths may hold any byte, so
// never a shell), in the repository's directory, with stdout and stderr captured.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "labels/internal.h"

extern char** environ;

namespace yantra::labels {
namespace {

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    // O_CLOEXEC: the child keeps only the dup2'ed copies, so EOF comes when it exits, and
    // analysers running on other threads do not hold each other's pipes open.
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
void drain(Pipe& out_pipe, Pipe& err_pipe, ProcessOutput& run) {
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
      (i == 0 ? run.out : run.err).append(buffer, static_cast<size_t>(n));
    }
  }
}

}  // namespace

Result<ProcessOutput> run_process(const std::vector<std::string>& argv, const std::string& cwd) {
  ProcessOutput run;
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
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  // glibc reports a failed exec or chdir (ENOENT...) as posix_spawn's return value.
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return Error{std::string("cannot run ")
                     .append(argv[0])
                     .append(" in ")
                     .append(cwd)
                     .append(": ")
                     .append(std::strerror(rc))};
  out_pipe.close_write();
  err_pipe.close_write();
  drain(out_pipe, err_pipe, run);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.signaled = WIFSIGNALED(status);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace yantra::labels
