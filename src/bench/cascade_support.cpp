// The learning loop on replayed teachers, as `bench cascade` and `bench generalize` run it:
// tasks and their hidden tests read apart, the router over a work directory with the
// replay server as every teacher, a round of requests scored after the fact.
#include <chrono>
#include <filesystem>

#include "bench/internal.h"
#include "config/config.h"
#include "ledger/ledger.h"
#include "router/router.h"
#include "student/student.h"
#include "validator/validator.h"

namespace yantra::bench {
namespace {

namespace fs = std::filesystem;
namespace v = yantra::validator;

// Per recorded model, in kRecordedModels' order: the provider the router is configured
// with, its tier and its 2023 list price per 1K tokens in and out (codellama self-hosted).
// One table for the router's prices and the baselines' (gpt-4 alone and the others).
struct RecordedTeacher {
  const char* provider;
  config::Tier tier;
  double in_per_1k, out_per_1k;
};
constexpr RecordedTeacher kTeachers[] = {{"codellama", config::Tier::open_local, 0, 0},
                                         {"gpt35", config::Tier::premium, 0.0015, 0.002},
                                         {"gpt4", config::Tier::premium, 0.03, 0.06}};
static_assert(std::size(kTeachers) == kRecordedModels.size());

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
  for (size_t m = 0; m < kRecordedModels.size(); ++m) {
    const RecordedTeacher& t = kTeachers[m];
    s.providers.push_back(
        provider(t.provider, std::string(kRecordedModels[m]), t.tier, t.in_per_1k, t.out_per_1k));
  }
  return s;
}

Result<router::RouterOptions> router_options(const CascadeBenchOptions& o,
                                             const config::Settings& settings) {
  router::RouterOptions ro;
  ro.settings = settings.router;
  // The replay server holds recorded code only: asked for tests, it would answer with code.
  ro.settings.teacher_tests = false;
  ro.novelty_similarity = o.novelty_similarity;
  ro.open_samples = o.open_samples;
  ro.premium_samples = o.premium_samples;
  ro.learn_confidence = o.learn_confidence;
  if (o.view == RequestViewKind::hashed) ro.embedder = router::hashed_embedder();
  if (o.calibration == "none") {
    ro.calibration = router::Calibration::none();
  } else if (!o.calibration.empty()) {
    auto loaded = router::Calibration::load(o.calibration);
    if (!loaded) return loaded.error();
    ro.calibration = std::move(loaded).value();
  }
  return ro;
}

}  // namespace

std::optional<size_t> recorded_model_index(std::string_view model) {
  for (size_t m = 0; m < kRecordedModels.size(); ++m)
    if (kRecordedModels[m] == model) return m;
  return std::nullopt;
}

std::optional<double> recorded_cost_usd(std::string_view model, double prompt_tokens,
                                        double completion_tokens) {
  auto m = recorded_model_index(model);
  if (!m) return std::nullopt;
  return prompt_tokens / 1000 * kTeachers[*m].in_per_1k +
         completion_tokens / 1000 * kTeachers[*m].out_per_1k;
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

std::string shares_text(const CascadeRound& r) {
  std::string s;
  for (const auto& [tier, n] : r.by_tier)
    s += (s.empty() ? "" : ", ") + tier + " " + pct(ratio(double(n), double(r.requests)));
  return s;
}

std::string shared_data_dir(const std::string& peers_dir) {
  std::string peers = find_peers_dir(peers_dir, "");
  return peers.empty() ? std::string() : (fs::path(peers).parent_path() / "data").string();
}

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
    it->second.gpt4_cost[run] = *recorded_cost_usd("gpt-4", in, out);
    it->second.gpt4_passed[run] = r.value("recorded_result", "") == "Pass";
  }
  return {};
}

bool Scorer::passes(const Hidden& h, const std::string& code) {
  std::string key = h.test + "\n" + h.entry_point + "\n" + code;
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  v::Job job;
  job.code = code;
  job.tests = v::TestSuite::check(h.test, h.entry_point);
  bool ok = validator_.run(job).status == v::Status::passed;
  cache_[key] = ok;
  return ok;
}

Result<Pools> Pools::start(const CascadeBenchOptions& o) {
  Pools pools;
  pools.router = o.router_validator;
  if (!pools.router) {
    int workers = o.workers > 0 ? o.workers : static_cast<int>(core_count());
    auto pool = v::Validator::start({.workers = workers});
    if (!pool) return pool.error();
    pools.own_router = std::move(pool).value();
    pools.router = pools.own_router.get();
  }
  auto scoring = v::Validator::start({.workers = 1});
  if (!scoring) return scoring.error();
  pools.scoring = std::move(scoring).value();
  return pools;
}

struct CascadeRouter::Impl {
  std::optional<router::Teachers> teachers;
  std::optional<ledger::Ledger> ledger;
  std::optional<library::Library> library;
  std::optional<student::OnlineLearner> pass_head;
  std::optional<router::Router> router;
  router::RouterOptions options;  // the router's, for variants
  validator::Validator* validator = nullptr;
};

CascadeRouter::CascadeRouter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CascadeRouter::~CascadeRouter() = default;
router::Router& CascadeRouter::router() {
  return *impl_->router;
}
library::Library& CascadeRouter::library() {
  return *impl_->library;
}
std::unique_ptr<router::Router> CascadeRouter::variant(
    const std::function<void(router::RouterOptions&)>& adjust) const {
  router::RouterOptions options = impl_->options;
  if (adjust) adjust(options);
  return std::make_unique<router::Router>(impl_->validator, &*impl_->teachers, &*impl_->library,
                                          &*impl_->ledger, std::move(options));
}
Result<void> CascadeRouter::save() {
  return impl_->pass_head->save();
}

Result<std::unique_ptr<CascadeRouter>> CascadeRouter::open(
    const CascadeBenchOptions& o, const std::string& work_dir, int port,
    validator::Validator& validator, const std::function<void(router::RouterOptions&)>& adjust) {
  std::error_code ec;
  fs::create_directories(fs::path(work_dir) / ".yantra/student", ec);
  if (ec) return Error::in(work_dir, "cannot create: " + ec.message());
  config::Settings settings = replay_settings(port);
  settings.router.student_confidence = o.student_confidence;
  settings.router.premium_confidence = o.premium_confidence;
  settings.router.premium_consent = config::Consent::always;
  settings.router.samples = o.open_samples;
  router::TeacherOptions teacher_options;
  teacher_options.lookup_key = [](const config::ProviderSettings&) {
    return Result<std::optional<std::string>>(std::optional<std::string>());
  };
  teacher_options.transport = o.transport;
  auto impl = std::make_unique<Impl>();
  auto teachers = router::Teachers::from_settings(settings, teacher_options);
  if (!teachers) return teachers.error();
  impl->teachers.emplace(std::move(teachers).value());
  auto ledger = ledger::Ledger::open(work_dir);
  if (!ledger) return ledger.error();
  impl->ledger.emplace(std::move(ledger).value());
  auto library = library::Library::open(work_dir, student::kTextEmbeddingDim);
  if (!library) return library.error();
  auto ro = router_options(o, settings);
  if (!ro) return ro.error();
  if (o.view == RequestViewKind::encoder) {
    auto embedder = router::repository_embedder(work_dir);
    if (!embedder) return embedder.error();
    ro->embedder = std::move(embedder).value();
  }
  if (auto ok = library->use_embedder(ro->embedder); !ok) return ok.error();
  impl->library.emplace(std::move(library).value());
  auto pass_head = student::OnlineLearner::open(
      (fs::path(work_dir) / ".yantra/student/pass_head.pt").string(), {});
  if (!pass_head) return pass_head.error();
  impl->pass_head.emplace(std::move(pass_head).value());
  ro->pass_head = &*impl->pass_head;
  if (adjust) adjust(*ro);
  impl->options = *ro;
  impl->validator = &validator;
  impl->router.emplace(&validator, &*impl->teachers, &*impl->library, &*impl->ledger,
                       std::move(ro).value());
  return std::unique_ptr<CascadeRouter>(new CascadeRouter(std::move(impl)));
}

Result<CascadeRound> ask_round(router::Router& router, const std::vector<Task>& tasks,
                               const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                               int recorded_run,
                               const std::function<void(const Asked&)>& on_answer) {
  return ask_round([&](size_t) -> router::Router& { return router; }, tasks, hidden, scorer,
                   recorded_run, on_answer);
}

Result<CascadeRound> ask_round(const RouterFor& router_for, const std::vector<Task>& tasks,
                               const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                               int recorded_run,
                               const std::function<void(const Asked&)>& on_answer) {
  CascadeRound c;
  for (size_t t = 0; t < tasks.size(); ++t) {
    const Task& task = tasks[t];
    auto asked_at = std::chrono::steady_clock::now();
    auto answer = router_for(t).generate({.text = task.prompt});
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - asked_at).count();
    if (!answer) return Error{task.id + ": " + answer.error().message};
    const Hidden& h = hidden.at(task.id);
    ++c.requests;
    c.cost_usd += answer->cost_usd;
    c.teacher_calls += static_cast<size_t>(answer->teacher_calls);
    c.gpt4_cost_usd += h.gpt4_cost.count(recorded_run) ? h.gpt4_cost.at(recorded_run) : 0;
    if (answer->tier == "student") ++c.avoided_calls;
    ++c.by_tier[answer->answered ? answer->tier : "none"];
    bool passed = answer->answered && scorer.passes(h, answer->code);
    c.answered += answer->answered;
    c.passed += passed;
    if (on_answer) on_answer({t, &*answer, seconds, passed});
  }
  return c;
}

Result<std::vector<TaskEntry>> entries_of_tasks(library::Library& library,
                                                const std::vector<Task>& tasks) {
  auto entries = library.all_entries();
  if (!entries) return entries.error();
  std::map<std::string, const Task*> by_prompt;
  for (const Task& t : tasks) by_prompt[t.prompt] = &t;
  std::vector<TaskEntry> out;
  for (library::Entry& e : *entries) {
    if (e.avoid || !e.valid) continue;
    auto it = by_prompt.find(e.request);
    if (it != by_prompt.end()) out.push_back({it->second, std::move(e)});
  }
  return out;
}

}  // namespace yantra::bench
