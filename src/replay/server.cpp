// ReplayServer: the Replayer behind httplib, on its own threads.
#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "replay/internal.h"
#include "replay/replay.h"

namespace yantra::replay {
namespace {

// Enough workers that --sleep, which holds a worker for the recorded latency, still
// serves a client that sends a few requests side by side.
constexpr size_t kWorkerThreads = 16;
constexpr size_t kKeepAliveRequests = 100000;
// An idle keep-alive connection holds a worker this long, and stop() waits for it.
constexpr time_t kKeepAliveSeconds = 1;
constexpr auto kStartTimeout = std::chrono::seconds(10);

void send(const Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  res.set_content(reply.body, "application/json");
}

// The reply to a request httplib refused before it reached a handler.
Reply transport_error(const httplib::Request& req, int status, size_t max_body_bytes) {
  if (status == 413)
    return error_reply(
        413, "the request body is larger than " + std::to_string(max_body_bytes) + " bytes",
        "invalid_request_error", "request_too_large");
  if (status == 404 || status == 405)
    return error_reply(status,
                       std::string("unknown path: ").append(req.method) + " " + req.path +
                           "; this server answers POST /v1/chat/completions and "
                           "GET /v1/models",
                       "invalid_request_error", "unknown_url");
  return error_reply(status, "the request was refused (HTTP " + std::to_string(status) + ")",
                     "invalid_request_error", "bad_request");
}

}  // namespace

struct ReplayServer::Impl {
  explicit Impl(Recordings r) : replayer(std::move(r)) {}
  Replayer replayer;
  std::unique_ptr<httplib::Server> http;
  std::thread thread;
  int port = 0;
  int listen_fd = -1;
  ServeOptions options;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;

  void routes();
  // Waits the recorded latency, or less if the server is stopping.
  void sleep_for(double seconds) {
    std::unique_lock lock(mutex);
    wake.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stopping; });
  }
};

void ReplayServer::Impl::routes() {
  http->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    Reply reply = replayer.complete(req.body);
    if (options.sleep && reply.status == 200) sleep_for(reply.latency_s * options.sleep_scale);
    send(reply, res);
  });
  http->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    send(replayer.list_models(), res);
  });
  // Every other error (unknown path or method, body too large) gets an OpenAI-style body;
  // replies that already carry one keep it.
  http->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        send(transport_error(req, res.status, options.max_body_bytes), res);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

ReplayServer::ReplayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReplayServer::ReplayServer(ReplayServer&&) noexcept = default;
ReplayServer& ReplayServer::operator=(ReplayServer&& other) noexcept {
  if (this != &other) {
    stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
ReplayServer::~ReplayServer() {
  stop();
}

Result<ReplayServer> ReplayServer::load(const std::string& runs_path,
                                        const std::string& problems_path) {
  auto recordings = load_recordings(runs_path, problems_path);
  if (!recordings) return recordings.error();
  return ReplayServer(std::make_unique<Impl>(std::move(*recordings)));
}

Result<int> ReplayServer::start(const std::string& host, int port, const ServeOptions& options) {
  if (!impl_) return Error{"replay server: moved from"};
  if (impl_->http)
    return Error{"replay server: already started on port " + std::to_string(impl_->port)};
  Impl& s = *impl_;
  s.options = options;
  s.stopping = false;
  s.http = std::make_unique<httplib::Server>();
  s.http->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  s.http->set_payload_max_length(options.max_body_bytes);
  s.http->set_keep_alive_max_count(kKeepAliveRequests);
  s.http->set_keep_alive_timeout(kKeepAliveSeconds);
  // httplib writes headers and body separately: without this, Nagle's algorithm and the
  // client's delayed ACK add 40 ms to every reply.
  s.http->set_tcp_nodelay(true);
  // httplib listens with a backlog of 5: more clients connecting at once lose their SYN
  // and wait a second to retry. Keep the socket to widen the backlog after binding, and
  // use SO_REUSEADDR alone (httplib's SO_REUSEPORT would let two servers share a port).
  s.listen_fd = -1;
  s.http->set_socket_options([&s](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    s.listen_fd = sock;  // the last one tried is the one bound
  });
  s.routes();
  errno = 0;
  int bound =
      port == 0 ? s.http->bind_to_any_port(host) : (s.http->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    std::string why = errno ? std::strerror(errno) : "address unavailable";
    s.http.reset();
    return Error{"replay server: cannot listen on " + host + ":" + std::to_string(port) + ": " +
                 why + "; choose another --port or --host"};
  }
  s.port = bound;
  if (s.listen_fd >= 0) ::listen(s.listen_fd, SOMAXCONN);
  s.thread = std::thread([http = s.http.get()] { http->listen_after_bind(); });
  // stop() before the accept loop runs would be lost: wait until it does.
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!s.http->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!s.http->is_running()) {
    stop();
    return Error{"replay server: the listener did not start on " + host + ":" +
                 std::to_string(bound)};
  }
  return bound;
}

void ReplayServer::stop() {
  if (!impl_ || !impl_->http) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->http->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->http.reset();
}

Result<void> ReplayServer::add_alias(const std::string& prompt, const std::string& task_id,
                                     const std::string& entry_point) {
  if (!impl_) return Error{"replay server: moved from"};
  if (impl_->http) return Error{"replay server: register aliases before start()"};
  return impl_->replayer.add_alias(prompt, task_id, entry_point);
}

size_t ReplayServer::alias_count() const {
  return impl_->replayer.recordings().aliases.size();
}

int ReplayServer::port() const {
  return impl_ && impl_->http ? impl_->port : 0;
}

std::vector<std::string> ReplayServer::models() const {
  return impl_->replayer.recordings().models;
}

size_t ReplayServer::task_count() const {
  return impl_->replayer.recordings().task_ids.size();
}

size_t ReplayServer::run_count() const {
  return impl_->replayer.recordings().run_count;
}

uint64_t ReplayServer::requests_served() const {
  return impl_->replayer.served();
}

}  // namespace yantra::replay
