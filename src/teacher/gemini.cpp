// Google Gemini generateContent: POST {base}/v1beta/models/{model}:generateContent with
// the key in x-goog-api-key (never in the URL, where it would end up in error messages).
#include <algorithm>
#include <cctype>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

using nlohmann::json;

constexpr int kMaxLogprobs = 20;

// The model as a path segment: "models/" prefixes dropped, anything unusual escaped.
std::string model_segment(std::string_view model) {
  if (model.rfind("models/", 0) == 0) model.remove_prefix(7);
  std::string out;
  for (unsigned char c : model) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_') {
      out += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

json text_parts(const std::string& text) {
  return json::array({{{"text", text}}});
}

std::vector<TokenLogprob> read_logprobs(const json& result) {
  std::vector<TokenLogprob> out;
  const json* chosen = json_array(result, "chosenCandidates");
  if (!chosen) return out;
  const json* top = json_array(result, "topCandidates");
  for (size_t i = 0; i < chosen->size(); ++i) {
    TokenLogprob t;
    t.token = json_string((*chosen)[i], "token").value_or("");
    t.logprob = json_number((*chosen)[i], "logProbability").value_or(0);
    if (top && i < top->size()) {
      if (const json* alts = json_array((*top)[i], "candidates"))
        for (const json& alt : *alts) {
          auto token = json_string(alt, "token");
          auto logprob = json_number(alt, "logProbability");
          if (token && logprob) t.top.emplace_back(*token, *logprob);
        }
    }
    out.push_back(std::move(t));
  }
  return out;
}

Choice read_candidate(const json& candidate) {
  Choice choice;
  // A candidate stopped for safety may have no content at all: an empty answer.
  if (const json* content = json_object(candidate, "content")) {
    if (const json* parts = json_array(*content, "parts"))
      for (const json& part : *parts) {
        if (part.is_object() && part.contains("thought") && part["thought"] == true) continue;
        choice.text += json_string(part, "text").value_or("");
      }
  }
  choice.finish_reason = json_string(candidate, "finishReason").value_or("");
  choice.truncated = is_truncation(choice.finish_reason);
  if (const json* logprobs = json_object(candidate, "logprobsResult"))
    choice.logprobs = read_logprobs(*logprobs);
  return choice;
}

class GeminiDialect final : public Dialect {
 public:
  int max_samples_per_request() const override { return 8; }  // candidateCount's limit

  WireRequest build(const ProviderConfig& config, const UrlParts& base, const ChatRequest& request,
                    int samples) const override {
    json contents = json::array();
    std::string system;
    for (const auto& m : request.messages) {
      if (m.role == "system") {
        system += (system.empty() ? "" : "\n\n") + m.content;
      } else {
        std::string role = m.role == "assistant" ? "model" : "user";
        contents.push_back({{"role", role}, {"parts", text_parts(m.content)}});
      }
    }
    json generation = {{"maxOutputTokens", request.max_tokens},
                       {"temperature", request.temperature},
                       {"candidateCount", samples}};
    if (!request.stop.empty()) generation["stopSequences"] = request.stop;
    if (request.top_logprobs > 0) {
      generation["responseLogprobs"] = true;
      generation["logprobs"] = std::min(request.top_logprobs, kMaxLogprobs);
    }
    json body = {{"contents", std::move(contents)}, {"generationConfig", std::move(generation)}};
    if (!system.empty()) body["systemInstruction"] = {{"parts", text_parts(system)}};
    std::string rest = "/models/" + model_segment(request.model) + ":generateContent";
    WireRequest wire{join_endpoint(base, "v1beta", rest), {}, body.dump()};
    wire.headers.emplace_back("Accept", "application/json");
    if (!config.api_key.empty()) wire.headers.emplace_back("x-goog-api-key", config.api_key);
    return wire;
  }

  Result<ParsedReply> parse(const json& body) const override {
    if (const json* error = json_object(body, "error"))
      return Error{"an error object: " + json_string(*error, "message").value_or(error->dump())};
    const json* candidates = json_array(body, "candidates");
    if (!candidates || candidates->empty()) {
      const json* feedback = json_object(body, "promptFeedback");
      if (auto reason = feedback ? json_string(*feedback, "blockReason") : std::nullopt)
        return Error{"the prompt was blocked (" + *reason + ")"};
      return Error{"no \"candidates\" array"};
    }
    ParsedReply reply;
    reply.model = json_string(body, "modelVersion").value_or("");
    for (const json& candidate : *candidates) {
      if (!candidate.is_object()) return Error{"a candidate is not an object"};
      reply.choices.push_back(read_candidate(candidate));
    }
    // candidatesTokenCount is left out when nothing was generated: 0, not "unknown".
    if (const json* usage = json_object(body, "usageMetadata")) {
      if (auto prompt = json_number(*usage, "promptTokenCount"))
        reply.usage = Usage{
            static_cast<int64_t>(*prompt),
            static_cast<int64_t>(json_number(*usage, "candidatesTokenCount").value_or(0)), false};
    }
    return reply;
  }
};

}  // namespace

std::unique_ptr<Dialect> make_gemini_dialect() {
  return std::make_unique<GeminiDialect>();
}

}  // namespace yantra::teacher
