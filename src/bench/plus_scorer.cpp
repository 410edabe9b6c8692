// HumanEval+ scoring: an answer against the reference solution on EvalPlus's inputs, in
// the sandbox. Scoring only: nothing here reaches the router.
#include <nlohmann/json.hpp>

#include "bench/internal.h"
#include "validator/validator.h"

namespace yantra::bench {
namespace {

namespace v = yantra::validator;

// A Python string literal holding `text` exactly: JSON's string escapes are Python's too,
// and non-ASCII characters stay as UTF-8, which Python source is read as.
std::string python_string(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The reference runs in a namespace of its own, so that its helper functions and its name
// (the answer's too, in sets that keep the name) never shadow the answer in the tests.
constexpr const char* kCompare = R"(
def _yp_same(got, want):
    if isinstance(want, float) or isinstance(got, float):
        if not isinstance(got, (int, float)) or not isinstance(want, (int, float)):
            return False
        if _yp_math.isnan(want) or _yp_math.isnan(got):
            return _yp_math.isnan(want) and _yp_math.isnan(got)
        if _yp_atol:
            return abs(got - want) <= _yp_atol
        return _yp_math.isclose(got, want, rel_tol=1e-6)
    if isinstance(want, (list, tuple)):
        return (type(got) is type(want) and len(got) == len(want)
                and all(_yp_same(g, w) for g, w in zip(got, want)))
    return got == want
)";

}  // namespace

v::TestSuite plus_suite(const std::string& reference_source, const std::string& reference_entry,
                        const std::string& inputs_json, double atol,
                        const std::string& entry_point) {
  std::string setup = "import copy as _yp_copy, json as _yp_json, math as _yp_math\n";
  setup += "_yp_ns = {'__name__': '_yantra_reference'}\n";
  setup +=
      "exec(compile(" + python_string(reference_source) + ", '<reference>', 'exec'), _yp_ns)\n";
  setup += "_yp_ref = _yp_ns[" + python_string(reference_entry) + "]\n";
  setup += "_yp_inputs = _yp_json.loads(" + python_string(inputs_json) + ")\n";
  setup += "_yp_atol = " + nlohmann::json(atol).dump() + "\n";
  setup += kCompare;
  std::string check =
      "for _yp_i, _yp_args in enumerate(_yp_inputs):\n"
      "    try:\n"
      "        _yp_want = _yp_ref(*_yp_copy.deepcopy(_yp_args))\n"
      "    except Exception:\n"
      "        continue\n"
      "    _yp_got = " +
      entry_point +
      "(*_yp_copy.deepcopy(_yp_args))\n"
      "    assert _yp_same(_yp_got, _yp_want), ('input %d %.200r: got %.200r, expected %.200r'\n"
      "                                         % (_yp_i, _yp_args, _yp_got, _yp_want))\n";
  v::TestSuite suite = v::TestSuite::asserts({check}, setup);
  suite.entry_point = entry_point;
  suite.cases.front().name = "HumanEval+ inputs";
  return suite;
}

Result<PlusScorer> PlusScorer::load(const std::string& path, validator::Validator& validator) {
  auto rows = read_jsonl_gz(path, "give the HumanEval+ file with --plus (YANTRA_BENCH_PLUS)");
  if (!rows) return rows.error();
  std::map<std::string, Reference> references;
  for (const auto& r : *rows) {
    for (const char* key : {"task_id", "prompt", "canonical_solution", "entry_point"})
      if (!r.contains(key) || !r[key].is_string())
        return Error::in(path, std::string("a task lacks the string field ") + key);
    if (!r.contains("base_input") || !r["base_input"].is_array())
      return Error::in(path, r["task_id"].get<std::string>() + " lacks base_input (a list)");
    nlohmann::json inputs = r["base_input"];
    for (const auto& input : r.value("plus_input", nlohmann::json::array()))
      inputs.push_back(input);
    references[r["task_id"]] = {
        r["prompt"].get<std::string>() + r["canonical_solution"].get<std::string>(),
        r["entry_point"], inputs.dump(), r.value("atol", 0.0)};
  }
  if (references.empty()) return Error::in(path, "no tasks");
  return PlusScorer(std::move(references), validator);
}

std::optional<bool> PlusScorer::passes(const std::string& task_id, const std::string& entry_point,
                                       const std::string& code) {
  auto it = references_.find(task_id);
  if (it == references_.end()) return std::nullopt;
  std::string key = task_id + "\n" + entry_point + "\n" + code;
  if (auto cached = cache_.find(key); cached != cache_.end()) return cached->second;
  const Reference& ref = it->second;
  v::Job job;
  job.code = code;
  job.tests = plus_suite(ref.source, ref.entry_point, ref.inputs_json, ref.atol, entry_point);
  // Up to a thousand inputs, each run by the reference and by the answer.
  job.limits.cpu_seconds = 30;
  job.limits.wall_seconds = 90;
  bool ok = validator_->run(job).status == v::Status::passed;
  cache_[key] = ok;
  return ok;
}

}  // namespace yantra::bench
