// Internal to the replay part: the recorded runs, the prompt matcher and the
// HTTP-free request handler that server.cpp puts behind httplib.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"

namespace yantra::replay {

// One recorded answer; only what may be served.
struct RecordedRun {
  int run = 0;
  std::string code;
  double duration_s = 0;
  std::optional<int64_t> prompt_tokens, completion_tokens;
};

// A reworded prompt of a recorded task, answered with that task's runs.
struct Alias {
  std::string prompt;       // trimmed
  size_t task = 0;          // index into Recordings::task_ids
  std::string entry_point;  // the function the reworded prompt asks for
};

struct Recordings {
  std::vector<std::string> models;        // sorted
  std::vector<std::string> task_ids;      // in the problems file's order
  std::vector<std::string> prompts;       // same index as task_ids, trimmed
  std::vector<std::string> entry_points;  // same index; "" where the file names none
  std::vector<Alias> aliases;
  // runs[model * task_ids.size() + task], sorted by run number.
  std::vector<std::vector<RecordedRun>> runs;
  size_t run_count = 0;

  const std::vector<RecordedRun>& of(size_t model, size_t task) const {
    return runs[model * task_ids.size() + task];
  }
  std::optional<size_t> model_index(std::string_view name) const;
};

// Calls `line(text, number)` for each line of a gzip (or plain) file; a line handler
// error stops the read and is returned.
Result<void> for_each_gz_line(const std::string& path,
                              const std::function<Result<void>(std::string_view, size_t)>& line);

Result<Recordings> load_recordings(const std::string& runs_path, const std::string& problems_path);

std::string_view trim(std::string_view s);

// Finds which task's prompt a request text contains (the longest, if several do).
class PromptMatcher {
 public:
  explicit PromptMatcher(const std::vector<std::string>& prompts);
  PromptMatcher(PromptMatcher&&) noexcept;
  PromptMatcher& operator=(PromptMatcher&&) noexcept;
  ~PromptMatcher();
  std::optional<size_t> find(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `code` with every whole-word occurrence of the identifier `from` (not preceded or
// followed by a letter, digit or underscore) replaced by `to`: strings and comments too.
std::string rename_word(std::string_view code, std::string_view from, std::string_view to);

// The answer to one HTTP request, before it goes on the wire.
struct Reply {
  int status = 200;
  std::string body;  // JSON
  std::vector<std::pair<std::string, std::string>> headers;
  double latency_s = 0;  // recorded latency of a successful completion
};

Reply error_reply(int status, std::string_view message, std::string_view type,
                  std::string_view code, std::string_view param = "");

// Answers chat completions from the recordings; thread-safe.
class Replayer {
 public:
  explicit Replayer(Recordings recordings);
  Reply complete(std::string_view request_body);
  Reply list_models() const;
  // Not thread-safe: register aliases before serving (ReplayServer::add_alias).
  Result<void> add_alias(std::string_view prompt, std::string_view task_id,
                         std::string_view entry_point);
  const Recordings& recordings() const { return recordings_; }
  uint64_t served() const { return served_.load(); }

 private:
  // Which task a request text names, and the name to rename its recorded function to
  // ("" to leave the code as recorded).
  struct Match {
    size_t task = 0;
    std::string rename_from, rename_to;
    std::string served(const std::string& code) const;  // the code as this request gets it
  };
  std::optional<Match> match(std::string_view text) const;

  Recordings recordings_;
  PromptMatcher matcher_;  // over the prompts, then the aliases' prompts
  // Requests so far per (model, task): the next request starts at this run.
  std::unique_ptr<std::atomic<uint64_t>[]> counters_;
  std::atomic<uint64_t> served_{0};
};

// Shortest decimal text that reads back as the same double ("4.37").
std::string decimal(double value);

}  // namespace yantra::replay
