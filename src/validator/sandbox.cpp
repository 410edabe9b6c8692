// The bubblewrap command line and the launch of one sandbox process.
//
// Inside: new user, pid, net, ipc, uts (and cgroup where possible) namespaces; /usr
// read-only and nothing else of the host (no $HOME, no repository, no Yantra files);
// a private size-capped tmpfs on /tmp and /dev/shm; a clean environment. The harness
// runs as PID 1 so that every process a run leaves behind re-parents to it and dies
// with kill(-1) after the run.
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "validator/internal.h"

namespace yantra::validator {
namespace {

constexpr const char* kBubblewrap = "/usr/bin/bwrap";
constexpr uint64_t kTmpfsBytes = 256ull << 20;
constexpr uid_t kNobody = 65534;

// The harness is one program in five files: the plain-data codec, the judge and the
// candidate, the pytest form, the processes of a run, and the zygote that makes them (its
// main() comes last).
std::string harness_program() {
  std::string program;
  for (const char* part :
       {"codec.py", "judge.py", "pytest_form.py", "run_processes.py", "harness.py"}) {
    program.append(embedded_file(part)).append("\n\n");
  }
  return program;
}

std::vector<std::string> bubblewrap_argv(const std::string& python) {
  std::vector<std::string> argv = {
      kBubblewrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
      "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session",
      "--as-pid-1", "--hostname", "sandbox", "--ro-bind", "/usr", "/usr"};
  // Debian's merged /usr: the top-level directories are links into it.
  for (const char* link : {"bin", "sbin", "lib", "lib64", "lib32", "libx32"}) {
    std::string relative = std::string("usr/").append(link);
    if (std::filesystem::exists("/" + relative)) {
      argv.push_back("--symlink");
      argv.push_back(relative);
      argv.push_back(std::string("/").append(link));
    }
  }
  argv.insert(argv.end(), {"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
                           "--ro-bind-try", "/etc/localtime", "/etc/localtime",
                           "--proc", "/proc", "--dev", "/dev",
                           "--size", std::to_string(kTmpfsBytes), "--tmpfs", "/tmp",
                           "--size", std::to_string(kTmpfsBytes / 4), "--tmpfs", "/dev/shm",
                           // Nothing a run writes outside /tmp and /dev/shm (both wiped after
                           // each run) can reach the next run.
                           "--remount-ro", "/dev", "--remount-ro", "/",
                           "--chdir", "/tmp", "--clearenv",
                           "--setenv", "PATH", "/usr/bin:/bin",
                           "--setenv", "HOME", "/tmp",
                           "--setenv", "LANG", "C.UTF-8",
                           "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
                           "--setenv", "PYTHONHASHSEED", "0",
                           python, "-I", "-c", harness_program()});
  return argv;
}

class BubblewrapLauncher : public Launcher {
 public:
  explicit BubblewrapLauncher(std::string python) : python_(std::move(python)) {}

  Result<SandboxProcess> launch() override {
    if (auto why = sandbox_unavailable()) return Error{*why};
    return spawn_with_pipes(bubblewrap_argv(python_));
  }

 private:
  std::string python_;
};

}  // namespace

Result<SandboxProcess> spawn_with_pipes(const std::vector<std::string>& argv) {
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return Error{"sandbox: pipe: " + std::string(strerror(errno))};
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    return Error{"sandbox: pipe: " + std::string(strerror(errno))};
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Root on the host stays root in a user namespace it creates: capabilities there, no
  // process limit (the kernel exempts uid 0 from RLIMIT_NPROC), /proc/self/mem readable.
  // So a root Yantra starts the sandbox as nobody.
  bool drop_root = geteuid() == 0;
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) close(fd);
    return Error{"sandbox: fork: " + std::string(strerror(errno))};
  }
  if (pid == 0) {  // only async-signal-safe calls until execv
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    // Nothing the host holds open (without O_CLOEXEC) may leak into the sandbox.
    close_range(3, ~0u, 0);
    if (drop_root && (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
                      setresuid(kNobody, kNobody, kNobody) != 0)) {
      _exit(126);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  return SandboxProcess{pid, to_child[1], from_child[0]};
}

std::optional<std::string> sandbox_unavailable() {
  if (access(kBubblewrap, X_OK) != 0) {
    return std::string("sandbox: ") + kBubblewrap +
           " not found; install Debian's bubblewrap (scripts/setup.sh does)";
  }
  struct stat st {};
  if (stat("/usr/bin/python3", &st) != 0) {
    return std::string("sandbox: /usr/bin/python3 not found; install Debian's python3");
  }
  // Debian kernels can switch unprivileged user namespaces off.
  if (auto flag = read_file("/proc/sys/kernel/unprivileged_userns_clone"); flag && !flag->empty() &&
                                                                           (*flag)[0] == '0') {
    return std::string(
        "sandbox: unprivileged user namespaces are disabled; run "
        "`sysctl kernel.unprivileged_userns_clone=1` as root");
  }
  return std::nullopt;
}

std::unique_ptr<Launcher> bubblewrap_launcher(std::string python) {
  return std::make_unique<BubblewrapLauncher>(std::move(python));
}

}  // namespace yantra::validator
