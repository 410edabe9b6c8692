// teacher: LLM provider clients (OpenAI-compatible, Anthropic Messages, Google Gemini)
// and the tasks Yantra asks of them (code, tests, soft labels).
//
//   ProviderConfig cfg{.name = "ollama", .kind = ProviderKind::openai_compatible,
//                      .base_url = "http://127.0.0.1:11434/v1"};
//   auto client = make_client(cfg);
//   auto gen = generate_code(*client, "qwen2.5-coder", request_text, "parse_date", 3);
//   if (!gen) return gen.error();   // e.g. "ollama: could not reach http://... after 5
//                                   // attempts: connection refused"
//   for (auto& c : gen->candidates) validate(c.code);
//
//   auto labels = soft_labels(*client, "qwen2.5-coder", description,
//                             {{"test_kinds", {"empty_input", "none", "boundary"}}});
//   labels->probs["test_kinds"]["boundary"]   // 0.8
//
// Retries (429/5xx/connection errors, exponential back-off with jitter, Retry-After) and
// the errors that name the fix (401: the key, 404: the model and base URL) live in the
// client, so every caller gets them. API keys never appear in an Error message: every
// message leaving a Client is masked.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"

namespace yantra::teacher {

// ---- chat ----------------------------------------------------------------------------

struct Message {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

struct ChatRequest {
  std::string model;
  std::vector<Message> messages;
  int max_tokens = 1024;
  double temperature = 0.2;
  int n = 1;  // samples; providers that ignore n are asked again until n are collected
  std::vector<std::string> stop;
  int top_logprobs = 0;  // 0 = don't ask for logprobs
};

struct TokenLogprob {
  std::string token;
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;  // alternatives, most likely first
};

struct Choice {
  std::string text;
  std::string finish_reason;  // as the provider spells it ("stop", "end_turn", "STOP", ...)
  bool truncated = false;     // stopped by the token limit ("length", "max_tokens", ...)
  std::vector<TokenLogprob> logprobs;
};

struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0;
  bool estimated = false;  // the provider sent no usage: ceil(chars / 4)
};

struct ChatReply {
  std::string model;
  std::vector<Choice> choices;
  Usage usage;           // summed over every request the reply took
  double latency_s = 0;  // wall time of chat(), back-off included
  // From the response header X-Recorded-Latency (replay server), summed over requests.
  std::optional<double> recorded_latency_s;
  int attempts = 1;  // HTTP requests sent, retries included
};

enum class ProviderKind { openai_compatible, anthropic, gemini };
std::string_view to_string(ProviderKind kind);
std::optional<ProviderKind> provider_kind_from_string(std::string_view s);

struct ProviderConfig {
  std::string name;  // e.g. "deepseek", "ollama", "openai": named in every error
  ProviderKind kind = ProviderKind::openai_compatible;
  // e.g. http://127.0.0.1:11434/v1, https://api.anthropic.com,
  // https://generativelanguage.googleapis.com
  std::string base_url;
  std::string api_key;  // may be empty for local servers
  double timeout_s = 120;
  int max_retries = 4;
  double backoff_initial_s = 0.5, backoff_max_s = 30;
  // The environment variable the key can come from, named in 401/403 errors;
  // empty: NAME_API_KEY (upper case).
  std::string api_key_env;
};

// ---- transport (injectable for tests) --------------------------------------------------

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  // The first header called `name`, compared case-insensitively.
  std::optional<std::string> header(std::string_view name) const;
};

// One HTTP POST. A connection failure, timeout or reset is an Error value (retried by
// the client); any HTTP status, 500 included, is a response.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<HttpResponse> post(const std::string& url, const HttpHeaders& headers,
                                    const std::string& body, double timeout_s) = 0;
};
// httplib: http and https (system CA store), a path prefix in the URL kept.
std::shared_ptr<Transport> make_http_transport();

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void sleep(double seconds) = 0;
};
std::shared_ptr<Sleeper> make_real_sleeper();

class Client {
 public:
  virtual ~Client() = default;
  virtual Result<ChatReply> chat(const ChatRequest& request) = 0;
  virtual const ProviderConfig& config() const = 0;
};

std::unique_ptr<Client> make_client(ProviderConfig config,
                                    std::shared_ptr<Transport> transport = nullptr,
                                    std::shared_ptr<Sleeper> sleeper = nullptr);

// `text` with every word holding `key`, or 12 characters of it when the key has 16 or
// more, replaced by "[redacted]": for any message that might have seen a key. Keys under
// 4 characters are left alone (not secrets, and masking them would garble words).
std::string mask_secret(std::string text, std::string_view key);

// ---- reply parsing -------------------------------------------------------------------

// The code in an LLM reply: the fenced block (``` or ~~~, any info string) that defines
// `entry_point` (the last such block: models put the final version last), else the first
// Python or untagged block, else the first block; without fences, the bare code with the
// prose before and after it dropped. <think>...</think> reasoning is ignored. An
// unterminated fence (a reply cut by the token limit) runs to the end of the text.
std::string extract_code(std::string_view reply_text, std::string_view entry_point = {});

// Top-level assert statements (continuation lines joined) from test code in a reply:
// asserts inside test functions are taken too (dedented), `candidate(` is renamed to
// `entry_point(` in check()-style answers, and asserts that never mention `entry_point`
// are dropped, as are duplicates.
std::vector<std::string> extract_asserts(std::string_view reply_text, std::string_view entry_point);

// The first balanced {...} in `text` that parses as a JSON object: its offset and length.
std::optional<std::pair<size_t, size_t>> find_json_object(std::string_view text);

// ---- tasks ---------------------------------------------------------------------------

struct TaskOptions {
  double temperature = 0.2;  // generate_code with n > 1 uses at least 0.6 for diversity
  int max_tokens = 1024;
};

struct CodeCandidate {
  std::string code;  // extracted, never empty
  std::string raw;   // the reply as sent
  std::string finish_reason;
  bool truncated = false;
};

struct Generation {
  std::string model;
  std::vector<CodeCandidate> candidates;
  int empty_replies = 0;  // replies with no code in them, dropped
  Usage usage;
  double latency_s = 0;
  std::optional<double> recorded_latency_s;
  int attempts = 0;
};

// The chat messages generate_code sends (system + user): for cost estimates and replay.
std::vector<Message> code_prompt(std::string_view request_text, std::string_view entry_point);

// The request generate_code sends, and the candidates it finds in a reply (kept apart so
// a caller can account for the tokens of a reply that held no code).
ChatRequest code_request(const std::string& model, std::string_view request_text,
                         std::string_view entry_point, int n = 1, const TaskOptions& options = {});
Generation code_candidates(const ChatReply& reply, std::string_view entry_point);

// n candidate implementations of `entry_point` for the request. An Error when the
// provider fails or no reply contained code.
Result<Generation> generate_code(Client& client, const std::string& model,
                                 std::string_view request_text, std::string_view entry_point,
                                 int n = 1, const TaskOptions& options = {});

struct GeneratedTests {
  std::vector<std::string> asserts;  // each one statement, mentions entry_point
  Usage usage;
  std::string raw;
};

// The request generate_tests sends, and the asserts found in a reply (none when it held
// none), kept apart so a caller can account for the tokens of a reply without asserts.
ChatRequest tests_request(const std::string& model, std::string_view request_text,
                          std::string_view candidate_code, std::string_view entry_point,
                          const TaskOptions& options = {});
GeneratedTests tests_from_reply(const ChatReply& reply, std::string_view entry_point);

// Assert statements testing `entry_point` against the request (the candidate is shown so
// the tests use its signature; the prompt asks for behaviour from the request, not from
// the candidate). An Error when the reply holds no usable assert.
Result<GeneratedTests> generate_tests(Client& client, const std::string& model,
                                      std::string_view request_text,
                                      std::string_view candidate_code, std::string_view entry_point,
                                      const TaskOptions& options = {});

struct LabelSet {
  std::string head;                 // e.g. "test_kinds", "imports"
  std::vector<std::string> labels;  // e.g. {"empty_input", "none", "boundary"}
  bool exclusive = false;           // single-label head: probabilities normalised to sum 1
};

struct SoftLabelOptions {
  int n = 1;                 // samples; n > 1 averages them
  double temperature = 0.7;  // sampling is the point when n > 1
  int top_logprobs = 0;      // > 0: ask for logprobs and use them (see soft_labels)
  int max_tokens = 512;
};

struct SoftLabels {
  // head -> label -> probability in [0, 1]; every label of every LabelSet is present.
  std::map<std::string, std::map<std::string, double>> probs;
  int samples = 0;                    // replies that contributed
  int rejected_samples = 0;           // replies that were not a usable JSON object
  int logprob_values = 0;             // values refined from token logprobs
  std::vector<std::string> warnings;  // unknown labels dropped, labels missing, ...
  Usage usage;
};

// The chat messages soft_labels sends.
std::vector<Message> soft_label_prompt(std::string_view description,
                                       const std::vector<LabelSet>& label_sets);

// Asks for {head: {label: probability}} and validates it: unknown heads and labels are
// dropped (a warning), a label missing from a head that is present counts as 0, values
// are clamped to [0, 1] (non-numbers rejected), exclusive heads are normalised. With
// n > 1 samples the result is the mean over the usable samples (for 0/1 answers: the
// answer frequency). When the reply carries top logprobs, a stated value of the form
// 0.d... is replaced by its expectation over the alternatives the model weighed for the
// tenths digit (e.g. "0." then {"8": 0.6, "9": 0.3, "7": 0.1} gives 0.82, with the
// chosen alternative keeping its full stated value); whole numbers keep their value.
// An Error when no sample is usable or a head is missing from every sample.
Result<SoftLabels> soft_labels(Client& client, const std::string& model,
                               std::string_view description,
                               const std::vector<LabelSet>& label_sets,
                               const SoftLabelOptions& options = {});

}  // namespace yantra::teacher
