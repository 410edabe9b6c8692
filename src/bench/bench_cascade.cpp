// `yantra bench cascade`: HumanEval dev tasks round after round through the real router.
// The router, its validator, the library and the student see a task's prompt only; the
// hidden tests (`test`) are read into a separate table and used by a separate validator
// after each answer, to score it. Beside the router's figures, four baselines computed from
// the same recordings (cascade_baselines.cpp).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "bench/bench.h"
#include "bench/internal.h"
#include "config/config.h"
#include "ledger/ledger.h"
#include "library/library.h"
#include "replay/replay.h"
#include "router/router.h"
#include "student/student.h"
#include "validator/validator.h"

namespace yantra::bench {
namespace {

namespace fs = std::filesystem;
namespace v = yantra::validator;
using Json = nlohmann::ordered_json;

void add_to(CascadeRound& total, const CascadeRound& r) {
  total.requests += r.requests;
  total.passed += r.passed;
  total.answered += r.answered;
  total.teacher_calls += r.teacher_calls;
  total.avoided_calls += r.avoided_calls;
  total.cost_usd += r.cost_usd;
  total.gpt4_cost_usd += r.gpt4_cost_usd;
  for (const auto& [tier, n] : r.by_tier) total.by_tier[tier] += n;
  total.library_entries = r.library_entries;
}

Json tier_share(const CascadeRound& r) {
  Json j = Json::object();
  for (const auto& [tier, n] : r.by_tier) j[tier] = ratio(double(n), double(r.requests));
  return j;
}

// Brier scores of the pass head's forecasts and of each source's running pass rate
// (Laplace), both made before the outcome was known.
struct PassScore {
  std::map<std::string, std::pair<double, double>> by_source;  // passes, outcomes
  double head = 0, rate = 0;
  size_t outcomes = 0;
  void add(const std::vector<router::PassForecast>& forecasts) {
    for (const router::PassForecast& f : forecasts) {
      auto& [passes, seen] = by_source[f.tier + "/" + f.model];
      double y = f.passed ? 1 : 0, p_rate = (passes + 1) / (seen + 2);
      head += (f.predicted - y) * (f.predicted - y);
      rate += (p_rate - y) * (p_rate - y);
      passes += y, seen += 1, ++outcomes;
    }
  }
};

// Confidence against hidden-test outcomes, in ten equal-width bins.
class CalibrationScore {
 public:
  void add(double confidence, bool passed) {
    double y = passed ? 1 : 0;
    int bin = std::min(9, int(confidence * 10));
    bins_[bin].n += 1, bins_[bin].confidence += confidence, bins_[bin].passed += y;
    n_ += 1, confidence_ += confidence, passed_ += y, brier_ += (confidence - y) * (confidence - y);
  }
  CascadeBenchResult::Calibration result() const {
    CascadeBenchResult::Calibration c;
    c.answers = size_t(n_);
    if (n_ == 0) return c;
    c.mean_confidence = confidence_ / n_, c.pass_rate = passed_ / n_, c.brier = brier_ / n_;
    for (const Bin& b : bins_)
      if (b.n > 0) c.ece += b.n / n_ * std::abs(b.confidence / b.n - b.passed / b.n);
    return c;
  }

 private:
  struct Bin {
    double n = 0, confidence = 0, passed = 0;
  };
  Bin bins_[10];
  double n_ = 0, confidence_ = 0, passed_ = 0, brier_ = 0;
};

std::string calibration_text(const CascadeBenchResult::Calibration& c) {
  return std::to_string(c.answers) + " answers, mean confidence " +
         format_fixed(c.mean_confidence, 3) + ", hidden pass rate " + format_fixed(c.pass_rate, 3) +
         ", Brier " + format_fixed(c.brier, 3) + ", ECE " + format_fixed(c.ece, 3);
}

nlohmann::json calibration_json(const CascadeBenchResult::Calibration& c) {
  return {{"answers", c.answers},
          {"mean_confidence", c.mean_confidence},
          {"pass_rate", c.pass_rate},
          {"brier", c.brier},
          {"ece", c.ece}};
}

// Each answer's score calibrated by a map fitted on the other half of the tasks only.
CascadeBenchResult::Calibration cross_fitted(const std::vector<router::LabelledScore>& scores,
                                             const std::vector<size_t>& task_index) {
  std::vector<router::LabelledScore> half[2];
  for (size_t i = 0; i < scores.size(); ++i) half[task_index[i] % 2].push_back(scores[i]);
  const router::Calibration fitted[2] = {router::Calibration::fit(half[0]),
                                         router::Calibration::fit(half[1])};
  CalibrationScore score;
  for (size_t i = 0; i < scores.size(); ++i) {
    const router::Calibration& other = fitted[1 - task_index[i] % 2];
    score.add(other.probability(scores[i].kind, scores[i].score), scores[i].passed);
  }
  return score.result();
}

void render(CascadeBenchResult& r) {
  std::ostringstream t;
  t << "cascade: " << r.all.requests / std::max<size_t>(1, r.rounds.size()) << " tasks x "
    << r.rounds.size() << " rounds, " << with_commas(r.all.requests) << " requests, "
    << static_cast<int>(r.seconds) << " s, "
    << (r.folds ? "cross-fitted (" + std::to_string(r.folds) + " folds)" : std::string("in-sample"))
    << "\n\n";
  t << "round  pass     cost      vs gpt-4  teacher calls  avoided  library  tiers\n";
  for (const CascadeRound& c : r.rounds) {
    char line[256];
    std::snprintf(line, sizeof line, "%5d  %-7s  %-8s  %-8s  %13zu  %7zu  %7zu  ", c.round,
                  pct(ratio(double(c.passed), double(c.requests))).c_str(),
                  money(c.cost_usd).c_str(), pct(ratio(c.cost_usd, c.gpt4_cost_usd)).c_str(),
                  c.teacher_calls, c.avoided_calls, c.library_entries);
    t << line << shares_text(c) << "\n";
  }
  auto summary = [&](const char* name, const CascadeRound& c) {
    t << name << ": pass " << pct(ratio(double(c.passed), double(c.requests))) << ", cost "
      << money(c.cost_usd) << " = " << pct(ratio(c.cost_usd, c.gpt4_cost_usd))
      << " of gpt-4 alone (" << money(c.gpt4_cost_usd) << "), teacher calls " << c.teacher_calls
      << ", avoided " << c.avoided_calls << "; " << shares_text(c) << "\n";
  };
  t << "\n";
  summary("round 1    ", r.round1);
  if (r.rounds.size() > 1) summary("rounds 2+  ", r.later);
  summary("all rounds ", r.all);
  t << "gpt-4 alone: pass " << pct(r.gpt4_pass_rate) << "\n";
  if (!r.never_answered.empty()) {
    t << "never answered (" << r.never_answered.size() << "):";
    for (const std::string& id : r.never_answered) t << " " << id;
    t << "\n";
  }
  t << "learned: " << r.learned << " library entries for " << r.learned_tasks << " tasks, "
    << r.learned_passing << " pass the hidden tests ("
    << pct(ratio(double(r.learned_passing), double(r.learned))) << "), " << r.learned_plus_passed
    << " of " << r.learned_plus_scored << " HumanEval+ ("
    << pct(ratio(double(r.learned_plus_passed), double(r.learned_plus_scored))) << ")\n";
  for (const std::string& f : r.learned_failing) t << "  learned but wrong: " << f << "\n";
  t << "kept as evidence (pending, not learned): " << r.pending << " answers, " << r.pending_passing
    << " pass the hidden tests (" << pct(ratio(double(r.pending_passing), double(r.pending)))
    << ")\n";
  t << "confidence vs hidden tests: " << calibration_text(r.calibration) << "\n";
  t << "  of which library entries reused: " << calibration_text(r.student_calibration) << "\n";
  t << "  calibration fitted on the other half of the tasks: " << calibration_text(r.cross_fitted)
    << "\n";
  if (!r.fitted_calibration.empty())
    t << "calibration fitted on every answer written to " << r.fitted_calibration << "\n";
  if (r.pass_outcomes > 0)
    t << "pass head (learned online, forecasts made before each outcome): Brier "
      << format_fixed(r.pass_head_brier, 3) << " vs " << format_fixed(r.source_rate_brier, 3)
      << " for each source's pass rate, over " << with_commas(r.pass_outcomes) << " candidates\n";
  t << folds_text(r);
  t << "\n" << baselines_table(r);
  r.table = t.str();

  Json j;
  j["bench"] = "cascade";
  j["tasks"] = r.all.requests / std::max<size_t>(1, r.rounds.size());
  j["rounds"] = r.rounds.size();
  add_folds_json(j, r);
  j["pass_rate"] = ratio(double(r.all.passed), double(r.all.requests));
  j["cost_vs_gpt4"] = ratio(r.all.cost_usd, r.all.gpt4_cost_usd);
  j["learned_precision"] = ratio(double(r.learned_passing), double(r.learned));
  j["learned_tasks"] = r.learned_tasks;
  j["learned_precision_plus"] = ratio(double(r.learned_plus_passed), double(r.learned_plus_scored));
  j["round1_pass_rate"] = ratio(double(r.round1.passed), double(r.round1.requests));
  j["round1_cost_vs_gpt4"] = ratio(r.round1.cost_usd, r.round1.gpt4_cost_usd);
  j["later_pass_rate"] = ratio(double(r.later.passed), double(r.later.requests));
  j["later_cost_vs_gpt4"] = ratio(r.later.cost_usd, r.later.gpt4_cost_usd);
  j["gpt4_pass_rate"] = r.gpt4_pass_rate;
  j["baselines"] = baselines_json(r.baselines);
  j["cost_usd"] = r.all.cost_usd;
  j["gpt4_cost_usd"] = r.all.gpt4_cost_usd;
  j["teacher_calls"] = r.all.teacher_calls;
  j["avoided_calls"] = r.all.avoided_calls;
  j["learned"] = r.learned;
  j["pending"] = r.pending;
  j["pending_precision"] = ratio(double(r.pending_passing), double(r.pending));
  j["tier_share"] = tier_share(r.all);
  j["round1_tier_share"] = tier_share(r.round1);
  Json curve = Json::array();
  for (const CascadeRound& c : r.rounds)
    curve.push_back({{"round", c.round},
                     {"pass_rate", ratio(double(c.passed), double(c.requests))},
                     {"cost_vs_gpt4", ratio(c.cost_usd, c.gpt4_cost_usd)},
                     {"tier_share", tier_share(c)}});
  j["curve"] = curve;
  j["calibration"] = calibration_json(r.calibration);
  j["student_calibration"] = calibration_json(r.student_calibration);
  j["cross_fitted_calibration"] = calibration_json(r.cross_fitted);
  j["pass_head_brier"] = r.pass_head_brier;
  j["source_rate_brier"] = r.source_rate_brier;
  j["pass_outcomes"] = r.pass_outcomes;
  j["seconds"] = r.seconds;
  r.json_line = j.dump();
}

// What the rounds gather besides their totals, all on the scorer's side.
struct Tally {
  PassScore pass_score;
  CalibrationScore calibration, student_calibration;
  std::vector<router::LabelledScore> scores;  // per answer, for fitting
  std::vector<size_t> score_task;
  size_t gpt4_passes = 0;
  std::map<std::string, size_t> answers_per_task;

  void add(const Asked& a, const Task& task, const Hidden& h, int recorded_run) {
    const router::Answer& answer = *a.answer;
    gpt4_passes += h.gpt4_passed.count(recorded_run) && h.gpt4_passed.at(recorded_run);
    pass_score.add(answer.forecasts);
    if (!answer.answered) return;
    ++answers_per_task[task.id];
    calibration.add(answer.confidence, a.passed);
    if (answer.score_kind == router::kStudentScore)  // a library entry reused as it is
      student_calibration.add(answer.confidence, a.passed);
    scores.push_back({answer.score_kind, answer.score, a.passed});
    score_task.push_back(a.task);
  }
};

void summarise(CascadeBenchResult& result, const Tally& tally, const std::vector<Task>& tasks) {
  for (const Task& t : tasks)
    if (!tally.answers_per_task.count(t.id)) result.never_answered.push_back(t.id);
  result.gpt4_pass_rate = ratio(double(tally.gpt4_passes), double(result.all.requests));
  result.calibration = tally.calibration.result();
  result.student_calibration = tally.student_calibration.result();
  result.cross_fitted = cross_fitted(tally.scores, tally.score_task);
  result.pass_outcomes = tally.pass_score.outcomes;
  result.pass_head_brier = ratio(tally.pass_score.head, double(tally.pass_score.outcomes));
  result.source_rate_brier = ratio(tally.pass_score.rate, double(tally.pass_score.outcomes));
}

Result<void> write_calibration(CascadeBenchResult& result, const CascadeBenchOptions& o,
                               const Tally& tally, size_t tasks, const std::string& problems) {
  std::string fitted_on =
      std::to_string(tasks) + " tasks of " + fs::path(problems).filename().string() + " x " +
      std::to_string(o.rounds) + " rounds, " + std::to_string(tally.scores.size()) +
      " answers against their hidden tests";
  auto written = write_file_atomic(o.fit_calibration,
                                   router::Calibration::fit(tally.scores).to_json(fitted_on));
  if (!written) return written.error();
  result.fitted_calibration = o.fit_calibration;
  return {};
}

// Precision of what was learned: every valid library entry against its hidden tests and
// on the HumanEval+ inputs (as bench generalize scores its learned entries).
Result<void> score_learned(CascadeBenchResult& result, library::Library& library,
                           const std::vector<Task>& tasks,
                           const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                           PlusScorer& plus) {
  auto entries = entries_of_tasks(library, tasks);
  if (!entries) return entries.error();
  std::set<std::string> learned_tasks;
  for (const TaskEntry& te : *entries) {
    const library::Entry& e = te.entry;
    bool ok = scorer.passes(hidden.at(te.task->id), e.code);
    if (e.pending) {  // reported apart: evidence rejoins candidates, it is not reused alone
      ++result.pending;
      result.pending_passing += ok;
      continue;
    }
    ++result.learned;
    result.learned_passing += ok;
    learned_tasks.insert(te.task->id);
    if (auto plus_ok = plus.passes(te.task->id, hidden.at(te.task->id).entry_point, e.code)) {
      ++result.learned_plus_scored;
      result.learned_plus_passed += *plus_ok;
    }
    if (!ok)
      result.learned_failing.push_back(te.task->id + " " + e.model + " " +
                                       format_fixed(e.confidence, 2));
  }
  result.learned_tasks = learned_tasks.size();
  return {};
}

// The baselines computed from the same recordings the replay server serves, their example
// runs on the router's pool (prompts and recorded answers only).
Result<CascadeBaselineRunner> open_baselines(const std::vector<Task>& tasks,
                                             const std::string& runs, validator::Validator& pool) {
  auto rows = read_jsonl_gz(runs);
  if (!rows) return rows.error();
  auto recorded = recorded_runs(*rows, tasks, runs);
  if (!recorded) return recorded.error();
  return CascadeBaselineRunner::open(tasks, std::move(recorded).value(), pool);
}

Result<std::string> make_work_dir(const std::string& requested) {
  std::string dir = requested;
  if (dir.empty()) {
    dir = (fs::temp_directory_path() / ("yantra-cascade-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir);
  }
  std::error_code ec;
  fs::create_directories(fs::path(dir) / ".yantra", ec);
  if (ec) return Error::in(dir, "cannot create: " + ec.message());
  return dir;
}

}  // namespace

Result<CascadeBenchResult> run_cascade_bench(const CascadeBenchOptions& o) {
  auto started = std::chrono::steady_clock::now();
  std::string data = shared_data_dir(o.peers_dir) + "/humaneval";
  std::string problems = o.problems.empty() ? data + "/HumanEval-dev.jsonl.gz" : o.problems;
  std::string runs = o.runs.empty() ? data + "/recorded-runs-dev.jsonl.gz" : o.runs;
  std::string plus_path = o.plus.empty() ? data + "/HumanEvalPlus-dev.jsonl.gz" : o.plus;
  std::vector<Task> tasks;
  std::map<std::string, Hidden> hidden;
  if (auto ok = load_tasks(problems, runs, o.tasks, tasks, hidden); !ok) return ok.error();
  if (tasks.empty()) return Error::in(problems, "no tasks");
  if (o.folds > 1 && !o.calibration.empty())
    return Error{"--calibration " + o.calibration +
                 ": a cross-fitted run fits its own per fold; pass --folds 0 to route with it"};
  auto server = replay::ReplayServer::load(runs, problems);
  if (!server) return server.error();
  auto port = server->start("127.0.0.1", 0);
  if (!port) return port.error();
  CascadeBenchResult result;
  auto work_dir = make_work_dir(o.work_dir);
  if (!work_dir) return work_dir.error();
  result.work_dir = *work_dir;
  auto pools = Pools::start(o);
  if (!pools) return pools.error();
  Scorer scorer(*pools->scoring);
  auto plus = PlusScorer::load(plus_path, *pools->scoring);
  if (!plus) return plus.error();
  auto baselines = open_baselines(tasks, runs, *pools->router);
  if (!baselines) return baselines.error();
  std::optional<CrossFit> cross;
  if (o.folds > 1) {
    auto fitted = cross_fit(o, tasks, hidden, scorer, *pools->router, runs, problems, result);
    if (!fitted) return fitted.error();
    cross.emplace(std::move(fitted).value());
  }
  auto cascade = CascadeRouter::open(o, result.work_dir, *port, *pools->router);
  if (!cascade) return cascade.error();

  Tally tally;
  for (int round = 1; round <= o.rounds; ++round) {
    int recorded_run = (round - 1) % 10 + 1;
    // Cross-fitted: each fold's router, its calibration refitted on the answers so far.
    std::vector<std::unique_ptr<router::Router>> fold_routers;
    for (size_t f = 0; cross && f < cross->folds(); ++f)
      fold_routers.push_back((*cascade)->variant([&](router::RouterOptions& ro) {
        ro.calibration = cross->calibration(f, tally.scores, tally.score_task);
        ro.stop_confidence = cross->stop_confidence(f);
      }));
    RouterFor router_for = [&](size_t t) -> router::Router& {
      return cross ? *fold_routers[cross->fold_of_task(t)] : (*cascade)->router();
    };
    auto c = ask_round(router_for, tasks, hidden, scorer, recorded_run, [&](const Asked& a) {
      const Task& t = tasks[a.task];
      tally.add(a, t, hidden.at(t.id), recorded_run);
    });
    if (!c) return c.error();
    if (auto ok = baselines->add_round(round, recorded_run); !ok) return ok.error();
    c->round = round;
    auto size = (*cascade)->library().size();
    c->library_entries = size ? *size : 0;
    if (o.progress)
      progress("round " + std::to_string(round) + ": pass " +
               pct(ratio(double(c->passed), double(c->requests))) + ", " + money(c->cost_usd) +
               " (" + pct(ratio(c->cost_usd, c->gpt4_cost_usd)) + " of gpt-4), " + shares_text(*c));
    result.rounds.push_back(*c);
    add_to(result.all, *c);
    add_to(round == 1 ? result.round1 : result.later, *c);
  }
  server->stop();
  summarise(result, tally, tasks);
  result.baselines = baselines->baselines();
  if (!o.fit_calibration.empty())
    if (auto ok = write_calibration(result, o, tally, tasks.size(), problems); !ok)
      return ok.error();
  if (auto ok = score_learned(result, (*cascade)->library(), tasks, hidden, scorer, *plus); !ok)
    return ok.error();
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  render(result);
  cascade->reset();
  std::error_code ec;
  if (!o.keep_work_dir && o.work_dir.empty()) fs::remove_all(result.work_dir, ec);
  return result;
}

}  // namespace yantra::bench
