// Which candidate to answer with, and how sure to be: agreement between candidates on the
// probe calls (dual execution), weighted by how independent they are, and the examples
// written in the request. Hidden tests never reach this file: it sees only what ran here.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "router/internal.h"
#include "router/router.h"

namespace yantra::router {
namespace {

// Another model agreeing is strong evidence; another sample of the same model at low
// temperature often repeats the same mistake, so it counts for little.
constexpr double kOtherModelWeight = 1.0, kSameModelWeight = 0.15;
// How much one fully agreeing, fully independent candidate removes of the doubt.
constexpr double kAgreementStrength = 0.6;
// Candidates that also pass the examples but behave differently on the probes are the
// evidence against an answer: when models that agree on the examples split on other
// inputs, the request is ambiguous and shared mistakes hide in it. A split within one
// model's own samples counts too, less than a split between models.
constexpr double kDissentStrength = 0.3, kSameModelDissent = 0.5;
constexpr double kSameBehaviour = 0.95;  // agreement above which two candidates behave alike

// Examples written in the request are the user's own tests: passing several of them says
// more than passing one, and a request without any leaves agreement as the only evidence.
double examples_factor(const Candidate& c) {
  if (c.examples_total >= 2) return 1.0;
  if (c.examples_total == 1) return 0.9;
  return 0.75;
}

// A lone candidate that passes its examples: how likely it is still wrong. Premium models
// are asked precisely because they are right more often.
double prior_doubt(const Candidate& c) {
  return c.tier == "premium" ? 0.3 : 0.5;
}

// The share of the other candidates that pass the examples yet behave differently.
double contest(const Candidate& a, size_t self, std::span<Candidate> candidates) {
  double all = 0, dissent = 0;
  for (size_t j = 0; j < candidates.size(); ++j) {
    const Candidate& c = candidates[j];
    if (j == self || !c.passes_examples() || c.code == a.code) continue;
    double w = c.model == a.model ? kSameModelDissent : 1.0;
    all += w;
    if (probe_agreement(a, c) < kSameBehaviour) dissent += w;
  }
  return all == 0 ? 0.0 : dissent / all;
}

// Teacher-written tests weighed by dual agreement: the share of the models among the
// candidates passing the examples that have a candidate passing the test. A wrong test
// no candidate passes weighs nothing; one every model passes weighs fully.
std::vector<double> written_weights(std::span<const Candidate> candidates) {
  std::set<std::string> models;
  std::vector<std::set<std::string>> passing;
  for (const Candidate& c : candidates) {
    if (!c.passes_examples()) continue;
    models.insert(c.model);
    if (passing.size() < c.written_passed.size()) passing.resize(c.written_passed.size());
    for (size_t t = 0; t < c.written_passed.size(); ++t)
      if (c.written_passed[t]) passing[t].insert(c.model);
  }
  std::vector<double> weights;
  for (const auto& p : passing) weights.push_back(double(p.size()) / double(models.size()));
  return weights;
}

// What is left of a candidate's score after the written tests it fails: 1 when it passes
// every test that weighs anything, less for each weighted test it fails.
double written_factor(const Candidate& c, const std::vector<double>& weights) {
  double all = 0, passed = 0;
  for (size_t t = 0; t < weights.size(); ++t) {
    all += weights[t];
    passed += t < c.written_passed.size() && c.written_passed[t] ? weights[t] : 0.0;
  }
  return (1.0 + passed) / (1.0 + all);
}

}  // namespace

double probe_agreement(const Candidate& a, const Candidate& b) {
  size_t n = std::min(a.outputs.size(), b.outputs.size());
  if (n == 0) return a.code == b.code ? 1.0 : 0.0;
  size_t same = 0, informative = 0;
  for (size_t i = 0; i < n; ++i) {
    if (a.outputs[i] == "!NotRun" || b.outputs[i] == "!NotRun") continue;
    ++informative;
    same += a.outputs[i] == b.outputs[i];
  }
  return informative == 0 ? 0.0 : double(same) / double(n);
}

std::optional<size_t> score_candidates(std::span<Candidate> candidates,
                                       const Calibration& calibration) {
  std::optional<size_t> best;
  const std::vector<double> weights = written_weights(candidates);
  for (size_t i = 0; i < candidates.size(); ++i) {
    Candidate& a = candidates[i];
    a.support = 0;
    a.score = 0;
    a.score_kind = kAgreementScore;
    a.confidence = 0;
    a.corroborated = false;
    if (!a.passes_examples()) continue;
    // Per other model, its sample that agrees most with `a`: ten samples of one model are
    // one opinion, not ten (a library entry counts as the model that wrote it).
    std::map<std::string, double> by_model;
    for (size_t j = 0; j < candidates.size(); ++j) {
      if (j == i || !candidates[j].loaded) continue;
      double& best_agree = by_model[candidates[j].model];
      double agree = probe_agreement(a, candidates[j]);
      best_agree = std::max(best_agree, agree);
      if (candidates[j].model != a.model && agree == 1.0) a.corroborated = true;
    }
    double doubt = prior_doubt(a);
    for (const auto& [model, agree] : by_model) {
      bool same = model == a.model;
      double w = same ? kSameModelWeight : kOtherModelWeight;
      a.support += w * agree;
      doubt *= 1.0 - kAgreementStrength * w * agree;
    }
    a.score = examples_factor(a) * (1.0 - doubt) *
              (1.0 - kDissentStrength * contest(a, i, candidates)) * written_factor(a, weights);
    a.confidence = calibration.probability(kAgreementScore, a.score);
    // By score: the calibration is flat in places, and ties there would hide the evidence.
    if (!best || a.score > candidates[*best].score + 1e-12) best = i;
  }
  return best;
}

}  // namespace yantra::router
