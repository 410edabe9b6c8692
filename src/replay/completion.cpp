// Replayer: an OpenAI chat completion request in, the next recorded run(s) out.
#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>
#include <variant>

#include "replay/internal.h"
#include "replay/replay.h"

namespace yantra::replay {
namespace {

using nlohmann::json;

constexpr int64_t kMaxChoices = 128;

// Never throws on odd bytes: a reply is always sent.
std::string to_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// What the server needs from a request body.
struct Request {
  std::string model;
  std::string match_text;   // system, developer and user contents: where the prompt is
  size_t prompt_chars = 0;  // every message's content, for estimated usage
  int64_t n = 1;
};

// Characters, not bytes: UTF-8 continuation bytes do not start a character.
size_t utf8_chars(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

int64_t estimated_tokens(size_t chars) {
  return static_cast<int64_t>((chars + 3) / 4);
}

// A message's content: a string, a list of {"type": "text", "text": ...} parts, or null.
std::optional<std::string> content_text(const json& content) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return std::nullopt;
  std::string text;
  for (const json& part : content) {
    if (!part.is_object()) return std::nullopt;
    auto t = part.find("text");
    if (t != part.end() && t->is_string()) text.append(t->get<std::string>()).append("\n");
  }
  return text;
}

Reply bad_request(std::string_view message, std::string_view param = "") {
  return error_reply(400, message, "invalid_request_error",
                     param.empty() ? "invalid_request" : "invalid_value", param);
}

// The request's fields, or the 400 reply that says which one is wrong.
std::variant<Request, Reply> parse_request(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded())
    return error_reply(400, "the request body is not valid JSON", "invalid_request_error",
                       "invalid_json");
  if (!j.is_object()) return bad_request("the request body must be a JSON object");
  Request r;
  auto model = j.find("model");
  if (model == j.end() || !model->is_string() || model->get<std::string>().empty())
    return bad_request("missing required field \"model\" (a string)", "model");
  r.model = model->get<std::string>();
  auto messages = j.find("messages");
  if (messages == j.end() || !messages->is_array() || messages->empty())
    return bad_request("missing required field \"messages\" (a non-empty array)", "messages");
  for (const json& m : *messages) {
    auto role = m.is_object() ? m.find("role") : m.end();
    if (!m.is_object() || role == m.end() || !role->is_string())
      return bad_request("each message needs a \"role\" string", "messages");
    auto content = content_text(m.value("content", json()));
    if (!content)
      return bad_request("a message's \"content\" must be a string or text parts", "messages");
    r.prompt_chars += utf8_chars(*content);
    std::string who = role->get<std::string>();
    if (who == "user" || who == "system" || who == "developer")
      r.match_text.append(*content).append("\n");
  }
  if (auto n = j.find("n"); n != j.end() && !n->is_null()) {
    if (!n->is_number_integer() || n->get<int64_t>() < 1 || n->get<int64_t>() > kMaxChoices)
      return bad_request("\"n\" must be an integer from 1 to 128", "n");
    r.n = n->get<int64_t>();
  }
  if (auto s = j.find("stream"); s != j.end() && s->is_boolean() && s->get<bool>())
    return bad_request("streaming is not supported by the replay server; send \"stream\": false",
                       "stream");
  return r;
}

Reply unknown_model(const std::string& model, const std::vector<std::string>& models) {
  std::string names;
  for (const auto& m : models) names.append(names.empty() ? "" : ", ").append(m);
  return error_reply(404,
                     "the model '" + model + "' has no recorded runs; this replay serves: " + names,
                     "invalid_request_error", "model_not_found", "model");
}

}  // namespace

// Chat models answer code in a fence; an empty recorded answer stays empty.
std::string chat_answer(const std::string& code) {
  if (code.empty() || code.find("```") != std::string::npos) return code;
  std::string out = "```python\n";
  out.append(code);
  if (code.back() != '\n') out.push_back('\n');
  return out.append("```");
}

std::string decimal(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

Reply error_reply(int status, std::string_view message, std::string_view type,
                  std::string_view code, std::string_view param) {
  json error = {{"message", message},
                {"type", type},
                {"code", code},
                {"param", param.empty() ? json() : json(param)}};
  return {status, to_text(json{{"error", error}}), {}, 0};
}

Replayer::Replayer(Recordings recordings)
    : recordings_(std::move(recordings)),
      matcher_(recordings_.prompts),
      counters_(new std::atomic<uint64_t>[recordings_.runs.size()]) {
  for (size_t i = 0; i < recordings_.runs.size(); ++i) counters_[i] = 0;
}

Reply Replayer::list_models() const {
  json data = json::array();
  for (const auto& m : recordings_.models)
    data.push_back({{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", "replay"}});
  return {200, to_text(json{{"object", "list"}, {"data", data}}), {}, 0};
}

Reply Replayer::complete(std::string_view body) {
  auto parsed = parse_request(body);
  if (auto* reply = std::get_if<Reply>(&parsed)) return std::move(*reply);
  const Request& req = std::get<Request>(parsed);
  auto model = recordings_.model_index(req.model);
  if (!model) return unknown_model(req.model, recordings_.models);
  auto found = match(req.match_text);
  if (!found)
    return error_reply(404, "no recorded task's prompt appears in the request's messages",
                       "invalid_request_error", "prompt_not_found", "messages");
  const size_t task = found->task;
  const auto& runs = recordings_.of(*model, task);
  if (runs.empty())
    return error_reply(404,
                       "no recorded run of " + req.model + " for " + recordings_.task_ids[task],
                       "invalid_request_error", "prompt_not_found", "messages");
  uint64_t first = counters_[*model * recordings_.task_ids.size() + task].fetch_add(
      static_cast<uint64_t>(req.n));

  json choices = json::array();
  bool recorded_usage = true;
  int64_t completion_tokens = 0, answer_tokens = 0;
  double latency = 0;
  std::string served_runs;
  for (int64_t i = 0; i < req.n; ++i) {
    const RecordedRun& run = runs[(first + static_cast<uint64_t>(i)) % runs.size()];
    std::string content = chat_answer(found->served(run.code));
    answer_tokens += estimated_tokens(utf8_chars(content));
    recorded_usage = recorded_usage && run.prompt_tokens && run.completion_tokens;
    if (run.completion_tokens) completion_tokens += *run.completion_tokens;
    latency = std::max(latency, run.duration_s);
    served_runs.append(served_runs.empty() ? "" : ",").append(std::to_string(run.run));
    choices.push_back({{"index", i},
                       {"message", {{"role", "assistant"}, {"content", std::move(content)}}},
                       {"logprobs", nullptr},
                       {"finish_reason", "stop"}});
  }
  int64_t prompt_tokens = recorded_usage ? *runs[first % runs.size()].prompt_tokens
                                         : estimated_tokens(req.prompt_chars);
  if (!recorded_usage) completion_tokens = answer_tokens;
  uint64_t seq = served_.fetch_add(1) + 1;
  json reply = {{"id", "chatcmpl-replay-" + std::to_string(seq)},
                {"object", "chat.completion"},
                {"created", static_cast<int64_t>(std::time(nullptr))},
                {"model", req.model},
                {"choices", std::move(choices)},
                {"usage",
                 {{"prompt_tokens", prompt_tokens},
                  {"completion_tokens", completion_tokens},
                  {"total_tokens", prompt_tokens + completion_tokens}}}};
  Reply out{200, to_text(reply), {}, latency};
  out.headers = {{"X-Recorded-Latency", decimal(latency)},
                 {"X-Replay-Task", recordings_.task_ids[task]},
                 {"X-Replay-Runs", served_runs}};
  if (!recorded_usage) out.headers.emplace_back("X-Usage-Estimated", "true");
  if (!found->rename_to.empty())
    out.headers.emplace_back("X-Replay-Renamed", found->rename_from + " -> " + found->rename_to);
  return out;
}

}  // namespace yantra::replay
