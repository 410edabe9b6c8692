// OpenAI-compatible chat completions (OpenAI, DeepSeek, Ollama, llama.cpp server, vLLM):
// POST {base}/chat/completions.
#include <algorithm>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

using nlohmann::json;

constexpr int kMaxTopLogprobs = 20;  // OpenAI's documented maximum

TokenLogprob read_token(const json& entry) {
  TokenLogprob t;
  t.token = json_string(entry, "token").value_or("");
  t.logprob = json_number(entry, "logprob").value_or(0);
  if (const json* top = json_array(entry, "top_logprobs")) {
    for (const json& alt : *top) {
      auto token = json_string(alt, "token");
      auto logprob = json_number(alt, "logprob");
      if (token && logprob) t.top.emplace_back(*token, *logprob);
    }
  }
  return t;
}

// message.content is a string, null (refusals, tool calls) or, on a few servers, an
// array of {type: "text", text} parts.
std::string message_text(const json& message) {
  if (auto text = json_string(message, "content")) return *text;
  std::string out;
  if (const json* parts = json_array(message, "content"))
    for (const json& part : *parts) out += json_string(part, "text").value_or("");
  return out;
}

Result<Choice> read_choice(const json& c) {
  if (!c.is_object()) return Error{"a choice is not an object"};
  const json* message = json_object(c, "message");
  if (!message) return Error{"a choice has no message object"};
  Choice choice;
  choice.text = message_text(*message);
  choice.finish_reason = json_string(c, "finish_reason").value_or("");
  choice.truncated = is_truncation(choice.finish_reason);
  if (const json* logprobs = json_object(c, "logprobs")) {
    if (const json* content = json_array(*logprobs, "content"))
      for (const json& entry : *content) choice.logprobs.push_back(read_token(entry));
  }
  return choice;
}

class OpenAiDialect final : public Dialect {
 public:
  int max_samples_per_request() const override { return kMaxSamplesPerRequest; }

  WireRequest build(const ProviderConfig& config, const UrlParts& base, const ChatRequest& request,
                    int samples) const override {
    json messages = json::array();
    for (const auto& m : request.messages)
      messages.push_back({{"role", m.role}, {"content", m.content}});
    json body = {{"model", request.model},
                 {"messages", std::move(messages)},
                 {"max_tokens", request.max_tokens},
                 {"temperature", request.temperature},
                 {"n", samples},
                 {"stream", false}};
    if (!request.stop.empty()) body["stop"] = request.stop;
    if (request.top_logprobs > 0) {
      body["logprobs"] = true;
      body["top_logprobs"] = std::min(request.top_logprobs, kMaxTopLogprobs);
    }
    WireRequest wire{base.origin + base.path + "/chat/completions", {}, body.dump()};
    wire.headers.emplace_back("Accept", "application/json");
    if (!config.api_key.empty())
      wire.headers.emplace_back("Authorization", "Bearer " + config.api_key);
    return wire;
  }

  Result<ParsedReply> parse(const json& body) const override {
    if (const json* error = json_object(body, "error"))
      return Error{"an error object: " + json_string(*error, "message").value_or(error->dump())};
    const json* choices = json_array(body, "choices");
    if (!choices) return Error{"no \"choices\" array"};
    ParsedReply reply;
    reply.model = json_string(body, "model").value_or("");
    std::vector<std::pair<int64_t, Choice>> indexed;
    for (const json& c : *choices) {
      auto choice = read_choice(c);
      if (!choice) return choice.error();
      auto index = json_number(c, "index").value_or(static_cast<double>(indexed.size()));
      indexed.emplace_back(static_cast<int64_t>(index), std::move(*choice));
    }
    std::stable_sort(indexed.begin(), indexed.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [index, choice] : indexed) reply.choices.push_back(std::move(choice));
    if (const json* usage = json_object(body, "usage")) {
      auto prompt = json_number(*usage, "prompt_tokens");
      auto completion = json_number(*usage, "completion_tokens");
      if (prompt || completion)
        reply.usage = Usage{static_cast<int64_t>(prompt.value_or(0)),
                            static_cast<int64_t>(completion.value_or(0)), false};
    }
    return reply;
  }

 private:
  static constexpr int kMaxSamplesPerRequest = 128;
};

}  // namespace

std::unique_ptr<Dialect> make_openai_dialect() {
  return std::make_unique<OpenAiDialect>();
}

}  // namespace yantra::teacher
