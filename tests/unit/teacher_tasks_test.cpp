// The teacher part without a network: code and assert extraction from realistic replies,
// soft-label validation and averaging, Retry-After and back-off, each provider's wire
// format through an injected transport, and the promise that API keys never reach an
// Error message. Real HTTP servers are in tests/e2e/teacher_clients_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

using nlohmann::json;

// ---- fakes ---------------------------------------------------------------------------

struct SentRequest {
  std::string url;
  HttpHeaders headers;
  json body;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return "";
  }
};

// Answers with a script of responses or transport errors, recording what it was sent.
class ScriptedTransport : public Transport {
 public:
  void respond(int status, std::string body, HttpHeaders headers = {}) {
    script_.push_back(HttpResponse{status, std::move(headers), std::move(body)});
  }
  void fail(std::string message) { script_.push_back(Error{std::move(message)}); }

  Result<HttpResponse> post(const std::string& url, const HttpHeaders& headers,
                            const std::string& body, double) override {
    sent.push_back({url, headers, json::parse(body)});
    if (script_.empty()) return Error{"script exhausted"};
    auto next = std::move(script_.front());
    script_.pop_front();
    return next;
  }
  std::vector<SentRequest> sent;

 private:
  std::deque<Result<HttpResponse>> script_;
};

class RecordingSleeper : public Sleeper {
 public:
  void sleep(double seconds) override { waits.push_back(seconds); }
  std::vector<double> waits;
};

struct Rig {
  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();
  std::shared_ptr<RecordingSleeper> sleeper = std::make_shared<RecordingSleeper>();
  std::unique_ptr<Client> client;
  explicit Rig(ProviderKind kind, std::string key = "k-123456", int max_retries = 4) {
    ProviderConfig config;
    config.name = "prov";
    config.kind = kind;
    config.base_url = "http://example.test/v1";
    config.api_key = std::move(key);
    config.max_retries = max_retries;
    config.backoff_initial_s = 0.5;
    config.backoff_max_s = 30;
    client = make_client(config, transport, sleeper);
  }
};

ChatRequest simple_request(int n = 1) {
  ChatRequest r;
  r.model = "m1";
  r.messages = {{"system", "be brief"}, {"user", "hello"}};
  r.n = n;
  return r;
}

std::string openai_body(std::vector<std::string> texts, bool usage = true) {
  json choices = json::array();
  for (size_t i = 0; i < texts.size(); ++i)
    choices.push_back({{"index", i},
                       {"message", {{"role", "assistant"}, {"content", texts[i]}}},
                       {"finish_reason", "stop"}});
  json body = {{"id", "x"}, {"object", "chat.completion"}, {"model", "m1"}, {"choices", choices}};
  if (usage) body["usage"] = {{"prompt_tokens", 11}, {"completion_tokens", 7}};
  return body.dump();
}

// A client that answers chat() with canned choices: for the tasks.
class CannedClient : public Client {
 public:
  explicit CannedClient(std::vector<Choice> choices) : choices_(std::move(choices)) {
    config_.name = "canned";
  }
  Result<ChatReply> chat(const ChatRequest& request) override {
    last = request;
    ChatReply reply;
    reply.model = request.model;
    for (int i = 0; i < request.n; ++i) reply.choices.push_back(choices_[i % choices_.size()]);
    return reply;
  }
  const ProviderConfig& config() const override { return config_; }
  ChatRequest last;

 private:
  std::vector<Choice> choices_;
  ProviderConfig config_;
};

Choice text_choice(std::string text) {
  return Choice{std::move(text), "stop", false, {}};
}

// ---- extract_code ----------------------------------------------------------------------

TEST(TeacherExtractCode, PythonFenceWithProseAround) {
  std::string reply =
      "Sure! Here is an implementation:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
      "This adds the two numbers.";
  EXPECT_EQ(extract_code(reply, "add"), "def add(a, b):\n    return a + b\n");
}

TEST(TeacherExtractCode, PrefersTheBlockThatDefinesTheEntryPoint) {
  std::string reply =
      "First, the helper idea:\n```python\nimport math\nprint(math.pi)\n```\n"
      "Now the solution:\n```py\nimport math\n\ndef area(r):\n    return math.pi * r * r\n```\n"
      "Example usage:\n```python\nprint(area(2))\n```\n";
  EXPECT_EQ(extract_code(reply, "area"),
            "import math\n\ndef area(r):\n    return math.pi * r * r\n");
}

TEST(TeacherExtractCode, UntaggedAndTildeFences) {
  EXPECT_EQ(extract_code("```\ndef f():\n    return 1\n```", "f"), "def f():\n    return 1\n");
  EXPECT_EQ(extract_code("~~~python\ndef g(x):\n    return x\n~~~\nDone.", "g"),
            "def g(x):\n    return x\n");
}

TEST(TeacherExtractCode, IndentedFenceInAListItemIsDedented) {
  std::string reply = "1. Write it:\n   ```python\n   def h(x):\n       return -x\n   ```\n";
  EXPECT_EQ(extract_code(reply, "h"), "def h(x):\n    return -x\n");
}

TEST(TeacherExtractCode, BareCodeBetweenProse) {
  std::string reply =
      "Here's the function you asked for:\n\nfrom typing import List\n\n"
      "def total(xs: List[int]) -> int:\n    s = 0\n    for x in xs:\n        s += x\n\n"
      "    return s\n\nThe function loops over the list and sums it.\n";
  EXPECT_EQ(extract_code(reply, "total"),
            "from typing import List\n\ndef total(xs: List[int]) -> int:\n    s = 0\n"
            "    for x in xs:\n        s += x\n\n    return s\n");
}

TEST(TeacherExtractCode, ThinkBlocksAndUnterminatedFences) {
  std::string reply =
      "<think>Maybe ```python\ndef wrong(): pass\n``` no.</think>\n```python\n"
      "def f(n):\n    return n * 2\n";  // cut by the token limit before the closing fence
  EXPECT_EQ(extract_code(reply, "f"), "def f(n):\n    return n * 2\n");
}

TEST(TeacherExtractCode, CrLfAndNoCodeAtAll) {
  EXPECT_EQ(extract_code("```python\r\ndef f():\r\n    pass\r\n```\r\n", "f"),
            "def f():\n    pass\n");
  EXPECT_EQ(extract_code("I cannot help with that request.", "f"), "");
}

// ---- extract_asserts -------------------------------------------------------------------

TEST(TeacherExtractAsserts, FencedAssertsWithMultiLineOnesAndNoise) {
  std::string reply =
      "Here are tests:\n```python\nfrom solution import add\n\nassert add(1, 2) == 3\n"
      "assert add(-1, 1) == 0  # zero\nassert add(\n    [1],\n    [2],\n) == [1, 2]\n"
      "assert True\nassert add(1, 2) == 3\nprint('ok')\n```\n";
  auto asserts = extract_asserts(reply, "add");
  ASSERT_EQ(asserts.size(), 3u);
  EXPECT_EQ(asserts[0], "assert add(1, 2) == 3");
  EXPECT_EQ(asserts[1], "assert add(-1, 1) == 0  # zero");
  EXPECT_EQ(asserts[2], "assert add(\n    [1],\n    [2],\n) == [1, 2]");
}

TEST(TeacherExtractAsserts, CheckCandidateStyleAndTestFunctions) {
  std::string reply =
      "```python\ndef check(candidate):\n    assert candidate('a(b)') == ['b']\n"
      "    assert candidate(\"\") == [], \"empty\"\n\ndef test_more():\n"
      "    assert parse(')(') == []\n```";
  auto asserts = extract_asserts(reply, "parse");
  ASSERT_EQ(asserts.size(), 3u);
  EXPECT_EQ(asserts[0], "assert parse('a(b)') == ['b']");
  EXPECT_EQ(asserts[1], "assert parse(\"\") == [], \"empty\"");
  EXPECT_EQ(asserts[2], "assert parse(')(') == []");
}

TEST(TeacherExtractAsserts, BracketsInsideStringsAndCutStatements) {
  std::string reply = "assert f('(') == 1\nassert f(\"[\") == 2\nassert f(1,\n";
  auto asserts = extract_asserts(reply, "f");
  ASSERT_EQ(asserts.size(), 2u);  // the last one was cut mid-statement
  EXPECT_EQ(asserts[1], "assert f(\"[\") == 2");
}

TEST(TeacherFindJson, FirstParsableObject) {
  std::string text = "Answer: {not json} then ```json\n{\"a\": {\"x\": 0.5}, \"s\": \"}\"}\n```";
  auto where = find_json_object(text);
  ASSERT_TRUE(where);
  EXPECT_EQ(text.substr(where->first, where->second), "{\"a\": {\"x\": 0.5}, \"s\": \"}\"}");
  EXPECT_FALSE(find_json_object("no braces here"));
}

// ---- soft labels -----------------------------------------------------------------------

const std::vector<LabelSet> kSets = {{"tests", {"empty", "none", "boundary"}},
                                     {"kind", {"pure", "io"}, /*exclusive=*/true}};

TEST(TeacherSoftLabels, ValidatesClampsAndDropsUnknowns) {
  CannedClient client(
      {text_choice("```json\n{\"tests\": {\"empty\": 1.7, \"none\": \"0.25\", \"bogus\": 1},"
                   " \"kind\": {\"pure\": 3, \"io\": 1}, \"extra\": {}}\n```")});
  auto labels = soft_labels(client, "m", "def f(xs): ...", kSets);
  ASSERT_TRUE(labels) << labels.error().message;
  EXPECT_DOUBLE_EQ(labels->probs["tests"]["empty"], 1.0);     // clamped
  EXPECT_DOUBLE_EQ(labels->probs["tests"]["none"], 0.25);     // numeric string read
  EXPECT_DOUBLE_EQ(labels->probs["tests"]["boundary"], 0.0);  // missing
  EXPECT_DOUBLE_EQ(labels->probs["kind"]["pure"], 0.5);       // clamped to 1 each, normalised
  EXPECT_EQ(labels->probs["tests"].count("bogus"), 0u);
  std::string all;
  for (const auto& w : labels->warnings) all += w + "\n";
  EXPECT_NE(all.find("bogus"), std::string::npos) << all;
  EXPECT_NE(all.find("extra"), std::string::npos) << all;
  EXPECT_NE(all.find("boundary"), std::string::npos) << all;
  EXPECT_NE(client.last.messages.back().content.find("boundary"), std::string::npos);
}

TEST(TeacherSoftLabels, AveragesSamplesAndCountsRejects) {
  CannedClient client({text_choice("{\"tests\": {\"empty\": 1, \"none\": 0, \"boundary\": 1},"
                                   " \"kind\": {\"pure\": 1, \"io\": 0}}"),
                       text_choice("{\"tests\": {\"empty\": 0, \"none\": 0, \"boundary\": 1},"
                                   " \"kind\": {\"pure\": 0, \"io\": 1}}"),
                       text_choice("I think it is pure."),
                       text_choice("{\"tests\": {\"empty\": 1, \"none\": 1, \"boundary\": 1},"
                                   " \"kind\": {\"pure\": 1, \"io\": 0}}")});
  auto labels = soft_labels(client, "m", "f", kSets, {.n = 4});
  ASSERT_TRUE(labels) << labels.error().message;
  EXPECT_EQ(client.last.n, 4);
  EXPECT_EQ(labels->samples, 3);
  EXPECT_EQ(labels->rejected_samples, 1);
  EXPECT_NEAR(labels->probs["tests"]["empty"], 2.0 / 3, 1e-9);
  EXPECT_NEAR(labels->probs["tests"]["none"], 1.0 / 3, 1e-9);
  EXPECT_NEAR(labels->probs["tests"]["boundary"], 1.0, 1e-9);
  EXPECT_NEAR(labels->probs["kind"]["pure"], 2.0 / 3, 1e-9);
}

TEST(TeacherSoftLabels, NonJsonAndMissingHeadAreErrors) {
  CannedClient prose({text_choice("The function handles empty input.")});
  auto a = soft_labels(prose, "m", "f", kSets);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("no usable JSON"), std::string::npos) << a.error().message;
  CannedClient partial({text_choice("{\"tests\": {\"empty\": 0.5}}")});
  auto b = soft_labels(partial, "m", "f", kSets);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("'kind'"), std::string::npos) << b.error().message;
}

// Tokens that spell {"a": {"x": 0.8}} with alternatives for the tenths digit.
TEST(TeacherSoftLabels, LogprobsRefineTheTenthsDigit) {
  Choice choice = text_choice("{\"a\": {\"x\": 0.8, \"y\": 1}}");
  std::vector<std::string> tokens = {"{\"", "a", "\":", " {\"", "x",   "\":", " ", "0", ".",
                                     "8",   ",", " \"", "y",    "\":", " ",   "1", "}}"};
  for (const auto& t : tokens) choice.logprobs.push_back({t, std::log(0.99), {}});
  choice.logprobs[9] = {
      "8",
      std::log(0.6),
      {{"8", std::log(0.6)}, {"9", std::log(0.3)}, {"7", std::log(0.1)}, {"\"", std::log(0.01)}}};
  choice.logprobs[15] = {"1", std::log(0.7), {{"1", std::log(0.7)}, {"0", std::log(0.3)}}};
  CannedClient client({choice});
  auto labels = soft_labels(client, "m", "f", {{"a", {"x", "y"}}}, {.top_logprobs = 5});
  ASSERT_TRUE(labels) << labels.error().message;
  EXPECT_EQ(client.last.top_logprobs, 5);
  EXPECT_NEAR(labels->probs["a"]["x"], 0.6 * 0.8 + 0.3 * 0.9 + 0.1 * 0.7, 1e-9);
  EXPECT_DOUBLE_EQ(labels->probs["a"]["y"], 1.0);  // whole numbers keep their value
  EXPECT_EQ(labels->logprob_values, 1);
}

TEST(TeacherSoftLabels, LogprobsThatDoNotSpellTheTextAreIgnored) {
  Choice choice = text_choice("{\"a\": {\"x\": 0.8}}");
  choice.logprobs = {{"{\"a\": {\"x\": 0.", -0.1, {}}, {"3", -0.1, {{"9", -0.1}}}};
  CannedClient client({choice});
  auto labels = soft_labels(client, "m", "f", {{"a", {"x"}}});
  ASSERT_TRUE(labels);
  EXPECT_DOUBLE_EQ(labels->probs["a"]["x"], 0.8);
  EXPECT_EQ(labels->logprob_values, 0);
}

// ---- generate_code / generate_tests ----------------------------------------------------

TEST(TeacherTasks, GenerateCodeExtractsAndDropsEmptyReplies) {
  CannedClient client({text_choice("```python\ndef inc(x):\n    return x + 1\n```"),
                       text_choice("Sorry, I can't do that.")});
  auto gen = generate_code(client, "m", "Increment x.", "inc", 2);
  ASSERT_TRUE(gen) << gen.error().message;
  ASSERT_EQ(gen->candidates.size(), 1u);
  EXPECT_EQ(gen->candidates[0].code, "def inc(x):\n    return x + 1\n");
  EXPECT_EQ(gen->empty_replies, 1);
  EXPECT_GE(client.last.temperature, 0.6);  // sampling for n > 1
  EXPECT_NE(client.last.messages.back().content.find("`inc`"), std::string::npos);

  CannedClient refuses({text_choice("No.")});
  auto none = generate_code(refuses, "m", "Increment x.", "inc", 1);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("held code"), std::string::npos);
}

TEST(TeacherTasks, GenerateTestsParsesAsserts) {
  CannedClient client({text_choice("```python\nassert inc(1) == 2\nassert inc(-1) == 0\n```")});
  auto tests = generate_tests(client, "m", "Increment x.", "def inc(x): ...", "inc");
  ASSERT_TRUE(tests) << tests.error().message;
  EXPECT_EQ(tests->asserts,
            (std::vector<std::string>{"assert inc(1) == 2", "assert inc(-1) == 0"}));
  CannedClient useless({text_choice("```python\nassert True\n```")});
  EXPECT_FALSE(generate_tests(useless, "m", "Increment x.", "def inc(x): ...", "inc"));
}

// ---- retries -----------------------------------------------------------------------------

TEST(TeacherRetry, RetryAfterSecondsAndHttpDates) {
  auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37
  EXPECT_DOUBLE_EQ(*parse_retry_after(" 7 ", now), 7.0);
  EXPECT_DOUBLE_EQ(*parse_retry_after("1.5", now), 1.5);
  EXPECT_DOUBLE_EQ(*parse_retry_after("Sun, 06 Nov 1994 08:49:49 GMT", now), 12.0);
  EXPECT_DOUBLE_EQ(*parse_retry_after("Sunday, 06-Nov-94 08:49:40 GMT", now), 3.0);
  EXPECT_DOUBLE_EQ(*parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), 0.0);  // past
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-3", now));
}

TEST(TeacherRetry, BackoffGrowsIsCappedAndJittered) {
  ProviderConfig c;
  c.backoff_initial_s = 0.5;
  c.backoff_max_s = 3;
  EXPECT_DOUBLE_EQ(backoff_delay(c, 0, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(backoff_delay(c, 0, 0.0), 0.4);
  EXPECT_DOUBLE_EQ(backoff_delay(c, 2, 1.0), 2.0);
  EXPECT_DOUBLE_EQ(backoff_delay(c, 10, 1.0), 3.0);
  EXPECT_NEAR(backoff_delay(c, 10, 0.0), 2.4, 1e-12);
}

TEST(TeacherRetry, RetriesTransientFailuresWithGrowingWaits) {
  Rig rig(ProviderKind::openai_compatible);
  rig.transport->respond(503, "{\"error\": {\"message\": \"overloaded\"}}");
  rig.transport->fail("connection failed");
  rig.transport->respond(429, "{}", {{"Retry-After", "7"}});
  rig.transport->respond(200, openai_body({"hi"}));
  auto reply = rig.client->chat(simple_request());
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->attempts, 4);
  ASSERT_EQ(rig.sleeper->waits.size(), 3u);
  EXPECT_GE(rig.sleeper->waits[0], 0.4);
  EXPECT_LE(rig.sleeper->waits[0], 0.5);
  EXPECT_GE(rig.sleeper->waits[1], 0.8);
  EXPECT_LE(rig.sleeper->waits[1], 1.0);
  EXPECT_DOUBLE_EQ(rig.sleeper->waits[2], 7.0);  // the server's wait, not ours
}

TEST(TeacherRetry, RetryAfterIsCappedAndRetriesRunOut) {
  Rig rig(ProviderKind::openai_compatible, "k-123456", /*max_retries=*/2);
  for (int i = 0; i < 3; ++i) rig.transport->respond(429, "{}", {{"retry-after", "999"}});
  auto reply = rig.client->chat(simple_request());
  ASSERT_FALSE(reply);
  EXPECT_EQ(rig.sleeper->waits, (std::vector<double>{30, 30}));
  EXPECT_EQ(rig.transport->sent.size(), 3u);
  const std::string& m = reply.error().message;
  EXPECT_NE(m.find("prov: gave up"), std::string::npos) << m;
  EXPECT_NE(m.find("3 attempts"), std::string::npos) << m;
  EXPECT_NE(m.find("HTTP 429"), std::string::npos) << m;
}

TEST(TeacherRetry, ClientErrorsAreNotRetriedAndNameTheFix) {
  struct Case {
    int status;
    std::string body, expect;
  };
  std::vector<Case> cases = {
      {400, "{\"error\": {\"message\": \"max_tokens too large\"}}", "max_tokens too large"},
      {401, "{}", "check the API key: `yantra keys set prov` or the PROV_API_KEY variable"},
      {403, "{}", "yantra keys set prov"},
      {404, "{\"error\": \"model 'm1' not found\"}",
       "check the model name 'm1' and the base URL 'http://example.test/v1'"},
      {422, "{\"detail\": \"bad field\"}", "bad field"}};
  for (const auto& c : cases) {
    Rig rig(ProviderKind::openai_compatible);
    rig.transport->respond(c.status, c.body);
    auto reply = rig.client->chat(simple_request());
    ASSERT_FALSE(reply) << c.status;
    EXPECT_NE(reply.error().message.find(c.expect), std::string::npos) << reply.error().message;
    EXPECT_EQ(rig.transport->sent.size(), 1u);
    EXPECT_TRUE(rig.sleeper->waits.empty());
  }
}

// Every error path, each provider, with a key in the configuration and echoed back by the
// "server" in bodies and messages: the key is in no message.
TEST(TeacherSecrets, ApiKeyNeverAppearsInAnyError) {
  const std::string key = "sk-SECRET-0123456789abcdef";
  const std::string echo = "{\"error\": {\"message\": \"Incorrect API key provided: " + key +
                           " (sk-SECRET-0123****cdef)\"}}";
  using Script = std::function<void(ScriptedTransport&)>;
  std::vector<std::pair<std::string, Script>> paths = {
      {"400", [&](ScriptedTransport& t) { t.respond(400, echo); }},
      {"401", [&](ScriptedTransport& t) { t.respond(401, echo); }},
      {"403", [&](ScriptedTransport& t) { t.respond(403, echo); }},
      {"404", [&](ScriptedTransport& t) { t.respond(404, echo); }},
      {"418", [&](ScriptedTransport& t) { t.respond(418, echo); }},
      {"500",
       [&](ScriptedTransport& t) {
         t.respond(500, echo);
         t.respond(500, echo);
       }},
      {"reset",
       [&](ScriptedTransport& t) {
         t.fail("reset by " + key);
         t.fail(key);
       }},
      {"malformed", [&](ScriptedTransport& t) { t.respond(200, "{" + key); }},
      {"shape", [&](ScriptedTransport& t) { t.respond(200, "{\"x\": \"" + key + "\"}"); }},
      {"error200", [&](ScriptedTransport& t) { t.respond(200, echo); }},
      {"empty", [&](ScriptedTransport& t) { t.respond(200, "{\"choices\": []}"); }}};
  for (auto kind :
       {ProviderKind::openai_compatible, ProviderKind::anthropic, ProviderKind::gemini}) {
    for (const auto& [what, script] : paths) {
      Rig rig(kind, key, /*max_retries=*/1);
      script(*rig.transport);
      auto reply = rig.client->chat(simple_request());
      ASSERT_FALSE(reply) << what;
      const std::string& m = reply.error().message;
      EXPECT_EQ(m.find("SECRET"), std::string::npos) << to_string(kind) << " " << what << ": " << m;
      EXPECT_EQ(m.find("0123456789abcdef"), std::string::npos) << what << ": " << m;
      EXPECT_EQ(m.rfind("prov", 0), 0u) << what << ": " << m;  // names the provider
    }
  }
  // A key in the base URL itself.
  ProviderConfig bad{.name = "prov", .base_url = "ftp://" + key, .api_key = key};
  auto reply = make_client(bad)->chat(simple_request());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().message.find("SECRET"), std::string::npos) << reply.error().message;
}

TEST(TeacherSecrets, PlaceholderKeyEqualToTheNameIsNotMasked) {
  auto transport = std::make_shared<ScriptedTransport>();
  transport->respond(401, "{}");
  ProviderConfig config{.name = "ollama", .base_url = "http://h/v1", .api_key = "ollama"};
  auto reply =
      make_client(config, transport, std::make_shared<RecordingSleeper>())->chat(simple_request());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().message.rfind("ollama: authentication failed", 0), 0u)
      << reply.error().message;
}

TEST(TeacherSecrets, MaskSecretLeavesShortKeysAndOtherWordsAlone) {
  EXPECT_EQ(mask_secret("a b c", "b"), "a b c");
  EXPECT_EQ(mask_secret("key=abcdefghijkl, ok", "abcdefghijkl"), "[redacted], ok");
  const std::string key = "sk-abcdefghijklmnop";
  EXPECT_EQ(mask_secret("see sk-abcdefghij**** here", key), "see [redacted] here");
  // Shorter overlaps are ordinary words: a provider "my-mnop" keeps its name.
  EXPECT_EQ(mask_secret("my-mnop: failed", key), "my-mnop: failed");
}

// ---- wire formats ----------------------------------------------------------------------

TEST(TeacherWire, OpenAiRequestAndLogprobs) {
  Rig rig(ProviderKind::openai_compatible);
  json body = json::parse(openai_body({"ab"}));
  body["choices"][0]["logprobs"] = json::parse(R"({"content": [
      {"token": "a", "logprob": -0.1, "bytes": [97],
       "top_logprobs": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -2.5}]},
      {"token": "b", "logprob": -0.2, "top_logprobs": []}]})");
  rig.transport->respond(200, body.dump());
  ChatRequest req = simple_request();
  req.stop = {"\n\n"};
  req.top_logprobs = 50;
  auto reply = rig.client->chat(req);
  ASSERT_TRUE(reply) << reply.error().message;
  const SentRequest& sent = rig.transport->sent.at(0);
  EXPECT_EQ(sent.url, "http://example.test/v1/chat/completions");
  EXPECT_EQ(sent.header("Authorization"), "Bearer k-123456");
  EXPECT_EQ(sent.body["messages"][0], json({{"role", "system"}, {"content", "be brief"}}));
  EXPECT_EQ(sent.body["n"], 1);
  EXPECT_EQ(sent.body["stop"], json::array({"\n\n"}));
  EXPECT_EQ(sent.body["logprobs"], true);
  EXPECT_EQ(sent.body["top_logprobs"], 20);  // capped at the documented maximum
  ASSERT_EQ(reply->choices[0].logprobs.size(), 2u);
  EXPECT_EQ(reply->choices[0].logprobs[0].top[1], (std::pair<std::string, double>{"b", -2.5}));
}

TEST(TeacherWire, MissingUsageIsEstimatedAndFewerChoicesAreTopedUp) {
  Rig rig(ProviderKind::openai_compatible, "");
  rig.transport->respond(200, openai_body({"12345678"}, /*usage=*/false));
  rig.transport->respond(200, openai_body({"x", "y"}, /*usage=*/false));
  auto reply = rig.client->chat(simple_request(3));
  ASSERT_TRUE(reply) << reply.error().message;
  ASSERT_EQ(reply->choices.size(), 3u);
  EXPECT_EQ(rig.transport->sent[0].body["n"], 3);
  EXPECT_EQ(rig.transport->sent[1].body["n"], 2);                 // only what is still missing
  EXPECT_EQ(rig.transport->sent[0].header("Authorization"), "");  // no key, no header
  EXPECT_TRUE(reply->usage.estimated);
  // prompt "be brief" (2) + "hello" (2), twice; completions 2 + 1 + 1.
  EXPECT_EQ(reply->usage.prompt_tokens, 8);
  EXPECT_EQ(reply->usage.completion_tokens, 4);
}

TEST(TeacherWire, AnthropicRequestShape) {
  Rig rig(ProviderKind::anthropic);
  json body = {{"type", "message"},
               {"model", "claude-x"},
               {"stop_reason", "max_tokens"},
               {"content",
                {{{"type", "thinking"}, {"thinking", "hmm"}},
                 {{"type", "text"}, {"text", "hel"}},
                 {{"type", "text"}, {"text", "lo"}}}},
               {"usage", {{"input_tokens", 5}, {"output_tokens", 2}}}};
  rig.transport->respond(200, body.dump());
  rig.transport->respond(200, body.dump());
  auto reply = rig.client->chat(simple_request(2));
  ASSERT_TRUE(reply) << reply.error().message;
  ASSERT_EQ(rig.transport->sent.size(), 2u);  // no n: one request per sample
  const SentRequest& sent = rig.transport->sent[0];
  EXPECT_EQ(sent.url, "http://example.test/v1/messages");  // "/v1" not doubled
  EXPECT_EQ(sent.header("x-api-key"), "k-123456");
  EXPECT_EQ(sent.header("anthropic-version"), "2023-06-01");
  EXPECT_EQ(sent.body["system"], "be brief");
  EXPECT_EQ(sent.body["messages"], json::array({{{"role", "user"}, {"content", "hello"}}}));
  EXPECT_FALSE(sent.body.contains("n"));
  EXPECT_EQ(reply->choices[1].text, "hello");
  EXPECT_TRUE(reply->choices[0].truncated);
  EXPECT_EQ(reply->usage.prompt_tokens, 10);
  EXPECT_EQ(reply->model, "claude-x");
}

TEST(TeacherWire, GeminiRequestShapeAndLogprobs) {
  Rig rig(ProviderKind::gemini);
  json body = json::parse(R"({
    "candidates": [
      {"content": {"role": "model", "parts": [{"text": "o"}, {"text": "k"}]},
       "finishReason": "STOP", "index": 0,
       "logprobsResult": {
         "chosenCandidates": [{"token": "ok", "logProbability": -0.5}],
         "topCandidates": [{"candidates": [{"token": "ok", "logProbability": -0.5},
                                           {"token": "no", "logProbability": -1.5}]}]}},
      {"finishReason": "SAFETY", "index": 1}],
    "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
    "modelVersion": "gemini-x-001"})");
  rig.transport->respond(200, body.dump());
  ChatRequest req = simple_request(2);
  req.messages.push_back({"assistant", "prior"});
  req.top_logprobs = 2;
  req.model = "models/gemini-x";
  auto reply = rig.client->chat(req);
  ASSERT_TRUE(reply) << reply.error().message;
  const SentRequest& sent = rig.transport->sent.at(0);
  EXPECT_EQ(sent.url, "http://example.test/v1/v1beta/models/gemini-x:generateContent");
  EXPECT_EQ(sent.header("x-goog-api-key"), "k-123456");
  EXPECT_EQ(sent.body["systemInstruction"]["parts"][0]["text"], "be brief");
  EXPECT_EQ(sent.body["contents"][1]["role"], "model");
  EXPECT_EQ(sent.body["generationConfig"]["candidateCount"], 2);
  EXPECT_EQ(sent.body["generationConfig"]["logprobs"], 2);
  EXPECT_EQ(reply->choices[0].text, "ok");
  EXPECT_EQ(reply->choices[1].text, "");  // blocked candidate: empty, not an error
  EXPECT_EQ(reply->choices[1].finish_reason, "SAFETY");
  ASSERT_EQ(reply->choices[0].logprobs.size(), 1u);
  EXPECT_EQ(reply->choices[0].logprobs[0].top[1].first, "no");
  EXPECT_EQ(reply->usage.prompt_tokens, 9);
  EXPECT_EQ(reply->usage.completion_tokens, 0);
  EXPECT_FALSE(reply->usage.estimated);
}

TEST(TeacherWire, GeminiBlockedPromptIsAnError) {
  Rig rig(ProviderKind::gemini);
  rig.transport->respond(200, "{\"promptFeedback\": {\"blockReason\": \"SAFETY\"}}");
  auto reply = rig.client->chat(simple_request());
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message.find("blocked (SAFETY)"), std::string::npos);
}

TEST(TeacherWire, BadRequestsAndUrls) {
  Rig rig(ProviderKind::openai_compatible);
  ChatRequest empty = simple_request();
  empty.messages.clear();
  EXPECT_FALSE(rig.client->chat(empty));
  ChatRequest zero = simple_request(0);
  EXPECT_FALSE(rig.client->chat(zero));
  EXPECT_TRUE(rig.transport->sent.empty());
  EXPECT_FALSE(split_url("localhost:8080/v1"));
  auto parts = split_url("https://api.example.com:8443/v1/");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->origin, "https://api.example.com:8443");
  EXPECT_EQ(parts->path, "/v1");
}

}  // namespace
}  // namespace yantra::teacher
