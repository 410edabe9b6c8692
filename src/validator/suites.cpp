// Test suites: their forms, the tests each one must complete, and the request frame.
#include <tree_sitter/api.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "validator/internal.h"

extern "C" const TSLanguage* tree_sitter_python();

namespace yantra::validator {
namespace {

using nlohmann::json;

// queries/pytest.scm, compiled once.
const TSQuery* pytest_query() {
  static TSQuery* query = [] {
    std::string_view text = embedded_file("pytest.scm");
    uint32_t offset = 0;
    TSQueryError error = TSQueryErrorNone;
    TSQuery* q = ts_query_new(tree_sitter_python(), text.data(), static_cast<uint32_t>(text.size()),
                              &offset, &error);
    // The query is compiled into the binary: failing here is a build defect.
    if (!q) throw FatalError("pytest.scm: invalid query at offset " + std::to_string(offset));
    return q;
  }();
  return query;
}

std::string node_text(TSNode node, std::string_view source) {
  uint32_t begin = ts_node_start_byte(node), end = ts_node_end_byte(node);
  return std::string(source.substr(begin, end - begin));
}

using ParsedTree = std::unique_ptr<TSTree, decltype(&ts_tree_delete)>;

ParsedTree parse(std::string_view source) {
  std::unique_ptr<TSParser, decltype(&ts_parser_delete)> parser(ts_parser_new(), ts_parser_delete);
  ts_parser_set_language(parser.get(), tree_sitter_python());
  return ParsedTree(ts_parser_parse_string(parser.get(), nullptr, source.data(),
                                           static_cast<uint32_t>(source.size())),
                    ts_tree_delete);
}

std::vector<std::string> pytest_names(std::string_view source) {
  ParsedTree tree = parse(source);
  std::unique_ptr<TSQueryCursor, decltype(&ts_query_cursor_delete)> cursor(ts_query_cursor_new(),
                                                                          ts_query_cursor_delete);
  const TSQuery* query = pytest_query();
  ts_query_cursor_exec(cursor.get(), query, ts_tree_root_node(tree.get()));
  std::vector<std::string> names;
  TSQueryMatch match;
  while (ts_query_cursor_next_match(cursor.get(), &match)) {
    std::string cls, fn;
    for (uint16_t i = 0; i < match.capture_count; ++i) {
      uint32_t len = 0;
      std::string_view cap = ts_query_capture_name_for_id(query, match.captures[i].index, &len);
      std::string text = node_text(match.captures[i].node, source);
      (cap == "class" ? cls : fn) = text;
    }
    if (!fn.starts_with("test")) continue;
    if (!cls.empty() && !cls.starts_with("Test")) continue;
    std::string name = cls.empty() ? fn : cls + "::" + fn;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace

std::string_view to_string(Status s) {
  switch (s) {
    case Status::passed: return "passed";
    case Status::failed: return "failed";
    case Status::error: return "error";
    case Status::timeout: return "timeout";
    case Status::memory: return "memory";
    case Status::crashed: return "crashed";
    case Status::sandbox_error: return "sandbox_error";
  }
  return "?";
}

std::optional<Status> status_from_string(std::string_view s) {
  for (Status st : {Status::passed, Status::failed, Status::error, Status::timeout, Status::memory,
                    Status::crashed, Status::sandbox_error}) {
    if (to_string(st) == s) return st;
  }
  return std::nullopt;
}

std::string_view to_string(TestForm f) {
  switch (f) {
    case TestForm::check: return "check";
    case TestForm::asserts: return "asserts";
    case TestForm::pytest: return "pytest";
    case TestForm::doctest: return "doctest";
  }
  return "?";
}

std::optional<TestForm> form_from_string(std::string_view s) {
  for (TestForm f : {TestForm::check, TestForm::asserts, TestForm::pytest, TestForm::doctest}) {
    if (to_string(f) == s) return f;
  }
  return std::nullopt;
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::passed: return "passed";
    case Outcome::failed: return "failed";
    case Outcome::error: return "error";
    case Outcome::skipped: return "skipped";
    case Outcome::not_run: return "not_run";
  }
  return "?";
}

TestSuite TestSuite::check(std::string source, std::string entry_point) {
  TestSuite s;
  s.form = TestForm::check;
  s.source = std::move(source);
  s.entry_point = std::move(entry_point);
  return s;
}

TestSuite TestSuite::asserts(std::vector<std::string> asserts, std::string setup) {
  TestSuite s;
  s.form = TestForm::asserts;
  s.setup = std::move(setup);
  for (size_t i = 0; i < asserts.size(); ++i) {
    TestCase c;
    c.name = "assert " + std::to_string(i + 1);
    c.code = std::move(asserts[i]);
    c.origin = "tests:" + std::to_string(i + 1);
    s.cases.push_back(std::move(c));
  }
  return s;
}

TestSuite TestSuite::asserts_file(std::string_view source) {
  ParsedTree tree = parse(source);
  TSNode root = ts_tree_root_node(tree.get());
  std::vector<std::string> statements;
  std::vector<uint32_t> lines;
  std::string setup;
  for (uint32_t i = 0; i < ts_node_named_child_count(root); ++i) {
    TSNode child = ts_node_named_child(root, i);
    std::string text = node_text(child, source);
    if (std::string_view(ts_node_type(child)) == "assert_statement") {
      statements.push_back(std::move(text));
      lines.push_back(ts_node_start_point(child).row + 1);
    } else if (std::string_view(ts_node_type(child)) != "comment") {
      setup.append(text).append("\n");
    }
  }
  TestSuite s = asserts(std::move(statements), std::move(setup));
  for (size_t i = 0; i < s.cases.size(); ++i) s.cases[i].origin = "tests:" + std::to_string(lines[i]);
  return s;
}

TestForm TestSuite::guess_form(std::string_view source) {
  if (source.find("def check(") != source.npos) return TestForm::check;
  if (!pytest_names(source).empty()) return TestForm::pytest;
  if (source.find(">>> ") != source.npos) return TestForm::doctest;
  return TestForm::asserts;
}

TestSuite TestSuite::pytest(std::string source) {
  TestSuite s;
  s.form = TestForm::pytest;
  s.source = std::move(source);
  return s;
}

TestSuite TestSuite::doctest(std::string_view text, std::string_view origin_name) {
  TestSuite s;
  s.form = TestForm::doctest;
  for (TestCase& c : extract_request_tests(text, "")) {
    if (!c.doctest_style) continue;
    c.origin.replace(0, c.origin.find(':'), origin_name);
    s.cases.push_back(std::move(c));
  }
  return s;
}

std::vector<std::string> expected_tests(const TestSuite& suite) {
  switch (suite.form) {
    case TestForm::check: return {"check"};
    case TestForm::pytest: return pytest_names(suite.source);
    case TestForm::asserts:
    case TestForm::doctest: break;
  }
  std::vector<std::string> names;
  for (const auto& c : suite.cases) names.push_back(c.name);
  return names;
}

json request_json(const Job& job, uint64_t id) {
  const Limits& l = job.limits;
  json cases = json::array();
  for (const auto& c : job.tests.cases) {
    cases.push_back({{"code", c.code}, {"want", c.want}, {"doctest", c.doctest_style}});
  }
  return {{"id", id},
          {"form", to_string(job.tests.form)},
          {"code", job.code},
          {"source", job.tests.source},
          {"setup", job.tests.setup},
          {"entry_point", job.tests.entry_point},
          {"cases", std::move(cases)},
          {"limits",
           {{"wall_seconds", l.wall_seconds},
            {"cpu_seconds", l.cpu_seconds},
            {"address_space_bytes", l.address_space_bytes},
            {"processes", l.processes},
            {"file_size_bytes", l.file_size_bytes},
            {"open_files", l.open_files},
            {"excerpt_bytes", l.excerpt_bytes}}}};
}

std::string to_json(const RunResult& r) {
  json tests = json::array();
  for (const auto& t : r.tests) {
    tests.push_back({{"name", t.name}, {"outcome", to_string(t.outcome)}, {"message", t.message}});
  }
  json out = {{"status", to_string(r.status)},
              {"reason", r.reason},
              {"tests", std::move(tests)},
              {"seconds", r.seconds},
              {"stdout", r.stdout_excerpt},
              {"stderr", r.stderr_excerpt},
              {"leftover_processes", r.leftover_processes}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace yantra::validator
