// Anthropic Messages API: POST {base}/v1/messages. No n (one request per sample), the
// system prompt in a top-level field, no logprobs.
#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

using nlohmann::json;

constexpr const char* kApiVersion = "2023-06-01";

class AnthropicDialect final : public Dialect {
 public:
  int max_samples_per_request() const override { return 1; }

  WireRequest build(const ProviderConfig& config, const UrlParts& base, const ChatRequest& request,
                    int /*samples*/) const override {
    json messages = json::array();
    std::string system;
    for (const auto& m : request.messages) {
      if (m.role == "system") {
        system += (system.empty() ? "" : "\n\n") + m.content;
      } else {
        messages.push_back({{"role", m.role}, {"content", m.content}});
      }
    }
    json body = {{"model", request.model},
                 {"max_tokens", request.max_tokens},
                 {"temperature", request.temperature},
                 {"messages", std::move(messages)}};
    if (!system.empty()) body["system"] = system;
    if (!request.stop.empty()) body["stop_sequences"] = request.stop;
    WireRequest wire{join_endpoint(base, "v1", "/messages"), {}, body.dump()};
    wire.headers.emplace_back("Accept", "application/json");
    wire.headers.emplace_back("anthropic-version", kApiVersion);
    if (!config.api_key.empty()) wire.headers.emplace_back("x-api-key", config.api_key);
    return wire;
  }

  Result<ParsedReply> parse(const json& body) const override {
    if (json_string(body, "type") == "error") {
      const json* error = json_object(body, "error");
      return Error{"an error object: " +
                   (error ? json_string(*error, "message").value_or(error->dump()) : "")};
    }
    const json* content = json_array(body, "content");
    if (!content) return Error{"no \"content\" array"};
    Choice choice;
    // Text blocks only: thinking and tool-use blocks are not the answer.
    for (const json& block : *content)
      if (json_string(block, "type") == "text")
        choice.text += json_string(block, "text").value_or("");
    choice.finish_reason = json_string(body, "stop_reason").value_or("");
    choice.truncated = is_truncation(choice.finish_reason);
    ParsedReply reply;
    reply.model = json_string(body, "model").value_or("");
    reply.choices.push_back(std::move(choice));
    if (const json* usage = json_object(body, "usage")) {
      auto input = json_number(*usage, "input_tokens");
      auto output = json_number(*usage, "output_tokens");
      // Cached prompt tokens are counted apart from input_tokens; they are still prompt.
      double cached = json_number(*usage, "cache_creation_input_tokens").value_or(0) +
                      json_number(*usage, "cache_read_input_tokens").value_or(0);
      if (input || output)
        reply.usage = Usage{static_cast<int64_t>(input.value_or(0) + cached),
                            static_cast<int64_t>(output.value_or(0)), false};
    }
    return reply;
  }
};

}  // namespace

std::unique_ptr<Dialect> make_anthropic_dialect() {
  return std::make_unique<AnthropicDialect>();
}

}  // namespace yantra::teacher
