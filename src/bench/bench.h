// bench: Yantra's benchmarks, each run beside its peer on the same machine so that every
// speed figure is a ratio measured in one run. Each prints a table and one final JSON line.
//
//   IndexBenchOptions o;
//   o.corpus = "/usr/lib/python3.11";
//   IndexBenchResult r = run_index_bench(o).take();
//   std::cout << r.table << r.json_line << "\n";
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/base.h"
#include "crowd/crowd.h"

namespace yantra::bench {

struct IndexBenchOptions {
  std::string corpus = "/usr/lib/python3.11";
  std::string yantra_binary;  // default: this process's own executable (/proc/self/exe)
  std::string peers_dir;      // default: ../shared/peers relative to the source checkout,
                              // or $YANTRA_PEERS
  std::string python = "/usr/bin/python3";
  std::string ctags = "ctags";
  std::string work_dir;  // default: a fresh temporary directory, removed afterwards
  bool run_gold = true;  // the reference graph builder (about 15 s on the stdlib)
  bool run_ctags = true;
  // Each measurement is taken this many times and the fastest kept: on a shared machine
  // noise only ever adds time.
  int repeat = 1;
};

// One measured process.
struct Measured {
  std::string name;
  double seconds = 0;
  double cpu_seconds = 0;  // user plus system, with the children it waited for
  uint64_t peak_rss_bytes = 0;
  int exit_code = 0;
  bool ran = false;     // false: disabled, or the peer is missing or failed (see not_run)
  std::string not_run;  // why it did not run, for the table and the JSON line
};

struct IndexBenchResult {
  int repeat = 1;
  uint64_t files = 0, bytes = 0;
  Measured cold, incremental, gold, ctags;
  size_t incremental_files_parsed = 0;
  // Resolved call edges of the reference graph that the index also has (same caller and
  // callee qualified names), and how many the reference has.
  uint64_t gold_calls = 0, gold_calls_found = 0;
  std::vector<std::string> gold_calls_missing_sample;  // up to 20 "caller -> callee"

  std::string table;      // human-readable, several lines
  std::string json_line;  // one line of JSON, the last thing printed
};

Result<IndexBenchResult> run_index_bench(const IndexBenchOptions& options);

// Reads gold_graph.py's OUT_PREFIX.edges.jsonl and a graph.db; counts the reference's
// resolved call edges (caller qname, callee qname) that the graph.db also has.
struct CallRecall {
  uint64_t gold = 0, found = 0;
  std::vector<std::string> missing_sample;  // up to 20 "caller -> callee" lines
};
Result<CallRecall> compare_calls_with_gold(const std::string& gold_edges_jsonl,
                                           const std::string& graph_db);

}  // namespace yantra::bench

namespace yantra::bench {

// `yantra bench validate`: every recorded HumanEval dev answer against its hidden tests,
// in the sandbox, beside exec_peer.py (the human-eval harness approach, no isolation).
struct ValidateBenchOptions {
  std::string problems;   // default: PEERS/../data/humaneval/HumanEval-dev.jsonl.gz
  std::string runs;       // default: PEERS/../data/humaneval/recorded-runs-dev.jsonl.gz
  std::string peers_dir;  // as for the index benchmark
  std::string python = "/usr/bin/python3";
  int workers = 0;               // 0: one per core, for both systems
  double timeout_seconds = 3.0;  // the peer's limit
  bool run_peer = true;
  size_t limit = 0;  // validate only the first N runs (0: all)
  // The JSON line of an earlier run (another build, same machine), printed beside: what
  // a change cost per run.
  std::string before;
};

struct ValidateBenchResult {
  size_t executions = 0, agreement = 0, passed = 0;
  double seconds = 0, exec_per_s = 0;
  Measured peer;
  double peer_exec_per_s = 0;
  size_t peer_agreement = 0;
  std::vector<std::pair<std::string, size_t>> statuses;  // status -> count
  std::vector<std::string> disagreements;                // "task model run: ours vs recorded"
  // Runs of kLongRunSeconds or more: their time is the program's own work (a loop until
  // the timeout, a slow algorithm), which any harness honouring the same limit pays too.
  // Their sum over the workers is a floor under both systems' wall time.
  static constexpr double kLongRunSeconds = 0.1;
  size_t long_runs = 0;
  double long_runs_seconds = 0;
  struct Before {  // the --before run's figures, if one was given
    bool given = false;
    double exec_per_s = 0, speedup = 0, other_run_ms = 0;
  } before;
  std::string table;
  std::string json_line;
};

Result<ValidateBenchResult> run_validate_bench(const ValidateBenchOptions& options);

}  // namespace yantra::bench

namespace yantra::validator {
class Validator;
}
namespace yantra::teacher {
class Transport;
}

namespace yantra::bench {

// `yantra bench cascade`: the HumanEval dev tasks, round after round, through the real
// router, validator, library and student, with the replay server as every teacher
// (codellama-34b-instruct: open-source, free; gpt-3.5-turbo and gpt-4: premium at their
// 2023 list prices). The router sees only each task's prompt; the hidden tests score the
// answers afterwards, on a validator of their own.
enum class RequestViewKind { encoder, view, hashed };

struct CascadeBenchOptions {
  std::string problems;   // default: shared/data/humaneval/HumanEval-dev.jsonl.gz
  std::string runs;       // default: shared/data/humaneval/recorded-runs-dev.jsonl.gz
  std::string peers_dir;  // where shared/ is found, as for the other benchmarks
  int rounds = 10;
  size_t tasks = 0;      // only the first N tasks (0: all)
  int workers = 0;       // sandboxes (0: one per core)
  std::string work_dir;  // the repository the library and ledger live in; default temp
  bool keep_work_dir = false;
  // Probabilities (the router's calibrated confidence), tuned on the dev tasks.
  double student_confidence = 0.7, premium_confidence = 0.9, learn_confidence = 0.95;
  double novelty_similarity = 0.9;
  int open_samples = 3, premium_samples = 1;
  // How the router sees requests: the trained encoder (the work directory's own, else the
  // base one), the request view it starts from, or their words hashed (the old baseline).
  RequestViewKind view = RequestViewKind::encoder;
  // The router's calibration: a file of knots, "none" (scores are probabilities), or
  // empty for the one built in.
  std::string calibration;
  // Also fit a calibration on this run's answers against the hidden tests and write it
  // here (the router of this run never sees it).
  std::string fit_calibration;
  // HumanEval+ inputs and references, to score the learned entries more strictly;
  // default: shared/data/humaneval/HumanEvalPlus-dev.jsonl.gz.
  std::string plus;
  // Cross-fitting (bench cascade only): the tasks split into this many folds by id, each
  // routed with a calibration and stopping thresholds fitted on the other folds' ladder
  // trace; 0 or 1: one in-sample run with `calibration` and `premium_confidence`.
  size_t folds = 5;
  // The fitted thresholds pass at least the full ladder's share of the training tasks less
  // this much, at the least cost.
  double pass_slack = 0.02;
  bool progress = true;  // a line per round on stderr
  // For tests: the validator the router uses (default: a pool of its own) and the HTTP
  // transport of the teacher clients (default: real HTTP to the replay server).
  validator::Validator* router_validator = nullptr;
  std::shared_ptr<teacher::Transport> transport;
};

struct CascadeRound {
  int round = 0;
  size_t requests = 0, passed = 0, answered = 0, teacher_calls = 0, avoided_calls = 0;
  double cost_usd = 0, gpt4_cost_usd = 0;
  std::map<std::string, size_t> by_tier;  // "student", "open_local", "premium", "none"
  size_t library_entries = 0;
};

// A baseline's answers to the bench's requests, computed from the same recordings the
// router was replayed: how many requests, how many answers pass the hidden tests
// (recorded_result), what they cost and what gpt-4 alone costs over the same requests.
struct BaselineFigures {
  size_t requests = 0, passed = 0;
  double cost_usd = 0, gpt4_cost_usd = 0;
  double failed_cost_usd = 0;  // of cost_usd, what was paid for requests that failed
};

struct CascadeBaseline {
  BaselineFigures round1, all;
};

// What other ways of answering the same requests from the same recordings would have
// scored (src/bench/cascade_baselines.cpp says how each is computed).
struct CascadeBaselines {
  CascadeBaseline gpt4_alone;        // gpt-4's recorded run, paid
  CascadeBaseline gpt4_exact_cache;  // gpt-4 behind an exact-match cache of example passes
  CascadeBaseline cheapest_first;    // codellama, gpt-3.5, gpt-4 until one passes the examples
  CascadeBaseline oracle;            // the cheapest model that passes the hidden tests
};

// One fold of a cross-fitted run: what was fitted on the other folds and how it did there
// and, simulated from the trace, on its own tasks.
struct CascadeFold {
  size_t fold = 0, tasks = 0, train_tasks = 0;
  std::vector<double> stops;  // thresholds before rung 1, 2, ... (2: never stop)
  double train_pass_rate = 0, train_full_pass_rate = 0, train_cost_vs_full = 0;
};

struct CascadeBenchResult {
  size_t folds = 0;  // 0: in-sample (calibration and thresholds as given)
  std::vector<CascadeFold> fold_fits;
  // The ladder trace (round 1, every teacher asked), and the same requests routed offline
  // by each fold's fit: round 1 as the trace predicts it.
  BaselineFigures full_ladder, simulated_round1;
  std::vector<CascadeRound> rounds;
  CascadeRound round1, later, all;  // round 1, rounds 2..N, every round
  double gpt4_pass_rate = 0;        // gpt-4 alone on the same requests (recorded results)
  // Learned library entries (valid, not pending, not avoid, stored for a task's prompt),
  // those that pass the hidden tests, the tasks they answer, and the same entries on the
  // HumanEval+ inputs (those of tasks the --plus file has).
  size_t learned = 0, learned_passing = 0, learned_tasks = 0;
  size_t learned_plus_scored = 0, learned_plus_passed = 0;
  size_t pending = 0, pending_passing = 0;   // answers kept as evidence, not learned
  std::vector<std::string> learned_failing;  // "HumanEval/12 gpt-4 0.91": what was wrong
  std::vector<std::string> never_answered;   // tasks no round answered
  // The router's pass-probability head, scored prequentially on every candidate's outcome
  // (passed what ran here) beside each source's running pass rate.
  size_t pass_outcomes = 0;
  double pass_head_brier = 0, source_rate_brier = 0;
  // The router's confidence in its answers against the hidden tests (scored here only):
  // mean confidence, pass rate, Brier score and expected calibration error (10 bins),
  // for all answers and for the library entries the student reused (its own score).
  struct Calibration {
    size_t answers = 0;
    double mean_confidence = 0, pass_rate = 0, brier = 0, ece = 0;
  };
  Calibration calibration, student_calibration;
  // Out of sample: each half of the tasks scored by a calibration fitted on the other
  // half's answers, for what a calibration fitted on these tasks does on new ones.
  Calibration cross_fitted;
  CascadeBaselines baselines;
  std::string fitted_calibration;  // --fit-calibration: the file written
  double seconds = 0;
  std::string work_dir;
  std::string table;
  std::string json_line;
};

Result<CascadeBenchResult> run_cascade_bench(const CascadeBenchOptions& options);

// `yantra bench generalize`: does what the loop learned answer the same tasks asked in
// other words? Learn: the dev tasks through the cascade, as `bench cascade` runs them.
// Ask: each ReCode set (the same tasks reworded, retyped, commented, renamed) once, from a
// copy of the learned state, the replay server answering a reworded prompt with its task's
// recordings (the function renamed by a whole-word rename where the set renames it).
// Cross-task: learn the first half of the tasks, ask the second half. Every answer is
// scored afterwards, on the hidden tests and on HumanEval+ inputs, beside an exact-match
// cache; the router sees prompts only.
struct GeneralizeBenchOptions {
  // As for bench cascade: problems, runs, peers_dir, tasks, workers, the router's thresholds,
  // calibration and samples, progress and the test hooks; `rounds` are the learn phase's
  // rounds (default 3). Its work_dir, keep_work_dir, fit_calibration and plus are not used
  // (`plus` below is).
  CascadeBenchOptions cascade = [] {
    CascadeBenchOptions o;
    o.rounds = 3;
    return o;
  }();
  std::string sets_dir;  // every *.jsonl.gz in it; default: shared/data/recode
  std::string plus;      // default: shared/data/humaneval/HumanEvalPlus-dev.jsonl.gz
  bool cross_task = true;
  // Each set asked a second time with the hashed view of requests, as the baseline.
  bool hashed_baseline = true;
  // Holds learn/, sets/NAME/ (copies of learn/) and cross/; default: a temporary directory,
  // removed afterwards unless keep_work_dir.
  std::string work_dir;
  bool keep_work_dir = false;
};

struct GeneralizeSet {
  std::string name;  // the file name without humaneval_ and -dev.jsonl.gz
  size_t requests = 0;
  size_t learned_requests = 0;  // requests whose nominal task has a learned library entry
  size_t renamed = 0;           // requests that ask for another function name
  // Renamed tasks whose test also calls the nominal name, scored with it bound to the answer.
  std::vector<std::string> tests_aliased;
  size_t student = 0, student_learned = 0, student_passed = 0;
  // Student answers of requests that called no teacher (fewer where the router credits the
  // student with an earlier answer that rejoined the candidates after a teacher call).
  size_t student_alone = 0;
  size_t student_plus_scored = 0, student_plus_passed = 0;  // HumanEval+ (tasks it covers)
  // An exact-match cache of the learned answers: the request's text is, byte for byte, the
  // prompt of a task with a learned entry.
  size_t exact = 0, exact_passed = 0, exact_plus_scored = 0, exact_plus_passed = 0;
  // Student answers reusing the entry of another task than the request's (right or not).
  size_t student_other_task = 0, student_other_task_passed = 0;
  // Each student answer that fails the hidden tests or HumanEval+, and the entry it reused.
  struct Miss {
    std::string task;
    int64_t entry = 0;
    std::string entry_task;      // the task the entry was stored for; empty: none of these
    bool entry_pending = false;  // kept as evidence, not learned
    bool hidden_failed = false, plus_failed = false;
  };
  std::vector<Miss> misses;
  CascadeRound round;         // pass rate, cost against gpt-4 alone, tiers
  double student_p50_ms = 0;  // the router's time for the student's answers, in-process
  // The same round asked again, from the same learned state, with the hashed view.
  struct Baseline {
    bool ran = false;
    size_t student = 0, student_learned = 0, student_passed = 0;
    size_t student_plus_scored = 0, student_plus_passed = 0;
    CascadeRound round;
  } hashed;
};

struct GeneralizeCross {
  bool ran = false;
  size_t learned_on = 0, learned_tasks = 0;  // tasks of half A, and those with an entry
  size_t requests = 0, student_answers = 0, false_answers = 0;  // half B
  CascadeRound round;
};

struct GeneralizeBenchResult {
  int learn_rounds = 0;
  size_t tasks = 0, learned_tasks = 0;      // tasks with a learned entry after the learn phase
  size_t learned = 0, learned_passing = 0;  // learned entries, and those that pass
  size_t learned_plus_scored = 0, learned_plus_passed = 0;  // the same on HumanEval+
  std::vector<CascadeRound> learn;                          // one per learn round
  std::string view;                                         // "encoder", "view" or "hashed"
  size_t encoder_requests = 0;  // the encoder's fine-tuning after the learn phase
  std::vector<double> encoder_losses;
  std::vector<GeneralizeSet> sets;  // by name
  GeneralizeCross cross;
  size_t student_timed = 0;   // student answers over every set
  double student_p50_ms = 0;  // their median time
  double seconds = 0;
  std::string work_dir;
  std::string table;
  std::string json_line;
};

Result<GeneralizeBenchResult> run_generalize_bench(const GeneralizeBenchOptions& options);

// `yantra bench student`: `yantra index` + `yantra train` beside gold_graph.py +
// sage_ref.py on the same corpus and machine, each at its own defaults (fan-outs 10/5/2;
// yantra 2,048 calls per batch and 2 negatives, the peer 1,024 and 1), as processes.
struct StudentBenchOptions {
  std::string corpus = "/usr/lib/python3.11";
  std::string yantra_binary;  // default: this process's own executable
  std::string peers_dir;
  std::string python = "/usr/bin/python3";
  std::string work_dir;  // default: a fresh temporary directory, removed afterwards
  int epochs = 2;
  bool run_peer = true;
};

struct StudentSide {
  Measured train;            // the training process (its peak RSS)
  double epoch_seconds = 0;  // median over epochs
  double hits_at_10 = 0, mrr = 0, in_degree_hits_at_10 = 0, in_degree_mrr = 0;
  size_t test_calls = 0;
  // Inference: one function from a sampled 10/5/2 neighbourhood; every node at once.
  double infer_p50_ms = 0, infer_p99_ms = 0, full_graph_seconds = 0;
  uint64_t model_bytes = 0;  // the checkpoint on disk (yantra only; 0: not measured)
};

struct StudentBenchResult {
  int epochs = 0;
  StudentSide yantra, peer;  // peer.train.ran false: not run (see not_run)
  double epoch_ratio = 0;    // peer epoch / yantra epoch: above 1, yantra is faster
  double p99_ratio = 0;      // peer p99 / yantra p99 of single-function inference
  std::string table;
  std::string json_line;
};

Result<StudentBenchResult> run_student_bench(const StudentBenchOptions& options);

}  // namespace yantra::bench

namespace yantra::bench {

// `yantra bench crowd`: the aggregation server on loopback, `clients` concurrent uploaders
// (pattern batches and small weight deltas, aggregation on) for `seconds`, once per
// storage backend: SQLite, and PostgreSQL when its binaries are installed.
// A small model (a few KB encoded) with a real one's layout, names and shapes: what the
// benchmark and the server tests upload, so that they measure the server, not the network.
crowd::Weights synthetic_weights(uint32_t seed, float scale);

struct CrowdBenchOptions {
  double seconds = 10;
  int clients = 50;
  size_t min_clients = 10;  // the server aggregates once this many users sent deltas
};

struct CrowdBackendResult {
  std::string backend;
  bool ran = false;
  std::string not_run;  // why not, for the table and the JSON line
  uint64_t uploads = 0, pattern_uploads = 0, delta_uploads = 0, stale = 0, errors = 0;
  uint64_t versions = 0;
  double seconds = 0, uploads_per_s = 0, p50_ms = 0, p99_ms = 0;
};

struct CrowdBenchResult {
  std::vector<CrowdBackendResult> backends;
  std::string table;
  std::string json_line;
};

Result<CrowdBenchResult> run_crowd_bench(const CrowdBenchOptions& options);

}  // namespace yantra::bench
