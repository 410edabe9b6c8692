// The student's turn: behavioural retrieval. The library entries nearest to the request
// (by the student's view of requests, no hard cut) are adapted to the requested name and
// parameters and run on the request's examples and probe calls; an entry answers only if
// it passes every example, and how sure it is combines its track record, its closeness and
// how much its examples could tell a wrong entry from a right one.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "router/internal.h"
#include "router/router.h"

namespace yantra::router {
namespace {

// How many entries are tried: a reworded request's own entry is rarely the nearest one
// under a wording the library has never seen, but is almost always among the first ten.
constexpr int kStudentCandidates = 10;
// A track record starts from the router's confidence when it learned the entry, worth
// this many uses.
constexpr double kPriorWeight = 4;
// How much a second entry that also passes the examples but behaves differently on the
// probes takes away: two readings of the request, and nothing here says which is meant.
constexpr double kDissentStrength = 0.5;
constexpr double kSameBehaviour = 0.95;

// The value an example expects ("assert (f(1)) == (True)" -> "True"), or its doctest output.
std::string_view expected_value(const validator::TestCase& t) {
  if (t.doctest_style) return t.want;
  std::string_view code = t.code;
  size_t eq = code.rfind(") == (");
  if (eq == std::string_view::npos || !code.ends_with(')')) return {};
  return code.substr(eq + 6, code.size() - eq - 7);
}

// The chance that an entry written for another task passes this example anyway: a
// yes/no answer is right half the time by luck, a small value often, anything richer
// rarely.
double chance_to_pass_by_luck(const validator::TestCase& t) {
  std::string_view v = expected_value(t);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  if (v == "True" || v == "False") return 0.5;
  if (v.size() <= 2) return 0.35;
  return 0.15;
}

double track_record(const library::Entry& e) {
  double prior = std::clamp(e.confidence, 0.0, 1.0);
  return (e.use_passes + kPriorWeight * prior) / (e.uses + kPriorWeight);
}

std::string entry_label(const library::Hit& hit) {
  return "entry #" + std::to_string(hit.entry.id) + " `" + hit.entry.entry_point + "`";
}

std::string first_line(std::string_view text) {
  std::string_view line = text.substr(0, text.find('\n'));
  constexpr size_t kMax = 160;
  return line.size() > kMax ? std::string(line.substr(0, kMax)) + "..." : std::string(line);
}

// The entry's code under the requested name, its parameters renamed position by position.
Result<std::string> adapt_entry(const library::Entry& e, const ParsedRequest& req) {
  if (e.entry_point == req.entry_point) return e.code;
  std::vector<std::string> from_params;
  if (auto from = parse_request({e.signature, "", e.entry_point})) from_params = from->params;
  return adapt_code(e.code, {e.entry_point, req.entry_point, from_params, req.params});
}

// The student's score for an adapted entry; zero when it fails an example. With examples,
// a close entry is trusted on its track record, and a distant one as far as its examples
// rule out luck; without examples only closeness speaks (sim^8: 0.97 -> 0.78, 0.9 -> 0.43).
double student_score(const library::Hit& hit, const Candidate& c,
                     const std::vector<validator::TestCase>& examples, double dissent) {
  if (!c.passes_examples()) return 0;
  double track = track_record(hit.entry);
  double sim = std::clamp(double(hit.similarity), 0.0, 1.0);
  if (examples.empty()) return track * std::pow(sim, 8.0) * 0.95;
  double luck = 1;
  for (const validator::TestCase& t : examples) luck *= chance_to_pass_by_luck(t);
  double match = 1 - (1 - sim * sim) * luck;
  return track * match * (1 - kDissentStrength * dissent);
}

// Scores the first `n` tries (dissent counted among them) and returns the best that passes
// the request's examples, if any.
std::optional<size_t> weigh_tries(std::vector<Candidate>& tries,
                                  const std::vector<const library::Hit*>& from, size_t n,
                                  const std::vector<validator::TestCase>& examples,
                                  const Calibration& calibration) {
  std::optional<size_t> best;
  for (size_t i = 0; i < n; ++i) {
    Candidate& c = tries[i];
    double others = 0, dissenting = 0;
    for (size_t j = 0; j < n; ++j) {
      if (j == i || !tries[j].passes_examples()) continue;
      others += 1;
      dissenting += probe_agreement(c, tries[j]) < kSameBehaviour;
    }
    c.score = student_score(*from[i], c, examples, others ? dissenting / others : 0.0);
    c.score_kind = kStudentScore;
    c.confidence = calibration.probability(kStudentScore, c.score);
    if (c.passes_examples() && (!best || c.score > tries[*best].score)) best = i;
  }
  return best;
}

}  // namespace

bool Router::ask_student(Run& run) {
  const RouterSettings& s = options_.settings;
  if (!library_) {
    decide(run, "student", "skip", "no library");
    return false;
  }
  if (run.req.security && s.security_escalation) {
    decide(run, "student", "skip", "security-critical: the request " + run.req.security_reason);
    return false;
  }
  auto hits = library_->nearest(run.embedding, kStudentCandidates);
  if (!hits) {
    decide(run, "student", "skip", hits.error().message);
    return false;
  }
  if (hits->empty()) {
    decide(run, "student", "skip", "novel: the library has no entry yet");
    return false;
  }
  const bool has_examples = !run.req.examples.empty();
  std::vector<Candidate> tries;
  std::vector<const library::Hit*> from;
  std::vector<std::string> not_tried;
  for (const library::Hit& hit : *hits) {
    if (!has_examples && hit.similarity < options_.novelty_similarity) continue;
    auto code = adapt_entry(hit.entry, run.req);
    if (!code) {
      not_tried.push_back(entry_label(hit) + " cannot be adapted: " + code.error().message);
      continue;
    }
    bool same = std::any_of(tries.begin(), tries.end(),
                            [&](const Candidate& t) { return t.code == *code; });
    if (same) continue;
    Candidate c;
    c.tier = "student";
    // Labelled with the model that wrote it: a new sample of that model agreeing with it
    // is the same opinion again, not a second one.
    c.provider = "library";
    c.model = hit.entry.model;
    c.library_id = hit.entry.id;
    c.code = std::move(code).value();
    tries.push_back(std::move(c));
    from.push_back(&hit);
  }
  for (const std::string& why : not_tried) decide(run, "student", "near miss", why);
  if (tries.empty()) {
    const library::Hit& top = hits->front();
    decide(run, "student", "skip",
           has_examples ? "no library entry could be adapted to the request"
                        : "novel: the request has no examples, so only a near-identical one "
                          "is answered from the library, and the nearest entry (" +
                              entry_label(top) + ") is " + format_fixed(top.similarity, 2) +
                              " similar (< " + format_fixed(options_.novelty_similarity, 2) + ")");
    return false;
  }
  if (run.dry) {
    decide(run, "student", "try",
           std::to_string(tries.size()) + " library entries would run on the request's " +
               std::to_string(run.req.examples.size()) + " example(s), the nearest " +
               entry_label(*from[0]) + " (" + format_fixed(from[0]->similarity, 2) + " similar)");
    return false;
  }
  // The nearest entry runs alone on the request's examples first: a reworded request's own
  // entry is usually the nearest, and an answer that sure
  // (RouterOptions::student_alone_confidence) needs one sandbox run and nothing more. The
  // probe inputs cost twice that run, so they are computed only otherwise: then every entry
  // runs on the examples and the probes, and all of them are weighed; a second entry that
  // passes the examples but behaves otherwise shows there, and agreement with the teachers
  // later reads the probe outputs too.
  std::span<Candidate> nearest(tries.data(), 1);
  run_candidates(*validator_, run.req, {}, nearest);
  std::optional<size_t> best = weigh_tries(tries, from, 1, run.req.examples, options_.calibration);
  size_t ran = 1;
  const double sure = std::max(s.student_confidence, options_.student_alone_confidence);
  if (!best || tries[*best].confidence < sure) {
    ensure_probes(run);
    run_candidates(*validator_, run.req, run.probes, tries);
    ran = tries.size();
    best = weigh_tries(tries, from, ran, run.req.examples, options_.calibration);
  }
  tries.resize(ran);
  report_near_misses(run, tries, from, best);
  // A near-identical request that its entry fails is a strike against the entry.
  if (!tries[0].passes_examples() && from[0]->similarity >= options_.novelty_similarity)
    (void)library_->record_use(from[0]->entry.id, false);
  if (!best) {
    decide(run, "student", "escalate",
           "none of the " + std::to_string(tries.size()) +
               " nearest library entries passes the request's examples");
    run.candidates.push_back(std::move(tries[0]));  // teachers agreeing with it still count
    return false;
  }
  Candidate& c = tries[*best];
  const library::Hit& hit = *from[*best];
  const std::string evidence =
      entry_label(hit) + ", " + format_fixed(hit.similarity, 2) + " similar, passed " +
      (has_examples ? std::to_string(c.examples_passed) + "/" + std::to_string(c.examples_total) +
                          " examples"
                    : std::string("no examples (the request has none; reused because it is "
                                  "near-identical)")) +
      ": confidence " + format_fixed(c.confidence, 2);
  double needed = s.student_confidence;
  if (c.confidence < needed) {
    decide(run, "student", "escalate", evidence + " < " + format_fixed(needed, 2));
    // The entry stays a candidate: teachers that agree with it make both more certain.
    run.candidates.push_back(std::move(c));
    return false;
  }
  run.candidates.push_back(std::move(c));
  run.best = 0;
  run.student_answered = true;
  run.answer.library_id = hit.entry.id;
  (void)library_->record_use(hit.entry.id, true);
  if (ledger_ && teachers_ && !teachers_->empty())
    (void)teachers_->record_avoided(0, run.req.text, *ledger_);
  decide(run, "student", "answer", evidence + " >= " + format_fixed(needed, 2));
  return true;
}

// Why the entries that were close but did not answer were passed over: the first failing
// example of each of the nearest three, and any that passed but lost.
void Router::report_near_misses(Run& run, const std::vector<Candidate>& tries,
                                const std::vector<const library::Hit*>& from,
                                std::optional<size_t> best) {
  constexpr size_t kShown = 3;
  size_t shown = 0;
  for (size_t i = 0; i < tries.size() && shown < kShown; ++i) {
    if (best && i == *best) continue;
    const Candidate& c = tries[i];
    std::string why =
        entry_label(*from[i]) + " (" + format_fixed(from[i]->similarity, 2) + " similar) ";
    if (!c.loaded)
      why += "does not run: " + first_line(c.failure);
    else if (!c.passes_examples())
      why += "fails example: " + first_line(c.failure);
    else
      why += "passes the examples but scores " + format_fixed(c.score, 2) +
             (best ? " against " + format_fixed(tries[*best].score, 2) : "");
    decide(run, "student", "near miss", why);
    ++shown;
  }
}

}  // namespace yantra::router
