// Pieces the benchmarks share: measured child processes, the peers' directory, numbers,
// and the learning loop on replayed teachers (bench cascade and bench generalize).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "bench/bench.h"
#include "library/library.h"
#include "router/router.h"

namespace yantra::validator {
struct TestSuite;
}

namespace yantra::bench {

// "yantra bench: LINE" on stderr.
void progress(const std::string& line);

struct ProcessRun {
  Measured measured;
  std::string out;       // all of stdout
  std::string err_tail;  // the last 64 KiB of stderr
};
// Runs argv to completion, timing it (wall and CPU) and recording its peak RSS.
Result<ProcessRun> run_measured(std::string name, const std::vector<std::string>& argv);

std::string last_lines(std::string_view text, size_t count);

// The peers' directory: `requested`, else $YANTRA_PEERS, else shared/peers beside an
// ancestor of `binary` or of this executable; empty if none is found.
std::string find_peers_dir(const std::string& requested, const std::string& binary);

// Every line of a gzip JSON-lines file as a JSON object; errors name the file and line.
// A file that cannot be opened is an error ending with `what_to_do` (which option names it).
Result<std::vector<nlohmann::json>> read_jsonl_gz(
    const std::string& path,
    std::string_view what_to_do = "pass --problems/--runs or set YANTRA_PEERS");
// 3300 -> "3,300".
std::string with_commas(uint64_t v);

double ratio(double a, double b);  // 0 when b is 0
std::string pct(double x);         // 0.123 -> "12.3 %"
std::string money(double x);       // "$0.0123"
// "student 95.1 %, premium 0.1 %, ...": each tier's share of the round's requests.
std::string shares_text(const CascadeRound& r);

// ---- the learning loop on replayed teachers -------------------------------------------

// shared/data beside the peers' directory (see find_peers_dir); "" if none is found.
std::string shared_data_dir(const std::string& peers_dir);

// The recorded models, cheapest first, as the bench configures its router's teachers
// (codellama-34b-instruct: open-source, $0; gpt-3.5-turbo and gpt-4: premium).
inline constexpr std::array<std::string_view, 3> kRecordedModels = {"codellama-34b-instruct",
                                                                    "gpt-3.5-turbo", "gpt-4"};
inline constexpr size_t kGpt4Index = 2;
std::optional<size_t> recorded_model_index(std::string_view model);
// What the bench's router pays `model` for a call with these token counts, at the 2023 list
// prices it is configured with; nullopt for a model the bench does not configure.
std::optional<double> recorded_cost_usd(std::string_view model, double prompt_tokens,
                                        double completion_tokens);

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

// The first `limit` tasks (0: all) of a HumanEval problems file, their hidden tests apart,
// with gpt-4's recorded cost and result per run from the runs file.
Result<void> load_tasks(const std::string& problems_path, const std::string& runs_path,
                        size_t limit, std::vector<Task>& tasks,
                        std::map<std::string, Hidden>& hidden);

// Scores answers on the hidden tests, remembering each verdict by tests and code: a library
// answer repeated in every round is run once.
class Scorer {
 public:
  explicit Scorer(validator::Validator& validator) : validator_(validator) {}
  bool passes(const Hidden& h, const std::string& code);
  validator::Validator& validator() { return validator_; }

 private:
  validator::Validator& validator_;
  std::map<std::string, bool> cache_;
};

// The router's sandboxes (CascadeBenchOptions::router_validator, else a pool of its own)
// and the scorer's: nothing of the hidden tests passes through anything the router holds.
struct Pools {
  std::unique_ptr<validator::Validator> own_router, scoring;
  validator::Validator* router = nullptr;
  static Result<Pools> start(const CascadeBenchOptions& o);
};

// The router, its library, ledger and pass head in WORK_DIR/.yantra, every teacher the
// replay server at `port` (codellama-34b-instruct: open-source, free; gpt-3.5-turbo and
// gpt-4: premium at their 2023 list prices), thresholds and calibration from `o`.
class CascadeRouter {
 public:
  // `adjust`, when given, changes the router's options before it is built (the ladder
  // trace asks every teacher and learns nothing).
  static Result<std::unique_ptr<CascadeRouter>> open(
      const CascadeBenchOptions& o, const std::string& work_dir, int port,
      validator::Validator& validator,
      const std::function<void(router::RouterOptions&)>& adjust = {});
  ~CascadeRouter();
  router::Router& router();
  // Another router over the same teachers, library, ledger and pass head, its options
  // changed by `adjust` (a fold's calibration and thresholds).
  std::unique_ptr<router::Router> variant(
      const std::function<void(router::RouterOptions&)>& adjust) const;
  library::Library& library();
  Result<void> save();  // the pass head's checkpoint now (before the state is copied)

  struct Impl;

 private:
  explicit CascadeRouter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One request of a round, asked and scored.
struct Asked {
  size_t task = 0;  // index into the round's tasks
  const router::Answer* answer = nullptr;
  double seconds = 0;   // the router's wall time for it, measured in this process
  bool passed = false;  // answered, and the answer passes the hidden tests
};

// Asks every task once, scores each answer on its hidden tests and totals the round, gpt-4
// alone priced at its recorded run `recorded_run`; `on_answer` sees each request.
Result<CascadeRound> ask_round(router::Router& router, const std::vector<Task>& tasks,
                               const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                               int recorded_run,
                               const std::function<void(const Asked&)>& on_answer = {});
// The same with a router per task (the router of the task's fold).
using RouterFor = std::function<router::Router&(size_t task)>;
Result<CascadeRound> ask_round(const RouterFor& router_for, const std::vector<Task>& tasks,
                               const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                               int recorded_run,
                               const std::function<void(const Asked&)>& on_answer = {});

// The library's valid entries that answer one of `tasks` (stored for its very prompt),
// avoid entries left out; pending ones (evidence) are among them, marked.
// A renamed set's test that also calls the function by its nominal name (HumanEval/33
// compares with sort_third itself) fails every renamed answer, right or wrong: the test
// with the nominal name bound to the renamed function first; none when it does not.
std::optional<std::string> alias_nominal_name(const std::string& test, const std::string& nominal,
                                              const std::string& renamed);

struct TaskEntry {
  const Task* task = nullptr;
  library::Entry entry;
};
Result<std::vector<TaskEntry>> entries_of_tasks(library::Library& library,
                                                const std::vector<Task>& tasks);

// ---- cross-fitting: bench cascade --folds (cascade_folds.cpp) -------------------------

// A threshold no confidence reaches: the ladder goes on.
inline constexpr double kNeverStop = 2.0;

// Where one task's ladder stood after each teacher, every teacher asked, scored on the
// hidden tests by the scorer (the trace's router never sees them).
struct TraceStep {
  double cost_usd = 0;  // of the task's teacher calls so far
  bool has_best = false;
  std::string kind;  // the best candidate's score kind and raw score
  double score = 0;
  bool passed = false;  // the best candidate passes the hidden tests
};
struct LadderTrace {
  size_t task = 0;  // index into the bench's tasks
  std::vector<TraceStep> steps;
  bool passed = false;  // the answer after the whole ladder (soft examples included)
};
// Round 1 with every teacher asked, raw scores, nothing learned, in WORK_DIR: the replay
// server at `port` must be one of its own, so the routed run later gets the same answers.
Result<std::vector<LadderTrace>> trace_ladder(const CascadeBenchOptions& o,
                                              const std::vector<Task>& tasks,
                                              const std::map<std::string, Hidden>& hidden,
                                              Scorer& scorer, validator::Validator& pool,
                                              const std::string& work_dir, int port);

// A task's fold: the number of its id ("HumanEval/17" -> 17) modulo `folds`, its
// position in the list when the id has none.
size_t fold_of(const Task& task, size_t position, size_t folds);

struct LadderOutcome {
  size_t passed = 0;
  double cost_usd = 0;
};
// The traces' tasks routed offline: each stops at its first step whose best answer is at
// least stops[i] sure (calibrated), the last value repeated for later rungs.
LadderOutcome simulate_ladder(std::span<const LadderTrace* const> traces,
                              const router::Calibration& calibration,
                              const std::vector<double>& stops);

// A fold's router settings, fitted on the other folds' traces only: the calibration on
// every step's best answer, and the thresholds of least cost whose pass count is at least
// the full ladder's less `pass_slack` of the tasks.
struct FoldFit {
  std::vector<router::LabelledScore> labels;  // the training steps' best answers
  router::Calibration calibration;
  std::vector<double> stops;  // before rung 1, 2, ... (kNeverStop: go on)
  size_t train_tasks = 0;
  double train_pass = 0, train_full_pass = 0;
  double train_cost_usd = 0, train_full_cost_usd = 0;
};
FoldFit fit_fold(std::span<const LadderTrace> traces, std::span<const size_t> task_fold,
                 size_t fold, double pass_slack);

// The folds of a cross-fitted run: each fold's fit, and its router's options round by
// round. The student's scores are calibrated on the other folds' student answers of the
// rounds before (prequential: round 1 has none, so they pass through).
class CrossFit {
 public:
  // Traces the ladder (trace_ladder) and fits every fold.
  static Result<CrossFit> run(const CascadeBenchOptions& o, const std::vector<Task>& tasks,
                              const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                              validator::Validator& pool, const std::string& work_dir, int port);
  // From traces already made (tests).
  CrossFit(const std::vector<Task>& tasks, std::vector<LadderTrace> traces, size_t folds,
           double pass_slack);

  size_t folds() const { return fits_.size(); }
  size_t fold_of_task(size_t task) const { return task_fold_[task]; }
  const FoldFit& fit(size_t fold) const { return fits_[fold]; }
  // Fold `fold`'s calibration given the answers scored so far (`answer_task`: each
  // answer's task); only other folds' answers count.
  router::Calibration calibration(size_t fold, std::span<const router::LabelledScore> answers,
                                  std::span<const size_t> answer_task) const;
  // RouterOptions::stop_confidence for fold `fold` (rung 0 as rung 1).
  std::vector<double> stop_confidence(size_t fold) const;
  // Every fold's tasks routed offline with its own fit, and with the whole ladder.
  LadderOutcome held_out() const;
  LadderOutcome full_ladder() const;
  const std::vector<LadderTrace>& traces() const { return traces_; }

 private:
  std::vector<LadderTrace> traces_;
  std::vector<size_t> task_fold_;
  std::vector<FoldFit> fits_;
};

// The trace on a replay server of its own (so the routed round 1 gets the same recorded
// answers), in RESULT.work_dir/ladder-trace with its JSON lines, and every fold fitted;
// the result's fold figures filled in.
Result<CrossFit> cross_fit(const CascadeBenchOptions& o, const std::vector<Task>& tasks,
                           const std::map<std::string, Hidden>& hidden, Scorer& scorer,
                           validator::Validator& pool, const std::string& runs,
                           const std::string& problems, CascadeBenchResult& result);
// How the run's calibration and thresholds were chosen, and what each fold fitted: the
// table's lines and the JSON line's fields.
std::string folds_text(const CascadeBenchResult& r);
void add_folds_json(nlohmann::ordered_json& j, const CascadeBenchResult& r);

// ---- bench cascade's baselines (cascade_baselines.cpp) ---------------------------------

// One recorded answer as the scorer holds it: the code as recorded (served by the replay
// server, extracted by the teacher client before anything runs it), its price at the
// router's list price, and its recorded result on the hidden tests, for scoring only.
struct RecordedAnswer {
  bool present = false;  // false: the file has no such run of this model
  std::string code;
  double cost_usd = 0;
  bool passed = false;  // recorded_result == "Pass"
};
// A request's answers in one recorded run, one per model in kRecordedModels' order.
using RecordedAnswers = std::array<RecordedAnswer, kRecordedModels.size()>;
// task id -> recorded run -> answers; rows of other tasks and models are left out.
using RecordedRuns = std::map<std::string, std::map<int, RecordedAnswers>>;
// The rows of a recorded-runs file (`origin` names it in errors).
Result<RecordedRuns> recorded_runs(const std::vector<nlohmann::json>& rows,
                                   const std::vector<Task>& tasks, const std::string& origin);

// What one baseline answered to one request: whether the answer passes the hidden tests,
// and what it paid.
struct BaselineAnswer {
  bool passed = false;
  double cost_usd = 0;
};
BaselineAnswer gpt4_alone_answer(const RecordedAnswers& answers);
BaselineAnswer oracle_answer(const RecordedAnswers& answers);
// `passes_examples`: per model, whether its answer passes the prompt's own examples.
BaselineAnswer cheapest_first_answer(
    const RecordedAnswers& answers,
    const std::array<bool, kRecordedModels.size()>& passes_examples);
void add_answer(BaselineFigures& figures, const BaselineAnswer& answer, double gpt4_cost_usd);

// The four baselines over the rounds of bench cascade. The examples of each prompt run in
// `validator` (the router's pool), each recorded answer once, as the router runs a
// teacher's candidate; hidden tests never go there.
class CascadeBaselineRunner {
 public:
  // An Error when a task's prompt names no function (the router could not parse it).
  static Result<CascadeBaselineRunner> open(std::vector<Task> tasks, RecordedRuns runs,
                                            validator::Validator& validator);
  Result<void> add_round(int round, int recorded_run);
  const CascadeBaselines& baselines() const { return baselines_; }
  size_t sandbox_runs() const { return sandbox_runs_; }  // answers run on examples so far

 private:
  struct Request;  // a task's prompt as the router parses it
  using Verdicts = std::array<bool, kRecordedModels.size()>;
  CascadeBaselineRunner(std::vector<Task> tasks,
                        std::vector<std::shared_ptr<const Request>> requests, RecordedRuns runs,
                        validator::Validator& validator);
  Result<Verdicts> passes_examples(size_t task, int run, const RecordedAnswers& answers);
  BaselineAnswer exact_cache_answer(size_t task, const RecordedAnswers& answers,
                                    bool gpt4_passes_examples);

  std::vector<Task> tasks_;
  std::vector<std::shared_ptr<const Request>> requests_;  // parallel to tasks_
  RecordedRuns runs_;
  validator::Validator* validator_;
  std::map<std::tuple<size_t, int, size_t>, bool> verdicts_;  // (task, run, model)
  std::map<std::string, bool> cache_;  // prompt -> the cached answer passes the hidden tests
  CascadeBaselines baselines_;
  size_t sandbox_runs_ = 0;
};

// The table's baselines block (the router's own row first) and the JSON line's part.
std::string baselines_table(const CascadeBenchResult& result);
nlohmann::ordered_json baselines_json(const CascadeBaselines& baselines);

// ---- HumanEval+ -----------------------------------------------------------------------

// EvalPlus's stricter check: an answer passes when it returns what the reference
// (`prompt` + `canonical_solution`) returns on every base and plus input, floats within
// `atol` (1e-6 relative where atol is 0), inputs on which the reference raises skipped.
// Both run in the sandbox, asserts form: the reference in the tests' namespace, the answer
// as the candidate, called by its own name (a renamed set's).
class PlusScorer {
 public:
  static Result<PlusScorer> load(const std::string& path, validator::Validator& validator);
  // nullopt when the file has no such task.
  std::optional<bool> passes(const std::string& task_id, const std::string& entry_point,
                             const std::string& code);

 private:
  struct Reference {
    std::string source, entry_point, inputs_json;
    double atol = 0;
  };
  PlusScorer(std::map<std::string, Reference> references, validator::Validator& validator)
      : references_(std::move(references)), validator_(&validator) {}
  std::map<std::string, Reference> references_;
  validator::Validator* validator_;
  std::map<std::string, bool> cache_;
};

// The asserts-form suite PlusScorer runs: `entry_point` against the reference's function
// `reference_entry` on every input of `inputs_json` (a JSON list of argument lists).
validator::TestSuite plus_suite(const std::string& reference_source,
                                const std::string& reference_entry, const std::string& inputs_json,
                                double atol, const std::string& entry_point);

// ---- bench generalize's report --------------------------------------------------------

std::string set_summary(const GeneralizeSet& set);        // one progress line
std::string cross_summary(const GeneralizeCross& cross);  // one progress line
void render_generalize(GeneralizeBenchResult& result);    // its table and JSON line

}  // namespace yantra::bench
