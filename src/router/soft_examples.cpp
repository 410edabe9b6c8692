// Soft examples: an example written in a request is evidence, not law. Prompts carry wrong
// examples (HumanEval/47's median, 148's one-element tuple written as a string); when no
// candidate passes them all, but candidates of two or more models agree with each other
// on every probe call and fail the same single example, the request is more likely wrong
// than all of them. Their consensus answers, less sure than an answer that passes every
// example, with the suspect example named, and is never learned. One model alone is not
// enough: a model that misreads the request repeats its misreading in every sample.
#include <algorithm>
#include <cctype>
#include <set>

#include "router/internal.h"
#include "router/router.h"

namespace yantra::router {
namespace {

// An answer that contradicts an example of the request is worth this much of the same
// answer's confidence had it passed the example.
constexpr double kSuspectExampleFactor = 0.8;
// The request's other examples must still hold: consensus against the only example is
// consensus on nothing the user wrote.
constexpr size_t kMinExamples = 2;

std::string without_spaces(std::string_view text) {
  std::string out;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

// The call an example makes: "assert (f(1)) == (2)" -> "f(1)"; a doctest example is its call.
std::string example_call(const validator::TestCase& t) {
  if (t.doctest_style) return t.code;
  std::string_view code = t.code;
  // The two forms validator::make_assert writes: exact, and close for floats.
  struct Form {
    std::string_view open, close;
  };
  for (Form f : {Form{"assert abs((", ") - ("}, Form{"assert (", ") == ("}}) {
    if (!code.starts_with(f.open)) continue;
    size_t close = code.rfind(f.close);
    if (close == std::string_view::npos || close < f.open.size()) return {};
    return std::string(code.substr(f.open.size(), close - f.open.size()));
  }
  return {};
}

// What `c` returned for the example's call, where a probe call is that very call.
std::string consensus_output(const ParsedRequest& req, const std::vector<std::string>& probes,
                             const Candidate& c, size_t example) {
  std::string call = without_spaces(example_call(req.examples[example]));
  if (call.empty()) return {};
  for (size_t p = 0; p < probes.size() && p < c.outputs.size(); ++p)
    if (without_spaces(probes[p]) == call) return c.outputs[p];
  return {};
}

struct Consensus {
  size_t example = 0;
  std::vector<size_t> members;  // candidate indices
  std::set<std::string> models;
};

// Candidates that fail exactly `example` and agree with `seed` on every probe call.
Consensus agreeing_with(const std::vector<Candidate>& all, size_t seed, size_t example) {
  Consensus group{example, {}, {}};
  for (size_t j = 0; j < all.size(); ++j) {
    const Candidate& c = all[j];
    if (!c.loaded || c.failed_examples != std::vector<size_t>{example}) continue;
    if (j != seed && probe_agreement(all[seed], c) < 1.0) continue;
    group.members.push_back(j);
    group.models.insert(c.model);
  }
  return group;
}

// The consensus of the most models against one example, if two or more models make it.
std::optional<Consensus> find_consensus(const Router::Run& run) {
  const std::vector<Candidate>& all = run.candidates;
  std::optional<Consensus> best;
  for (size_t i = 0; i < all.size(); ++i) {
    const Candidate& c = all[i];
    if (!c.loaded || c.failed_examples.size() != 1 || c.outputs.empty()) continue;
    Consensus group = agreeing_with(all, i, c.failed_examples[0]);
    if (group.models.size() < 2) continue;
    if (!best || group.models.size() > best->models.size() ||
        (group.models.size() == best->models.size() && group.members.size() > best->members.size()))
      best = std::move(group);
  }
  return best;
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

// Called when no candidate passes every example: answers with the models' consensus
// against one example, if there is one, and says which example and why.
bool Router::answer_by_consensus(Run& run) {
  if (run.req.examples.size() < kMinExamples || run.probes.empty()) return false;
  std::optional<Consensus> found = find_consensus(run);
  if (!found) return false;
  // Let the members off that one example, then weigh every candidate as usual: only they
  // pass now, and dissent from the others still counts against them.
  for (size_t m : found->members) {
    Candidate& c = run.candidates[m];
    c.examples_total -= 1;
    c.failed_examples.clear();
  }
  run.best = score_candidates(run.candidates, options_.calibration);
  if (!run.best) return false;  // cannot happen: the members pass now
  Candidate& chosen = run.candidates[*run.best];
  chosen.confidence *= kSuspectExampleFactor;
  run.waived_example = found->example;
  SuspectExample suspect{example_as_assert(run.req.examples[found->example]),
                         consensus_output(run.req, run.probes, chosen, found->example),
                         {found->models.begin(), found->models.end()}};
  decide(run, "answer", "suspect example",
         std::to_string(found->models.size()) + " models (" + joined(found->models) +
             ") agree on every probe call and all fail `" + suspect.example + "`" +
             (suspect.consensus.empty() ? "" : ", returning " + suspect.consensus) +
             ": the example is likely wrong; answered with their consensus at confidence " +
             format_fixed(chosen.confidence, 2) + ", not learned");
  run.answer.suspect_examples.push_back(std::move(suspect));
  return true;
}

}  // namespace yantra::router
