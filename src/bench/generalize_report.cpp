// bench generalize's table and JSON line.
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/internal.h"

namespace yantra::bench {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kNotes =
    "the replay server answers a reworded prompt with its task's recordings; where a set "
    "renames the function, the recorded code is renamed by a whole-word rename of the task's "
    "entry point.\nstudent: answers the router labels \"student\": the 10 library entries "
    "nearest to the request (encoder: the trained encoder over the request view; request "
    "view: the view alone), adapted to the request; the nearest runs on the request's examples "
    "and answers alone when it is sure, else all ten run on the examples and probes; "
    "\"no teacher called\": those whose request called no teacher (fewer where the router "
    "credits the student with an answer a teacher was also asked for).\nhashed words: the "
    "same round from the same learned state, requests and entries embedded by their hashed "
    "words (the view before), the rest of the router the same.\nlearn phase: in-sample, "
    "with the built-in calibration and thresholds, fitted on these very tasks (bench cascade "
    "cross-fits them).";

// A share of a count, or null where nothing was counted (no answer has a precision).
Json share_or_null(size_t part, size_t whole) {
  return whole ? Json(double(part) / double(whole)) : Json(nullptr);
}

std::string of(size_t part, size_t whole) {
  return std::to_string(part) + "/" + std::to_string(whole) +
         (whole ? " (" + pct(double(part) / double(whole)) + ")" : "");
}

std::string cell(const std::string& text, size_t width) {
  return text.size() >= width ? text + "  " : text + std::string(width - text.size(), ' ');
}

// "HumanEval/32 fails the hidden tests and HumanEval+: entry #12 of HumanEval/32 (pending)"
std::string miss_text(const GeneralizeSet::Miss& m) {
  std::string fails = m.hidden_failed && m.plus_failed ? "the hidden tests and HumanEval+"
                      : m.hidden_failed                ? "the hidden tests"
                                                       : "HumanEval+";
  std::string from = m.entry_task.empty() ? "an entry of no asked task" : "of " + m.entry_task;
  return m.task + " fails " + fails + ": entry #" + std::to_string(m.entry) + " " + from +
         (m.entry_pending ? " (kept as evidence, not learned)" : " (learned)");
}

void set_table(std::ostringstream& t, const GeneralizeSet& g, const std::string& view) {
  constexpr size_t kLabel = 26, kStudent = 25, kHashed = 25;
  t << "\n"
    << g.name << ": " << g.requests << " requests, " << g.learned_requests << " of a learned task, "
    << g.renamed << " renamed; the round: pass "
    << pct(ratio(double(g.round.passed), double(g.requests))) << ", cost "
    << pct(ratio(g.round.cost_usd, g.round.gpt4_cost_usd)) << " of gpt-4; " << shares_text(g.round)
    << "\n";
  if (!g.tests_aliased.empty()) {
    t << "  scored with the nominal name bound to the renamed function (the set's test calls it "
         "too):";
    for (const std::string& id : g.tests_aliased) t << " " << id;
    t << "\n";
  }
  const GeneralizeSet::Baseline& h = g.hashed;
  t << "  " << cell("", kLabel) << cell("student (" + view + ")", kStudent)
    << cell(h.ran ? "student (hashed words)" : "", kHashed) << "exact-match cache\n";
  auto row = [&](const std::string& label, const std::string& student, const std::string& hashed,
                 const std::string& exact) {
    t << "  " << cell(label, kLabel) << cell(student, kStudent)
      << cell(h.ran ? hashed : "", kHashed) << exact << "\n";
  };
  row("answers", of(g.student, g.requests), of(h.student, g.requests), of(g.exact, g.requests));
  row("  no teacher called", of(g.student_alone, g.requests), "", of(g.exact, g.requests));
  row("  of learned tasks", of(g.student_learned, g.learned_requests),
      of(h.student_learned, g.learned_requests), of(g.exact, g.learned_requests));
  row("  another task's entry", of(g.student_other_task, g.student), "", "");
  row("pass the hidden tests", of(g.student_passed, g.student), of(h.student_passed, h.student),
      of(g.exact_passed, g.exact));
  row("pass HumanEval+", of(g.student_plus_passed, g.student_plus_scored),
      of(h.student_plus_passed, h.student_plus_scored),
      of(g.exact_plus_passed, g.exact_plus_scored));
  row("round: pass, vs gpt-4",
      pct(ratio(double(g.round.passed), double(g.requests))) + ", " +
          pct(ratio(g.round.cost_usd, g.round.gpt4_cost_usd)),
      pct(ratio(double(h.round.passed), double(g.requests))) + ", " +
          pct(ratio(h.round.cost_usd, h.round.gpt4_cost_usd)),
      "");
  row("answer time p50", format_fixed(g.student_p50_ms, 1) + " ms", "", "");
  for (const GeneralizeSet::Miss& m : g.misses) t << "  wrong: " << miss_text(m) << "\n";
}

Json set_json(const GeneralizeSet& g) {
  Json j;
  j["requests"] = g.requests;
  j["learned_requests"] = g.learned_requests;
  j["renamed"] = g.renamed;
  j["tests_aliased"] = g.tests_aliased;
  j["student_answers"] = g.student;
  j["student_share"] = ratio(double(g.student), double(g.requests));
  j["student_share_no_teacher"] = ratio(double(g.student_alone), double(g.requests));
  j["student_share_learned"] = ratio(double(g.student_learned), double(g.learned_requests));
  j["student_precision"] = share_or_null(g.student_passed, g.student);
  j["student_precision_plus"] = share_or_null(g.student_plus_passed, g.student_plus_scored);
  j["pass_rate"] = ratio(double(g.round.passed), double(g.requests));
  j["cost_vs_gpt4"] = ratio(g.round.cost_usd, g.round.gpt4_cost_usd);
  j["exact_cache_share"] = ratio(double(g.exact), double(g.requests));
  j["exact_cache_precision"] = share_or_null(g.exact_passed, g.exact);
  j["student_other_task"] = g.student_other_task;
  j["student_other_task_passed"] = g.student_other_task_passed;
  j["student_p50_ms"] = g.student_p50_ms;
  Json misses = Json::array();
  for (const GeneralizeSet::Miss& m : g.misses)
    misses.push_back({{"task", m.task},
                      {"entry", m.entry},
                      {"entry_task", m.entry_task},
                      {"entry_pending", m.entry_pending},
                      {"hidden_failed", m.hidden_failed},
                      {"plus_failed", m.plus_failed}});
  j["student_misses"] = misses;
  if (const GeneralizeSet::Baseline& h = g.hashed; h.ran)
    j["baseline_hashed"] = {
        {"student_share", ratio(double(h.student), double(g.requests))},
        {"student_share_learned", ratio(double(h.student_learned), double(g.learned_requests))},
        {"student_precision", share_or_null(h.student_passed, h.student)},
        {"student_precision_plus", share_or_null(h.student_plus_passed, h.student_plus_scored)},
        {"pass_rate", ratio(double(h.round.passed), double(g.requests))},
        {"cost_vs_gpt4", ratio(h.round.cost_usd, h.round.gpt4_cost_usd)}};
  return j;
}

Json cross_json(const GeneralizeCross& x) {
  if (!x.ran) return nullptr;
  return {{"requests", x.requests},
          {"learned_on", x.learned_on},
          {"learned_tasks", x.learned_tasks},
          {"student_answers", x.student_answers},
          {"false_reuse", ratio(double(x.false_answers), double(x.requests))}};
}

}  // namespace

std::string set_summary(const GeneralizeSet& g) {
  return g.name + ": " + std::to_string(g.requests) + " requests, student " +
         pct(ratio(double(g.student), double(g.requests))) + " (" +
         pct(ratio(double(g.student_learned), double(g.learned_requests))) +
         " of learned tasks), exact cache " + pct(ratio(double(g.exact), double(g.requests))) +
         ", pass " + pct(ratio(double(g.round.passed), double(g.requests))) + ", " +
         pct(ratio(g.round.cost_usd, g.round.gpt4_cost_usd)) + " of gpt-4";
}

std::string cross_summary(const GeneralizeCross& x) {
  return "learned the first " + std::to_string(x.learned_on) + " tasks (entries for " +
         std::to_string(x.learned_tasks) + "), asked the other " + std::to_string(x.requests) +
         " once: the student answered " + std::to_string(x.student_answers) + ", " +
         std::to_string(x.false_answers) + " of them failing the hidden tests (false reuse " +
         pct(ratio(double(x.false_answers), double(x.requests))) + " of the requests)";
}

void render_generalize(GeneralizeBenchResult& r) {
  std::ostringstream t;
  t << "generalize: " << r.tasks << " tasks learned over " << r.learn_rounds
    << " rounds (learned entries for " << r.learned_tasks << " tasks, " << r.learned_passing
    << " of them pass the hidden tests, " << r.learned_plus_passed << " of "
    << r.learned_plus_scored << " HumanEval+), then " << r.sets.size()
    << (r.sets.size() == 1 ? " reworded set" : " reworded sets")
    << ", each asked once from a copy of that state; " << static_cast<int>(r.seconds) << " s\n"
    << kNotes << "\n\nlearn round  pass     vs gpt-4  library  tiers\n";
  for (const CascadeRound& c : r.learn) {
    char line[128];
    std::snprintf(line, sizeof line, "%11d  %-7s  %-8s  %7zu  ", c.round,
                  pct(ratio(double(c.passed), double(c.requests))).c_str(),
                  pct(ratio(c.cost_usd, c.gpt4_cost_usd)).c_str(), c.library_entries);
    t << line << shares_text(c) << "\n";
  }
  if (r.encoder_requests > 0) {
    t << "\nencoder fine-tuned after the learn phase on " << r.encoder_requests
      << " learned requests (augmented), InfoNCE loss";
    for (double l : r.encoder_losses) t << " " << format_fixed(l, 3);
    t << "\n";
  }
  for (const GeneralizeSet& g : r.sets) set_table(t, g, r.view);
  if (r.cross.ran) t << "\ncross-task: " << cross_summary(r.cross) << "\n";
  t << "\nstudent answer time, p50 of " << r.student_timed
    << " student answers over every set: " << format_fixed(r.student_p50_ms, 1)
    << " ms (in this process: the router's whole request, sandbox runs included)\n";
  r.table = t.str();

  Json j;
  j["bench"] = "generalize";
  j["learn_rounds"] = r.learn_rounds;
  j["tasks"] = r.tasks;
  j["learned_tasks"] = r.learned_tasks;
  j["learned_precision"] = share_or_null(r.learned_passing, r.learned);
  j["learned_precision_plus"] = share_or_null(r.learned_plus_passed, r.learned_plus_scored);
  j["view"] = r.view;
  Json sets = Json::object();
  for (const GeneralizeSet& g : r.sets) sets[g.name] = set_json(g);
  j["sets"] = sets;
  j["cross_task"] = cross_json(r.cross);
  j["student_p50_ms"] = r.student_p50_ms;
  j["student_answers_timed"] = r.student_timed;
  j["renamed_by"] = "whole-word rename of the recorded entry point";
  j["seconds"] = r.seconds;
  r.json_line = j.dump();
}

}  // namespace yantra::bench
