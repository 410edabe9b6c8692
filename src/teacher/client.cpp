// The one Client: a provider's dialect over a transport, with retries, sample collection
// and usage accounting. Every Error leaving it has the API key masked out.
#include <algorithm>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

using nlohmann::json;

constexpr int kMaxSamples = 128;

std::optional<Error> check_request(const ProviderConfig& config, const ChatRequest& request) {
  const std::string& name = config.name;
  if (request.model.empty()) return Error{name + ": no model name given"};
  if (request.messages.empty()) return Error{name + ": the request has no messages"};
  if (request.n < 1 || request.n > kMaxSamples)
    return Error{name + ": n must be between 1 and " + std::to_string(kMaxSamples) + ", not " +
                 std::to_string(request.n)};
  if (request.max_tokens < 1) return Error{name + ": max_tokens must be at least 1"};
  return std::nullopt;
}

int64_t prompt_chars_tokens(const ChatRequest& request) {
  int64_t tokens = 0;
  for (const auto& m : request.messages) tokens += estimate_tokens(m.content);
  return tokens;
}

class HttpClient final : public Client {
 public:
  HttpClient(ProviderConfig config, std::unique_ptr<Dialect> dialect,
             std::shared_ptr<Transport> transport, std::shared_ptr<Sleeper> sleeper)
      : config_(std::move(config)),
        dialect_(std::move(dialect)),
        transport_(std::move(transport)),
        sleeper_(std::move(sleeper)) {}

  Result<ChatReply> chat(const ChatRequest& request) override {
    auto reply = chat_unmasked(request);
    // Local servers take any key, and users often set it to the provider's own name
    // (api_key = "ollama"); that is no secret, and masking it would hide which provider failed.
    if (!reply && config_.api_key != config_.name)
      return Error{mask_secret(reply.error().message, config_.api_key)};
    return reply;
  }

  const ProviderConfig& config() const override { return config_; }

 private:
  Result<ChatReply> chat_unmasked(const ChatRequest& request) {
    if (auto error = check_request(config_, request)) return *error;
    auto base = split_url(config_.base_url);
    if (!base)
      return Error{config_.name + ": bad base URL '" + config_.base_url +
                   "': " + base.error().message};
    double start = monotonic_seconds();
    ChatReply reply;
    reply.model = request.model;
    reply.attempts = 0;
    // Servers that ignore n (Ollama, some vLLM setups) return fewer samples: ask again
    // for the rest. Every round adds at least one choice or fails, so this ends.
    while (static_cast<int>(reply.choices.size()) < request.n) {
      int wanted = std::min(request.n - static_cast<int>(reply.choices.size()),
                            dialect_->max_samples_per_request());
      if (auto round = one_round(*base, request, wanted, reply); !round) return round.error();
    }
    reply.choices.resize(request.n);
    reply.latency_s = monotonic_seconds() - start;
    return reply;
  }

  // One request (with its retries): appends its choices and usage to `reply`.
  Result<void> one_round(const UrlParts& base, const ChatRequest& request, int wanted,
                         ChatReply& reply) {
    WireRequest wire = dialect_->build(config_, base, request, wanted);
    auto sent = send_with_retries(config_, *transport_, *sleeper_, wire, request.model);
    if (!sent) return sent.error();
    reply.attempts += sent->attempts;
    auto parsed = parse(wire.url, sent->response);
    if (!parsed) return parsed.error();
    if (parsed->choices.empty())
      return Error{config_.name + ": the reply from " + wire.url + " held no choices"};
    if (!parsed->model.empty()) reply.model = parsed->model;
    add_usage(request, sent->response, *parsed, reply.usage);
    if (auto recorded = sent->response.header("X-Recorded-Latency")) {
      double seconds = std::strtod(recorded->c_str(), nullptr);
      reply.recorded_latency_s = reply.recorded_latency_s.value_or(0) + seconds;
    }
    for (auto& choice : parsed->choices) reply.choices.push_back(std::move(choice));
    return {};
  }

  // Not retried: a server that answers 200 with broken JSON tends to keep doing so. (A
  // body cut short by a dropped connection is a transport error, and is retried.)
  Result<ParsedReply> parse(const std::string& url, const HttpResponse& response) const {
    std::string where = " from " + url + " (HTTP " + std::to_string(response.status) + ", " +
                        std::to_string(response.body.size()) + " bytes)";
    json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded())
      return Error{config_.name + ": malformed JSON in the reply" + where + ": " +
                   one_line(response.body, 120)};
    try {
      auto parsed = dialect_->parse(body);
      if (!parsed)
        return Error{config_.name + ": unexpected reply" + where + ": " + parsed.error().message};
      return parsed;
    } catch (const json::exception& e) {  // a shape the accessors did not foresee
      return Error{config_.name + ": unexpected reply" + where + ": " + e.what()};
    }
  }

  // The provider's counts, or ceil(chars / 4) when it sent none.
  static void add_usage(const ChatRequest& request, const HttpResponse& response,
                        const ParsedReply& parsed, Usage& total) {
    if (parsed.usage) {
      total.prompt_tokens += parsed.usage->prompt_tokens;
      total.completion_tokens += parsed.usage->completion_tokens;
      if (auto flag = response.header("X-Usage-Estimated"); flag && *flag == "true")
        total.estimated = true;
      return;
    }
    total.prompt_tokens += prompt_chars_tokens(request);
    for (const auto& choice : parsed.choices)
      total.completion_tokens += estimate_tokens(choice.text);
    total.estimated = true;
  }

  ProviderConfig config_;
  std::unique_ptr<Dialect> dialect_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Sleeper> sleeper_;
};

}  // namespace

std::unique_ptr<Client> make_client(ProviderConfig config, std::shared_ptr<Transport> transport,
                                    std::shared_ptr<Sleeper> sleeper) {
  std::unique_ptr<Dialect> dialect;
  switch (config.kind) {
    case ProviderKind::anthropic:
      dialect = make_anthropic_dialect();
      break;
    case ProviderKind::gemini:
      dialect = make_gemini_dialect();
      break;
    default:
      dialect = make_openai_dialect();
      break;
  }
  if (!transport) transport = make_http_transport();
  if (!sleeper) sleeper = make_real_sleeper();
  return std::make_unique<HttpClient>(std::move(config), std::move(dialect), std::move(transport),
                                      std::move(sleeper));
}

}  // namespace yantra::teacher
