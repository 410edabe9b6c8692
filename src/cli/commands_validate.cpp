// `yantra validate`: run a candidate against tests in the sandbox and print the verdict.
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "validator/validator.h"

namespace yantra::cli {
namespace {

namespace v = yantra::validator;

struct ValidateArgs {
  std::string code_path, tests_path, request_path, form, entry, setup_path;
  double timeout = 6.0;
  int cpu = 3;
  bool json_out = false;
};

std::string read_or_fail(const std::string& path, std::string_view what) {
  auto text = read_file(path);
  if (!text) throw FatalError(std::string(what) + " " + text.error().message);
  return std::move(*text);
}

v::TestSuite suite_from(const ValidateArgs& a) {
  v::TestSuite suite;
  if (!a.tests_path.empty()) {
    std::string tests = read_or_fail(a.tests_path, "--tests");
    std::optional<v::TestForm> form =
        a.form.empty() ? v::TestSuite::guess_form(tests) : v::form_from_string(a.form);
    switch (*form) {
      case v::TestForm::check:
        if (a.entry.empty()) {
          throw FatalError(a.tests_path +
                           ": the check form calls check(ENTRY); name the function with --entry");
        }
        suite = v::TestSuite::check(tests, a.entry);
        break;
      case v::TestForm::asserts: suite = v::TestSuite::asserts_file(tests); break;
      case v::TestForm::pytest: suite = v::TestSuite::pytest(tests); break;
      case v::TestForm::doctest: suite = v::TestSuite::doctest(tests, a.tests_path); break;
    }
    if (!a.setup_path.empty()) suite.setup = read_or_fail(a.setup_path, "--setup") + suite.setup;
  }
  if (!a.request_path.empty()) {
    if (suite.form == v::TestForm::check || suite.form == v::TestForm::pytest) {
      if (!a.tests_path.empty()) {
        throw FatalError("--request examples run as asserts; combine them with an asserts or "
                         "doctest --tests file, or give --request alone");
      }
    }
    suite.form = suite.cases.empty() ? v::TestForm::asserts : suite.form;
    for (auto& c : v::extract_request_tests(read_or_fail(a.request_path, "--request"), a.entry)) {
      suite.cases.push_back(std::move(c));
    }
  }
  if (v::expected_tests(suite).empty()) {
    throw FatalError((a.tests_path.empty() ? a.request_path : a.tests_path) +
                     ": no tests found; a run passes only by completing at least one test");
  }
  return suite;
}

}  // namespace

Handler declare_validate(CLI::App& app) {
  auto a = std::make_shared<ValidateArgs>();
  app.add_option("--code", a->code_path, "the candidate Python file")->required();
  app.add_option("--tests", a->tests_path, "the test file");
  app.add_option("--request", a->request_path,
                 "a request text (prompt, docstring) whose examples become tests");
  app.add_option("--form", a->form, "test form: check, asserts, pytest or doctest (default: guessed)")
      ->check(CLI::IsMember({"check", "asserts", "pytest", "doctest"}));
  app.add_option("--entry", a->entry, "the function under test (check form, request examples)")
      ->envname("YANTRA_ENTRY");
  app.add_option("--setup", a->setup_path, "code to run before the asserts (asserts form)");
  app.add_option("--timeout", a->timeout, "wall-clock seconds per run (default 6)")
      ->envname("YANTRA_VALIDATE_TIMEOUT")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--cpu", a->cpu, "CPU seconds per run (default 3)")
      ->envname("YANTRA_VALIDATE_CPU")
      ->check(CLI::Range(1, 3600));
  app.add_flag("--json", a->json_out, "print the result as JSON");
  return [a] {
    if (a->tests_path.empty() && a->request_path.empty()) {
      throw FatalError("give --tests FILE, --request FILE or both");
    }
    v::Job job;
    job.code = read_or_fail(a->code_path, "--code");
    job.tests = suite_from(*a);
    job.limits.wall_seconds = a->timeout;
    job.limits.cpu_seconds = a->cpu;
    auto pool = v::Validator::start({.workers = 1}).take();
    v::RunResult r = pool->run(job);
    if (a->json_out) {
      std::cout << v::to_json(r) << "\n";
    } else {
      std::cout << v::to_string(r.status) << ": " << r.reason << "\n";
      for (const auto& t : r.tests) {
        std::cout << "  " << v::to_string(t.outcome) << "  " << t.name;
        if (!t.message.empty()) std::cout << "  " << t.message.substr(0, 200);
        std::cout << "\n";
      }
      if (!r.stderr_excerpt.empty() && r.status != v::Status::passed) {
        std::cout << "stderr:\n" << r.stderr_excerpt << "\n";
      }
    }
    return r.status == v::Status::passed ? 0 : 1;
  };
}

}  // namespace yantra::cli
