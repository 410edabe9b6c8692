// router: sends a request to the cheapest source that can answer it.
//
//   auto settings = config::load_settings(repo).take();
//   auto teachers = Teachers::from_settings(settings);   // every configured (provider, model)
//   if (!teachers) return teachers.error();             // e.g. keys.enc is not 0600
//   auto ledger = ledger::Ledger::open(repo).take();
//   auto answer = teachers->generate(0, prompt, "add", /*n=*/3, &ledger);
//   if (!answer) return answer.error();   // refused by the budget or the provider failed:
//                                         // the ledger already holds the row
//   ... validate answer->candidates ...
//   teachers->record(*answer, ledger::Outcome::passed, ledger);   // one row, priced
//
// Teachers form a ladder: open-source local first, then open-source cloud, then premium,
// cheaper before dearer within a tier. A paid call is checked against its provider's
// monthly budget before it is sent (fails closed); a call that spent tokens is always
// recorded, whatever became of its reply.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "config/config.h"
#include "ledger/ledger.h"
#include "library/library.h"
#include "student/student.h"
#include "teacher/teacher.h"
#include "validator/validator.h"

namespace yantra::router {

// ---- requests ----------------------------------------------------------------------------

struct Request {
  std::string text;         // as the user wrote it; a HumanEval prompt is one
  std::string signature;    // optional: "def parse_date(text: str) -> date:"
  std::string entry_point;  // optional: which function, when the text defines several
};

struct ParsedRequest {
  std::string text;  // the request, with the signature on top when it came apart
  std::string entry_point, signature;
  std::vector<std::string> params;
  std::vector<validator::TestCase> examples;  // tests written in the request itself
  // Asserts a teacher wrote for the request (router.teacher_tests): run on every candidate
  // after the examples and probes, weighed by dual agreement, never law. Empty until then.
  std::vector<validator::TestCase> written_tests;
  bool security = false;  // auth, crypto, payments...
  std::string security_reason;
};

// The function to write (the last `def` of the text or signature, or the one named) and
// the examples in the text. An Error, saying how to name it, when there is no function.
Result<ParsedRequest> parse_request(const Request& request);
// The student's embedding of a request: its view (student::view_request) hashed.
std::vector<float> request_embedding(const ParsedRequest& request);
// The same for library entries, named so a library re-embeds its entries when it changes:
// open a library, then `library.use_embedder(library_embedder())`.
inline constexpr std::string_view kEmbedderName = "request-view-1";
library::Embedder library_embedder();
// The trained encoder over the same view, named by its weights' version.
library::Embedder encoder_embedder(std::shared_ptr<const student::RequestEncoder> encoder);
// The encoder of a repository (its own, else the base one), as an embedder.
Result<library::Embedder> repository_embedder(const std::string& repo_dir);

// Fine-tuning the repository's encoder on the requests its library learned (augmented
// views of each), from its current encoder; saved in REPO/.yantra/student/, and the
// library re-embedded with it.
struct EncoderRetrain {
  size_t requests = 0, reembedded = 0;
  std::string version;
  library::Embedder embedder;
  student::EncoderTrainReport report;
};
inline constexpr student::EncoderTrainOptions kFineTune{.steps = 100, .lr = 0.002};
Result<EncoderRetrain> retrain_library_encoder(const std::string& repo_dir, library::Library& lib,
                                               student::EncoderTrainOptions options = kFineTune);
// The same when the library learned `every` requests since the encoder last trained
// (online learning); nothing when it has not.
Result<std::optional<EncoderRetrain>> retrain_encoder_if_due(const std::string& repo_dir,
                                                             library::Library& lib,
                                                             size_t every = 100);
// The baseline: the request's words hashed (student::text_embedding), as before the view.
library::Embedder hashed_embedder();
// A request embedded by `embedder`, as the library embeds an entry of the same request.
std::vector<float> embed_request(const library::Embedder& embedder, const ParsedRequest& request);

// ---- calibration ---------------------------------------------------------------------------

// Turns the router's evidence scores into probabilities that an answer passes. Scores are
// of two kinds, one per formula: kStudentScore (an adapted library entry: its track record
// and closeness) and kAgreementScore (candidates scored by dual execution). Each kind has a
// monotone, piecewise-linear map fitted by isotonic regression on labelled answers, so the
// order of scores, and with it every choice between candidates, is kept.
//
//   auto cal = Calibration::fit(labelled);            // {kind, score, passed} per answer
//   double p = cal.probability(kAgreementScore, 0.6); // e.g. 0.93
//   write_file_atomic(path, cal.to_json("110 HumanEval dev tasks x 10 rounds"));
//
// The map the router uses by default is src/router/calibration.json, fitted by
// `yantra bench cascade --fit-calibration` on the HumanEval dev tasks against their hidden
// tests: the router reads only the fitted knots, never a test.
inline constexpr std::string_view kStudentScore = "student";
inline constexpr std::string_view kAgreementScore = "agreement";

struct LabelledScore {
  std::string kind;
  double score = 0;
  bool passed = false;
};

class Calibration {
 public:
  static Calibration none();  // the score is the probability
  static const Calibration& builtin();
  // `origin` names the text in errors ("path:line:col: ...").
  static Result<Calibration> parse(std::string_view json, std::string_view origin);
  static Result<Calibration> load(const std::string& path);
  // Per kind: pool-adjacent-violators over the scores, each block's pass rate shrunk
  // towards the kind's overall rate by `prior_weight` answers, then pooled again so the
  // shrinking cannot break the order.
  static Calibration fit(std::span<const LabelledScore> labelled, double prior_weight = 2);

  // A kind without a map (or none()) passes the score through, clamped to [0, 1]. Below
  // the lowest fitted score the probability falls linearly to 0 at score 0; above the
  // highest it stays at the highest knot's.
  double probability(std::string_view kind, double score) const;
  std::string to_json(std::string_view fitted_on) const;
  bool empty() const { return knots_.empty(); }

 private:
  struct Knot {
    double score, probability;
  };
  std::map<std::string, std::vector<Knot>, std::less<>> knots_;
};

// ---- candidates ----------------------------------------------------------------------------

struct Candidate {
  std::string code;
  std::string tier;  // "student", "open_local", "open_cloud", "premium"
  std::string provider, model;
  int64_t library_id = 0;  // student answers: the entry adapted
  bool pending = false;    // an earlier answer to this request, kept as evidence
  // Run on the request's examples and the probe calls (one sandbox run).
  validator::Status status = validator::Status::sandbox_error;
  int examples_passed = 0, examples_total = 0;
  std::string failure;                  // the first failing example's message, for repair
  std::vector<size_t> failed_examples;  // indices into the request's examples
  std::vector<std::string> outputs;     // per probe call: repr of the value or "!Error"
  std::vector<bool> written_passed;     // per teacher-written test: it passed
  double support = 0;                   // agreement with the other candidates
  double score = 0;                     // the evidence for it, before calibration
  std::string_view score_kind = kAgreementScore;
  double confidence = 0;  // probability it passes: the score, calibrated
  // Another model's candidate gave the same output on every probe it ran: the bar for
  // learning, since partial agreement is where shared mistakes show.
  bool corroborated = false;
  bool loaded = false;  // the code ran at all (defined the function, no crash)
  bool passes_examples() const { return loaded && examples_passed == examples_total; }
};

// Call expressions every candidate runs on: the request's example calls, each argument
// varied (empty, reversed, off by one...), and typical values for hinted parameters.
// Computed by probe.py in the sandbox, from the request alone.
Result<std::vector<std::string>> probe_calls(validator::Validator& validator,
                                             const ParsedRequest& request);
// Runs each candidate on the examples and the probe calls and fills in its results.
void run_candidates(validator::Validator& validator, const ParsedRequest& request,
                    const std::vector<std::string>& probes, std::span<Candidate> candidates);
// CodeT-style dual execution: a candidate's support is its agreement on the probe outputs
// with the others (a different model counts fully, another sample of the same model a
// little); its score combines support with the examples it passed, lowered for each
// teacher-written test it fails by that test's weight (the share of models with a
// candidate passing it: a test no candidate passes weighs nothing), and its confidence is
// that score calibrated. Returns the index of the most confident candidate, if any
// candidate passes the examples.
std::optional<size_t> score_candidates(std::span<Candidate> candidates,
                                       const Calibration& calibration = Calibration::none());

ledger::Tier ledger_tier(config::Tier tier);

// One model of one configured provider.
struct TeacherInfo {
  std::string provider, model;
  config::Tier tier = config::Tier::open_cloud;
  ledger::Price price;
  std::optional<double> budget_month_usd;
  bool has_key = false;
};

struct TeacherAnswer {
  TeacherInfo teacher;
  std::vector<teacher::CodeCandidate> candidates;  // code found in the replies
  int empty_replies = 0;                           // replies with no code
  teacher::Usage usage;
  double latency_s = 0;                      // wall time, retries included
  std::optional<double> recorded_latency_s;  // replay server: the recorded latency
  int attempts = 0;
};

struct WrittenTests {
  TeacherInfo teacher;
  std::vector<std::string> asserts;  // each one statement calling the entry point
  teacher::Usage usage;
  double cost_usd = 0;
  double latency_s = 0;  // recorded latency when replayed, else wall time
};

// Where API keys come from; the default is config::lookup_key (environment, then store).
using KeyLookup =
    std::function<Result<std::optional<std::string>>(const config::ProviderSettings&)>;

struct TeacherOptions {
  KeyLookup lookup_key;                           // default: config::lookup_key
  std::shared_ptr<teacher::Transport> transport;  // default: HTTP(S) with httplib
  std::shared_ptr<teacher::Sleeper> sleeper;      // default: real sleeps between retries
  int max_tokens = 1024;
};

// ---- adapting library code ------------------------------------------------------------

struct Rename {
  std::string from_name, to_name;                   // the function's name
  std::vector<std::string> from_params, to_params;  // renamed position by position
};

// `code` with the top-level function `from_name` renamed to `to_name` (its definition and
// every call of it, recursion included) and its parameters renamed position by position
// inside that function, by tree-sitter: names inside strings, comments, attributes
// (`x.name`) and keyword arguments of other calls are left alone. An Error when the code
// does not parse, has no such function, or a new name would collide with a name the
// function already uses.
Result<std::string> adapt_code(std::string_view code, const Rename& rename);

class Teachers {
 public:
  static Result<Teachers> from_settings(const config::Settings& settings,
                                        TeacherOptions options = {});

  const std::vector<TeacherInfo>& ladder() const { return ladder_; }
  bool empty() const { return ladder_.empty(); }
  // The first teacher of `tier` on the ladder, if any.
  std::optional<size_t> first_of(config::Tier tier) const;

  // n candidates from teacher `i` (an index into ladder()). A paid call over its budget
  // is refused before sending and a failed call is recorded at once (when `ledger` is
  // given); a successful one waits for record() with the outcome of its validation.
  Result<TeacherAnswer> generate(size_t i, std::string_view request, std::string_view entry_point,
                                 int n, ledger::Ledger* ledger);
  // One repair round: the teacher sees its candidate and the failure, and answers again.
  Result<TeacherAnswer> repair(size_t i, std::string_view request, std::string_view entry_point,
                               std::string_view code, std::string_view failure,
                               ledger::Ledger* ledger);
  // Assert statements for the request from teacher `i`, `code` shown for its signature.
  // The call is checked against the budget and recorded in `ledger` at once (passed when
  // the reply held an assert calling `entry_point`, failed when not).
  Result<WrittenTests> write_tests(size_t i, std::string_view request, std::string_view entry_point,
                                   std::string_view code, ledger::Ledger* ledger);
  Result<void> record(const TeacherAnswer& answer, ledger::Outcome outcome,
                      ledger::Ledger& ledger) const;
  // What teacher `i` would charge for `n` answers to `request`: tokens estimated from
  // text length (4 characters a token) and a typical answer length.
  double estimate_cost(size_t i, std::string_view request, int n) const;
  // The same estimate as an "avoided" row: the student answered instead of teacher `i`.
  Result<void> record_avoided(size_t i, std::string_view request, ledger::Ledger& ledger) const;

  Teachers(Teachers&&) noexcept;
  Teachers& operator=(Teachers&&) noexcept;
  ~Teachers();

 private:
  Teachers() = default;
  // A paid call over its provider's budget is refused before sending, and recorded so.
  Result<void> admit(size_t i, std::string_view request, int n, ledger::Ledger* ledger) const;
  Result<TeacherAnswer> send(size_t i, const teacher::ChatRequest& chat, std::string_view request,
                             std::string_view entry_point, ledger::Ledger* ledger);
  std::vector<TeacherInfo> ladder_;
  std::vector<std::unique_ptr<teacher::Client>> clients_;  // parallel to ladder_
  int max_tokens_ = 1024;
};

// ---- the router ---------------------------------------------------------------------------

// One step of a request's route and why it went that way; all of them go to the ledger.
struct Decision {
  std::string step;    // "student", "codellama/codellama-34b-instruct", "learn", ...
  std::string action;  // "answer", "skip", "ask", "escalate", "refused", "store", ...
  std::string reason;  // "novel: the nearest library entry is 0.41 similar (< 0.90)"
  double ms = 0;       // when it was taken, in milliseconds since the request began
};

// The pass-probability head's forecast for one candidate, made before it learned the
// outcome (prequential), so forecasts can be scored honestly.
struct PassForecast {
  std::string tier, model;
  double predicted = 0;
  bool passed = false;
};

// An example of the request that candidates of two or more models, agreeing with each
// other on every probe call, all fail the same way: likely wrong in the request itself
// (HumanEval/47 writes the median of [-10, 4, 6, 1000, 10, 20] as 15.0).
struct SuspectExample {
  std::string example;    // as an assert: "assert median([-10, 4, 6, 1000, 10, 20]) == 15.0"
  std::string consensus;  // what the models return for its call ("8.0"), if a probe ran it
  std::vector<std::string> models;
};

// Where the ladder stood after one teacher was asked (its repair included): what it had
// cost so far and the candidate it would have answered had it stopped there. The trace
// that lets thresholds be fitted offline (bench cascade --folds): stopping earlier is a
// prefix of the same ladder.
struct LadderStep {
  std::string step;     // "gpt35/gpt-3.5-turbo"
  double cost_usd = 0;  // of this request's teacher calls so far
  bool has_best = false;
  std::string code;  // the best candidate so far (passes the examples), when has_best
  double score = 0, confidence = 0;
  std::string score_kind;
};

struct Answer {
  bool answered = false;  // false: no candidate passed (code holds the best try, if any)
  std::string request_id;
  std::string entry_point;
  std::string code;
  std::vector<std::string> tests;  // the tests it passed here, as run
  std::string tier, provider, model;
  double confidence = 0;  // probability it passes (calibrated score)
  double score = 0;       // the evidence behind it, and which formula gave it
  std::string score_kind;
  double cost_usd = 0;  // teacher calls made for this request
  int teacher_calls = 0;
  double teacher_latency_s = 0;  // recorded latency when replayed, else wall time
  int64_t library_id = 0;        // the entry it came from (student) or went to (learned)
  bool learned = false;
  // Answered by models agreeing against these examples (at a lowered confidence, never
  // learned); empty when the answer passes every example.
  std::vector<SuspectExample> suspect_examples;
  std::vector<Decision> route;
  std::vector<LadderStep> ladder;       // one per teacher asked, in order
  std::vector<PassForecast> forecasts;  // one per candidate the pass head learned from
};

// Asked before a premium call under `consent = ask`: true to go ahead.
using ConsentFn = std::function<bool(const TeacherInfo& teacher, double estimated_usd)>;

using RouterSettings = config::RouterSettings;

struct RouterOptions {
  RouterSettings settings;
  // A request at least this similar to a library entry may be answered by the student;
  // below it, the request is novel and goes to the teachers.
  double novelty_similarity = 0.9;
  int open_samples = 0;            // samples per open-source call (0: settings.samples)
  int premium_samples = 1;         // samples per premium call
  double learn_confidence = 0.95;  // answers at least this likely to pass become entries
  // The nearest library entry answers alone, from one run on the examples, when it is at
  // least this likely to pass; below, the ten nearest all run on the probes and are weighed.
  double student_alone_confidence = 0.9;
  Calibration calibration = Calibration::builtin();  // scores to probabilities
  // Per rung of the ladder: the teacher at index i is not asked when the best answer so
  // far is at least stop_confidence[i] sure (the last value for rungs past the end; empty:
  // settings.premium_confidence for every rung). Fitted per rung by bench cascade --folds.
  std::vector<double> stop_confidence;
  // How requests are embedded; the library must hold entries embedded the same way
  // (Library::use_embedder).
  library::Embedder embedder = library_embedder();
  bool repair = true;  // one repair round for a teacher whose candidates all failed
  // Premium candidates for this very request that already failed its examples (kept in the
  // library as avoid entries): at this many, premium teachers are not paid to try again.
  int premium_failures_to_give_up = 4;
  // Premium answers to this very request already kept as evidence (pending): at this many,
  // another sample of the same models would repeat them, so none is bought.
  int premium_answers_enough = 2;
  bool learn = true;
  // Learns P(a source's answer passes) from every candidate's validation outcome, with the
  // router's confidence as its soft label; may be null.
  student::OnlineLearner* pass_head = nullptr;
  ConsentFn consent;  // for Consent::ask; none means no terminal: no
};

class Router {
 public:
  // Any of teachers, library and ledger may be null: no teachers, nothing remembered, no
  // accounting. generate() needs the validator (nothing is answered unvalidated);
  // dry_run() runs nothing and may go without.
  Router(validator::Validator* validator, Teachers* teachers, library::Library* library,
         ledger::Ledger* ledger, RouterOptions options);

  Result<Answer> generate(const Request& request);
  // The route generate() would take, without calling a teacher or running code.
  Result<Answer> dry_run(const Request& request);

  struct Run;  // internal.h

 private:
  bool ask_student(Run& run);
  void ensure_probes(Run& run);
  void report_near_misses(Run& run, const std::vector<Candidate>& tries,
                          const std::vector<const library::Hit*>& from, std::optional<size_t> best);
  void load_earlier(Run& run);
  void add_pending(Run& run);
  void ask_teachers(Run& run);
  double stop_confidence(size_t rung) const;
  void ask_teacher(Run& run, size_t index);
  void ask_for_tests(Run& run, size_t index);
  void record_step(Run& run, std::string step);
  struct PremiumHistory {
    int failed = 0, pending = 0;
  };
  PremiumHistory premium_history(const Run& run) const;
  // Adds a teacher's candidates, runs them, and records the call with its outcome.
  size_t add_reply(Run& run, const TeacherAnswer& reply);
  void repair(Run& run, size_t index, const Candidate& failed);
  void finish(Run& run);
  bool answer_by_consensus(Run& run);
  void learn(Run& run);
  void observe_outcomes(Run& run);
  // Keeps this round's passing answers as pending evidence; `why` says why not learned.
  void keep_as_evidence(Run& run, const Candidate& best, std::string why = {});
  void decide(Run& run, std::string step, std::string action, std::string reason);

  validator::Validator* validator_;
  Teachers* teachers_;
  library::Library* library_;
  ledger::Ledger* ledger_;
  RouterOptions options_;
};

}  // namespace yantra::router
