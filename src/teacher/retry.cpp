// Sending a request until it succeeds, fails for good, or the retries run out.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

double unit_random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::optional<double> parse_seconds(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string_view::npos)
    return std::nullopt;
  try {
    return std::stod(std::string(s));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// IMF-fixdate, the obsolete RFC 850 form and asctime(), as RFC 9110 asks receivers to
// accept. Parsed in UTC (timegm), not local time.
std::optional<std::chrono::system_clock::time_point> parse_http_date(const std::string& s) {
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    struct tm tm = {};
    const char* end = strptime(s.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    time_t t = timegm(&tm);
    if (t == static_cast<time_t>(-1)) continue;
    return std::chrono::system_clock::from_time_t(t);
  }
  return std::nullopt;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// How long the server asked us to wait, if it did: OpenAI's retry-after-ms first (more
// precise), then the standard Retry-After.
std::optional<double> requested_wait(const HttpResponse& response) {
  if (auto ms = response.header("retry-after-ms")) {
    if (auto v = parse_seconds(trim(*ms))) return *v / 1000.0;
  }
  if (auto value = response.header("retry-after"))
    return parse_retry_after(*value, std::chrono::system_clock::now());
  return std::nullopt;
}

std::string with_provider_message(std::string text, std::string_view body) {
  std::string said = provider_error_message(body);
  if (!said.empty()) text += " (the provider said: " + said + ")";
  return text;
}

// The Error for a status that retrying cannot fix, naming what to do about it.
Error status_error(const ProviderConfig& config, const std::string& model, const std::string& url,
                   const HttpResponse& response) {
  const std::string& name = config.name;
  std::string status = "HTTP " + std::to_string(response.status);
  switch (response.status) {
    case 401:
    case 403:
      return Error{with_provider_message(name + ": authentication failed (" + status + " from " +
                                             url + "): check the API key: `yantra keys set " +
                                             name + "` or the " + api_key_env(config) + " variable",
                                         response.body)};
    case 404:
      return Error{with_provider_message(name + ": not found (" + status + " from " + url +
                                             "): check the model name '" + model +
                                             "' and the base URL '" + config.base_url + "'",
                                         response.body)};
    case 400:
      return Error{name + ": the request was rejected (" + status + " from " + url +
                   "): " + provider_error_message(response.body)};
    default:
      return Error{with_provider_message(name + ": " + status + " from " + url, response.body)};
  }
}

}  // namespace

std::optional<double> parse_retry_after(std::string_view value,
                                        std::chrono::system_clock::time_point now) {
  std::string text = trim(value);
  if (auto seconds = parse_seconds(text)) return *seconds;
  auto when = parse_http_date(text);
  if (!when) return std::nullopt;
  double wait = std::chrono::duration<double>(*when - now).count();
  return std::max(0.0, wait);
}

double backoff_delay(const ProviderConfig& config, int retry, double unit_random) {
  double base = config.backoff_initial_s * std::pow(2.0, std::min(retry, 60));
  base = std::min(base, config.backoff_max_s);
  // Jitter keeps clients that failed together from retrying together.
  return base * (0.8 + 0.2 * std::clamp(unit_random, 0.0, 1.0));
}

bool is_retryable_status(int status) {
  // 408 request timeout and Anthropic's 529 "overloaded" are as transient as the rest.
  switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
    case 529:
      return true;
    default:
      return false;
  }
}

Result<Sent> send_with_retries(const ProviderConfig& config, Transport& transport, Sleeper& sleeper,
                               const WireRequest& request, const std::string& model) {
  int max_retries = std::max(0, config.max_retries);
  std::string last_problem;
  for (int attempt = 1;; ++attempt) {
    auto response = transport.post(request.url, request.headers, request.body, config.timeout_s);
    std::optional<double> wait;
    if (response) {
      int status = response->status;
      if (status >= 200 && status < 300) return Sent{std::move(*response), attempt};
      if (!is_retryable_status(status)) return status_error(config, model, request.url, *response);
      last_problem = with_provider_message("HTTP " + std::to_string(status), response->body);
      wait = requested_wait(*response);
    } else {
      last_problem = response.error().message;
    }
    if (attempt > max_retries) {
      return Error{config.name + ": gave up on " + request.url + " after " +
                   std::to_string(attempt) + " attempt" + (attempt == 1 ? "" : "s") + " (" +
                   std::to_string(max_retries) + " retries); last: " + last_problem};
    }
    double delay = wait ? std::min(*wait, config.backoff_max_s)
                        : backoff_delay(config, attempt - 1, unit_random());
    sleeper.sleep(std::max(0.0, delay));
  }
}

}  // namespace yantra::teacher
