// `yantra bench cascade`: HumanEval dev tasks round after round through the real router.
// The router, its validator, the library and the student see a task's prompt only; the
// hidden tests (`test`) are read into a separate table and used by a separate validator
// after each answer, to score it.
#include <filesystem>
#include <nlohmann/json.hpp>
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

// What the router may see of a task.
struct Task {
  std::string id, prompt;
};

// What only the scorer sees: the hidden tests, and gpt-4's recorded runs for the baseline.
struct Hidden {
  std::string test, entry_point;
  std::map<int, double> gpt4_cost;  // run -> $ at list price
  std::map<int, bool> gpt4_passed;  // run -> recorded result
};

constexpr double kGpt4In = 0.03, kGpt4Out = 0.06, kGpt35In = 0.0015, kGpt35Out = 0.002;

Result<void> load_tasks(const std::string& problems_path, const std::string& runs_path,
                        size_t limit, std::vector<Task>& tasks,
                        std::map<std::string, Hidden>& hidden) {
  auto problems = read_jsonl_gz(problems_path);
  if (!problems) return problems.error();
  for (const auto& p : *problems) {
    if (!p.contains("task_id") || !p.contains("prompt") || !p.contains("test") ||
        !p.contains("entry_point"))
      return Error::in(problems_path, "a problem lacks task_id, prompt, test or entry_point");
    if (limit && tasks.size() >= limit) break;
    tasks.push_back({p["task_id"], p["prompt"]});
    hidden[p["task_id"]] = {p["test"], p["entry_point"], {}, {}};
  }
  auto runs = read_jsonl_gz(runs_path);
  if (!runs) return runs.error();
  for (const auto& r : *runs) {
    if (r.value("model", "") != "gpt-4") continue;
    auto it = hidden.find(r.value("task_id", ""));
    if (it == hidden.end()) continue;
    int run = r.value("run", 0);
    double in = r.value("prompt_tokens", 0.0), out = r.value("completion_tokens", 0.0);
    it->second.gpt4_cost[run] = in / 1000 * kGpt4In + out / 1000 * kGpt4Out;
    it->second.gpt4_passed[run] = r.value("recorded_result", "") == "Pass";
  }
  return {};
}

config::Settings replay_settings(int port) {
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  auto provider = [&](std::string name, std::string model, config::Tier tier, double in,
                      double out) {
    config::ProviderSettings p;
    p.name = std::move(name);
    p.kind = config::ProviderKind::openai;
    p.base_url = url;
    p.tier = tier;
    p.models = {std::move(model)};
    p.price_in_per_1k = in;
    p.price_out_per_1k = out;
    p.budget_month_usd = 1000;
    p.timeout_s = 60;
    return p;
  };
  config::Settings s;
  s.providers = {provider("codellama", "codellama-34b-instruct", config::Tier::open_local, 0, 0),
                 provider("gpt35", "gpt-3.5-turbo", config::Tier::premium, kGpt35In, kGpt35Out),
                 provider("gpt4", "gpt-4", config::Tier::premium, kGpt4In, kGpt4Out)};
  return s;
}

// Scores answers on the hidden tests, remembering each verdict by code: a library answer
// repeated in every round is run once.
class Scorer {
 public:
  explicit Scorer(v::Validator& validator) : validator_(validator) {}
  bool passes(const Hidden& h, const std::string& code) {
    std::string key = h.entry_point + "\n" + code;
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    v::Job job;
    job.code = code;
    job.tests = v::TestSuite::check(h.test, h.entry_point);
    bool ok = validator_.run(job).status == v::Status::passed;
    cache_[key] = ok;
    return ok;
  }

 private:
  v::Validator& validator_;
  std::map<std::string, bool> cache_;
};

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

double ratio(double a, double b) {
  return b > 0 ? a / b : 0;
}

std::string pct(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", 100 * x);
  return buf;
}

std::string money(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.4f", x);
  return buf;
}

Json tier_share(const CascadeRound& r) {
  Json j = Json::object();
  for (const auto& [tier, n] : r.by_tier) j[tier] = ratio(double(n), double(r.requests));
  return j;
}

std::string shares_text(const CascadeRound& r) {
  std::string s;
  for (const auto& [tier, n] : r.by_tier)
    s += (s.empty() ? "" : ", ") + tier + " " + pct(ratio(double(n), double(r.requests)));
  return s;
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
    << static_cast<int>(r.seconds) << " s\n\n";
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
  t << "learned: " << r.learned << " library entries, " << r.learned_passing
    << " pass the hidden tests (" << pct(ratio(double(r.learned_passing), double(r.learned)))
    << ")\n";
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
  r.table = t.str();

  Json j;
  j["bench"] = "cascade";
  j["tasks"] = r.all.requests / std::max<size_t>(1, r.rounds.size());
  j["rounds"] = r.rounds.size();
  j["pass_rate"] = ratio(double(r.all.passed), double(r.all.requests));
  j["cost_vs_gpt4"] = ratio(r.all.cost_usd, r.all.gpt4_cost_usd);
  j["learned_precision"] = ratio(double(r.learned_passing), double(r.learned));
  j["round1_pass_rate"] = ratio(double(r.round1.passed), double(r.round1.requests));
  j["round1_cost_vs_gpt4"] = ratio(r.round1.cost_usd, r.round1.gpt4_cost_usd);
  j["later_pass_rate"] = ratio(double(r.later.passed), double(r.later.requests));
  j["later_cost_vs_gpt4"] = ratio(r.later.cost_usd, r.later.gpt4_cost_usd);
  j["gpt4_pass_rate"] = r.gpt4_pass_rate;
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

}  // namespace

Result<CascadeBenchResult> run_cascade_bench(const CascadeBenchOptions& o) {
  auto started = std::chrono::steady_clock::now();
  std::string peers = find_peers_dir(o.peers_dir, "");
  std::string data =
      peers.empty() ? std::string() : (fs::path(peers).parent_path() / "data/humaneval").string();
  std::string problems = o.problems.empty() ? data + "/HumanEval-dev.jsonl.gz" : o.problems;
  std::string runs = o.runs.empty() ? data + "/recorded-runs-dev.jsonl.gz" : o.runs;
  std::vector<Task> tasks;
  std::map<std::string, Hidden> hidden;
  if (auto ok = load_tasks(problems, runs, o.tasks, tasks, hidden); !ok) return ok.error();
  if (tasks.empty()) return Error::in(problems, "no tasks");

  auto server = replay::ReplayServer::load(runs, problems);
  if (!server) return server.error();
  auto port = server->start("127.0.0.1", 0);
  if (!port) return port.error();

  CascadeBenchResult result;
  result.work_dir = o.work_dir;
  if (result.work_dir.empty()) {
    result.work_dir =
        (fs::temp_directory_path() / ("yantra-cascade-" + std::to_string(::getpid()))).string();
    fs::remove_all(result.work_dir);
  }
  std::error_code ec;
  fs::create_directories(fs::path(result.work_dir) / ".yantra", ec);
  if (ec) return Error::in(result.work_dir, "cannot create: " + ec.message());

  int workers = o.workers > 0 ? o.workers : static_cast<int>(core_count());
  std::unique_ptr<v::Validator> own_validator;
  v::Validator* router_validator = o.router_validator;
  if (!router_validator) {
    auto pool = v::Validator::start({.workers = workers});
    if (!pool) return pool.error();
    own_validator = std::move(pool).value();
    router_validator = own_validator.get();
  }
  // The scorer's sandboxes are not the router's: nothing of the hidden tests passes
  // through anything the router holds.
  auto scoring_pool = v::Validator::start({.workers = 1});
  if (!scoring_pool) return scoring_pool.error();
  Scorer scorer(**scoring_pool);

  config::Settings settings = replay_settings(*port);
  settings.router.student_confidence = o.student_confidence;
  settings.router.premium_confidence = o.premium_confidence;
  settings.router.premium_consent = config::Consent::always;
  settings.router.samples = o.open_samples;
  router::TeacherOptions teacher_options;
  teacher_options.lookup_key = [](const config::ProviderSettings&) {
    return Result<std::optional<std::string>>(std::optional<std::string>());
  };
  teacher_options.transport = o.transport;
  auto teachers = router::Teachers::from_settings(settings, teacher_options);
  if (!teachers) return teachers.error();
  auto ledger = ledger::Ledger::open(result.work_dir);
  if (!ledger) return ledger.error();
  auto library = library::Library::open(result.work_dir, student::kTextEmbeddingDim);
  if (!library) return library.error();

  router::RouterOptions ro;
  ro.settings = settings.router;
  ro.novelty_similarity = o.novelty_similarity;
  ro.open_samples = o.open_samples;
  ro.premium_samples = o.premium_samples;
  ro.learn_confidence = o.learn_confidence;
  if (o.calibration == "none") {
    ro.calibration = router::Calibration::none();
  } else if (!o.calibration.empty()) {
    auto loaded = router::Calibration::load(o.calibration);
    if (!loaded) return loaded.error();
    ro.calibration = std::move(loaded).value();
  }
  fs::create_directories(fs::path(result.work_dir) / ".yantra/student", ec);
  auto pass_head = student::OnlineLearner::open(
      (fs::path(result.work_dir) / ".yantra/student/pass_head.pt").string(), {});
  if (!pass_head) return pass_head.error();
  ro.pass_head = &*pass_head;
  router::Router router(router_validator, &*teachers, &*library, &*ledger, ro);
  PassScore pass_score;
  CalibrationScore calibration, student_calibration;
  std::vector<router::LabelledScore> scores;  // per answer, for fitting: scorer's side only
  std::vector<size_t> score_task;

  size_t gpt4_passes = 0;
  std::map<std::string, size_t> answers_per_task;
  for (int round = 1; round <= o.rounds; ++round) {
    CascadeRound c;
    c.round = round;
    int recorded_run = (round - 1) % 10 + 1;
    for (size_t t = 0; t < tasks.size(); ++t) {
      const Task& task = tasks[t];
      auto answer = router.generate({.text = task.prompt});
      if (!answer) return Error{task.id + ": " + answer.error().message};
      const Hidden& h = hidden.at(task.id);
      ++c.requests;
      c.cost_usd += answer->cost_usd;
      c.teacher_calls += static_cast<size_t>(answer->teacher_calls);
      c.gpt4_cost_usd += h.gpt4_cost.count(recorded_run) ? h.gpt4_cost.at(recorded_run) : 0;
      gpt4_passes += h.gpt4_passed.count(recorded_run) && h.gpt4_passed.at(recorded_run);
      pass_score.add(answer->forecasts);
      if (answer->tier == "student") ++c.avoided_calls;
      ++c.by_tier[answer->answered ? answer->tier : "none"];
      if (answer->answered) {
        ++answers_per_task[task.id];
        ++c.answered;
        bool passed = scorer.passes(h, answer->code);
        c.passed += passed;
        calibration.add(answer->confidence, passed);
        if (answer->score_kind == router::kStudentScore)  // a library entry reused as it is
          student_calibration.add(answer->confidence, passed);
        scores.push_back({answer->score_kind, answer->score, passed});
        score_task.push_back(t);
      }
    }
    auto size = library->size();
    c.library_entries = size ? *size : 0;
    if (o.progress)
      progress("round " + std::to_string(round) + ": pass " +
               pct(ratio(double(c.passed), double(c.requests))) + ", " + money(c.cost_usd) + " (" +
               pct(ratio(c.cost_usd, c.gpt4_cost_usd)) + " of gpt-4), " + shares_text(c));
    result.rounds.push_back(c);
    add_to(result.all, c);
    add_to(round == 1 ? result.round1 : result.later, c);
  }
  server->stop();
  for (const Task& t : tasks)
    if (!answers_per_task.count(t.id)) result.never_answered.push_back(t.id);
  result.gpt4_pass_rate = ratio(double(gpt4_passes), double(result.all.requests));
  result.calibration = calibration.result();
  result.student_calibration = student_calibration.result();
  result.cross_fitted = cross_fitted(scores, score_task);
  if (!o.fit_calibration.empty()) {
    std::string fitted_on = std::to_string(tasks.size()) + " tasks of " +
                            fs::path(problems).filename().string() + " x " +
                            std::to_string(o.rounds) + " rounds, " + std::to_string(scores.size()) +
                            " answers against their hidden tests";
    auto written =
        write_file_atomic(o.fit_calibration, router::Calibration::fit(scores).to_json(fitted_on));
    if (!written) return written.error();
    result.fitted_calibration = o.fit_calibration;
  }
  result.pass_outcomes = pass_score.outcomes;
  result.pass_head_brier = ratio(pass_score.head, double(pass_score.outcomes));
  result.source_rate_brier = ratio(pass_score.rate, double(pass_score.outcomes));

  // Precision of what was learned: every valid library entry against its hidden tests.
  auto entries = library->all_entries();
  if (!entries) return entries.error();
  std::map<std::string, const Task*> by_prompt;
  for (const Task& t : tasks) by_prompt[t.prompt] = &t;
  for (const library::Entry& e : *entries) {
    if (e.avoid || !e.valid) continue;
    auto it = by_prompt.find(e.request);
    if (it == by_prompt.end()) continue;
    if (e.pending) {  // reported apart: evidence rejoins candidates, it is not reused alone
      ++result.pending;
      result.pending_passing += scorer.passes(hidden.at(it->second->id), e.code);
      continue;
    }
    ++result.learned;
    bool ok = scorer.passes(hidden.at(it->second->id), e.code);
    result.learned_passing += ok;
    if (!ok)
      result.learned_failing.push_back(it->second->id + " " + e.model + " " +
                                       format_fixed(e.confidence, 2));
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  render(result);
  if (!o.keep_work_dir && o.work_dir.empty()) fs::remove_all(result.work_dir, ec);
  return result;
}

}  // namespace yantra::bench
