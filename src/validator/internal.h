// Internals of the validator shared by its translation units.
#pragma once

#include <nlohmann/json.hpp>

#include "validator/validator.h"

namespace yantra::validator {

// posix_spawn with the child's stdin/stdout connected to fresh pipes.
Result<SandboxProcess> spawn_with_pipes(const std::vector<std::string>& argv);

// The request frame the harness reads for `job`.
nlohmann::json request_json(const Job& job, uint64_t id);

// Turns the harness's raw reply (markers, exit status, timing) into a verdict. The
// tests expected to complete come from the host's reading of the suite, never from the
// untrusted process.
RunResult classify(const Job& job, const nlohmann::json& reply);

// Doctest's comparison of expected and actual output, with trailing whitespace of
// lines ignored and <BLANKLINE> understood.
bool doctest_output_matches(std::string_view want, std::string_view got);

// A sandbox with its harness started: one per worker thread.
class Worker {
 public:
  explicit Worker(Launcher& launcher) : launcher_(launcher) {}
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  RunResult run(const Job& job);
  void stop();

 private:
  Result<void> ensure_started();

  Launcher& launcher_;
  SandboxProcess process_;
  bool started_ = false;
  uint64_t next_id_ = 1;
};

}  // namespace yantra::validator
