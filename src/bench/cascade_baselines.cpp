// `bench cascade`'s baselines: other ways to answer the same requests from the same recorded
// answers, round r using recorded run r as the router's replay does, scored the same way
// (recorded_result: the hidden tests) and priced at the router's own list prices, cost as a
// share of gpt-4 alone over the same requests.
//
//   gpt-4 alone        gpt-4's answer, paid.
//   exact-match cache  gpt-4 behind a cache keyed by the prompt's text: a prompt answered
//                      before by a cached answer gets that answer free; gpt-4's answer is
//                      cached only when it passes the prompt's own examples.
//   cheapest first     codellama, gpt-3.5, gpt-4, each try paid, stopping at the first answer
//                      that passes the prompt's examples; gpt-4's answer when none does.
//   oracle             the cheapest model whose answer passes the hidden tests, paying only
//                      it; gpt-4 paid and the request failed when none does. It sees the
//                      hidden results: an upper bound on choosing among one answer per
//                      model, not a method. The router is not bound by it: it asks for
//                      several codellama samples (the replay server serves the next runs)
//                      and repairs, so it can pass requests no run-r answer passes.
//
// The cache and cheapest first decide by the prompt's examples alone, run in the sandbox as
// the router runs a teacher's candidate (router::parse_request, router::run_candidates, the
// code served by the replay server and extracted by the teacher client). Neither the hidden
// tests nor the recorded results reach those runs: they only score.
#include <nlohmann/json.hpp>
#include <set>

#include "bench/internal.h"
#include "replay/replay.h"
#include "router/router.h"
#include "teacher/teacher.h"
#include "validator/validator.h"

namespace yantra::bench {

struct CascadeBaselineRunner::Request {
  router::ParsedRequest parsed;
};

namespace {

using nlohmann::json;
using Json = nlohmann::ordered_json;  // output keeps the order written

// Token counts are absent or null where the recording has none (codellama's).
double tokens(const json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_number() ? it->get<double>() : 0;
}

// The row's fields, or what is wrong with them.
Result<RecordedAnswer> answer_of(const json& row, size_t model, const std::string& where) {
  if (!row.contains("code") || !row["code"].is_string())
    return Error{where + ": code is not a string"};
  if (!row.contains("recorded_result") || !row["recorded_result"].is_string())
    return Error{where + ": recorded_result is not a string (Pass or Fail)"};
  double cost = *recorded_cost_usd(kRecordedModels[model], tokens(row, "prompt_tokens"),
                                   tokens(row, "completion_tokens"));
  return RecordedAnswer{true, row["code"].get<std::string>(), cost,
                        row["recorded_result"] == "Pass"};
}

// The code the router would run for a recorded answer: as the replay server sends it, and
// as the teacher client extracts it from the reply. Empty: the reply held no code.
std::string served_code(const RecordedAnswer& answer, const std::string& entry_point) {
  return teacher::extract_code(replay::chat_answer(answer.code), entry_point);
}

double gpt4_cost(const RecordedAnswers& answers) {
  const RecordedAnswer& gpt4 = answers[kGpt4Index];
  return gpt4.present ? gpt4.cost_usd : 0;
}

void add_to_rounds(CascadeBaseline& baseline, int round, const BaselineAnswer& answer,
                   double gpt4_cost_usd) {
  if (round == 1) add_answer(baseline.round1, answer, gpt4_cost_usd);
  add_answer(baseline.all, answer, gpt4_cost_usd);
}

}  // namespace

Result<RecordedRuns> recorded_runs(const std::vector<json>& rows, const std::vector<Task>& tasks,
                                   const std::string& origin) {
  std::set<std::string> wanted;
  for (const Task& t : tasks) wanted.insert(t.id);
  RecordedRuns runs;
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& row = rows[i];
    std::string where = origin + ": line " + std::to_string(i + 1);
    if (!row.is_object() || !row.contains("task_id") || !row["task_id"].is_string() ||
        !row.contains("model") || !row["model"].is_string())
      return Error{where + ": a recording needs task_id and model (strings)"};
    auto model = recorded_model_index(row["model"].get<std::string>());
    if (!model || !wanted.count(row["task_id"])) continue;  // not one of the router's
    if (!row.contains("run") || !row["run"].is_number_integer() || row["run"].get<int>() < 1)
      return Error{where + ": run is not a whole number from 1"};
    auto answer = answer_of(row, *model, where);
    if (!answer) return answer.error();
    RecordedAnswer& slot = runs[row["task_id"]][row["run"].get<int>()][*model];
    if (slot.present) return Error{where + ": this task, run and model were recorded before"};
    slot = std::move(answer).value();
  }
  return runs;
}

BaselineAnswer gpt4_alone_answer(const RecordedAnswers& answers) {
  const RecordedAnswer& gpt4 = answers[kGpt4Index];
  return {gpt4.present && gpt4.passed, gpt4_cost(answers)};
}

BaselineAnswer oracle_answer(const RecordedAnswers& answers) {
  for (const RecordedAnswer& a : answers)  // cheapest first
    if (a.present && a.passed) return {true, a.cost_usd};
  // Nothing passes: a real user would have paid the best model and still failed.
  return {false, gpt4_cost(answers)};
}

// Unlike the data README's cheapest-first figure (23.7 % of gpt-4 on the dev tasks), which
// stopped at the first answer that passed the hidden tests, this one can only know the
// examples: it stops earlier on answers that pass them but fail the hidden tests, and goes
// on past answers whose examples fail (or are wrong in the prompt).
BaselineAnswer cheapest_first_answer(const RecordedAnswers& answers,
                                     const std::array<bool, kRecordedModels.size()>& passes) {
  double paid = 0;
  for (size_t m = 0; m < answers.size(); ++m) {
    if (!answers[m].present) continue;
    paid += answers[m].cost_usd;
    if (passes[m]) return {answers[m].passed, paid};
  }
  return {gpt4_alone_answer(answers).passed, paid};
}

void add_answer(BaselineFigures& figures, const BaselineAnswer& answer, double gpt4_cost_usd) {
  ++figures.requests;
  figures.passed += answer.passed;
  figures.cost_usd += answer.cost_usd;
  figures.gpt4_cost_usd += gpt4_cost_usd;
  if (!answer.passed) figures.failed_cost_usd += answer.cost_usd;
}

CascadeBaselineRunner::CascadeBaselineRunner(std::vector<Task> tasks,
                                             std::vector<std::shared_ptr<const Request>> requests,
                                             RecordedRuns runs, validator::Validator& validator)
    : tasks_(std::move(tasks)),
      requests_(std::move(requests)),
      runs_(std::move(runs)),
      validator_(&validator) {}

Result<CascadeBaselineRunner> CascadeBaselineRunner::open(std::vector<Task> tasks,
                                                          RecordedRuns runs,
                                                          validator::Validator& validator) {
  std::vector<std::shared_ptr<const Request>> requests;
  for (const Task& t : tasks) {  // parsed once: the examples every round runs
    auto parsed = router::parse_request({.text = t.prompt});
    if (!parsed) return Error{t.id + ": " + parsed.error().message};
    requests.push_back(std::make_shared<const Request>(Request{std::move(parsed).value()}));
  }
  return CascadeBaselineRunner(std::move(tasks), std::move(requests), std::move(runs), validator);
}

// Each model's answer on the prompt's examples. The answers not yet checked run together,
// so the pool's workers share them; a verdict is kept per (task, run, model), so rounds
// past the tenth, which reuse the recorded runs, run nothing.
Result<CascadeBaselineRunner::Verdicts> CascadeBaselineRunner::passes_examples(
    size_t task, int run, const RecordedAnswers& answers) {
  const router::ParsedRequest& request = requests_[task]->parsed;
  std::vector<router::Candidate> to_run;
  std::vector<size_t> models;
  for (size_t m = 0; m < answers.size(); ++m) {
    if (!answers[m].present || verdicts_.count({task, run, m})) continue;
    std::string code = served_code(answers[m], request.entry_point);
    if (code.empty()) {  // the router gets no candidate from a reply without code
      verdicts_[{task, run, m}] = false;
      continue;
    }
    router::Candidate c;
    c.code = std::move(code);
    c.model = std::string(kRecordedModels[m]);
    to_run.push_back(std::move(c));
    models.push_back(m);
  }
  if (!to_run.empty()) router::run_candidates(*validator_, request, {}, to_run);
  sandbox_runs_ += to_run.size();
  for (size_t i = 0; i < to_run.size(); ++i) {
    // A sandbox that could not run is no verdict on the code: every figure would be wrong.
    if (to_run[i].status == validator::Status::sandbox_error)
      return Error{tasks_[task].id + " run " + std::to_string(run) + " (" + to_run[i].model +
                   "): the sandbox failed on the prompt's examples: " + to_run[i].failure};
    verdicts_[{task, run, models[i]}] = to_run[i].passes_examples();
  }
  Verdicts out{};
  for (size_t m = 0; m < answers.size(); ++m)
    out[m] = answers[m].present && verdicts_.at({task, run, m});
  return out;
}

BaselineAnswer CascadeBaselineRunner::exact_cache_answer(size_t task,
                                                         const RecordedAnswers& answers,
                                                         bool gpt4_passes_examples) {
  const std::string& prompt = tasks_[task].prompt;
  if (auto hit = cache_.find(prompt); hit != cache_.end()) return {hit->second, 0};
  BaselineAnswer paid = gpt4_alone_answer(answers);
  // A cache can only know what passed the prompt's examples; the hidden result rides along
  // to score the later requests it serves.
  if (answers[kGpt4Index].present && gpt4_passes_examples) cache_[prompt] = paid.passed;
  return paid;
}

Result<void> CascadeBaselineRunner::add_round(int round, int recorded_run) {
  static const RecordedAnswers kNone{};
  for (size_t t = 0; t < tasks_.size(); ++t) {
    const RecordedAnswers* answers = &kNone;  // no recording: every baseline fails, unpaid
    if (auto task = runs_.find(tasks_[t].id); task != runs_.end())
      if (auto run = task->second.find(recorded_run); run != task->second.end())
        answers = &run->second;
    auto examples = passes_examples(t, recorded_run, *answers);
    if (!examples) return examples.error();
    double gpt4 = gpt4_cost(*answers);
    add_to_rounds(baselines_.gpt4_alone, round, gpt4_alone_answer(*answers), gpt4);
    add_to_rounds(baselines_.gpt4_exact_cache, round,
                  exact_cache_answer(t, *answers, (*examples)[kGpt4Index]), gpt4);
    add_to_rounds(baselines_.cheapest_first, round, cheapest_first_answer(*answers, *examples),
                  gpt4);
    add_to_rounds(baselines_.oracle, round, oracle_answer(*answers), gpt4);
  }
  return {};
}

// ---- output ----------------------------------------------------------------------------

namespace {

double pass_rate(size_t passed, size_t requests) {
  return ratio(double(passed), double(requests));
}

std::string row(const std::string& name, double pass1, double cost1, double pass_all,
                double cost_all) {
  char line[256];
  std::snprintf(line, sizeof line, "  %-35s%14s%11s%19s%11s\n", name.c_str(), pct(pass1).c_str(),
                pct(cost1).c_str(), pct(pass_all).c_str(), pct(cost_all).c_str());
  return line;
}

std::string row(const std::string& name, const CascadeBaseline& b) {
  return row(name, pass_rate(b.round1.passed, b.round1.requests),
             ratio(b.round1.cost_usd, b.round1.gpt4_cost_usd),
             pass_rate(b.all.passed, b.all.requests), ratio(b.all.cost_usd, b.all.gpt4_cost_usd));
}

Json figures_json(const BaselineFigures& f) {
  return {{"pass_rate", pass_rate(f.passed, f.requests)},
          {"cost_vs_gpt4", ratio(f.cost_usd, f.gpt4_cost_usd)}};
}

}  // namespace

std::string baselines_table(const CascadeBenchResult& r) {
  const CascadeBaselines& b = r.baselines;
  char header[256];
  std::snprintf(header, sizeof header, "%-37s%14s%11s%19s%11s\n", "baselines (same recordings)",
                "round 1: pass", "vs gpt-4", "all rounds: pass", "vs gpt-4");
  std::string t = header;
  t += row("yantra (this run)", pass_rate(r.round1.passed, r.round1.requests),
           ratio(r.round1.cost_usd, r.round1.gpt4_cost_usd),
           pass_rate(r.all.passed, r.all.requests), ratio(r.all.cost_usd, r.all.gpt4_cost_usd));
  t += row("gpt-4 alone", b.gpt4_alone);
  t += row("gpt-4 behind an exact-match cache", b.gpt4_exact_cache);
  t += row("cheapest first (every try paid)", b.cheapest_first);
  t += row("oracle (an upper bound)", b.oracle);
  const BaselineFigures& o = b.oracle.all;
  t += "  exact-match cache: a prompt answered before gets the cached answer free; gpt-4's "
       "answers are cached when they pass the prompt's examples\n"
       "  cheapest first: codellama, gpt-3.5, gpt-4, until an answer passes the prompt's "
       "examples (gpt-4's answer when none does)\n"
       "  oracle: the cheapest model whose answer passes the hidden tests, which it sees (a "
       "bound for one answer per model; the router samples more); gpt-4 paid where none "
       "passes, " +
       pct(ratio(o.failed_cost_usd, o.gpt4_cost_usd)) + " of gpt-4 over all rounds (" +
       pct(ratio(o.cost_usd - o.failed_cost_usd, o.gpt4_cost_usd)) + " without it)\n";
  return t;
}

Json baselines_json(const CascadeBaselines& b) {
  Json j;
  auto add = [&](const char* name, const CascadeBaseline& baseline) {
    j[name] = {{"round1", figures_json(baseline.round1)}, {"all", figures_json(baseline.all)}};
  };
  add("gpt4_alone", b.gpt4_alone);
  add("gpt4_exact_cache", b.gpt4_exact_cache);
  add("cheapest_first", b.cheapest_first);
  add("oracle", b.oracle);
  return j;
}

}  // namespace yantra::bench
