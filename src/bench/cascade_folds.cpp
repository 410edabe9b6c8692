// bench cascade's cross-fitting (--folds): one trace round asks every teacher of the ladder
// for every task and scores where the ladder stood after each; each fold's calibration and
// stopping thresholds are then fitted on the other folds' traces only, by the objective
// "pass at least the full ladder's rate less a slack, at the least cost".
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "bench/internal.h"
#include "replay/replay.h"
#include "router/router.h"

namespace yantra::bench {
namespace {

// Where a task's ladder stops under `stops` (the threshold before each later rung), and
// with what: the first step at least that sure, else the last.
const TraceStep& stop_step(const LadderTrace& trace, const router::Calibration& calibration,
                           const std::vector<double>& stops) {
  for (size_t i = 0; i + 1 < trace.steps.size(); ++i) {
    const TraceStep& s = trace.steps[i];
    double threshold = i < stops.size() ? stops[i] : stops.back();
    if (s.has_best && calibration.probability(s.kind, s.score) >= threshold) return s;
  }
  return trace.steps.back();
}

// The thresholds worth trying at one rung: every confidence a training step reached there,
// and "never stop" above them all.
// Rounded up to a hundredth, so a threshold is never fitted to one answer's exact score.
std::vector<double> candidate_thresholds(std::span<const LadderTrace* const> traces,
                                         const router::Calibration& calibration, size_t rung) {
  std::set<double> values = {kNeverStop};
  for (const LadderTrace* t : traces)
    if (rung + 1 < t->steps.size() && t->steps[rung].has_best) {
      double p = calibration.probability(t->steps[rung].kind, t->steps[rung].score);
      values.insert(std::floor(p * 100) / 100);
    }
  return {values.begin(), values.end()};
}

}  // namespace

size_t fold_of(const Task& task, size_t position, size_t folds) {
  if (folds <= 1) return 0;
  // The number after the last '/' ("HumanEval/17" -> 17): a fold keeps its tasks when the
  // task list is cut (--tasks) or reordered.
  size_t slash = task.id.rfind('/');
  std::string digits = task.id.substr(slash == std::string::npos ? 0 : slash + 1);
  bool numeric =
      !digits.empty() && digits.size() < 10 &&
      std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); });
  return (numeric ? std::stoul(digits) : position) % folds;
}

LadderOutcome simulate_ladder(std::span<const LadderTrace* const> traces,
                              const router::Calibration& calibration,
                              const std::vector<double>& stops) {
  LadderOutcome out;
  for (const LadderTrace* t : traces) {
    if (t->steps.empty()) {
      out.passed += t->passed;
      continue;
    }
    const TraceStep& s = stop_step(*t, calibration, stops);
    bool last = &s == &t->steps.back();
    out.passed += last ? t->passed : s.passed;
    out.cost_usd += s.cost_usd;
  }
  return out;
}

FoldFit fit_fold(std::span<const LadderTrace> traces, std::span<const size_t> task_fold,
                 size_t fold, double pass_slack) {
  std::vector<const LadderTrace*> train;
  std::vector<router::LabelledScore> labels;
  for (const LadderTrace& t : traces) {
    if (task_fold[t.task] == fold) continue;
    train.push_back(&t);
    for (const TraceStep& s : t.steps)
      if (s.has_best) labels.push_back({s.kind, s.score, s.passed});
  }
  FoldFit fit;
  fit.train_tasks = train.size();
  fit.calibration = router::Calibration::fit(labels);
  fit.labels = std::move(labels);
  size_t rungs = 0;
  for (const LadderTrace* t : train) rungs = std::max(rungs, t->steps.size());
  fit.stops.assign(rungs > 1 ? rungs - 1 : 1, kNeverStop);
  LadderOutcome full = simulate_ladder(train, fit.calibration, fit.stops);
  fit.train_full_pass = ratio(double(full.passed), double(train.size()));
  const double needed = double(full.passed) - pass_slack * double(train.size()) - 1e-9;
  // Every combination of the rungs' thresholds: two or three rungs, a few hundred values.
  LadderOutcome best = full;
  std::vector<std::vector<double>> grid;
  for (size_t r = 0; r < fit.stops.size(); ++r)
    grid.push_back(candidate_thresholds(train, fit.calibration, r));
  std::vector<double> stops(fit.stops.size());
  std::function<void(size_t)> search = [&](size_t r) {
    if (r == stops.size()) {
      LadderOutcome o = simulate_ladder(train, fit.calibration, stops);
      if (double(o.passed) < needed) return;
      bool cheaper = o.cost_usd < best.cost_usd - 1e-12;
      bool as_cheap_better =
          std::abs(o.cost_usd - best.cost_usd) <= 1e-12 && o.passed > best.passed;
      if (cheaper || as_cheap_better) best = o, fit.stops = stops;
      return;
    }
    for (double v : grid[r]) stops[r] = v, search(r + 1);
  };
  search(0);
  fit.train_pass = ratio(double(best.passed), double(train.size()));
  fit.train_cost_usd = best.cost_usd;
  fit.train_full_cost_usd = full.cost_usd;
  return fit;
}

Result<std::vector<LadderTrace>> trace_ladder(const CascadeBenchOptions& o,
                                              const std::vector<Task>& tasks,
                                              const std::map<std::string, Hidden>& hidden,
                                              Scorer& scorer, validator::Validator& pool,
                                              const std::string& work_dir, int port) {
  auto cascade = CascadeRouter::open(o, work_dir, port, pool, [](router::RouterOptions& ro) {
    ro.settings.premium_confidence = kNeverStop;  // every teacher, whatever the answers
    ro.stop_confidence.clear();
    ro.calibration = router::Calibration::none();  // raw scores: nothing fitted yet
    ro.learn = false;
  });
  if (!cascade) return cascade.error();
  std::vector<LadderTrace> traces;
  auto round = ask_round((*cascade)->router(), tasks, hidden, scorer, 1, [&](const Asked& a) {
    const Hidden& h = hidden.at(tasks[a.task].id);
    LadderTrace t{.task = a.task, .passed = a.passed};
    for (const router::LadderStep& s : a.answer->ladder)
      t.steps.push_back({.cost_usd = s.cost_usd,
                         .has_best = s.has_best,
                         .kind = s.score_kind,
                         .score = s.score,
                         .passed = s.has_best && scorer.passes(h, s.code)});
    traces.push_back(std::move(t));
  });
  if (!round) return round.error();
  return traces;
}

CrossFit::CrossFit(const std::vector<Task>& tasks, std::vector<LadderTrace> traces, size_t folds,
                   double pass_slack)
    : traces_(std::move(traces)) {
  for (size_t t = 0; t < tasks.size(); ++t) task_fold_.push_back(fold_of(tasks[t], t, folds));
  for (size_t f = 0; f < folds; ++f) fits_.push_back(fit_fold(traces_, task_fold_, f, pass_slack));
}

Result<CrossFit> CrossFit::run(const CascadeBenchOptions& o, const std::vector<Task>& tasks,
                               const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                               validator::Validator& pool, const std::string& work_dir, int port) {
  auto traces = trace_ladder(o, tasks, hidden, scorer, pool, work_dir, port);
  if (!traces) return traces.error();
  return CrossFit(tasks, std::move(traces).value(), o.folds, o.pass_slack);
}

router::Calibration CrossFit::calibration(size_t fold,
                                          std::span<const router::LabelledScore> answers,
                                          std::span<const size_t> answer_task) const {
  std::vector<router::LabelledScore> labels = fits_[fold].labels;
  for (size_t i = 0; i < answers.size(); ++i)
    if (answers[i].kind == router::kStudentScore && task_fold_[answer_task[i]] != fold)
      labels.push_back(answers[i]);
  return router::Calibration::fit(labels);
}

std::vector<double> CrossFit::stop_confidence(size_t fold) const {
  std::vector<double> stops = fits_[fold].stops;
  stops.insert(stops.begin(), stops.front());
  return stops;
}

LadderOutcome CrossFit::held_out() const {
  LadderOutcome total;
  for (size_t f = 0; f < fits_.size(); ++f) {
    std::vector<const LadderTrace*> own;
    for (const LadderTrace& t : traces_)
      if (task_fold_[t.task] == f) own.push_back(&t);
    LadderOutcome o = simulate_ladder(own, fits_[f].calibration, fits_[f].stops);
    total.passed += o.passed;
    total.cost_usd += o.cost_usd;
  }
  return total;
}

LadderOutcome CrossFit::full_ladder() const {
  std::vector<const LadderTrace*> all;
  for (const LadderTrace& t : traces_) all.push_back(&t);
  return simulate_ladder(all, router::Calibration::none(), {kNeverStop});
}

namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

BaselineFigures ladder_figures(const LadderOutcome& o, const std::vector<Task>& tasks,
                               const std::map<std::string, Hidden>& hidden) {
  BaselineFigures f;
  f.requests = tasks.size();
  f.passed = o.passed;
  f.cost_usd = o.cost_usd;
  for (const Task& t : tasks) {
    const Hidden& h = hidden.at(t.id);
    f.gpt4_cost_usd += h.gpt4_cost.count(1) ? h.gpt4_cost.at(1) : 0;
  }
  return f;
}

std::string figures_text(const BaselineFigures& f) {
  return "pass " + pct(ratio(double(f.passed), double(f.requests))) + " at " +
         pct(ratio(f.cost_usd, f.gpt4_cost_usd)) + " of gpt-4";
}

std::string stops_text(const std::vector<double>& stops) {
  std::string s;
  for (double v : stops) s += (s.empty() ? "" : " / ") + (v > 1 ? "never" : format_fixed(v, 2));
  return s;
}

Json figures_json(const BaselineFigures& f) {
  return {{"pass_rate", ratio(double(f.passed), double(f.requests))},
          {"cost_vs_gpt4", ratio(f.cost_usd, f.gpt4_cost_usd)}};
}

Json fold_fits_json(const CascadeBenchResult& r) {
  Json folds = Json::array();
  for (const CascadeFold& f : r.fold_fits)
    folds.push_back({{"fold", f.fold},
                     {"tasks", f.tasks},
                     {"stops", f.stops},
                     {"train_pass_rate", f.train_pass_rate},
                     {"train_full_pass_rate", f.train_full_pass_rate},
                     {"train_cost_vs_full", f.train_cost_vs_full}});
  return folds;
}

// The trace as JSON lines beside the trace's library, for a look with --keep.
Result<void> write_traces(const std::vector<LadderTrace>& traces, const std::vector<Task>& tasks,
                          const std::string& path) {
  std::string text;
  for (const LadderTrace& t : traces) {
    Json steps = Json::array();
    for (const TraceStep& s : t.steps)
      steps.push_back({{"cost_usd", s.cost_usd},
                       {"has_best", s.has_best},
                       {"kind", s.kind},
                       {"score", s.score},
                       {"passed", s.passed}});
    text += Json{{"task", tasks[t.task].id}, {"passed", t.passed}, {"steps", steps}}.dump() + "\n";
  }
  return write_file_atomic(path, text);
}

}  // namespace

Result<CrossFit> cross_fit(const CascadeBenchOptions& o, const std::vector<Task>& tasks,
                           const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                           validator::Validator& pool, const std::string& runs,
                           const std::string& problems, CascadeBenchResult& result) {
  auto server = replay::ReplayServer::load(runs, problems);
  if (!server) return server.error();
  auto port = server->start("127.0.0.1", 0);
  if (!port) return port.error();
  std::string dir = (fs::path(result.work_dir) / "ladder-trace").string();
  auto cross = CrossFit::run(o, tasks, hidden, scorer, pool, dir, *port);
  server->stop();
  if (!cross) return cross.error();
  if (auto ok = write_traces(cross->traces(), tasks, dir + "/ladder-trace.jsonl"); !ok)
    return ok.error();
  result.folds = cross->folds();
  result.full_ladder = ladder_figures(cross->full_ladder(), tasks, hidden);
  result.simulated_round1 = ladder_figures(cross->held_out(), tasks, hidden);
  for (size_t f = 0; f < cross->folds(); ++f) {
    const FoldFit& fit = cross->fit(f);
    CascadeFold fold{.fold = f, .train_tasks = fit.train_tasks, .stops = fit.stops};
    for (size_t t = 0; t < tasks.size(); ++t) fold.tasks += cross->fold_of_task(t) == f;
    fold.train_pass_rate = fit.train_pass;
    fold.train_full_pass_rate = fit.train_full_pass;
    fold.train_cost_vs_full = ratio(fit.train_cost_usd, fit.train_full_cost_usd);
    result.fold_fits.push_back(std::move(fold));
  }
  if (o.progress)
    progress("ladder trace (round 1, every teacher asked): pass " +
             pct(ratio(double(result.full_ladder.passed), double(tasks.size()))) + " at " +
             pct(ratio(result.full_ladder.cost_usd, result.full_ladder.gpt4_cost_usd)) +
             " of gpt-4; " + std::to_string(cross->folds()) + " folds fitted");
  return std::move(cross).value();
}

std::string folds_text(const CascadeBenchResult& r) {
  std::ostringstream t;
  t << "teacher-written tests: off (the replay server holds recorded code, no tests)\n";
  if (r.folds == 0) {
    t << "in-sample: the calibration and thresholds given (the built-in ones were fitted on "
         "these very tasks)\n";
    return t.str();
  }
  t << "cross-fitted: " << r.folds
    << " folds by task id; each fold is routed with a calibration and thresholds fitted on "
       "the other folds' ladder trace only\n";
  t << "  ladder trace (round 1, every teacher asked): " << figures_text(r.full_ladder)
    << "; routed offline by each fold's fit: " << figures_text(r.simulated_round1) << "\n";
  for (const CascadeFold& f : r.fold_fits)
    t << "  fold " << f.fold << " (" << f.tasks << " tasks): stop before gpt-3.5 / gpt-4 at "
      << stops_text(f.stops) << "; on its " << f.train_tasks << " training tasks pass "
      << pct(f.train_pass_rate) << " (whole ladder " << pct(f.train_full_pass_rate) << ") at "
      << pct(f.train_cost_vs_full) << " of the whole ladder's cost\n";
  return t.str();
}

void add_folds_json(nlohmann::ordered_json& j, const CascadeBenchResult& r) {
  j["folds"] = r.folds;  // 0: in-sample
  if (!r.folds) return;
  j["full_ladder"] = figures_json(r.full_ladder);
  j["simulated_round1"] = figures_json(r.simulated_round1);
  j["fold_fits"] = fold_fits_json(r);
}

}  // namespace yantra::bench
