// The route of one request: the student first (a library entry adapted to the request),
// then the teachers up the ladder until an answer is sure enough, every candidate run in
// the sandbox, the most agreed-on one answered, and what is sure enough learned.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "router/internal.h"
#include "router/router.h"

namespace yantra::router {
namespace {

std::string new_request_id() {
  std::random_device rd;
  uint64_t bits = (uint64_t(rd()) << 32) ^ rd() ^
                  uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

constexpr double kNeverSure = 2.0;  // above any probability

std::string step_name(const TeacherInfo& t) {
  return router::step_name(t.provider, t.model);
}

// The best candidate is an earlier answer kept as evidence that no other model confirmed,
// and no teacher was asked yet: served now, it would pass as the student's answer though the
// router was not sure enough to learn it. The cheapest teacher is asked first.
bool unconfirmed_evidence(const Router::Run& run) {
  if (!run.best || run.called) return false;
  const Candidate& c = run.candidates[*run.best];
  return c.pending && !c.corroborated;
}

}  // namespace

Router::Router(validator::Validator* validator, Teachers* teachers, library::Library* library,
               ledger::Ledger* ledger, RouterOptions options)
    : validator_(validator),
      teachers_(teachers),
      library_(library),
      ledger_(ledger),
      options_(std::move(options)) {}

void Router::decide(Run& run, std::string step, std::string action, std::string reason) {
  if (ledger_ && !run.dry) {
    // The decision is also in the answer; a ledger that cannot take it must not lose the
    // answer, so its error is kept as a decision of its own.
    auto r = ledger_->record_decision({run.answer.request_id, step, action, reason});
    if (!r) run.answer.route.push_back({"ledger", "error", r.error().message});
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - run.began)
          .count();
  run.answer.route.push_back({std::move(step), std::move(action), std::move(reason), ms});
}

Result<Answer> Router::generate(const Request& request) {
  if (!validator_) return Error{"generate: no validator; nothing is answered without running it"};
  auto parsed = parse_request(request);
  if (!parsed) return parsed.error();
  Run run;
  run.req = std::move(parsed).value();
  run.answer.request_id = new_request_id();
  run.answer.entry_point = run.req.entry_point;
  run.embedding = embed_request(options_.embedder, run.req);
  // The student computes the probe inputs only when its nearest entry is not sure enough.
  if (!ask_student(run)) {
    ensure_probes(run);
    load_earlier(run);
    add_pending(run);
    ask_teachers(run);
  }
  finish(run);
  observe_outcomes(run);
  learn(run);
  return std::move(run.answer);
}

Result<Answer> Router::dry_run(const Request& request) {
  auto parsed = parse_request(request);
  if (!parsed) return parsed.error();
  Run run;
  run.dry = true;
  run.req = std::move(parsed).value();
  run.answer.request_id = "dry-run";
  run.answer.entry_point = run.req.entry_point;
  run.embedding = embed_request(options_.embedder, run.req);
  if (!ask_student(run)) ask_teachers(run);
  return std::move(run.answer);
}

void Router::ensure_probes(Run& run) {
  if (run.probes_computed) return;
  run.probes_computed = true;
  if (auto probes = probe_calls(*validator_, run.req))
    run.probes = std::move(probes).value();
  else
    decide(run, "probes", "none", probes.error().message);
}

void Router::ask_teachers(Run& run) {
  const RouterSettings& s = options_.settings;
  if (!teachers_ || teachers_->empty()) {
    decide(run, "teachers", "none",
           "no teacher is configured: add one to ~/.config/yantra/config.toml, e.g. "
           "`yantra config set providers.ollama.models deepseek-coder:6.7b` for a local "
           "Ollama, or `yantra keys set deepseek` and `yantra config set "
           "providers.deepseek.models deepseek-coder`");
    return;
  }
  bool security = run.req.security && s.security_escalation;
  bool has_premium = teachers_->first_of(config::Tier::premium).has_value();
  const PremiumHistory history = premium_history(run);
  for (size_t i = 0; i < teachers_->ladder().size(); ++i) {
    const TeacherInfo& t = teachers_->ladder()[i];
    run.best = score_candidates(run.candidates, options_.calibration);
    double sure = run.best ? run.candidates[*run.best].confidence : 0.0;
    // Only an answer can be sure enough: with none, a threshold of 0 still asks.
    const double enough = run.best ? stop_confidence(i) : kNeverSure;
    if (t.tier != config::Tier::premium) {
      if (security && has_premium) {
        decide(run, step_name(t), "skip", "security-critical: straight to a premium teacher");
        continue;
      }
      if (sure >= enough && !unconfirmed_evidence(run)) break;
      ask_teacher(run, i);
      continue;
    }
    if (sure >= enough && !security) {
      decide(run, step_name(t), "skip",
             "confidence " + format_fixed(sure, 2) + " >= " + format_fixed(enough, 2) +
                 ": no premium call needed");
      break;
    }
    if (security && run.best && run.candidates[*run.best].tier == "premium" && sure >= enough)
      break;
    if (history.failed >= options_.premium_failures_to_give_up) {
      decide(run, step_name(t), "skip",
             "premium teachers already gave " + std::to_string(history.failed) +
                 " answers to this request that failed its examples: not paying again");
      break;
    }
    if (history.pending >= options_.premium_answers_enough) {
      decide(run, step_name(t), "skip",
             "premium teachers already answered this request " + std::to_string(history.pending) +
                 " times and their answers are among the candidates: not paying again");
      break;
    }
    double estimate = teachers_->estimate_cost(i, run.req.text, options_.premium_samples);
    if (s.premium_consent == config::Consent::never) {
      decide(run, step_name(t), "refused", "premium_consent = never");
      break;
    }
    if (s.premium_consent == config::Consent::ask && !run.dry &&
        !(options_.consent && options_.consent(t, estimate))) {
      decide(run, step_name(t), "refused",
             std::string(options_.consent ? "the user declined" : "no terminal to ask on") +
                 " (about $" + format_fixed(estimate, 4) + "; router.premium_consent = ask)");
      break;
    }
    ask_teacher(run, i);
  }
  run.best = score_candidates(run.candidates, options_.calibration);
}

double Router::stop_confidence(size_t rung) const {
  const std::vector<double>& stops = options_.stop_confidence;
  if (stops.empty()) return options_.settings.premium_confidence;
  return stops[std::min(rung, stops.size() - 1)];
}

void Router::load_earlier(Run& run) {
  if (!library_) return;
  // The same request has (nearly) the same embedding; the text tells it from a twin.
  auto hits = library_->nearest(run.embedding, 32, /*include_avoid=*/true);
  if (!hits) return;
  for (library::Hit& h : *hits)
    if ((h.entry.pending || h.entry.avoid) && h.similarity >= 0.999f &&
        h.entry.request == run.req.text)
      run.earlier.push_back(std::move(h.entry));
}

void Router::add_pending(Run& run) {
  constexpr size_t kMaxPending = 6;  // the oldest first: the first answers of each model
  size_t first = run.candidates.size();
  for (const library::Entry& e : run.earlier) {
    if (!e.pending) continue;
    if (run.candidates.size() - first >= kMaxPending) break;
    Candidate c;
    c.code = e.code;
    c.tier = e.tier;
    c.provider = "library";
    c.model = e.model;
    c.library_id = e.id;
    c.pending = true;
    run.candidates.push_back(std::move(c));
  }
  size_t added = run.candidates.size() - first;
  if (added == 0) return;
  std::span<Candidate> span(run.candidates.data() + first, added);
  run_candidates(*validator_, run.req, run.probes, span);
  decide(run, "student", "evidence",
         std::to_string(added) +
             " earlier answer(s) to this request, not sure enough to reuse "
             "alone, rejoin the candidates");
}

Router::PremiumHistory Router::premium_history(const Run& run) const {
  PremiumHistory history;
  for (const library::Entry& e : run.earlier) {
    if (e.tier != "premium") continue;
    history.failed += e.avoid;
    history.pending += e.pending;
  }
  return history;
}

void Router::ask_teacher(Run& run, size_t index) {
  const TeacherInfo& t = teachers_->ladder()[index];
  bool premium = t.tier == config::Tier::premium;
  int n = premium ? options_.premium_samples
                  : (options_.open_samples > 0 ? options_.open_samples : options_.settings.samples);
  if (run.dry) {
    decide(run, step_name(t), "ask",
           std::to_string(n) + " samples, about $" +
               format_fixed(teachers_->estimate_cost(index, run.req.text, n), 4));
    return;
  }
  run.called = std::max(run.called.value_or(t.tier), t.tier);
  auto reply = teachers_->generate(index, run.req.text, run.req.entry_point, n, ledger_);
  if (!reply) {
    decide(run, step_name(t), "failed", reply.error().message);
  } else {
    add_reply(run, *reply);
    // The first teacher asked is the cheapest: it also writes the request's tests.
    if (options_.settings.teacher_tests && !run.tests_asked && !run.candidates.empty())
      ask_for_tests(run, index);
  }
  record_step(run, step_name(t));
}

void Router::ask_for_tests(Run& run, size_t index) {
  run.tests_asked = true;
  const std::string step = step_name(teachers_->ladder()[index]);
  // Shown for its signature: the candidate that got furthest on the examples.
  const Candidate& shown = *std::max_element(
      run.candidates.begin(), run.candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.examples_passed < b.examples_passed; });
  auto written =
      teachers_->write_tests(index, run.req.text, run.req.entry_point, shown.code, ledger_);
  if (!written) {
    decide(run, step, "tests failed", written.error().message);
    return;
  }
  run.answer.cost_usd += written->cost_usd;
  run.answer.teacher_calls += 1;
  run.answer.teacher_latency_s += written->latency_s;
  std::vector<validator::TestCase> tests = written_test_cases(written->asserts, run.req, step);
  const std::string cost = "; $" + format_fixed(written->cost_usd, 4);
  if (tests.empty()) {
    decide(run, step, "tests",
           "the reply held no assert statement calling " + run.req.entry_point + cost);
    return;
  }
  run.req.written_tests = std::move(tests);
  // Every candidate so far runs again, the tests after its examples and probes.
  run_candidates(*validator_, run.req, run.probes, run.candidates);
  size_t unpassed = 0;
  for (size_t t = 0; t < run.req.written_tests.size(); ++t)
    unpassed += std::none_of(run.candidates.begin(), run.candidates.end(),
                             [&](const Candidate& c) { return c.written_passed[t]; });
  decide(run, step, "tests",
         std::to_string(run.req.written_tests.size()) + " assert(s) written, " +
             std::to_string(unpassed) + " passed by no candidate (they weigh nothing)" + cost);
}

void Router::record_step(Run& run, std::string step) {
  LadderStep s{.step = std::move(step), .cost_usd = run.answer.cost_usd};
  if (auto best = score_candidates(run.candidates, options_.calibration)) {
    const Candidate& c = run.candidates[*best];
    s.has_best = true;
    s.code = c.code;
    s.score = c.score;
    s.confidence = c.confidence;
    s.score_kind = std::string(c.score_kind);
  }
  run.answer.ladder.push_back(std::move(s));
}

}  // namespace yantra::router
