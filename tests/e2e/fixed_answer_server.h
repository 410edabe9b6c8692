// A local OpenAI-compatible server (cpp-httplib on a free loopback port) that answers every
// request for code with the same code, n choices when asked for n, and every request for
// tests (the router's "expert Python tester" prompt) with `tests` (by default the same
// code, as a model that ignores the task would); it counts each kind apart.
#pragma once

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

namespace yantra::testing {

class FixedAnswerServer {
 public:
  explicit FixedAnswerServer(std::string code, std::optional<std::string> tests = {})
      : code_(std::move(code)), tests_(std::move(tests)) {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req,
                                                httplib::Response& res) {
      nlohmann::json body = nlohmann::json::parse(req.body);
      const bool for_tests = body.dump().find("expert Python tester") != std::string::npos;
      {
        std::lock_guard lock(mutex_);
        ++(for_tests ? test_requests_ : requests_);
      }
      const std::string answer = for_tests && tests_ ? *tests_ : code_;
      nlohmann::json reply = {{"id", "x"},
                              {"model", body["model"]},
                              {"choices", nlohmann::json::array()},
                              {"usage", {{"prompt_tokens", 100}, {"completion_tokens", 20}}}};
      for (int i = 0; i < body.value("n", 1); ++i)
        reply["choices"].push_back(
            {{"index", i},
             {"finish_reason", "stop"},
             {"message", {{"role", "assistant"}, {"content", "```python\n" + answer + "```"}}}});
      res.set_content(reply.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FixedAnswerServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int requests() {  // for code
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int test_requests() {
    std::lock_guard lock(mutex_);
    return test_requests_;
  }

 private:
  std::string code_;
  std::optional<std::string> tests_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  int requests_ = 0, test_requests_ = 0;
};

}  // namespace yantra::testing
