// Internal to the router: the state of one request on its way through the router.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "router/router.h"

namespace yantra::router {

struct Router::Run {
  std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now();
  ParsedRequest req;
  std::vector<float> embedding;
  std::vector<std::string> probes;
  bool probes_computed = false;  // probes holds probe.py's answer (or it failed, said so)
  std::vector<Candidate> candidates;
  std::optional<size_t> best;
  // The student answered alone: its candidate keeps the student's score, which dual
  // execution with no other candidate would replace by a lone candidate's prior.
  bool student_answered = false;
  Answer answer;
  bool dry = false;
  // Library rows for this very request asked before (same text): its pending answers and
  // failed candidates. Looked up once per request.
  std::vector<library::Entry> earlier;
  // The dearest teacher tier called in this request, if any: an answer is the student's
  // only when no teacher was called (a library answer picked after teachers were asked
  // is credited to them, and nothing was avoided).
  std::optional<config::Tier> called;
  // The example the answer was let off (soft examples): left out of the answer's tests.
  std::optional<size_t> waived_example;
  bool tests_asked = false;  // a teacher was asked to write tests (once per request)
};

// A teacher's assert statements as test cases: parsed with tree-sitter (anything but a
// top-level assert is dropped, so is a copy of an example), at most ten, named by `step`.
std::vector<validator::TestCase> written_test_cases(const std::vector<std::string>& asserts,
                                                    const ParsedRequest& request,
                                                    const std::string& step);

// The share of the probe calls on which two candidates gave the same output (their code,
// when neither ran a probe).
double probe_agreement(const Candidate& a, const Candidate& b);

// An example of the request as a Python statement a user can keep and run.
inline std::string example_as_assert(const validator::TestCase& e) {
  return e.doctest_style ? "assert " + e.code + " == " + e.want : e.code;
}

inline std::string step_name(std::string_view provider, std::string_view model) {
  return std::string(provider).append("/").append(model);
}

}  // namespace yantra::router
