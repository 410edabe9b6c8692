// Candidates run in the sandbox on the request's examples and on probe calls, and are
// scored by how much they agree with each other (CodeT-style dual execution).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "base/base.h"
#include "router/router.h"

namespace yantra::router {
namespace {

using nlohmann::json;
namespace v = yantra::validator;

// Probe runs see many inputs; one that loops forever must not hold the pool for long.
v::Limits probe_limits() {
  v::Limits limits;
  limits.wall_seconds = 4.0;
  limits.cpu_seconds = 2;
  limits.excerpt_bytes = 1024;
  return limits;
}

// A doctest-style case whose output is collected, never compared: want can never match.
v::TestCase output_case(std::string name, std::string code) {
  v::TestCase c;
  c.name = std::move(name);
  c.code = std::move(code);
  c.want = "<no expected output: the value is collected>";
  c.doctest_style = true;
  c.origin = "probe";
  return c;
}

// What a probe printed, reduced to what two correct answers would share: the value's
// repr, or the type of the exception it raised (messages carry addresses and wording).
std::string normalise_output(std::string got) {
  if (got.starts_with("Traceback")) {
    size_t line = got.find('\n');
    std::string rest = line == std::string::npos ? "" : got.substr(line + 1);
    size_t colon = rest.find(':');
    return "!" + rest.substr(0, std::min(colon, rest.find('\n')));
  }
  while (!got.empty() && (got.back() == '\n' || got.back() == ' ')) got.pop_back();
  if (got.size() > 512) got = got.substr(0, 512) + "#" + std::to_string(hash64(got));
  return got;
}

}  // namespace

namespace {

v::Job probe_job(const ParsedRequest& request) {
  json examples = json::array();
  for (const v::TestCase& c : request.examples) examples.push_back(c.code);
  // JSON strings with ASCII escapes are Python string literals too.
  auto literal = [](const json& j) { return j.dump(-1, ' ', true); };
  v::Job job;
  job.code = std::string(embedded_file("probe.py"));
  job.limits = probe_limits();
  job.tests.form = v::TestForm::asserts;
  job.tests.entry_point = request.entry_point;
  job.tests.cases.push_back(output_case(
      "probe calls", "print(json.dumps(probe_calls(" + literal(request.entry_point) + ", " +
                         literal(examples) + ", " + literal(request.signature) + ")))"));
  return job;
}

Result<std::vector<std::string>> read_probes(const v::RunResult& r) {
  if (r.tests.empty() || r.tests[0].got.empty() || r.tests[0].got.starts_with("Traceback"))
    return Error{"probe.py: could not compute probe inputs (" +
                 std::string(v::to_string(r.status)) + ": " + r.reason +
                 (r.tests.empty() ? "" : " " + r.tests[0].got) + ")"};
  json calls = json::parse(r.tests[0].got, nullptr, false);
  if (!calls.is_array()) return Error{"probe.py: printed something that is not a JSON list"};
  std::vector<std::string> out;
  for (const json& c : calls)
    if (c.is_string()) out.push_back(c.get<std::string>());
  return out;
}

v::Job candidate_job(const ParsedRequest& request, const std::vector<std::string>& probes,
                     const Candidate& c) {
  v::Job job;
  job.code = c.code;
  job.limits = probe_limits();
  job.tests.form = v::TestForm::asserts;
  job.tests.entry_point = request.entry_point;
  // The first case only proves the code defines the function: a request without
  // examples or probes still needs a completed test to tell loading code from broken.
  v::TestCase defines;
  defines.name = "defines " + request.entry_point;
  defines.code = "assert callable(" + request.entry_point + ")";
  defines.origin = "router";
  job.tests.cases.push_back(std::move(defines));
  for (const v::TestCase& e : request.examples) job.tests.cases.push_back(e);
  for (size_t i = 0; i < probes.size(); ++i)
    job.tests.cases.push_back(output_case("probe " + std::to_string(i + 1), probes[i]));
  for (const v::TestCase& t : request.written_tests) job.tests.cases.push_back(t);
  return job;
}

void read_candidate(const ParsedRequest& request, size_t n_probes, const v::RunResult& r,
                    Candidate& c) {
  const size_t n_examples = request.examples.size();
  constexpr size_t kFirstExample = 1;  // after the "defines" case
  c.status = r.status;
  c.examples_total = static_cast<int>(n_examples);
  c.examples_passed = 0;
  c.failure.clear();
  c.failed_examples.clear();
  c.outputs.assign(n_probes, "!NotRun");
  c.written_passed.assign(request.written_tests.size(), false);
  c.loaded = !r.tests.empty() && r.tests[0].outcome == v::Outcome::passed;
  for (size_t k = kFirstExample; k < r.tests.size(); ++k) {
    const v::TestOutcome& o = r.tests[k];
    size_t t = k - kFirstExample;
    if (t < n_examples) {
      if (o.outcome == v::Outcome::passed) {
        ++c.examples_passed;
        continue;
      }
      c.failed_examples.push_back(t);
      if (c.failure.empty())
        c.failure = request.examples[t].code + "\n" +
                    (o.message.empty() ? std::string(v::to_string(o.outcome)) : o.message);
    } else if (t - n_examples < n_probes) {
      if (o.outcome != v::Outcome::not_run)
        c.outputs[t - n_examples] = normalise_output(o.got.empty() ? "!" + o.message : o.got);
    } else if (size_t w = t - n_examples - n_probes; w < c.written_passed.size()) {
      c.written_passed[w] = c.loaded && o.outcome == v::Outcome::passed;
    }
  }
  // A candidate that does not even load passes nothing, whatever the run says.
  if (!c.loaded) {
    c.examples_passed = 0;
    if (c.failure.empty()) c.failure = r.reason;
  }
}

}  // namespace

Result<std::vector<std::string>> probe_calls(v::Validator& validator,
                                             const ParsedRequest& request) {
  return read_probes(validator.run(probe_job(request)));
}

void run_candidates(v::Validator& validator, const ParsedRequest& request,
                    const std::vector<std::string>& probes, std::span<Candidate> candidates) {
  std::vector<v::Job> jobs;
  for (const Candidate& c : candidates) jobs.push_back(candidate_job(request, probes, c));
  std::vector<v::RunResult> results = validator.run_all(jobs);
  for (size_t i = 0; i < candidates.size(); ++i)
    read_candidate(request, probes.size(), results[i], candidates[i]);
}

}  // namespace yantra::router
