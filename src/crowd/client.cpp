// The crowd client: the wire protocol of crowd.h over cpp-httplib. Uploads are retried with
// the same body (the same batch id), which the server stores once.
#include <httplib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "crowd/crowd.h"

namespace yantra::crowd {
namespace {

using nlohmann::json;

// httplib's errors as a person would say them.
std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection failed (nothing listening there, or the host is unreachable)";
    case httplib::Error::ConnectionTimeout:
      return "the connection timed out";
    case httplib::Error::Read:
      return "no complete reply (timed out or the connection closed)";
    case httplib::Error::Write:
      return "the connection closed while the request was being sent";
    case httplib::Error::SSLConnection:
      return "the TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate could not be verified";
    default:
      return "HTTP client error: " + httplib::to_string(error);
  }
}

// The server's {"error": "..."} message, else the start of its body, with the token (should
// a server ever echo it) blanked out.
std::string server_message(const std::string& body, const std::string& token) {
  std::string msg = body.substr(0, 300);
  auto j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) msg = j["error"];
  for (size_t at; !token.empty() && (at = msg.find(token)) != std::string::npos;)
    msg.replace(at, token.size(), "[token]");
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return msg;
}

void set_timeouts(httplib::Client& client, double timeout_s) {
  auto sec = static_cast<time_t>(timeout_s);
  auto usec = static_cast<time_t>((timeout_s - std::floor(timeout_s)) * 1e6);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
}

bool retryable(int status) { return status == 0 || status == 429 || status >= 500; }

Result<SignedManifest> parse_manifest(const std::string& body, const std::string& what) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return Error{what + ": the reply is not JSON"};
  auto m = SignedManifest::from_json(j);
  if (!m) return Error{what + ": " + m.error().message};
  return m;
}

Result<json> parse_object(const std::string& body, const std::string& what) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Error{what + ": the reply is not a JSON object"};
  return j;
}

}  // namespace

CrowdClient::CrowdClient(std::string server_url, std::string tenant, std::string token,
                         double timeout_s, int attempts)
    : server_(std::move(server_url)),
      tenant_(std::move(tenant)),
      token_(std::move(token)),
      timeout_s_(timeout_s),
      attempts_(std::max(1, attempts)) {
  while (!server_.empty() && server_.back() == '/') server_.pop_back();
  // The server prints its address as .../v1; the paths below carry the /v1 themselves.
  if (server_.ends_with("/v1")) server_.resize(server_.size() - 3);
}

std::string CrowdClient::tenant_path(std::string_view rest) const {
  return std::string("/v1/t/").append(tenant_).append(rest);
}

Result<CrowdClient::Response> CrowdClient::send(const std::string& method,
                                                const std::string& path, const std::string& body,
                                                const std::string& content_type) {
  if (!server_.starts_with("http://") && !server_.starts_with("https://"))
    return Error{"crowd server '" + server_ + "': the URL must start with http:// or https://"};
  size_t host_end = server_.find('/', server_.find("://") + 3);
  std::string origin = server_.substr(0, host_end);
  std::string prefix = host_end == std::string::npos ? "" : server_.substr(host_end);
  httplib::Client client(origin);
  if (!client.is_valid()) return Error{"crowd server " + server_ + ": cannot open a connection"};
  // httplib writes headers and body apart: without this, Nagle's algorithm holds the body
  // for the delayed ACK and every upload waits ~40 ms.
  client.set_tcp_nodelay(true);
  set_timeouts(client, timeout_s_);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  client.enable_server_certificate_verification(true);
  const char* bundle = "/etc/ssl/certs/ca-certificates.crt";
  if (std::filesystem::exists(bundle)) client.set_ca_cert_path(bundle);
#endif
  httplib::Headers headers{{"Authorization", "Bearer " + token_},
                           {"User-Agent", "yantra-crowd/" + std::to_string(kProtocolVersion)}};
  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (method == "GET")
    res = client.Get(prefix + path, headers);
  else
    res = client.Post(prefix + path, headers, body, content_type);
  if (!res)
    return Error{"crowd server " + server_ + ": " + method + " " + path + ": " +
                 describe(res.error())};
  return Response{res->status, std::move(res->body)};
}

Result<CrowdClient::Response> CrowdClient::call(const std::string& method,
                                                const std::string& path, const std::string& body,
                                                const std::string& content_type) {
  Result<Response> r = Error{""};
  for (int attempt = 0; attempt < attempts_; ++attempt) {
    if (attempt > 0)  // 0.25 s, 0.5 s, 1 s...: a restarting server gets a moment
      std::this_thread::sleep_for(std::chrono::milliseconds(250 << std::min(attempt - 1, 4)));
    r = send(method, path, body, content_type);
    if (r && !retryable(r->status)) break;
  }
  return r;
}

Result<std::string> CrowdClient::expect_ok(const std::string& method, const std::string& path,
                                           const std::string& body,
                                           const std::string& content_type) {
  auto r = call(method, path, body, content_type);
  if (!r) return r.error();
  if (r->status >= 200 && r->status < 300) return std::move(r->body);
  return status_error(method, path, *r);
}

Error CrowdClient::status_error(const std::string& method, const std::string& path,
                                const Response& r) const {
  std::string msg = "crowd server " + server_ + ": " + method + " " + path + ": " +
                    std::to_string(r.status) + ": " + server_message(r.body, token_);
  if (r.status == 401)
    msg.append(" (check the tenant's token: $YANTRA_CROWD_TOKEN or `yantra crowd join`)");
  return Error{msg};
}

Result<json> CrowdClient::push_patterns(const json& batch) {
  if (auto ok = validate_pattern_batch(batch); !ok) return Error{"not sent: " + ok.error().message};
  std::string path = tenant_path("/patterns");
  auto body = expect_ok("POST", path, batch.dump());
  if (!body) return body.error();
  return parse_object(*body, "POST " + path);
}

Result<json> CrowdClient::push_delta(const std::string& batch_id, const std::string& user,
                                     const std::string& base_version, uint64_t examples,
                                     const Weights& delta) {
  if (auto v = Version::parse(base_version); !v) return v.error();
  if (examples == 0) return Error{"a delta needs at least one training example behind it"};
  std::string path = tenant_path("/deltas") + "?batch=" + batch_id + "&user=" + user +
                     "&base=" + base_version + "&examples=" + std::to_string(examples);
  auto body = expect_ok("POST", path, encode(delta), "application/octet-stream");
  if (!body) return body.error();
  return parse_object(*body, "POST " + tenant_path("/deltas"));
}

Result<std::optional<SignedManifest>> CrowdClient::latest() {
  std::string path = tenant_path("/models/latest");
  auto r = call("GET", path, "", "");
  if (r && r->status == 404) return std::optional<SignedManifest>();  // nothing published
  if (!r) return r.error();
  if (r->status != 200) return status_error("GET", path, *r);
  auto m = parse_manifest(r->body, "GET " + path);
  if (!m) return m.error();
  return std::optional<SignedManifest>(std::move(*m));
}

Result<SignedManifest> CrowdClient::manifest(const std::string& version) {
  if (auto v = Version::parse(version); !v) return v.error();
  std::string path = tenant_path("/models/" + version);
  auto body = expect_ok("GET", path);
  if (!body) return body.error();
  return parse_manifest(*body, "GET " + path);
}

Result<std::string> CrowdClient::weights(const std::string& version) {
  if (auto v = Version::parse(version); !v) return v.error();
  return expect_ok("GET", tenant_path("/models/" + version + "/weights"));
}

Result<std::string> CrowdClient::public_key() {
  auto body = expect_ok("GET", "/v1/key");
  if (!body) return body.error();
  auto j = parse_object(*body, "GET /v1/key");
  if (!j) return j.error();
  if (!(*j)["public_key"].is_string() || (*j)["public_key"].get<std::string>().size() != 64)
    return Error{"crowd server " + server_ + ": GET /v1/key: no 64-hex-digit public_key in the reply"};
  return (*j)["public_key"].get<std::string>();
}

Result<SignedManifest> CrowdClient::aggregate() {
  std::string path = tenant_path("/aggregate");
  auto body = expect_ok("POST", path, "{}");
  if (!body) return body.error();
  return parse_manifest(*body, "POST " + path);
}

}  // namespace yantra::crowd
