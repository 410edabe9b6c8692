// replay: recorded LLM answers served over an OpenAI-compatible HTTP API.
//
//   auto server = ReplayServer::load("shared/data/humaneval/recorded-runs-dev.jsonl.gz");
//   if (!server) return server.error();     // names the file and line that is wrong
//   int port = server->start("127.0.0.1", 0).take();   // 0: any free port
//   // POST http://127.0.0.1:PORT/v1/chat/completions
//   //   {"model": "gpt-4", "messages": [{"role": "user", "content": "...PROMPT..."}]}
//   // -> the recorded code of run 1 for that prompt and model; the same request again
//   //    gets run 2, ... run 10, then run 1 again. "n": 3 returns three consecutive runs.
//   server->stop();
//
// A request names its task only through the prompt text it contains: the server looks for
// the (whitespace-trimmed) HumanEval prompt inside the concatenated message contents,
// the longest one when several match. Only `model`, `task_id`, `run`, `code`,
// `duration_s` and the token counts are kept; hidden tests, canonical solutions and
// recorded results are dropped line by line while loading and never served.
//
// Aliases: add_alias(prompt, task_id, entry_point) before start() registers a reworded
// prompt of a recorded task (ReCode's perturbations: back-translated, typos, docstring as
// comments, function renamed). A request containing it is answered with that task's
// recordings, counted with the task's own requests, and, when `entry_point` differs from
// the task's, with the recorded function renamed by a plain whole-word replacement of the
// task's entry_point in the code (strings and comments included, nothing cleverer).
//
// Headers of a reply: X-Recorded-Latency (seconds: the slowest of the returned runs, as
// if the n samples were generated side by side like an API does), X-Usage-Estimated: true
// when the recording has no token counts (usage = ceil(chars / 4) of prompt and answer),
// X-Replay-Task and X-Replay-Runs (which runs were served, for diagnostics),
// X-Replay-Renamed ("has_close_elements -> hasCloseElements") when an alias renamed the code.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "base/base.h"

namespace yantra::replay {

struct ServeOptions {
  bool sleep = false;                // wait the recorded latency before answering
  size_t max_body_bytes = 1u << 20;  // larger requests get 413
  double sleep_scale = 1.0;          // multiplies the recorded latency when sleeping
};

// The HumanEval problems file expected beside a runs file (HumanEval-dev.jsonl.gz).
std::string default_problems_path(const std::string& runs_path);

// A recorded answer's text as the server sends it in a chat reply: the code in a ```python
// fence unless it already holds a fence; an empty answer stays empty. A client that
// extracts code from the reply (teacher::extract_code) gets what the router gets.
std::string chat_answer(const std::string& code);

class ReplayServer {
 public:
  // Reads the gzip JSON-lines runs and problems; problems_path "" means the default.
  static Result<ReplayServer> load(const std::string& runs_path,
                                   const std::string& problems_path = "");

  // A reworded prompt of the recorded task `task_id`, asking for the function `entry_point`
  // ("": the task's own name). Only before start(). Errors: an unknown task, an empty
  // prompt, a name that is not an identifier, or a prompt that already stands for another
  // task or name.
  Result<void> add_alias(const std::string& prompt, const std::string& task_id,
                         const std::string& entry_point);
  size_t alias_count() const;

  // Binds host:port (0 picks a free port), serves on its own threads; returns the port.
  Result<int> start(const std::string& host, int port, const ServeOptions& options = {});
  // Stops listening, wakes sleeping requests and joins the threads. Idempotent.
  void stop();

  int port() const;
  std::vector<std::string> models() const;
  size_t task_count() const;
  size_t run_count() const;
  uint64_t requests_served() const;  // successful completions since start

  ReplayServer(ReplayServer&&) noexcept;
  ReplayServer& operator=(ReplayServer&&) noexcept;
  ~ReplayServer();

 private:
  struct Impl;
  explicit ReplayServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace yantra::replay
