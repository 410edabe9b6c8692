// A local OpenAI-compatible server (cpp-httplib on a free loopback port) that answers every
// chat completion with the same code, n choices when asked for n, and counts the requests.
#pragma once

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace yantra::testing {

class FixedAnswerServer {
 public:
  explicit FixedAnswerServer(std::string code) : code_(std::move(code)) {
    server_.Post(
        "/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
          {
            std::lock_guard lock(mutex_);
            ++requests_;
          }
          nlohmann::json body = nlohmann::json::parse(req.body);
          nlohmann::json reply = {{"id", "x"},
                                  {"model", body["model"]},
                                  {"choices", nlohmann::json::array()},
                                  {"usage", {{"prompt_tokens", 100}, {"completion_tokens", 20}}}};
          for (int i = 0; i < body.value("n", 1); ++i)
            reply["choices"].push_back(
                {{"index", i},
                 {"finish_reason", "stop"},
                 {"message", {{"role", "assistant"}, {"content", "```python\n" + code_ + "```"}}}});
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
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  std::string code_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  int requests_ = 0;
};

}  // namespace yantra::testing
