// `yantra bench generalize` on a small slice of the real data: six HumanEval tasks learned
// once, one ReCode set (the functions renamed to camelCase) written from the real file for
// those six, and the cross-task halves. Checks the JSON line's shape and invariants, that
// the reworded set reached the router, and that no hidden test reached the router, its
// validator, the teachers or the stores. Also the HumanEval+ comparison on its own, and
// the command as a user runs it, options from YANTRA_* variables.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "../unit/test_support.h"
#include "bench/bench.h"
#include "bench/internal.h"
#include "recording_support.h"
#include "validator/validator.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using yantra::testing::contains;
using yantra::testing::read_bytes;
using yantra::testing::read_gz_lines;

const std::string kData = yantra::testing::shared_path("shared/data/humaneval") + "/";
const std::string kRecode = yantra::testing::shared_path("shared/data/recode") + "/";

fs::path fresh_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("yantra-generalize-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir / "sets");
  return dir;
}

void write_gz(const fs::path& path, const std::vector<json>& rows) {
  std::string text;
  for (const json& r : rows) text += r.dump() + "\n";
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_TRUE(f) << path;
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
}

// The rows of a data file whose task_id is one of the first `n` dev tasks.
std::vector<json> rows_of_first_tasks(const std::string& path, size_t n) {
  std::set<std::string> ids;
  for (const json& p : read_gz_lines(kData + "HumanEval-dev.jsonl.gz"))
    if (ids.size() < n) ids.insert(p["task_id"].get<std::string>());
  std::vector<json> rows;
  for (const json& r : read_gz_lines(path))
    if (ids.count(r["task_id"])) rows.push_back(r);
  return rows;
}

// A share: a number in [0, 1].
void expect_share(const json& j, const std::string& key) {
  ASSERT_TRUE(j.contains(key)) << key << " missing: " << j;
  ASSERT_TRUE(j[key].is_number()) << key << ": " << j;
  EXPECT_GE(j[key].get<double>(), 0.0) << key;
  EXPECT_LE(j[key].get<double>(), 1.0) << key;
}

// A precision: in [0, 1], or null when there was no answer to be precise about.
void expect_precision(const json& j, const std::string& key, size_t answers) {
  ASSERT_TRUE(j.contains(key)) << key << " missing: " << j;
  if (answers == 0) {
    EXPECT_TRUE(j[key].is_null()) << key << ": " << j;
    return;
  }
  expect_share(j, key);
}

// Every assert line of the hidden tests of these rows.
std::vector<std::string> hidden_asserts(const std::vector<json>& rows) {
  std::vector<std::string> hidden;
  for (const json& r : rows) {
    std::string test = r["test"];
    for (size_t start = 0, nl; start < test.size(); start = nl + 1) {
      nl = test.find('\n', start);
      if (nl == std::string::npos) nl = test.size();
      std::string line = test.substr(start, nl - start);
      if (contains(line, "assert")) hidden.push_back(line.substr(line.find("assert")));
    }
  }
  return hidden;
}

std::string stores_under(const fs::path& root) {
  std::string stores;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && (contains(e.path().filename().string(), "library.db") ||
                                contains(e.path().filename().string(), "ledger.db")))
      stores += read_bytes(e.path());
  return stores;
}

TEST(GeneralizeBench, ARenamedSetIsAskedAndNoHiddenTestReachesTheRouter) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("slice");
  const std::vector<json> set =
      rows_of_first_tasks(kRecode + "humaneval_FuncRenameCamelCase_s0-dev.jsonl.gz", 6);
  ASSERT_EQ(set.size(), 6u);
  write_gz(dir / "sets/humaneval_FuncRenameCamelCase_s0-dev.jsonl.gz", set);
  auto pool = yantra::validator::Validator::start({.workers = 2});
  ASSERT_TRUE(pool) << pool.error().message;
  yantra::testing::RecordingValidator validator(std::move(pool).value());
  auto transport = std::make_shared<yantra::testing::RecordingTransport>();
  yantra::bench::GeneralizeBenchOptions o;
  EXPECT_EQ(o.cascade.rounds, 3);  // the default learn rounds
  o.cascade.problems = kData + "HumanEval-dev.jsonl.gz";
  o.cascade.runs = kData + "recorded-runs-dev.jsonl.gz";
  o.cascade.tasks = 6;
  o.cascade.rounds = 1;
  o.cascade.progress = false;
  o.cascade.router_validator = &validator;
  o.cascade.transport = transport;
  o.sets_dir = (dir / "sets").string();
  o.plus = kData + "HumanEvalPlus-dev.jsonl.gz";
  o.work_dir = (dir / "work").string();
  o.keep_work_dir = true;
  auto r = yantra::bench::run_generalize_bench(o);
  ASSERT_TRUE(r) << r.error().message;

  json j = json::parse(r->json_line);
  EXPECT_EQ(j["bench"], "generalize");
  EXPECT_EQ(j["learn_rounds"], 1);
  EXPECT_EQ(j["tasks"], 6);
  EXPECT_LE(j["learned_tasks"].get<size_t>(), 6u);
  ASSERT_EQ(j["sets"].size(), 1u) << j;
  const json& s = j["sets"]["FuncRenameCamelCase_s0"];
  ASSERT_TRUE(s.is_object()) << j;
  EXPECT_EQ(s["requests"], 6);
  EXPECT_EQ(s["renamed"], 6);  // every one of these six is renamed
  size_t student = s["student_answers"];
  EXPECT_LE(student, 6u);
  for (const char* key : {"student_share", "student_share_no_teacher", "student_share_learned",
                          "pass_rate", "exact_cache_share"})
    expect_share(s, key);
  EXPECT_LE(s["student_share_no_teacher"].get<double>(), s["student_share"].get<double>());
  EXPECT_DOUBLE_EQ(s["student_share"].get<double>(), double(student) / 6);
  expect_precision(s, "student_precision", student);
  expect_precision(s, "student_precision_plus", student);
  // No prompt of this set is a nominal prompt byte for byte: the exact cache answers none.
  EXPECT_EQ(s["exact_cache_share"], 0.0);
  EXPECT_GE(s["cost_vs_gpt4"].get<double>(), 0.0);
  EXPECT_EQ(s["student_p50_ms"].get<double>() > 0, student > 0) << s;
  // Every student answer that fails is listed with the entry it reused; the hidden-test
  // failures among them are what the precision leaves out.
  ASSERT_TRUE(s["student_misses"].is_array()) << s;
  size_t hidden_failed = 0;
  for (const json& m : s["student_misses"]) {
    EXPECT_TRUE(m["hidden_failed"].get<bool>() || m["plus_failed"].get<bool>()) << m;
    EXPECT_GT(m["entry"].get<int64_t>(), 0) << m;
    hidden_failed += m["hidden_failed"].get<bool>();
  }
  if (student > 0)
    EXPECT_NEAR(s["student_precision"].get<double>(), 1.0 - double(hidden_failed) / student, 1e-9);
  EXPECT_TRUE(s["tests_aliased"].is_array()) << s;
  expect_precision(j, "learned_precision_plus", j["learned_tasks"].get<size_t>());
  const json& x = j["cross_task"];
  ASSERT_TRUE(x.is_object()) << j;
  EXPECT_EQ(x["requests"], 3);
  EXPECT_EQ(x["learned_on"], 3);
  EXPECT_LE(x["student_answers"].get<size_t>(), 3u);
  expect_share(x, "false_reuse");
  EXPECT_LE(x["false_reuse"].get<double>() * 3, x["student_answers"].get<double>() + 1e-9);
  EXPECT_GT(j["seconds"].get<double>(), 0.0);
  EXPECT_TRUE(contains(r->table, "student (hashed words)")) << r->table;
  EXPECT_TRUE(contains(r->table, "whole-word rename")) << r->table;

  std::string ran = validator.seen(), sent = transport->seen();
  // The reworded set reached the router: its camelCase names were run or sent.
  EXPECT_TRUE(contains(ran + sent, "hasCloseElements")) << "the set was not asked";
  std::vector<json> all_rows = set;
  for (const json& p : rows_of_first_tasks(kData + "HumanEval-dev.jsonl.gz", 6))
    all_rows.push_back(p);
  std::vector<std::string> hidden = hidden_asserts(all_rows);
  ASSERT_GT(hidden.size(), 20u);
  std::string stores = stores_under(dir / "work");
  ASSERT_FALSE(ran.empty());
  ASSERT_FALSE(sent.empty());
  ASSERT_FALSE(stores.empty());
  for (const std::string& h : hidden) {
    EXPECT_FALSE(contains(ran, h)) << "the router's validator ran a hidden test: " << h;
    EXPECT_FALSE(contains(sent, h)) << "a teacher was sent a hidden test: " << h;
    EXPECT_FALSE(contains(stores, h)) << "a store holds a hidden test: " << h;
  }
  for (const std::string& marker : {std::string("def check(candidate)"), std::string("_yp_")}) {
    EXPECT_FALSE(contains(ran, marker)) << marker;  // _yp_: the HumanEval+ harness
    EXPECT_FALSE(contains(sent, marker)) << marker;
  }
  fs::remove_all(dir);
}

// HumanEval/33's test compares with sort_third itself: renamed, it would fail every answer.
TEST(GeneralizeBench, ATestCallingTheNominalNameIsScoredWithItBoundToTheAnswer) {
  using yantra::bench::alias_nominal_name;
  const std::string test = "def check(candidate):\n    assert candidate([1]) == sort_third([1])\n";
  auto aliased = alias_nominal_name(test, "sort_third", "sortThird");
  ASSERT_TRUE(aliased.has_value());
  EXPECT_EQ(*aliased, "sort_third = sortThird\n" + test);
  // Not renamed, or the name only inside a longer one: the test as it is.
  EXPECT_FALSE(alias_nominal_name(test, "sort_third", "sort_third").has_value());
  EXPECT_FALSE(
      alias_nominal_name("assert candidate(1) == my_sort_third_x(1)\n", "sort_third", "sortThird")
          .has_value());
  EXPECT_FALSE(
      alias_nominal_name("assert candidate(1) == 1\n", "sort_third", "sortThird").has_value());
  // Run for real: the aliased test passes a right renamed answer, the bare one cannot.
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  auto pool = yantra::validator::Validator::start({.workers = 1});
  ASSERT_TRUE(pool) << pool.error().message;
  yantra::bench::Scorer scorer(**pool);
  const std::string answer = "def sortThird(l):\n    return sorted(l)\n";
  EXPECT_FALSE(scorer.passes({test, "sortThird", {}, {}}, answer));
  EXPECT_TRUE(scorer.passes({*aliased, "sortThird", {}, {}}, answer));
}

// The HumanEval+ comparison: the answer's own name, the reference's return values, floats
// within 1e-6 relative (atol 0) or atol, inputs on which the reference raises skipped.
TEST(GeneralizeBench, HumanEvalPlusComparesWithTheReference) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  auto pool = yantra::validator::Validator::start({.workers = 1});
  ASSERT_TRUE(pool) << pool.error().message;
  const std::string reference =
      "def helper(x):\n    return x / 3\n\n"
      "def third(x):\n    if x < 0:\n        raise ValueError('negative')\n    return helper(x)\n";
  const std::string inputs = "[[3], [1], [-1], [1e6]]";
  auto verdict = [&](const std::string& code, const std::string& name, double atol = 0) {
    yantra::validator::Job job;
    job.code = code;
    job.tests = yantra::bench::plus_suite(reference, "third", inputs, atol, name);
    return (*pool)->run(job).status;
  };
  using yantra::validator::Status;
  // Renamed, and wrong only where the reference raises: passes.
  EXPECT_EQ(verdict("def thirdOf(x):\n    return x / 3 if x >= 0 else 99\n", "thirdOf"),
            Status::passed);
  // The answer's own helper of the reference's name does not shadow the reference.
  EXPECT_EQ(verdict("def helper(x):\n    return 0\n\ndef third(x):\n    return x / 3.0\n", "third"),
            Status::passed);
  EXPECT_EQ(verdict("def third(x):\n    return x / 3 * (1 + 1e-7)\n", "third"), Status::passed);
  EXPECT_EQ(verdict("def third(x):\n    return x / 3 * (1 + 1e-5)\n", "third"), Status::failed);
  EXPECT_EQ(verdict("def third(x):\n    return x / 3 + 0.01\n", "third", 0.1), Status::passed);
  EXPECT_EQ(verdict("def third(x):\n    return round(x / 3)\n", "third"), Status::failed);
  EXPECT_NE(verdict("def third(x):\n    raise ValueError('no')\n", "third"), Status::passed);

  // On the real data: each task's reference passes under its own name and under a
  // renamed set's; an answer that returns a constant does not.
  auto plus = yantra::bench::PlusScorer::load(kData + "HumanEvalPlus-dev.jsonl.gz", **pool);
  ASSERT_TRUE(plus) << plus.error().message;
  std::map<std::string, json> plus_rows;
  for (const json& r : read_gz_lines(kData + "HumanEvalPlus-dev.jsonl.gz"))
    plus_rows[r["task_id"]] = r;
  for (const char* id : {"HumanEval/0", "HumanEval/10", "HumanEval/12"}) {
    const json& r = plus_rows.at(id);
    std::string name = r["entry_point"],
                code = r["prompt"].get<std::string>() + r["canonical_solution"].get<std::string>();
    EXPECT_EQ(plus->passes(id, name, code), std::optional<bool>(true)) << id;
    std::string renamed = code;
    for (size_t at; (at = renamed.find("def " + name + "(")) != std::string::npos;)
      renamed.replace(at + 4, name.size(), "renamedEntry");
    EXPECT_EQ(plus->passes(id, "renamedEntry", renamed), std::optional<bool>(true)) << id;
    EXPECT_EQ(plus->passes(id, name, "def " + name + "(*args):\n    return None\n"),
              std::optional<bool>(false))
        << id;
  }
  EXPECT_EQ(plus->passes("HumanEval/100000", "f", "def f():\n    pass\n"), std::nullopt);
}

// As a user runs it, every option from the environment. The set is the nominal prompts
// themselves: the exact-match cache answers exactly the learned tasks, and so does the
// student.
TEST(GeneralizeBench, TheCommandReadsItsOptionsFromTheEnvironment) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("cli");
  write_gz(dir / "sets/humaneval_Identity-dev.jsonl.gz",
           rows_of_first_tasks(kData + "HumanEval-dev.jsonl.gz", 4));
  std::string env = "YANTRA_BENCH_TASKS=4 YANTRA_BENCH_LEARN_ROUNDS=1 YANTRA_BENCH_SETS=" +
                    (dir / "sets").string() + " YANTRA_BENCH_NO_CROSS_TASK=1 YANTRA_BENCH_JSON=1";
  int status = 0;
  std::string out = yantra::testing::run_capture(
      env + " " + YANTRA_BINARY + " bench generalize 2>" + (dir / "err").string(), &status);
  ASSERT_EQ(status, 0) << out << read_bytes(dir / "err");
  std::string err = read_bytes(dir / "err");
  EXPECT_TRUE(contains(err, "learn round 1/1")) << err;
  EXPECT_TRUE(contains(err, "set Identity: 4 requests")) << err;
  json j = json::parse(out);  // --json: the JSON line alone
  EXPECT_EQ(j["learn_rounds"], 1);
  EXPECT_EQ(j["tasks"], 4);
  EXPECT_TRUE(j["cross_task"].is_null()) << out;
  const json& s = j["sets"]["Identity"];
  ASSERT_TRUE(s.is_object()) << out;
  EXPECT_EQ(s["requests"], 4);
  size_t learned = j["learned_tasks"];
  ASSERT_GE(learned, 1u) << out;
  EXPECT_DOUBLE_EQ(s["exact_cache_share"].get<double>(), double(learned) / 4) << out;
  EXPECT_DOUBLE_EQ(s["student_share_learned"].get<double>(), 1.0) << out;
  EXPECT_EQ(s["exact_cache_precision"], j["learned_precision"]) << out;
  EXPECT_GT(j["student_p50_ms"].get<double>(), 0.0) << out;
  fs::remove_all(dir);
}

// A HumanEval+ file that is not there: the error names it and the option that gives it,
// before any round is run (bench cascade and bench generalize read it the same way).
TEST(GeneralizeBench, AMissingHumanEvalPlusFileNamesItsOption) {
  if (auto why = yantra::validator::sandbox_unavailable()) GTEST_FAIL() << *why;
  fs::path dir = fresh_dir("noplus");
  for (const char* bench : {"cascade", "generalize"}) {
    int status = 0;
    std::string out = yantra::testing::run_capture(
        std::string(YANTRA_BINARY) + " bench " + bench + " --tasks 2 --plus " +
            (dir / "missing.jsonl.gz").string() + " 2>&1",
        &status);
    EXPECT_NE(status, 0) << bench << ": " << out;
    EXPECT_TRUE(contains(out, (dir / "missing.jsonl.gz").string())) << bench << ": " << out;
    EXPECT_TRUE(contains(out, "--plus")) << bench << ": " << out;
    EXPECT_FALSE(contains(out, "learn round")) << bench << ": " << out;
  }
  fs::remove_all(dir);
}

}  // namespace
