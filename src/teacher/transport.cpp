// The real transport (httplib, http and https) and the real sleeper.
#include <httplib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

std::string format_seconds(double s) {
  return format_fixed(s, s < 1 ? 2 : s < 10 ? 1 : 0) + " s";
}

// httplib's error codes as a person would say them. A read error at the timeout is the
// timeout: httplib reports both as Error::Read.
std::string describe(httplib::Error error, double elapsed_s, double timeout_s) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection failed (nothing listening there, or the host is unreachable)";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out after " + format_seconds(elapsed_s);
    case httplib::Error::Read:
      if (elapsed_s >= 0.9 * timeout_s)
        return "timed out: no reply within the " + format_seconds(timeout_s) + " timeout";
      return "the connection closed before the whole reply arrived";
    case httplib::Error::Write:
      return "the connection closed while the request was being sent";
    case httplib::Error::SSLConnection:
      return "the TLS handshake failed";
    case httplib::Error::SSLLoadingCerts:
      return "the system CA certificates could not be loaded";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate could not be verified";
    default:
      return "HTTP client error: " + httplib::to_string(error);
  }
}

void set_timeouts(httplib::Client& client, double timeout_s) {
  double whole = std::floor(timeout_s);
  auto sec = static_cast<time_t>(whole);
  auto usec = static_cast<time_t>((timeout_s - whole) * 1e6);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
}

// A fresh httplib::Client per request: chat() may be called from several threads, and
// one generation takes seconds, so a kept-alive connection would save little.
class HttplibTransport final : public Transport {
 public:
  Result<HttpResponse> post(const std::string& url, const HttpHeaders& headers,
                            const std::string& body, double timeout_s) override {
    auto parts = split_url(url);
    if (!parts) return parts.error();
    httplib::Client client(parts->origin);
    if (!client.is_valid()) return Error{"cannot open a connection to " + parts->origin};
    set_timeouts(client, timeout_s);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    client.enable_server_certificate_verification(true);
    const char* bundle = "/etc/ssl/certs/ca-certificates.crt";
    if (std::filesystem::exists(bundle)) client.set_ca_cert_path(bundle);
#endif
    httplib::Headers wire_headers;
    for (const auto& [name, value] : headers) wire_headers.emplace(name, value);
    double start = monotonic_seconds();
    auto res = client.Post(parts->path.empty() ? "/" : parts->path, wire_headers, body,
                           "application/json");
    if (!res) return Error{describe(res.error(), monotonic_seconds() - start, timeout_s)};
    HttpResponse out;
    out.status = res->status;
    out.body = std::move(res->body);
    for (const auto& [name, value] : res->headers) out.headers.emplace_back(name, value);
    return out;
  }
};

class RealSleeper final : public Sleeper {
 public:
  void sleep(double seconds) override {
    if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (iequals(key, name)) return value;
  return std::nullopt;
}

Result<UrlParts> split_url(std::string_view url) {
  size_t scheme_end = url.find("://");
  std::string_view scheme = scheme_end == std::string_view::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return Error{"the URL must start with http:// or https://"};
  size_t host_start = scheme_end + 3;
  size_t path_start = url.find('/', host_start);
  std::string_view authority = url.substr(host_start, path_start - host_start);
  if (authority.empty()) return Error{"the URL has no host"};
  if (authority.find('@') != std::string_view::npos)
    return Error{"user:password@ in a URL is not supported; give the key separately"};
  if (authority.find_first_of(" \t?#") != std::string_view::npos)
    return Error{"the URL's host part is malformed"};
  UrlParts parts{std::string(url.substr(0, path_start)), ""};
  if (path_start != std::string_view::npos) parts.path = url.substr(path_start);
  while (!parts.path.empty() && parts.path.back() == '/') parts.path.pop_back();
  return parts;
}

std::string join_endpoint(const UrlParts& base, std::string_view version, std::string_view rest) {
  std::string path = base.path;
  std::string segment(1, '/');  // built by appending: g++ 12 misfires -Wrestrict on "/" + s
  segment += version;
  bool has_version = path.size() >= segment.size() &&
                     path.compare(path.size() - segment.size(), segment.size(), segment) == 0;
  if (!has_version && !version.empty()) path += segment;
  return base.origin + path + std::string(rest);
}

std::shared_ptr<Transport> make_http_transport() {
  return std::make_shared<HttplibTransport>();
}
std::shared_ptr<Sleeper> make_real_sleeper() {
  return std::make_shared<RealSleeper>();
}

}  // namespace yantra::teacher
