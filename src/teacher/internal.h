// Internals of the teacher part shared by its translation units (and its unit tests).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "teacher/teacher.h"

namespace yantra::teacher {

// scheme://host[:port] and the path after it ("" or "/v1"), trailing slashes dropped.
struct UrlParts {
  std::string origin;
  std::string path;
};
Result<UrlParts> split_url(std::string_view url);

// One request as it goes on the wire.
struct WireRequest {
  std::string url;
  HttpHeaders headers;
  std::string body;
};

// A 2xx reply, read. `usage` is empty when the provider sent none.
struct ParsedReply {
  std::string model;
  std::vector<Choice> choices;
  std::optional<Usage> usage;
};

// One provider's wire format.
class Dialect {
 public:
  virtual ~Dialect() = default;
  // How many samples one request may ask for (Anthropic has no n: 1).
  virtual int max_samples_per_request() const = 0;
  virtual WireRequest build(const ProviderConfig& config, const UrlParts& base,
                            const ChatRequest& request, int samples) const = 0;
  // Reads a 2xx JSON body; a body of the wrong shape is an Error (without the name
  // prefix, which the caller adds).
  virtual Result<ParsedReply> parse(const nlohmann::json& body) const = 0;
};
std::unique_ptr<Dialect> make_openai_dialect();
std::unique_ptr<Dialect> make_anthropic_dialect();
std::unique_ptr<Dialect> make_gemini_dialect();

// `base` + `suffix`, without doubling a version segment the user already put in the
// base URL (https://api.anthropic.com/v1 + /v1/messages -> .../v1/messages).
std::string join_endpoint(const UrlParts& base, std::string_view version, std::string_view rest);

// ---- retries -------------------------------------------------------------------------

// Retry-After as seconds ("7", "1.5") or an HTTP date; nullopt when unreadable.
std::optional<double> parse_retry_after(std::string_view value,
                                        std::chrono::system_clock::time_point now);
// The wait before retry number `retry` (0-based): initial * 2^retry capped at the
// maximum, times a jitter factor in [0.8, 1.0] taken from `unit_random` in [0, 1).
double backoff_delay(const ProviderConfig& config, int retry, double unit_random);
bool is_retryable_status(int status);

struct Sent {
  HttpResponse response;
  int attempts = 1;
};
// POSTs `request`, retrying what is worth retrying; an Error once it gives up or on a
// status that retrying cannot fix. `model` is only for the 404 message.
Result<Sent> send_with_retries(const ProviderConfig& config, Transport& transport, Sleeper& sleeper,
                               const WireRequest& request, const std::string& model);

// The message a provider put in an error body: error.message (OpenAI, Anthropic,
// Gemini), error as a string (Ollama), message or detail (vLLM); else the body's text.
std::string provider_error_message(std::string_view body);

// ---- small helpers -------------------------------------------------------------------

int64_t estimate_tokens(std::string_view text);  // ceil(chars / 4)
std::string api_key_env(const ProviderConfig& config);
// At most `max` bytes of `text` on one line, "..." when cut.
std::string one_line(std::string_view text, size_t max = 300);
bool is_truncation(std::string_view finish_reason);
bool is_identifier(std::string_view name);  // a Python name: [A-Za-z_][A-Za-z0-9_]*

// JSON accessors that never throw: a missing key or a value of another type is nullopt.
std::optional<std::string> json_string(const nlohmann::json& j, const char* key);
std::optional<double> json_number(const nlohmann::json& j, const char* key);
const nlohmann::json* json_array(const nlohmann::json& j, const char* key);
const nlohmann::json* json_object(const nlohmann::json& j, const char* key);

}  // namespace yantra::teacher
