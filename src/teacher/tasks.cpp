// What Yantra asks a teacher for: implementations and tests.
#include <algorithm>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

constexpr double kSamplingTemperature = 0.6;

const char* kCodeSystem =
    "You are an expert Python programmer. Reply with exactly one ```python code block that "
    "contains a complete, self-contained implementation: the imports it needs, any helper "
    "functions, and the requested function with the exact name and signature asked for. "
    "No explanations, no tests, no example usage.";

const char* kTestSystem =
    "You are an expert Python tester. You write assert statements that check behaviour "
    "described in a request, including edge cases, with expected values you have worked out "
    "from the request itself.";

std::string describe_failure(const ChatReply& reply) {
  if (reply.choices.empty()) return "no replies";
  return "the first began: '" + one_line(reply.choices.front().text, 160) + "'";
}

}  // namespace

std::vector<Message> code_prompt(std::string_view request_text, std::string_view entry_point) {
  std::string user = std::string(request_text);
  while (!user.empty() && std::isspace(static_cast<unsigned char>(user.back()))) user.pop_back();
  user += "\n\nWrite the complete Python implementation of `" + std::string(entry_point) +
          "`, in one ```python block.";
  return {{"system", kCodeSystem}, {"user", std::move(user)}};
}

ChatRequest code_request(const std::string& model, std::string_view request_text,
                         std::string_view entry_point, int n, const TaskOptions& options) {
  ChatRequest request;
  request.model = model;
  request.messages = code_prompt(request_text, entry_point);
  request.n = n;
  request.max_tokens = options.max_tokens;
  // Identical samples teach nothing and pass or fail together: sample when n > 1.
  request.temperature =
      n > 1 ? std::max(options.temperature, kSamplingTemperature) : options.temperature;
  return request;
}

Generation code_candidates(const ChatReply& reply, std::string_view entry_point) {
  Generation gen;
  gen.model = reply.model;
  gen.usage = reply.usage;
  gen.latency_s = reply.latency_s;
  gen.recorded_latency_s = reply.recorded_latency_s;
  gen.attempts = reply.attempts;
  for (const Choice& choice : reply.choices) {
    std::string code = extract_code(choice.text, entry_point);
    if (code.empty()) {
      ++gen.empty_replies;
      continue;
    }
    gen.candidates.push_back(
        {std::move(code), choice.text, choice.finish_reason, choice.truncated});
  }
  return gen;
}

Result<Generation> generate_code(Client& client, const std::string& model,
                                 std::string_view request_text, std::string_view entry_point, int n,
                                 const TaskOptions& options) {
  auto reply = client.chat(code_request(model, request_text, entry_point, n, options));
  if (!reply) return reply.error();
  Generation gen = code_candidates(*reply, entry_point);
  if (gen.candidates.empty())
    return Error{client.config().name + " (" + model + "): none of the " +
                 std::to_string(reply->choices.size()) + " replies held code; " +
                 describe_failure(*reply)};
  return gen;
}

ChatRequest tests_request(const std::string& model, std::string_view request_text,
                          std::string_view candidate_code, std::string_view entry_point,
                          const TaskOptions& options) {
  const std::string name(entry_point);
  std::string user = "Request:\n" + std::string(request_text) +
                     "\n\nAn implementation to be tested (use it for the signature only; it "
                     "may be wrong):\n```python\n" +
                     std::string(candidate_code) +
                     "\n```\n\nWrite 5 to 10 assert statements that check `" + name +
                     "` against the behaviour the request describes: typical cases and edge "
                     "cases (empty input, boundaries, ...). Each assert calls `" +
                     name +
                     "` directly and compares the result with an expected value. Put them in "
                     "one ```python block, one assert per statement, without defining or "
                     "importing `" +
                     name + "`.";
  ChatRequest request;
  request.model = model;
  request.messages = {{"system", kTestSystem}, {"user", std::move(user)}};
  request.max_tokens = options.max_tokens;
  request.temperature = options.temperature;
  return request;
}

GeneratedTests tests_from_reply(const ChatReply& reply, std::string_view entry_point) {
  GeneratedTests tests;
  tests.usage = reply.usage;
  if (reply.choices.empty()) return tests;
  tests.raw = reply.choices.front().text;
  tests.asserts = extract_asserts(tests.raw, entry_point);
  return tests;
}

Result<GeneratedTests> generate_tests(Client& client, const std::string& model,
                                      std::string_view request_text,
                                      std::string_view candidate_code, std::string_view entry_point,
                                      const TaskOptions& options) {
  auto reply =
      client.chat(tests_request(model, request_text, candidate_code, entry_point, options));
  if (!reply) return reply.error();
  GeneratedTests tests = tests_from_reply(*reply, entry_point);
  if (tests.asserts.empty())
    return Error{client.config().name + " (" + model + "): the reply held no assert calling `" +
                 std::string(entry_point) + "`; " + describe_failure(*reply)};
  return tests;
}

}  // namespace yantra::teacher
