// One warm sandbox: frames to and from its harness, with deadlines. A sandbox that
// dies, hangs or talks nonsense is killed and replaced on the next run; the run it was
// serving is a sandbox_error, never a verdict on the candidate.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "validator/internal.h"

namespace yantra::validator {
namespace {

constexpr double kStartSeconds = 20.0;
// Beyond the run's own wall limit: time for the harness to kill, reap and reply.
constexpr double kReplySlackSeconds = 5.0;
constexpr uint32_t kMaxFrameBytes = 64u << 20;

Result<void> write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{"sandbox: write to harness failed: " + std::string(strerror(errno))};
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// Reads exactly `size` bytes before `deadline` (monotonic seconds).
Result<std::string> read_exact(int fd, size_t size, double deadline) {
  std::string out(size, '\0');
  size_t have = 0;
  while (have < size) {
    double left = deadline - monotonic_seconds();
    if (left <= 0) return Error{"sandbox: the harness did not answer in time"};
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = read(fd, out.data() + have, size - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{"sandbox: the harness exited unexpectedly"};
    have += static_cast<size_t>(n);
  }
  return out;
}

std::string frame(const nlohmann::json& message) {
  std::string body = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  uint32_t n = static_cast<uint32_t>(body.size());
  std::string out = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)};
  return out.append(body);
}

Result<nlohmann::json> read_frame(int fd, double deadline) {
  auto head = read_exact(fd, 4, deadline);
  if (!head) return head.error();
  auto b = reinterpret_cast<const unsigned char*>(head->data());
  uint32_t n = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  if (n > kMaxFrameBytes) return Error{"sandbox: the harness sent an oversized frame"};
  auto body = read_exact(fd, n, deadline);
  if (!body) return body.error();
  auto parsed = nlohmann::json::parse(*body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Error{"sandbox: the harness sent a malformed frame"};
  }
  return parsed;
}

RunResult sandbox_error(std::string reason) {
  RunResult r;
  r.status = Status::sandbox_error;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

Worker::~Worker() { stop(); }

void Worker::stop() {
  if (!started_) return;
  close(process_.to_child);
  close(process_.from_child);
  // bubblewrap was started with --die-with-parent and the harness is PID 1 of its
  // namespace: killing bubblewrap takes the whole sandbox down.
  kill(process_.pid, SIGKILL);
  waitpid(process_.pid, nullptr, 0);
  started_ = false;
}

Result<void> Worker::ensure_started() {
  if (started_) return {};
  auto process = launcher_.launch();
  if (!process) return process.error();
  process_ = *process;
  started_ = true;
  auto ready = read_frame(process_.from_child, monotonic_seconds() + kStartSeconds);
  if (!ready || !ready->value("ready", false)) {
    stop();
    return Error{"sandbox: the harness did not start (" +
                 (ready ? std::string("unexpected greeting") : ready.error().message) +
                 "); check that `bwrap --unshare-all --ro-bind /usr /usr true` works here"};
  }
  return {};
}

RunResult Worker::run(const Job& job) {
  uint64_t id = next_id_++;
  std::string request = frame(request_json(job, id));
  double started = monotonic_seconds();
  // A sandbox found dead before the request reached it is replaced once: that failure
  // belongs to an earlier run, not to this job.
  for (int attempt = 0;; ++attempt) {
    if (auto s = ensure_started(); !s) return sandbox_error(s.error().message);
    if (auto w = write_all(process_.to_child, request); !w) {
      stop();
      if (attempt == 0) continue;
      return sandbox_error(w.error().message);
    }
    break;
  }
  double deadline = monotonic_seconds() + job.limits.wall_seconds + kReplySlackSeconds;
  auto reply = read_frame(process_.from_child, deadline);
  if (!reply) {
    stop();
    return sandbox_error(reply.error().message);
  }
  if (reply->contains("harness_error")) {
    return sandbox_error("sandbox: harness error: " + reply->value("harness_error", ""));
  }
  if (reply->value("id", uint64_t{0}) != id) {
    stop();
    return sandbox_error("sandbox: the harness answered another request");
  }
  RunResult result = classify(job, *reply);
  result.seconds = monotonic_seconds() - started;
  return result;
}

}  // namespace yantra::validator
