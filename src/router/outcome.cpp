// After the teachers: a reply's candidates run and scored, one repair round, the answer
// chosen with the tests it passed, and what is sure enough written to the library.
#include <algorithm>
#include <cstdio>
#include <set>

#include "router/internal.h"
#include "router/router.h"

namespace yantra::router {
namespace {

std::string tier_name(config::Tier tier) {
  return std::string(config::to_string(tier));
}

// Failed candidates are kept as examples to avoid, one per source (provider and model)
// and request: a few say what went wrong, many only fill the store.

// The tests an answer passed, as Python statements a user can keep: the request's own
// examples (but a suspect one it was let off), each probe call on which another source gave
// the same value, and the teacher-written tests it passed.
std::vector<std::string> answer_tests(const Router::Run& run, const Candidate& chosen) {
  const ParsedRequest& req = run.req;
  const std::vector<std::string>& probes = run.probes;
  const std::vector<Candidate>& all = run.candidates;
  std::vector<std::string> tests;
  for (size_t i = 0; i < req.examples.size(); ++i) {
    if (run.waived_example == i) continue;  // the answer does not pass it
    tests.push_back(example_as_assert(req.examples[i]));
  }
  for (size_t p = 0; p < probes.size() && p < chosen.outputs.size(); ++p) {
    const std::string& out = chosen.outputs[p];
    if (out.empty() || out[0] == '!' || out.find('\n') != std::string::npos) continue;
    bool confirmed = std::any_of(all.begin(), all.end(), [&](const Candidate& c) {
      return &c != &chosen && (c.provider != chosen.provider || c.model != chosen.model) &&
             p < c.outputs.size() && c.outputs[p] == out;
    });
    if (confirmed) tests.push_back("assert " + probes[p] + " == " + out);
  }
  for (size_t t = 0; t < req.written_tests.size() && t < chosen.written_passed.size(); ++t)
    if (chosen.written_passed[t]) tests.push_back(req.written_tests[t].code);
  return tests;
}

// A library row for candidate `c` of this request; the caller says what kind of row.
library::Entry entry_for(const Router::Run& run, const Candidate& c) {
  library::Entry e;
  e.request = run.req.text;
  e.entry_point = run.req.entry_point;
  e.signature = run.req.signature;
  e.code = c.code;
  e.embedding = run.embedding;
  e.tier = c.tier;
  e.model = c.model;
  e.tests_passed = c.examples_passed;
  return e;
}

}  // namespace

size_t Router::add_reply(Run& run, const TeacherAnswer& reply) {
  const TeacherInfo& t = reply.teacher;
  size_t first = run.candidates.size();
  for (const teacher::CodeCandidate& cc : reply.candidates) {
    Candidate c;
    c.code = cc.code;
    c.tier = tier_name(t.tier);
    c.provider = t.provider;
    c.model = t.model;
    run.candidates.push_back(std::move(c));
  }
  std::span<Candidate> added(run.candidates.data() + first, run.candidates.size() - first);
  run_candidates(*validator_, run.req, run.probes, added);
  size_t passing = static_cast<size_t>(std::count_if(
      added.begin(), added.end(), [](const Candidate& c) { return c.passes_examples(); }));
  double cost = ledger::cost_usd(reply.usage.prompt_tokens, reply.usage.completion_tokens, t.price);
  run.answer.cost_usd += cost;
  run.answer.teacher_calls += 1;
  run.answer.teacher_latency_s += reply.recorded_latency_s.value_or(reply.latency_s);
  ledger::Outcome outcome = added.empty() ? ledger::Outcome::error
                            : passing > 0 ? ledger::Outcome::passed
                                          : ledger::Outcome::failed;
  if (ledger_) {
    if (auto r = teachers_->record(reply, outcome, *ledger_); !r)
      run.answer.route.push_back({"ledger", "error", r.error().message});
  }
  std::string step = step_name(t.provider, t.model);
  decide(run, step, "ask",
         std::to_string(added.size()) + " candidate(s), " + std::to_string(passing) +
             " pass the request's " + std::to_string(run.req.examples.size()) + " example(s); $" +
             format_fixed(cost, 4));
  if (passing == 0 && !added.empty() && options_.repair && !run.req.examples.empty()) {
    // The candidate that got furthest is the one worth repairing.
    auto furthest =
        std::max_element(added.begin(), added.end(), [](const Candidate& a, const Candidate& b) {
          return a.examples_passed < b.examples_passed;
        });
    size_t index = 0;
    for (; index < teachers_->ladder().size(); ++index)
      if (teachers_->ladder()[index].provider == t.provider &&
          teachers_->ladder()[index].model == t.model)
        break;
    Candidate failed = *furthest;
    repair(run, index, failed);
  }
  return added.size();
}

void Router::repair(Run& run, size_t index, const Candidate& failed) {
  const TeacherInfo& t = teachers_->ladder().at(index);
  auto reply = teachers_->repair(index, run.req.text, run.req.entry_point, failed.code,
                                 failed.failure, ledger_);
  if (!reply) {
    decide(run, step_name(t.provider, t.model), "repair failed", reply.error().message);
    return;
  }
  bool saved = options_.repair;
  options_.repair = false;  // one round only
  decide(run, step_name(t.provider, t.model), "repair",
         "asked to fix: " + failed.failure.substr(0, 200));
  add_reply(run, *reply);
  options_.repair = saved;
}

void Router::finish(Run& run) {
  if (!run.student_answered) run.best = score_candidates(run.candidates, options_.calibration);
  Answer& a = run.answer;
  if (!run.best && !answer_by_consensus(run)) {
    auto furthest = std::max_element(run.candidates.begin(), run.candidates.end(),
                                     [](const Candidate& x, const Candidate& y) {
                                       return x.examples_passed < y.examples_passed;
                                     });
    if (furthest != run.candidates.end()) a.code = furthest->code;
    decide(run, "answer", "none",
           run.candidates.empty() ? "no candidate at all"
                                  : std::to_string(run.candidates.size()) +
                                        " candidate(s), none passes the request's examples");
    return;
  }
  const Candidate& c = run.candidates[*run.best];
  a.answered = true;
  a.code = c.code;
  // A library answer (an entry, or an earlier answer rejoining the candidates) is the
  // student's only if no teacher was called for this request; else the teachers' it cost.
  bool from_library = c.pending || c.tier == "student";
  a.tier = !from_library ? c.tier : run.called ? tier_name(*run.called) : "student";
  if (from_library && !run.called && !run.student_answered && ledger_ && teachers_ &&
      !teachers_->empty())
    (void)teachers_->record_avoided(0, run.req.text, *ledger_);
  a.provider = c.provider;
  a.model = c.model;
  a.confidence = c.confidence;
  a.score = c.score;
  a.score_kind = std::string(c.score_kind);
  if (c.tier == "student" || c.pending) a.library_id = c.library_id;
  a.tests = answer_tests(run, c);
  decide(run, "answer", c.tier,
         step_name(c.provider, c.model) + ", confidence " + format_fixed(c.confidence, 2) +
             ", passes " + std::to_string(c.examples_passed) + "/" +
             std::to_string(c.examples_total) + " example(s), agreement " +
             format_fixed(c.support, 2));
}

// Not sure enough to learn: this round's passing answers, one per model, are kept so the
// next asking of the same request starts from them instead of paying for them again.
void Router::keep_as_evidence(Run& run, const Candidate& best, std::string why) {
  std::set<std::string> models;
  size_t kept = 0;
  for (const Candidate& c : run.candidates) {
    if (!c.passes_examples() || c.pending || c.tier == "student" || !models.insert(c.model).second)
      continue;
    library::Entry e = entry_for(run, c);
    e.confidence = c.confidence;
    e.pending = true;
    kept += library_->add(std::move(e)).ok();
  }
  if (why.empty())
    why = best.corroborated ? "confidence " + format_fixed(run.answer.confidence, 2) + " < " +
                                  format_fixed(options_.learn_confidence, 2)
                            : std::string("no other model gave the same outputs");
  decide(run, "learn", "pending",
         why + ": " + std::to_string(kept) + " answer(s) kept as evidence for the next asking");
}

// Every candidate of this round is an outcome the pass head learns from: did this source's
// answer to this request pass what ran here? Earlier answers were learned from already.
void Router::observe_outcomes(Run& run) {
  if (!options_.learn || !options_.pass_head) return;
  size_t errors = 0;
  for (const Candidate& c : run.candidates) {
    if (c.pending) continue;
    std::vector<float> x = student::pass_features(run.embedding, c.tier, c.model);
    PassForecast f{c.tier, c.model, options_.pass_head->predict(x), c.passes_examples()};
    student::Observation ob{std::move(x), f.passed ? 1.f : 0.f};
    if (f.passed) ob.soft_label = float(std::clamp(c.confidence, 0.0, 1.0));
    errors += !options_.pass_head->observe(ob).ok();
    run.answer.forecasts.push_back(std::move(f));
  }
  if (errors) decide(run, "learn", "error", std::to_string(errors) + " pass-head step(s) failed");
}

void Router::learn(Run& run) {
  if (!options_.learn || !library_) return;
  Answer& a = run.answer;
  std::set<std::pair<std::string, std::string>> sources;
  for (const Candidate& c : run.candidates) {
    if (c.passes_examples() || c.tier == "student" || !c.loaded ||
        !sources.insert({c.provider, c.model}).second)
      continue;
    library::Entry e = entry_for(run, c);
    e.tests_failed = c.examples_total - c.examples_passed;
    e.avoid = true;
    (void)library_->add(std::move(e));  // a lost negative example costs nothing later
  }
  if (!a.answered) return;
  const Candidate& c = run.candidates[*run.best];
  if (c.tier == "student") return;  // reused as it was: nothing new to learn
  if (!a.suspect_examples.empty()) {
    // Kept as evidence: asked again, the same consensus forms from these answers and a
    // fresh cheap one, without paying the premium models again.
    keep_as_evidence(run, c,
                     "the answer contradicts an example of the request, and models agreeing "
                     "against the user's own example are not enough to learn from");
    return;
  }
  if (a.confidence < options_.learn_confidence || !c.corroborated) {
    keep_as_evidence(run, c);
    return;
  }
  library::Entry e = entry_for(run, c);
  e.tests = a.tests;
  e.tests_passed = static_cast<int>(a.tests.size());
  e.confidence = c.confidence;
  auto id = library_->add(std::move(e));
  if (!id) {
    decide(run, "learn", "error", id.error().message);
    return;
  }
  a.library_id = *id;
  a.learned = true;
  decide(run, "learn", "store",
         "entry #" + std::to_string(*id) + ", confidence " + format_fixed(a.confidence, 2));
}

}  // namespace yantra::router
