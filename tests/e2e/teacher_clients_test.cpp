// The real HTTP client against real local servers (httplib::Server on 127.0.0.1, a free
// port each) that speak each provider's wire format: success, rate limits, auth errors,
// server errors, timeouts, malformed and truncated bodies, n samples; then the teacher
// tasks end to end through the OpenAI-compatible client.
#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "teacher/teacher.h"

namespace yantra::teacher {
namespace {

using nlohmann::json;

struct Received {
  std::string path;
  httplib::Headers headers;
  json body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);  // httplib::Headers compares names case-insensitively
    return it == headers.end() ? "" : it->second;
  }
};

// A provider on 127.0.0.1: records every request, answers with `behaviour`.
class FakeServer {
 public:
  using Behaviour = std::function<void(int index, const Received&, httplib::Response&)>;

  explicit FakeServer(Behaviour behaviour) : behaviour_(std::move(behaviour)) {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      Received r{req.path, req.headers, json::parse(req.body, nullptr, false)};
      int index;
      {
        std::lock_guard lock(mutex_);
        received_.push_back(r);
        index = static_cast<int>(received_.size()) - 1;
      }
      behaviour_(index, r, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeServer() {
    stopping_ = true;
    while (port_ > 0 && !server_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_.stop();
    thread_.join();
  }

  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::vector<Received> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  // Sleeps, but gives up as soon as the server is being torn down.
  void sleep_ms(int ms) {
    for (int i = 0; i < ms / 10 && !stopping_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

 private:
  httplib::Server server_;
  Behaviour behaviour_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Received> received_;
  std::atomic<bool> stopping_{false};
};

class RecordingSleeper : public Sleeper {
 public:
  void sleep(double seconds) override { waits.push_back(seconds); }
  std::vector<double> waits;
};

// ---- each provider's wire format, written from its public docs -------------------------

struct Spec {
  std::string label;
  ProviderKind kind;
  std::string model;
  std::string prefix;  // appended to the server's origin to make the base URL
  std::string path;    // where the client must POST
  // The reply body for `texts` (one choice or candidate each).
  std::function<std::string(const std::vector<std::string>& texts)> reply;
  std::function<std::string(int status, const std::string& message)> error;
  std::function<int(const json& body)> samples_honoured;  // how many one request may get
  std::function<void(const Received&)> check_request;
};

// gtest prints a failing parameter with this instead of its bytes.
void PrintTo(const Spec& spec, std::ostream* os) {
  *os << spec.label;
}

std::string openai_reply(const std::vector<std::string>& texts) {
  json choices = json::array();
  for (size_t i = 0; i < texts.size(); ++i)
    choices.push_back({{"index", i},
                       {"message", {{"role", "assistant"}, {"content", texts[i]}}},
                       {"logprobs", nullptr},
                       {"finish_reason", "stop"}});
  return json{{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"created", 1},
              {"model", "deepseek-coder"},
              {"choices", choices},
              {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 5}, {"total_tokens", 17}}}}
      .dump();
}

std::string anthropic_reply(const std::vector<std::string>& texts) {
  return json{{"id", "msg_1"},
              {"type", "message"},
              {"role", "assistant"},
              {"model", "claude-3-5-sonnet"},
              {"content", json::array({{{"type", "text"}, {"text", texts.at(0)}}})},
              {"stop_reason", "end_turn"},
              {"stop_sequence", nullptr},
              {"usage", {{"input_tokens", 12}, {"output_tokens", 5}}}}
      .dump();
}

std::string gemini_reply(const std::vector<std::string>& texts) {
  json candidates = json::array();
  for (size_t i = 0; i < texts.size(); ++i)
    candidates.push_back(
        {{"content", {{"parts", json::array({{{"text", texts[i]}}})}, {"role", "model"}}},
         {"finishReason", "STOP"},
         {"index", i}});
  return json{{"candidates", candidates},
              {"usageMetadata",
               {{"promptTokenCount", 12}, {"candidatesTokenCount", 5}, {"totalTokenCount", 17}}},
              {"modelVersion", "gemini-1.5-flash"}}
      .dump();
}

Spec openai_spec() {
  return {"openai",
          ProviderKind::openai_compatible,
          "deepseek-coder",
          "/v1",
          "/v1/chat/completions",
          openai_reply,
          [](int, const std::string& m) {
            return json{
                {"error", {{"message", m}, {"type", "invalid_request_error"}, {"code", nullptr}}}}
                .dump();
          },
          [](const json&) { return 1; },  // like Ollama: n is ignored
          [](const Received& r) {
            EXPECT_EQ(r.header("Authorization"), "Bearer sk-test-key-openai");
            EXPECT_EQ(r.body["model"], "deepseek-coder");
            EXPECT_EQ(r.body["messages"][0]["role"], "system");
            EXPECT_EQ(r.body["messages"][1]["content"], "Say hi.");
            EXPECT_EQ(r.body["max_tokens"], 64);
            EXPECT_DOUBLE_EQ(r.body["temperature"].get<double>(), 0.2);
            EXPECT_TRUE(r.body["n"].is_number_integer());
          }};
}

Spec anthropic_spec() {
  return {"anthropic",
          ProviderKind::anthropic,
          "claude-3-5-sonnet",
          "/gw",
          "/gw/v1/messages",
          anthropic_reply,
          [](int, const std::string& m) {
            return json{{"type", "error"},
                        {"error", {{"type", "authentication_error"}, {"message", m}}}}
                .dump();
          },
          [](const json&) { return 1; },
          [](const Received& r) {
            EXPECT_EQ(r.header("x-api-key"), "sk-test-key-anthropic");
            EXPECT_EQ(r.header("anthropic-version"), "2023-06-01");
            EXPECT_EQ(r.header("Authorization"), "");
            EXPECT_EQ(r.body["system"], "Be brief.");
            ASSERT_EQ(r.body["messages"].size(), 1u);
            EXPECT_EQ(r.body["messages"][0]["role"], "user");
            EXPECT_EQ(r.body["max_tokens"], 64);
          }};
}

Spec gemini_spec() {
  return {
      "gemini",
      ProviderKind::gemini,
      "gemini-1.5-flash",
      "",
      "/v1beta/models/gemini-1.5-flash:generateContent",
      gemini_reply,
      [](int status, const std::string& m) {
        return json{{"error", {{"code", status}, {"message", m}, {"status", "UNAUTHENTICATED"}}}}
            .dump();
      },
      [](const json& body) { return body["generationConfig"]["candidateCount"].get<int>(); },
      [](const Received& r) {
        EXPECT_EQ(r.header("x-goog-api-key"), "sk-test-key-gemini");
        EXPECT_EQ(r.body["systemInstruction"]["parts"][0]["text"], "Be brief.");
        EXPECT_EQ(r.body["contents"][0]["role"], "user");
        EXPECT_EQ(r.body["contents"][0]["parts"][0]["text"], "Say hi.");
        EXPECT_EQ(r.body["generationConfig"]["maxOutputTokens"], 64);
      }};
}

class TeacherClients : public ::testing::TestWithParam<Spec> {
 protected:
  std::unique_ptr<Client> client_for(const FakeServer& server, double timeout_s = 5,
                                     int max_retries = 2) {
    const Spec& spec = GetParam();
    ProviderConfig config;
    config.name = "my-" + spec.label;
    config.kind = spec.kind;
    config.base_url = server.origin() + spec.prefix;
    config.api_key = "sk-test-key-" + spec.label;
    config.timeout_s = timeout_s;
    config.max_retries = max_retries;
    return make_client(config, nullptr, sleeper_);
  }
  ChatRequest request(int n = 1) const {
    ChatRequest r;
    r.model = GetParam().model;
    r.messages = {{"system", "Be brief."}, {"user", "Say hi."}};
    r.max_tokens = 64;
    r.n = n;
    return r;
  }
  void reply_ok(httplib::Response& res, const std::vector<std::string>& texts) const {
    res.set_content(GetParam().reply(texts), "application/json");
  }
  std::shared_ptr<RecordingSleeper> sleeper_ = std::make_shared<RecordingSleeper>();
};

TEST_P(TeacherClients, Success) {
  FakeServer server([&](int, const Received&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    res.set_header("X-Recorded-Latency", "4.37");
    reply_ok(res, {"hi there"});
  });
  auto reply = client_for(server)->chat(request());
  ASSERT_TRUE(reply) << reply.error().message;
  ASSERT_EQ(reply->choices.size(), 1u);
  EXPECT_EQ(reply->choices[0].text, "hi there");
  EXPECT_EQ(reply->usage.prompt_tokens, 12);
  EXPECT_EQ(reply->usage.completion_tokens, 5);
  EXPECT_FALSE(reply->usage.estimated);
  EXPECT_GE(reply->latency_s, 0.05);
  EXPECT_LT(reply->latency_s, 2.0);
  EXPECT_DOUBLE_EQ(reply->recorded_latency_s.value_or(0), 4.37);
  EXPECT_EQ(reply->attempts, 1);
  auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].path, GetParam().path);
  EXPECT_EQ(received[0].header("Content-Type"), "application/json");
  ASSERT_TRUE(received[0].body.is_object());
  GetParam().check_request(received[0]);
}

TEST_P(TeacherClients, RateLimitedThenSucceedsHonouringRetryAfter) {
  FakeServer server([&](int index, const Received&, httplib::Response& res) {
    if (index == 0) {
      res.status = 429;
      res.set_header("Retry-After", "2");
      res.set_content(GetParam().error(429, "rate limited"), "application/json");
      return;
    }
    reply_ok(res, {"ok"});
  });
  auto reply = client_for(server)->chat(request());
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->choices[0].text, "ok");
  EXPECT_EQ(reply->attempts, 2);
  EXPECT_EQ(sleeper_->waits, (std::vector<double>{2.0}));
  EXPECT_EQ(server.received().size(), 2u);
}

TEST_P(TeacherClients, UnauthorizedIsNotRetriedAndNamesTheFix) {
  FakeServer server([&](int, const Received&, httplib::Response& res) {
    res.status = 401;
    res.set_content(GetParam().error(401, "invalid key"), "application/json");
  });
  auto reply = client_for(server)->chat(request());
  ASSERT_FALSE(reply);
  const std::string& m = reply.error().message;
  std::string name = "my-" + GetParam().label;
  EXPECT_EQ(m.rfind(name + ": authentication failed (HTTP 401", 0), 0u) << m;
  EXPECT_NE(m.find("`yantra keys set " + name + "`"), std::string::npos) << m;
  EXPECT_NE(m.find("invalid key"), std::string::npos) << m;
  EXPECT_EQ(m.find("sk-test-key"), std::string::npos) << m;
  EXPECT_EQ(server.received().size(), 1u);
  EXPECT_TRUE(sleeper_->waits.empty());
}

TEST_P(TeacherClients, ServerErrorIsRetriedThenReported) {
  FakeServer server([&](int, const Received&, httplib::Response& res) {
    res.status = 500;
    res.set_content(GetParam().error(500, "internal failure"), "application/json");
  });
  auto reply = client_for(server, 5, /*max_retries=*/2)->chat(request());
  ASSERT_FALSE(reply);
  const std::string& m = reply.error().message;
  EXPECT_NE(m.find("after 3 attempts"), std::string::npos) << m;
  EXPECT_NE(m.find("HTTP 500"), std::string::npos) << m;
  EXPECT_NE(m.find("internal failure"), std::string::npos) << m;
  EXPECT_EQ(server.received().size(), 3u);
  ASSERT_EQ(sleeper_->waits.size(), 2u);
  EXPECT_LT(sleeper_->waits[0], sleeper_->waits[1]);  // exponential back-off
}

TEST_P(TeacherClients, TimeoutIsRetriedThenReported) {
  FakeServer* self = nullptr;
  FakeServer server([&](int, const Received&, httplib::Response& res) {
    self->sleep_ms(1500);
    reply_ok(res, {"too late"});
  });
  self = &server;
  double start = monotonic_seconds();
  auto reply = client_for(server, /*timeout_s=*/0.25, /*max_retries=*/1)->chat(request());
  double elapsed = monotonic_seconds() - start;
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message.find("timed out"), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find("2 attempts"), std::string::npos) << reply.error().message;
  EXPECT_LT(elapsed, 1.4);  // two short waits, not the server's 1.5 s
  EXPECT_EQ(sleeper_->waits.size(), 1u);
}

TEST_P(TeacherClients, MalformedJsonIsAnError) {
  FakeServer server([&](int, const Received&, httplib::Response& res) {
    res.set_content("<html>502 Bad Gateway</html>", "application/json");
  });
  auto reply = client_for(server)->chat(request());
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message.find("malformed JSON"), std::string::npos)
      << reply.error().message;
  EXPECT_EQ(server.received().size(), 1u);
}

TEST_P(TeacherClients, CutJsonIsAnError) {
  FakeServer server([&](int, const Received&, httplib::Response& res) {
    std::string full = GetParam().reply({"a complete answer"});
    res.set_content(full.substr(0, full.size() / 2), "application/json");
  });
  auto reply = client_for(server)->chat(request());
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message.find("malformed JSON"), std::string::npos)
      << reply.error().message;
}

TEST_P(TeacherClients, WrongShapeIsAnError) {
  FakeServer server([&](int, const Received&, httplib::Response& res) {
    res.set_content(R"({"result": "hi", "choices": 3, "content": {}, "candidates": "x"})",
                    "application/json");
  });
  auto reply = client_for(server)->chat(request());
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message.find("unexpected reply"), std::string::npos)
      << reply.error().message;
}

// Content-Length promises more than is sent, then the connection closes.
TEST_P(TeacherClients, TruncatedBodyIsRetriedThenReported) {
  FakeServer server([&](int, const Received&, httplib::Response& res) {
    std::string full = GetParam().reply({"a complete answer"});
    std::string half = full.substr(0, full.size() / 2);
    res.set_content_provider(full.size(), "application/json",
                             [half](size_t offset, size_t, httplib::DataSink& sink) {
                               if (offset > 0) return false;  // abort: the socket closes
                               sink.write(half.data(), half.size());
                               return true;
                             });
  });
  auto reply = client_for(server, 5, /*max_retries=*/1)->chat(request());
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message.find("closed before the whole reply arrived"), std::string::npos)
      << reply.error().message;
  EXPECT_EQ(server.received().size(), 2u);
}

TEST_P(TeacherClients, CollectsNSamples) {
  std::atomic<int> served{0};
  FakeServer server([&](int, const Received& r, httplib::Response& res) {
    int count = GetParam().samples_honoured(r.body);
    std::vector<std::string> texts;
    for (int i = 0; i < count; ++i) texts.push_back("sample " + std::to_string(served++));
    reply_ok(res, texts);
  });
  auto reply = client_for(server)->chat(request(3));
  ASSERT_TRUE(reply) << reply.error().message;
  ASSERT_EQ(reply->choices.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reply->choices[i].text, "sample " + std::to_string(i));
  size_t requests = server.received().size();
  EXPECT_EQ(requests, GetParam().kind == ProviderKind::gemini ? 1u : 3u);
  EXPECT_EQ(reply->usage.completion_tokens, 5 * static_cast<int64_t>(requests));
  EXPECT_EQ(reply->attempts, static_cast<int>(requests));
}

INSTANTIATE_TEST_SUITE_P(Teacher, TeacherClients,
                         ::testing::Values(openai_spec(), anthropic_spec(), gemini_spec()),
                         [](const auto& info) { return info.param.label; });

TEST(TeacherConnection, RefusedIsRetriedThenReported) {
  int port;
  {
    FakeServer gone([](int, const Received&, httplib::Response&) {});
    port = gone.port();
  }
  auto sleeper = std::make_shared<RecordingSleeper>();
  ProviderConfig config{.name = "local",
                        .base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1",
                        .timeout_s = 2,
                        .max_retries = 2};
  ChatRequest request{.model = "m", .messages = {{"user", "hi"}}};
  auto reply = make_client(config, nullptr, sleeper)->chat(request);
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message.find("connection failed"), std::string::npos)
      << reply.error().message;
  EXPECT_NE(reply.error().message.find("3 attempts"), std::string::npos);
  EXPECT_EQ(sleeper->waits.size(), 2u);
}

// ---- the tasks through the real OpenAI-compatible client -------------------------------

std::unique_ptr<Client> local_client(const FakeServer& server) {
  ProviderConfig config{.name = "ollama", .base_url = server.origin() + "/v1", .timeout_s = 5};
  return make_client(config);
}

TEST(TeacherTasksE2E, GenerateCodeThroughTheOpenAiClient) {
  FakeServer server([](int, const Received& r, httplib::Response& res) {
    int n = r.body.value("n", 1);
    std::vector<std::string> texts;
    for (int i = 0; i < n; ++i)
      texts.push_back("Here you go:\n\n```python\ndef add(a, b):\n    return a + b" +
                      std::string(i ? "  # v2" : "") + "\n```\nIt adds.");
    res.set_content(openai_reply(texts), "application/json");
  });
  auto gen = generate_code(*local_client(server), "qwen2.5-coder", "Add two numbers.", "add", 2);
  ASSERT_TRUE(gen) << gen.error().message;
  ASSERT_EQ(gen->candidates.size(), 2u);
  EXPECT_EQ(gen->candidates[0].code, "def add(a, b):\n    return a + b\n");
  EXPECT_EQ(gen->candidates[1].code, "def add(a, b):\n    return a + b  # v2\n");
  EXPECT_EQ(gen->usage.prompt_tokens, 12);
  auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].body["n"], 2);
  EXPECT_EQ(received[0].header("Authorization"), "");  // no key configured
  EXPECT_NE(received[0].body["messages"][1]["content"].get<std::string>().find("Add two numbers."),
            std::string::npos);
}

TEST(TeacherTasksE2E, SoftLabelsAveragedOverSamples) {
  FakeServer server([](int, const Received& r, httplib::Response& res) {
    std::vector<std::string> texts = {
        R"({"test_kinds": {"empty_input": 1.0, "none": 0.0, "boundary": 0.5}})",
        "Sure:\n```json\n{\"test_kinds\": {\"empty_input\": 0.0, \"none\": 0.5, "
        "\"boundary\": 0.5}}\n```",
        "I am not sure."};
    texts.resize(r.body.value("n", 1));
    res.set_content(openai_reply(texts), "application/json");
  });
  auto labels = soft_labels(*local_client(server), "qwen2.5-coder", "def first(xs): ...",
                            {{"test_kinds", {"empty_input", "none", "boundary"}}}, {.n = 3});
  ASSERT_TRUE(labels) << labels.error().message;
  EXPECT_EQ(labels->samples, 2);
  EXPECT_EQ(labels->rejected_samples, 1);
  EXPECT_DOUBLE_EQ(labels->probs["test_kinds"]["empty_input"], 0.5);
  EXPECT_DOUBLE_EQ(labels->probs["test_kinds"]["none"], 0.25);
  EXPECT_DOUBLE_EQ(labels->probs["test_kinds"]["boundary"], 0.5);
  auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].body["n"], 3);
}

TEST(TeacherTasksE2E, GenerateTestsThroughTheOpenAiClient) {
  FakeServer server([](int, const Received&, httplib::Response& res) {
    res.set_content(openai_reply({"```python\nassert add(1, 2) == 3\nassert add(0, 0) == 0\n```"}),
                    "application/json");
  });
  auto tests = generate_tests(*local_client(server), "m", "Add two numbers.",
                              "def add(a, b):\n    return a + b\n", "add");
  ASSERT_TRUE(tests) << tests.error().message;
  EXPECT_EQ(tests->asserts,
            (std::vector<std::string>{"assert add(1, 2) == 3", "assert add(0, 0) == 0"}));
}

}  // namespace
}  // namespace yantra::teacher
