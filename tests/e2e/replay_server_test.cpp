// The replay server on the real recorded runs: every one of the 3,300 answers comes back
// for its prompt and model, in run order, with its recorded tokens and latency; sampling,
// errors, concurrency, aliases (reworded prompts of a task, its code renamed), and
// `yantra replay serve` as a real process stopped by SIGTERM.
// The test reads the data files itself, independently of the server's loader.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "../unit/test_support.h"
#include "base/base.h"
#include "replay/replay.h"

namespace {

using nlohmann::json;
using yantra::replay::ReplayServer;
using yantra::testing::contains;
using yantra::testing::read_gz_lines;

const std::string kData = yantra::testing::shared_path("shared/data/humaneval") + "/";
const std::string kRuns = kData + "recorded-runs-dev.jsonl.gz";

struct Recorded {
  std::string code;
  double duration = 0;
  json prompt_tokens, completion_tokens;
};

struct Data {
  std::vector<std::string> task_ids, models;
  std::map<std::string, std::string> prompts;
  std::map<std::tuple<std::string, std::string, int>, Recorded> runs;  // model, task, run
};

const Data& data() {
  static const Data d = [] {
    Data d;
    for (const json& p : read_gz_lines(kData + "HumanEval-dev.jsonl.gz")) {
      d.task_ids.push_back(p["task_id"]);
      d.prompts[p["task_id"]] = p["prompt"];
    }
    std::set<std::string> models;
    for (const json& r : read_gz_lines(kRuns)) {
      models.insert(r["model"].get<std::string>());
      d.runs[{r["model"], r["task_id"], r["run"].get<int>()}] = {
          r["code"], r["duration_s"], r["prompt_tokens"], r["completion_tokens"]};
    }
    d.models.assign(models.begin(), models.end());
    return d;
  }();
  return d;
}

// A chat request as a coding assistant client would send it, the prompt inside a fence.
std::string chat_body(const std::string& model, const std::string& prompt, int n = 1) {
  json body = {{"model", model},
               {"temperature", 0.2},
               {"messages",
                {{{"role", "system"},
                  {"content", "You are an expert Python programmer. Answer with code only."}},
                 {{"role", "user"},
                  {"content",
                   "Complete the following Python function. Keep the signature.\n\n"
                   "```python\n" +
                       prompt + "\n```\n"}}}}};
  if (n != 1) body["n"] = n;
  return body.dump();
}

// Characters as the server counts them for estimated usage: UTF-8 code points.
size_t utf8_chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

size_t request_chars(const std::string& body) {
  size_t chars = 0;
  json request = json::parse(body);
  for (const json& m : request["messages"]) chars += utf8_chars(m["content"].get<std::string>());
  return chars;
}

std::string trimmed(const std::string& s) {
  size_t begin = s.find_first_not_of(" \n"), end = s.find_last_not_of(" \n");
  return s.substr(begin, end - begin + 1);
}

int64_t quarter_up(size_t chars) {
  return static_cast<int64_t>((chars + 3) / 4);
}

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(kData.empty() || data().runs.empty()) << "shared/data/humaneval not found";
    auto loaded = ReplayServer::load(kRuns);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    server_ = std::make_unique<ReplayServer>(std::move(loaded).value());
    auto port = server_->start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);
    c.set_read_timeout(30, 0);
    return c;
  }
  std::unique_ptr<ReplayServer> server_;
  int port_ = 0;
};

// What a reply must say for run `run` of (model, task).
void expect_run(const httplib::Result& res, const std::string& model, const std::string& task,
                int run, const std::string& body) {
  ASSERT_TRUE(res) << "no reply: " << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  const Recorded& want = data().runs.at({model, task, run});
  json reply = json::parse(res->body);
  EXPECT_EQ(reply["object"], "chat.completion");
  EXPECT_EQ(reply["model"], model);
  ASSERT_EQ(reply["choices"].size(), 1u);
  const json& choice = reply["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(choice["message"]["role"], "assistant");
  std::string content = choice["message"]["content"];
  if (want.code.empty()) {
    EXPECT_EQ(content, "");
  } else {
    EXPECT_TRUE(contains(content, want.code)) << model << " " << task << " run " << run;
    EXPECT_TRUE(content.starts_with("```python\n")) << content;
  }
  EXPECT_EQ(res->get_header_value("X-Replay-Runs"), std::to_string(run));
  EXPECT_EQ(res->get_header_value("X-Replay-Task"), task);
  EXPECT_EQ(std::stod(res->get_header_value("X-Recorded-Latency")), want.duration);
  const json& usage = reply["usage"];
  if (want.prompt_tokens.is_number()) {
    EXPECT_EQ(usage["prompt_tokens"], want.prompt_tokens);
    EXPECT_EQ(usage["completion_tokens"], want.completion_tokens);
    EXPECT_FALSE(res->has_header("X-Usage-Estimated"));
  } else {
    EXPECT_EQ(res->get_header_value("X-Usage-Estimated"), "true");
    EXPECT_EQ(usage["prompt_tokens"], quarter_up(request_chars(body)));
    EXPECT_EQ(usage["completion_tokens"], quarter_up(utf8_chars(content)));
  }
  EXPECT_EQ(usage["total_tokens"],
            usage["prompt_tokens"].get<int64_t>() + usage["completion_tokens"].get<int64_t>());
  EXPECT_FALSE(contains(res->body, "def check(candidate)"));  // hidden tests never leak
}

TEST_F(ReplayTest, EveryRecordedRunComesBackInOrder) {
  const Data& d = data();
  ASSERT_EQ(d.models.size(), 3u);
  ASSERT_EQ(d.task_ids.size(), 110u);
  double t0 = yantra::monotonic_seconds();
  // One client thread per model: the runs of one (model, task) stay in order, and the
  // server's counters see requests side by side.
  std::vector<std::thread> clients;
  for (const std::string& model : d.models) {
    clients.emplace_back([&, model] {
      httplib::Client c = client();
      for (int run = 1; run <= 10; ++run) {
        for (const std::string& task : d.task_ids) {
          // Every other round, a prompt trimmed at its ends: matching must not care.
          const std::string& p = d.prompts.at(task);
          std::string prompt = run % 2 ? p : trimmed(p);
          std::string body = chat_body(model, prompt);
          auto res = c.Post("/v1/chat/completions", body, "application/json");
          expect_run(res, model, task, run, body);
          if (::testing::Test::HasFailure()) return;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  double seconds = yantra::monotonic_seconds() - t0;
  EXPECT_EQ(server_->requests_served(), 3300u);
  EXPECT_LT(seconds, 60.0);
  std::printf("3300 replayed requests in %.2f s\n", seconds);
}

}  // namespace

namespace {

json post_json(httplib::Client& c, const std::string& body, int want_status,
               httplib::Headers* headers = nullptr) {
  auto res = c.Post("/v1/chat/completions", body, "application/json");
  if (!res) {
    ADD_FAILURE() << "no reply: " << httplib::to_string(res.error());
    return json();
  }
  EXPECT_EQ(res->status, want_status) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  if (headers) *headers = res->headers;
  return json::parse(res->body, nullptr, false);
}

std::string header(const httplib::Headers& h, const std::string& name) {
  auto it = h.find(name);
  return it == h.end() ? "" : it->second;
}

void expect_error(const json& reply, const std::string& code) {
  ASSERT_TRUE(reply.is_object()) << reply;
  ASSERT_TRUE(reply.contains("error")) << reply;
  EXPECT_EQ(reply["error"]["code"], code) << reply;
  EXPECT_TRUE(reply["error"]["message"].is_string());
  EXPECT_TRUE(reply["error"]["type"].is_string());
}

TEST_F(ReplayTest, SamplingReturnsConsecutiveRunsAndWraps) {
  const Data& d = data();
  const std::string task = d.task_ids[7], prompt = d.prompts.at(task);
  httplib::Client c = client();
  std::vector<int> first_runs = {1, 4, 7};
  std::vector<int> counts = {3, 3, 5};  // the third wraps: 7, 8, 9, 10, 1
  for (size_t r = 0; r < counts.size(); ++r) {
    httplib::Headers h;
    json reply = post_json(c, chat_body("gpt-4", prompt, counts[r]), 200, &h);
    ASSERT_EQ(reply["choices"].size(), static_cast<size_t>(counts[r]));
    int64_t completion = 0;
    double latency = 0;
    std::string runs;
    for (int i = 0; i < counts[r]; ++i) {
      int run = (first_runs[r] - 1 + i) % 10 + 1;
      const Recorded& want = d.runs.at({"gpt-4", task, run});
      EXPECT_EQ(reply["choices"][i]["index"], i);
      EXPECT_TRUE(
          contains(reply["choices"][i]["message"]["content"].get<std::string>(), want.code));
      completion += want.completion_tokens.get<int64_t>();
      latency = std::max(latency, want.duration);
      runs.append(i ? "," : "").append(std::to_string(run));
    }
    EXPECT_EQ(header(h, "X-Replay-Runs"), runs);
    EXPECT_EQ(std::stod(header(h, "X-Recorded-Latency")), latency);  // the slowest sample
    EXPECT_EQ(reply["usage"]["prompt_tokens"], d.runs.at({"gpt-4", task, 1}).prompt_tokens);
    EXPECT_EQ(reply["usage"]["completion_tokens"], completion);
  }
}

TEST_F(ReplayTest, CountersAreExactUnderConcurrentRequests) {
  const std::string task = data().task_ids[3], prompt = data().prompts.at(task);
  constexpr int kThreads = 8, kEach = 10;
  std::vector<std::vector<int>> served(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c = client();
      for (int i = 0; i < kEach; ++i) {
        auto res =
            c.Post("/v1/chat/completions", chat_body("gpt-3.5-turbo", prompt), "application/json");
        if (res && res->status == 200)
          served[t].push_back(std::stoi(res->get_header_value("X-Replay-Runs")));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::map<int, int> per_run;
  for (const auto& v : served)
    for (int run : v) per_run[run]++;
  ASSERT_EQ(per_run.size(), 10u);
  for (const auto& [run, count] : per_run) EXPECT_EQ(count, kThreads * kEach / 10) << "run " << run;
}

TEST_F(ReplayTest, ErrorsAreOpenAiShaped) {
  httplib::Client c = client();
  const std::string prompt = data().prompts.at(data().task_ids[0]);
  expect_error(post_json(c, chat_body("gpt-4", "def not_a_recorded_task(x):\n    pass\n"), 404),
               "prompt_not_found");
  expect_error(post_json(c, chat_body("gpt-5-imaginary", prompt), 404), "model_not_found");
  expect_error(post_json(c, "{\"model\": \"gpt-4\", \"messages\": [", 400), "invalid_json");
  expect_error(post_json(c, R"({"model": "gpt-4"})", 400), "invalid_value");
  expect_error(post_json(c, R"({"messages": [{"role": "user", "content": "x"}]})", 400),
               "invalid_value");
  expect_error(post_json(c, R"([1, 2])", 400), "invalid_request");
  json bad_n = json::parse(chat_body("gpt-4", prompt));
  bad_n["n"] = 0;
  expect_error(post_json(c, bad_n.dump(), 400), "invalid_value");
  bad_n["n"] = 2;
  bad_n["stream"] = true;
  expect_error(post_json(c, bad_n.dump(), 400), "invalid_value");

  auto wrong_path = c.Post("/v1/completions", chat_body("gpt-4", prompt), "application/json");
  ASSERT_TRUE(wrong_path);
  EXPECT_EQ(wrong_path->status, 404);
  expect_error(json::parse(wrong_path->body), "unknown_url");

  std::string huge = chat_body("gpt-4", prompt + std::string(2 << 20, ' '));
  auto too_large = c.Post("/v1/chat/completions", huge, "application/json");
  ASSERT_TRUE(too_large);
  EXPECT_EQ(too_large->status, 413);

  // Errors consume no run: the next good request still gets run 1.
  httplib::Headers h;
  post_json(c, chat_body("gpt-4", prompt), 200, &h);
  EXPECT_EQ(header(h, "X-Replay-Runs"), "1");
  EXPECT_EQ(server_->requests_served(), 1u);
}

TEST_F(ReplayTest, ListsModelsAndAcceptsContentParts) {
  httplib::Client c = client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  std::vector<std::string> ids;
  json listed = json::parse(models->body);
  for (const json& m : listed["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, data().models);

  // The newer content form: a list of text parts.
  const std::string task = data().task_ids[42];
  json body = {{"model", "codellama-34b-instruct"},
               {"messages",
                {{{"role", "user"},
                  {"content",
                   {{{"type", "text"}, {"text", "Write this function:"}},
                    {{"type", "text"}, {"text", data().prompts.at(task)}}}}}}}};
  httplib::Headers h;
  json reply = post_json(c, body.dump(), 200, &h);
  EXPECT_EQ(header(h, "X-Replay-Task"), task);
}

TEST_F(ReplayTest, ABusyPortIsAClearError) {
  auto second = ReplayServer::load(kRuns);
  ASSERT_TRUE(second.ok());
  auto started = second->start("127.0.0.1", port_);
  ASSERT_FALSE(started.ok());
  EXPECT_TRUE(
      contains(started.error().message, "cannot listen on 127.0.0.1:" + std::to_string(port_)))
      << started.error().message;
}

// One task of a ReCode set, as the file has it.
json recode_task(const std::string& set, const std::string& task_id) {
  const std::string path =
      yantra::testing::shared_path("shared/data/recode") + "/humaneval_" + set + "-dev.jsonl.gz";
  for (const json& t : read_gz_lines(path))
    if (t["task_id"] == task_id) return t;
  ADD_FAILURE() << task_id << " not found in " << path;
  return json::object();
}

// Reworded prompts registered as aliases get their task's recorded runs (counted with
// the task's own requests), the recorded function renamed to the name the alias asks for
// with a whole-word rename: is_palindrome, a helper that contains no whole word
// make_palindrome, keeps its name.
TEST(ReplayAlias, ARewordedPromptGetsItsTasksRunsRenamed) {
  const json renamed = recode_task("FuncRenameCamelCase_s0", "HumanEval/10");
  const json commented = recode_task("doc2comments_s0", "HumanEval/3");
  ASSERT_EQ(renamed["entry_point"], "makePalindrome");
  auto server = ReplayServer::load(kRuns);
  ASSERT_TRUE(server.ok()) << server.error().message;
  ASSERT_TRUE(server->add_alias(renamed["prompt"], "HumanEval/10", "makePalindrome").ok());
  ASSERT_TRUE(server->add_alias(commented["prompt"], "HumanEval/3", "").ok());
  // The nominal prompt as an alias of its own task, with its own name: nothing new.
  ASSERT_TRUE(server->add_alias(data().prompts.at("HumanEval/10"), "HumanEval/10", "").ok());
  EXPECT_EQ(server->alias_count(), 2u);
  auto expect_refused = [&](const std::string& prompt, const std::string& task,
                            const std::string& entry, const std::string& why) {
    auto r = server->add_alias(prompt, task, entry);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_TRUE(contains(r.error().message, why)) << r.error().message;
  };
  expect_refused("def f(x):\n    pass\n", "HumanEval/999", "f", "HumanEval/999");
  expect_refused("  \n", "HumanEval/10", "f", "empty");
  expect_refused("def f(x):\n    pass\n", "HumanEval/10", "not-a-name", "identifier");
  expect_refused(renamed["prompt"], "HumanEval/0", "", "already stands for HumanEval/10");
  expect_refused(renamed["prompt"], "HumanEval/10", "make_pal", "already stands for");
  EXPECT_EQ(server->alias_count(), 2u);

  int port = std::move(server->start("127.0.0.1", 0)).take();
  EXPECT_FALSE(server->add_alias("def g():\n    pass\n", "HumanEval/0", "g").ok());
  httplib::Client c("127.0.0.1", port);
  httplib::Headers h;
  const json other = recode_task("FuncRenameCamelCase_s0", "HumanEval/0");  // not registered
  expect_error(post_json(c, chat_body("gpt-4", other["prompt"]), 404), "prompt_not_found");

  json reply = post_json(c, chat_body("gpt-4", renamed["prompt"]), 200, &h);
  const std::string recorded = data().runs.at({"gpt-4", "HumanEval/10", 1}).code;
  const std::string want =
      std::regex_replace(recorded, std::regex("\\bmake_palindrome\\b"), "makePalindrome");
  ASSERT_NE(want, recorded);
  ASSERT_TRUE(contains(recorded, "def is_palindrome(")) << recorded;
  std::string content = reply["choices"][0]["message"]["content"];
  EXPECT_EQ(content, "```python\n" + want + (want.ends_with("\n") ? "" : "\n") + "```");
  EXPECT_TRUE(contains(content, "def makePalindrome(")) << content;
  EXPECT_TRUE(contains(content, "def is_palindrome(")) << content;
  EXPECT_FALSE(contains(content, "make_palindrome")) << content;
  EXPECT_EQ(header(h, "X-Replay-Task"), "HumanEval/10");
  EXPECT_EQ(header(h, "X-Replay-Runs"), "1");
  EXPECT_EQ(header(h, "X-Replay-Renamed"), "make_palindrome -> makePalindrome");

  // The nominal prompt continues the same task's runs, as recorded.
  reply = post_json(c, chat_body("gpt-4", data().prompts.at("HumanEval/10")), 200, &h);
  EXPECT_EQ(header(h, "X-Replay-Runs"), "2");
  EXPECT_EQ(header(h, "X-Replay-Renamed"), "");
  content = reply["choices"][0]["message"]["content"];
  EXPECT_TRUE(contains(content, data().runs.at({"gpt-4", "HumanEval/10", 2}).code)) << content;

  // Comments instead of a docstring, same name: the recorded code as it is.
  reply = post_json(c, chat_body("gpt-3.5-turbo", commented["prompt"]), 200, &h);
  EXPECT_EQ(header(h, "X-Replay-Task"), "HumanEval/3");
  EXPECT_EQ(header(h, "X-Replay-Renamed"), "");
  content = reply["choices"][0]["message"]["content"];
  EXPECT_TRUE(contains(content, data().runs.at({"gpt-3.5-turbo", "HumanEval/3", 1}).code));
  server->stop();
}

// --sleep waits the recorded latency (scaled here), and stop() cuts a sleep short.
TEST(ReplaySleep, WaitsTheRecordedLatencyUntilStopped) {
  auto server = ReplayServer::load(kRuns);
  ASSERT_TRUE(server.ok()) << server.error().message;
  int port = std::move(server->start("127.0.0.1", 0, {.sleep = true, .sleep_scale = 0.05})).take();
  const std::string task = data().task_ids[0];
  httplib::Client c("127.0.0.1", port);
  double t0 = yantra::monotonic_seconds();
  auto res = c.Post("/v1/chat/completions", chat_body("gpt-4", data().prompts.at(task)),
                    "application/json");
  double waited = yantra::monotonic_seconds() - t0;
  ASSERT_TRUE(res);
  double latency = data().runs.at({"gpt-4", task, 1}).duration;
  EXPECT_GE(waited, 0.05 * latency);
  EXPECT_LT(waited, 0.05 * latency + 2.0);
  server->stop();

  // Full latency this time (about 10 s for gpt-4 run 2): stop() must not wait for it.
  port = std::move(server->start("127.0.0.1", 0, {.sleep = true})).take();
  std::thread client([&] {
    httplib::Client slow("127.0.0.1", port);
    slow.Post("/v1/chat/completions", chat_body("gpt-4", data().prompts.at(task)),
              "application/json");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  t0 = yantra::monotonic_seconds();
  server->stop();
  client.join();
  EXPECT_LT(yantra::monotonic_seconds() - t0, 3.0);
}

TEST(ReplayLoad, BadInputIsNamed) {
  auto missing = ReplayServer::load("/nonexistent/runs.jsonl.gz");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.error().message, "/nonexistent/HumanEval-dev.jsonl.gz"))
      << missing.error().message;

  auto dir = std::filesystem::temp_directory_path() / ("yantra-replay-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto write_gz = [&](const std::string& name, const std::string& text) {
    gzFile f = gzopen((dir / name).c_str(), "wb");
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
    return (dir / name).string();
  };
  std::string problems = write_gz("p.jsonl.gz", R"({"task_id": "T/1", "prompt": "def f():\n"})"
                                                "\n");
  std::string runs = write_gz(
      "r.jsonl.gz", R"({"model": "m", "task_id": "T/1", "run": 1, "code": "x", "duration_s": 1})"
                    "\n"
                    R"({"model": "m", "task_id": "T/2", "run": 1, "code": "x", "duration_s": 1})"
                    "\n");
  auto unknown_task = ReplayServer::load(runs, problems);
  ASSERT_FALSE(unknown_task.ok());
  EXPECT_TRUE(contains(unknown_task.error().message, "r.jsonl.gz:2:"))
      << unknown_task.error().message;
  EXPECT_TRUE(contains(unknown_task.error().message, "T/2"));

  std::string broken = write_gz("b.jsonl.gz", "{\"model\": \n");
  auto bad_json = ReplayServer::load(broken, problems);
  ASSERT_FALSE(bad_json.ok());
  EXPECT_TRUE(contains(bad_json.error().message, "b.jsonl.gz:1:")) << bad_json.error().message;
  std::filesystem::remove_all(dir);
}

// `yantra replay serve --port 0` as a user starts it; it prints its address, answers,
// and exits 0 on SIGTERM.
TEST(ReplayCli, ServesUntilSigterm) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::execl(YANTRA_BINARY, YANTRA_BINARY, "replay", "serve", "--runs", kRuns.c_str(), "--port", "0",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string printed;
  double deadline = yantra::monotonic_seconds() + 60;
  while (!contains(printed, "\n") && yantra::monotonic_seconds() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    char buf[256];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    printed.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  const std::string prefix = "listening on http://127.0.0.1:";
  ASSERT_TRUE(printed.starts_with(prefix)) << printed;
  int port = std::stoi(printed.substr(prefix.size()));
  EXPECT_TRUE(contains(printed, "/v1\n")) << printed;

  httplib::Client c("127.0.0.1", port);
  const std::string task = data().task_ids[5];
  std::string body = chat_body("gpt-4", data().prompts.at(task));
  auto res = c.Post("/v1/chat/completions", body, "application/json");
  expect_run(res, "gpt-4", task, 1, body);

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  for (int i = 0; i < 200 && ::waitpid(pid, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(WIFEXITED(status)) << "did not exit on SIGTERM";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
