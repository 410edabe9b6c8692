// CrowdServer: the core behind cpp-httplib. Routing, bearer tokens and tenants, size
// limits, and the one place a handler's exception becomes a 500 instead of a crash.
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "crowd/server_internal.h"

namespace yantra::crowd {
namespace {

using server::Reply;
using server::error_reply;

constexpr size_t kKeepAliveRequests = 1000;
// An idle keep-alive connection holds a worker this long, and stop() waits for it.
constexpr time_t kKeepAliveSeconds = 2;
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr size_t kMaxTenantInMessage = 64;

void send(const Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  res.set_content(reply.body, reply.content_type);
}

std::optional<std::string> query_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

// The reply to a request httplib refused before any handler saw it.
Reply transport_error(const httplib::Request& req, int status, size_t max_body) {
  if (status == 413)
    return error_reply(413, "the request body is over this server's limit of " +
                                std::to_string(max_body) + " bytes");
  if (status == 404 || status == 405)
    return error_reply(status, "unknown path: " + req.method + " " + req.path.substr(0, 200) +
                                   "; see the protocol in crowd.h (POST /v1/t/TENANT/patterns, "
                                   "/deltas, /aggregate; GET /v1/t/TENANT/models/...)");
  return error_reply(status, "the request was refused (HTTP " + std::to_string(status) + ")");
}

}  // namespace

struct CrowdServer::Impl {
  std::unique_ptr<server::Core> core;
  std::unique_ptr<httplib::Server> http;
  std::thread thread;
  int port = 0;
  int listen_fd = -1;
  std::mutex mutex;
  std::condition_variable stopped_wake;
  bool stopped = false;

  using Handler = std::function<Reply(const httplib::Request&, const std::string& tenant)>;
  // Authenticates, checks the path's tenant against the token's, runs `handler`; any
  // exception it throws becomes a 500 with a JSON body.
  httplib::Server::Handler tenant_route(Handler handler);
  void routes();
};

httplib::Server::Handler CrowdServer::Impl::tenant_route(Handler handler) {
  return [this, handler = std::move(handler)](const httplib::Request& req,
                                              httplib::Response& res) {
    try {
      std::string auth = req.get_header_value("Authorization");
      std::optional<std::string> tenant;
      if (auth.starts_with("Bearer ")) tenant = core->tenant_for_token(auth.substr(7));
      if (!tenant)
        return send(error_reply(401, "missing or unknown token: send 'Authorization: Bearer "
                                     "TOKEN' with a token the server's operator gave you"),
                    res);
      const std::string path_tenant = req.matches[1];
      if (path_tenant != *tenant)
        return send(error_reply(403, "this token does not give access to tenant '" +
                                         path_tenant.substr(0, kMaxTenantInMessage) +
                                         "'; use the path of your own tenant"),
                    res);
      send(handler(req, *tenant), res);
    } catch (const std::exception& e) {
      std::cerr << "crowd server: " << req.method << " " << req.path << " failed: " << e.what()
                << "\n";
      send(error_reply(500, std::string("internal error: ") + e.what()), res);
    }
  };
}

void CrowdServer::Impl::routes() {
  server::Core* c = core.get();
  http->Post(R"(/v1/t/([^/]+)/patterns)",
             tenant_route([c](const httplib::Request& req, const std::string& tenant) {
               return c->post_patterns(tenant, req.body);
             }));
  http->Post(R"(/v1/t/([^/]+)/deltas)",
             tenant_route([c](const httplib::Request& req, const std::string& tenant) {
               server::DeltaQuery q{query_param(req, "batch"), query_param(req, "user"),
                                    query_param(req, "base"), query_param(req, "examples")};
               return c->post_delta(tenant, q, req.body);
             }));
  http->Post(R"(/v1/t/([^/]+)/aggregate)",
             tenant_route([c](const httplib::Request&, const std::string& tenant) {
               return c->post_aggregate(tenant);
             }));
  http->Get(R"(/v1/t/([^/]+)/models/latest)",
            tenant_route([c](const httplib::Request&, const std::string& tenant) {
              return c->get_latest(tenant);
            }));
  http->Get(R"(/v1/t/([^/]+)/models/([^/]+)/weights)",
            tenant_route([c](const httplib::Request& req, const std::string& tenant) {
              return c->get_weights(tenant, req.matches[2]);
            }));
  http->Get(R"(/v1/t/([^/]+)/models/([^/]+))",
            tenant_route([c](const httplib::Request& req, const std::string& tenant) {
              return c->get_manifest(tenant, req.matches[2]);
            }));
  http->Get("/v1/key", [c](const httplib::Request&, httplib::Response& res) {
    send(server::json_reply(200, {{"public_key", c->public_key()}}), res);
  });
  http->Get("/v1/health", [](const httplib::Request&, httplib::Response& res) {
    send(server::json_reply(200, {{"ok", true}}), res);
  });
  size_t max_body = std::max(c->options().max_pattern_bytes, c->options().max_delta_bytes);
  http->set_error_handler(httplib::Server::HandlerWithResponse(
      [max_body](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        send(transport_error(req, res.status, max_body), res);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

CrowdServer::CrowdServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CrowdServer::~CrowdServer() { stop(); }

namespace {

Result<std::unique_ptr<server::Core>> make_core(const ServerOptions& o) {
  if (o.tenants.empty())
    return Error{"no tenant configured: give --tenant NAME=TOKEN or --tokens-file FILE"};
  for (const auto& [token, tenant] : o.tenants)
    if (!valid_tenant(tenant))
      return Error{"tenant name '" + tenant.substr(0, kMaxTenantInMessage) +
                   "' is not 1-64 letters, digits, '-' or '_'; rename it"};
  if (o.min_clients == 0) return Error{"--min-clients must be at least 1"};
  std::optional<Weights> initial;
  if (!o.initial_model.empty()) {
    auto w = server::read_initial_model(o.initial_model);
    if (!w) return w.error();
    initial = std::move(*w);
  }
  std::error_code ec;
  auto key_dir = std::filesystem::path(o.key_path).parent_path();
  if (!key_dir.empty()) std::filesystem::create_directories(key_dir, ec);
  auto key = SigningKey::load_or_create(o.key_path);
  if (!key) return Error{key.error().message + "; check --key"};
  auto store = open_store(o.storage);
  if (!store) return store.error();
  auto core = std::make_unique<server::Core>(o, std::move(*store), std::move(*key));
  if (auto ok = core->load(initial); !ok) return ok.error();
  return core;
}

}  // namespace

Result<std::unique_ptr<CrowdServer>> CrowdServer::start(const ServerOptions& options) {
  auto core = make_core(options);
  if (!core) return core.error();
  auto impl = std::make_unique<Impl>();
  Impl& s = *impl;
  s.core = std::move(*core);
  s.http = std::make_unique<httplib::Server>();
  size_t threads = std::max<size_t>(options.threads, 1);
  s.http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.http->set_payload_max_length(std::max(options.max_pattern_bytes, options.max_delta_bytes));
  s.http->set_keep_alive_max_count(kKeepAliveRequests);
  s.http->set_keep_alive_timeout(kKeepAliveSeconds);
  // Without it Nagle's algorithm and the client's delayed ACK add 40 ms to every reply.
  s.http->set_tcp_nodelay(true);
  // httplib listens with a backlog of 5: 50 clients connecting at once would lose SYNs and
  // wait a second to retry. Keep the socket to widen the backlog after binding.
  s.http->set_socket_options([&s](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    s.listen_fd = sock;
  });
  s.routes();
  errno = 0;
  const std::string& host = options.host;
  int bound = options.port == 0 ? s.http->bind_to_any_port(host)
                                : (s.http->bind_to_port(host, options.port) ? options.port : -1);
  if (bound <= 0)
    return Error{"crowd server: cannot listen on " + host + ":" + std::to_string(options.port) +
                 ": " + (errno ? std::strerror(errno) : "address unavailable") +
                 "; choose another --port or --host"};
  s.port = bound;
  if (s.listen_fd >= 0) ::listen(s.listen_fd, SOMAXCONN);
  s.thread = std::thread([http = s.http.get()] { http->listen_after_bind(); });
  auto server = std::unique_ptr<CrowdServer>(new CrowdServer(std::move(impl)));
  // stop() before the accept loop runs would be lost: wait until it runs.
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!s.http->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!s.http->is_running())
    return Error{"crowd server: the listener did not start on " + host + ":" +
                 std::to_string(bound)};
  return server;
}

int CrowdServer::port() const { return impl_->port; }

std::string CrowdServer::public_key() const { return impl_->core->public_key(); }

void CrowdServer::stop() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopped) return;
  impl_->http->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->core->shutdown();
  impl_->stopped = true;
  impl_->stopped_wake.notify_all();
}

void CrowdServer::wait() {
  std::unique_lock lock(impl_->mutex);
  impl_->stopped_wake.wait(lock, [this] { return impl_->stopped; });
}

Result<std::map<std::string, std::string>> read_tokens_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) return Error{text.error().message + "; check --tokens-file"};
  std::map<std::string, std::string> tokens;
  std::istringstream in(*text);
  std::string line;
  for (uint32_t n = 1; std::getline(in, line); ++n) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == line.size())
      return Error::at(path, n, 1, "expected TENANT=TOKEN (the line is not shown: it may hold "
                                   "a token)");
    tokens[line.substr(eq + 1)] = line.substr(0, eq);
  }
  if (tokens.empty()) return Error::in(path, "no TENANT=TOKEN line; add one per tenant");
  return tokens;
}

}  // namespace yantra::crowd
