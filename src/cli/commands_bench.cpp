// `yantra bench ...`: each benchmark runs beside its peers on this machine and prints a
// table, then one JSON line (`--json`: the JSON line alone).
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "bench/bench.h"
#include "cli/cli.h"

namespace yantra::cli {
namespace {

struct BenchIndexArgs {
  bench::IndexBenchOptions options;
  bool json_out = false, no_gold = false, no_ctags = false;
};

Handler declare_bench_index(CLI::App& app) {
  auto a = std::make_shared<BenchIndexArgs>();
  bench::IndexBenchOptions& o = a->options;
  app.add_option("path", o.corpus, "Python tree to index (default: /usr/lib/python3.11)")
      ->envname("YANTRA_BENCH_CORPUS");
  app.add_flag("--json", a->json_out, "print only the JSON line");
  app.add_flag("--no-gold", a->no_gold, "skip the reference graph (gold_graph.py) and accuracy");
  app.add_flag("--no-ctags", a->no_ctags, "skip ctags -R");
  app.add_option("--peers", o.peers_dir,
                 "directory of the peer scripts (default: shared/peers beside an ancestor of "
                 "the yantra binary)")
      ->envname("YANTRA_PEERS");
  app.add_option("--work", o.work_dir,
                 "keep the copied corpus, store and peer outputs in DIR (default: a temporary "
                 "directory, removed)")
      ->envname("YANTRA_BENCH_WORK");
  app.add_option("--repeat", o.repeat,
                 "take each measurement N times and keep the fastest (noise only adds time)")
      ->envname("YANTRA_BENCH_REPEAT")
      ->check(CLI::Range(1, 100));
  app.add_option("--python", o.python, "Python for the peer scripts (default: /usr/bin/python3)")
      ->envname("YANTRA_PYTHON");
  app.add_option("--ctags", o.ctags, "universal-ctags binary (default: ctags from PATH)")
      ->envname("YANTRA_CTAGS");
  return [a] {
    a->options.run_gold = !a->no_gold;
    a->options.run_ctags = !a->no_ctags;
    bench::IndexBenchResult r = bench::run_index_bench(a->options).take();
    if (!a->json_out) std::cout << r.table << "\n";
    std::cout << r.json_line << "\n";
    return 0;
  };
}

struct BenchValidateArgs {
  bench::ValidateBenchOptions options;
  bool json_out = false, no_peer = false;
};

Handler declare_bench_validate(CLI::App& app) {
  auto a = std::make_shared<BenchValidateArgs>();
  bench::ValidateBenchOptions& o = a->options;
  app.add_option("--problems", o.problems,
                 "HumanEval problems, JSONL.gz (default: shared/data/humaneval/HumanEval-dev)")
      ->envname("YANTRA_BENCH_PROBLEMS");
  app.add_option("--runs", o.runs,
                 "recorded answers, JSONL.gz (default: shared/data/humaneval/recorded-runs-dev)")
      ->envname("YANTRA_BENCH_RUNS");
  app.add_option("--peers", o.peers_dir, "directory of the peer scripts")->envname("YANTRA_PEERS");
  app.add_option("--workers", o.workers, "sandboxes, and peer workers (default: one per core)")
      ->envname("YANTRA_WORKERS")
      ->check(CLI::Range(1, 256));
  app.add_option("--timeout", o.timeout_seconds,
                 "seconds per run: CPU time here, wall clock in the peer (its 3 s)")
      ->envname("YANTRA_VALIDATE_TIMEOUT")
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--limit", o.limit, "validate only the first N answers (no peer then)");
  app.add_option("--python", o.python, "Python for the peer (default: /usr/bin/python3)")
      ->envname("YANTRA_PYTHON");
  app.add_option("--before", o.before,
                 "a file ending with the JSON line of an earlier run on this machine (another "
                 "build): its figures are printed beside")
      ->envname("YANTRA_BENCH_BEFORE");
  app.add_flag("--no-peer", a->no_peer, "skip exec_peer.py");
  app.add_flag("--json", a->json_out, "print only the JSON line");
  return [a] {
    a->options.run_peer = !a->no_peer;
    bench::ValidateBenchResult r = bench::run_validate_bench(a->options).take();
    if (!a->json_out) std::cout << r.table << "\n";
    std::cout << r.json_line << "\n";
    return r.agreement == r.executions ? 0 : 1;
  };
}

struct BenchCascadeArgs {
  bench::CascadeBenchOptions options;
  bool json_out = false;
};

// What bench cascade and bench generalize share: the recorded data, the sandboxes and the
// router's settings.
void declare_cascade_router(CLI::App& app, bench::CascadeBenchOptions& o) {
  app.add_option("--problems", o.problems,
                 "HumanEval problems, JSONL.gz (default: shared/data/humaneval/HumanEval-dev)")
      ->envname("YANTRA_BENCH_PROBLEMS");
  app.add_option("--runs", o.runs,
                 "recorded answers the replay server serves (default: shared/data/humaneval/"
                 "recorded-runs-dev)")
      ->envname("YANTRA_BENCH_RUNS");
  app.add_option("--peers", o.peers_dir, "directory of the peer scripts (shared/ beside it)")
      ->envname("YANTRA_PEERS");
  app.add_option("--workers", o.workers, "the router's sandboxes (default: one per core)")
      ->envname("YANTRA_WORKERS")
      ->check(CLI::Range(1, 256));
  app.add_option("--student-confidence", o.student_confidence,
                 "the student answers at or above this (default 0.7)")
      ->envname("YANTRA_BENCH_STUDENT_CONFIDENCE")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--premium-confidence", o.premium_confidence,
                 "premium teachers are asked below this probability (default 0.9; bench cascade "
                 "fits its own per fold unless --folds 0)")
      ->envname("YANTRA_BENCH_PREMIUM_CONFIDENCE")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--learn-confidence", o.learn_confidence,
                 "answers at least this likely to pass become library entries (default 0.95)")
      ->envname("YANTRA_BENCH_LEARN_CONFIDENCE")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--calibration", o.calibration,
                 "the router's score-to-probability map: a JSON file, or none (default: built in; "
                 "bench cascade needs --folds 0 with it)")
      ->envname("YANTRA_CALIBRATION");
  app.add_option("--open-samples", o.open_samples, "samples per open-source call (default 3)")
      ->envname("YANTRA_BENCH_OPEN_SAMPLES")
      ->check(CLI::Range(1, 10));
  static const std::map<std::string, bench::RequestViewKind> kViews = {
      {"encoder", bench::RequestViewKind::encoder},
      {"view", bench::RequestViewKind::view},
      {"hashed", bench::RequestViewKind::hashed}};
  app.add_option("--view", o.view,
                 "how the router compares requests: encoder (trained, the default), view (the "
                 "request view it starts from) or hashed (hashed words, the old baseline)")
      ->envname("YANTRA_BENCH_VIEW")
      ->transform(CLI::CheckedTransformer(kViews, CLI::ignore_case));
}

// HumanEval+ for the learned entries' stricter precision: bench cascade and bench generalize.
void declare_plus(CLI::App& app, std::string& plus) {
  app.add_option("--plus", plus,
                 "HumanEval+ inputs and references for the learned entries' stricter precision "
                 "(default: shared/data/humaneval/HumanEvalPlus-dev)")
      ->envname("YANTRA_BENCH_PLUS");
}

Handler declare_bench_cascade(CLI::App& app) {
  auto a = std::make_shared<BenchCascadeArgs>();
  bench::CascadeBenchOptions& o = a->options;
  declare_cascade_router(app, o);
  app.add_option("--rounds", o.rounds, "rounds over every task (default: 10)")
      ->envname("YANTRA_BENCH_ROUNDS")
      ->check(CLI::Range(1, 100));
  app.add_option("--tasks", o.tasks, "only the first N tasks (default: all)")
      ->envname("YANTRA_BENCH_TASKS");
  app.add_option("--work-dir", o.work_dir,
                 "repository directory for the library and ledger (default: a temporary one)");
  app.add_flag("--keep", o.keep_work_dir, "keep the temporary library and ledger");
  app.add_option("--fit-calibration", o.fit_calibration,
                 "also fit a calibration on this run's answers (hidden tests) and write it here");
  app.add_option("--folds", o.folds,
                 "cross-fit: route each of N folds of tasks (by id) with a calibration and "
                 "thresholds fitted on the other folds only; 0: one in-sample run with "
                 "--calibration and --premium-confidence (default 5)")
      ->envname("YANTRA_BENCH_FOLDS")
      ->check(CLI::Range(0, 110));
  app.add_option("--pass-slack", o.pass_slack,
                 "cross-fitting: the thresholds of least cost that pass at least the whole "
                 "ladder's share of the training tasks less this (default 0.02)")
      ->envname("YANTRA_BENCH_PASS_SLACK")
      ->check(CLI::Range(0.0, 1.0));
  declare_plus(app, o.plus);
  app.add_flag("--json", a->json_out, "print only the JSON line");
  return [a] {
    bench::CascadeBenchResult r = bench::run_cascade_bench(a->options).take();
    if (!a->json_out) std::cout << r.table << "\n";
    std::cout << r.json_line << "\n";
    return 0;
  };
}

struct BenchGeneralizeArgs {
  bench::GeneralizeBenchOptions options;
  bool json_out = false, no_cross_task = false, no_hashed_baseline = false;
};

// bench generalize's learn phase: bench cascade's router over fewer rounds.
void declare_generalize_router(CLI::App& app, bench::CascadeBenchOptions& o) {
  declare_cascade_router(app, o);
  app.add_option("--learn-rounds", o.rounds,
                 "rounds over every task before the reworded sets are asked (default: 3)")
      ->envname("YANTRA_BENCH_LEARN_ROUNDS")
      ->check(CLI::Range(1, 100));
  app.add_option("--tasks", o.tasks,
                 "only the first N tasks, learned and asked in every set (default: all)")
      ->envname("YANTRA_BENCH_TASKS");
}

Handler declare_bench_generalize(CLI::App& app) {
  auto a = std::make_shared<BenchGeneralizeArgs>();
  bench::GeneralizeBenchOptions& o = a->options;
  declare_generalize_router(app, o.cascade);
  app.add_option("--sets", o.sets_dir,
                 "directory of reworded sets, every *.jsonl.gz in it with HumanEval's fields, "
                 "matched to the learned tasks by task_id (default: shared/data/recode)")
      ->envname("YANTRA_BENCH_SETS");
  declare_plus(app, o.plus);
  app.add_option("--work-dir", o.work_dir,
                 "where the learned state (learn/), its copies (sets/NAME/) and the cross-task "
                 "state (cross/) go; those three are replaced (default: a temporary directory, "
                 "removed)")
      ->envname("YANTRA_BENCH_WORK_DIR");
  app.add_flag("--keep", o.keep_work_dir, "keep the temporary work directory")
      ->envname("YANTRA_BENCH_KEEP");
  app.add_flag("--no-cross-task", a->no_cross_task,
               "skip learning half the tasks and asking the other half")
      ->envname("YANTRA_BENCH_NO_CROSS_TASK");
  app.add_flag("--no-hashed-baseline", a->no_hashed_baseline,
               "skip asking each set again with the hashed view of requests (the baseline)")
      ->envname("YANTRA_BENCH_NO_HASHED_BASELINE");
  app.add_flag("--json", a->json_out, "print only the JSON line")->envname("YANTRA_BENCH_JSON");
  return [a] {
    a->options.cross_task = !a->no_cross_task;
    a->options.hashed_baseline = !a->no_hashed_baseline;
    bench::GeneralizeBenchResult r = bench::run_generalize_bench(a->options).take();
    if (!a->json_out) std::cout << r.table << "\n";
    if (a->options.keep_work_dir) std::cerr << "yantra bench: kept " << r.work_dir << "\n";
    std::cout << r.json_line << "\n";
    return 0;
  };
}

struct BenchStudentArgs {
  bench::StudentBenchOptions options;
  bool json_out = false;
};

Handler declare_bench_student(CLI::App& app) {
  auto a = std::make_shared<BenchStudentArgs>();
  bench::StudentBenchOptions& o = a->options;
  app.add_option("--corpus", o.corpus,
                 "Python tree to index and train on (default: CPython's stdlib)")
      ->envname("YANTRA_BENCH_CORPUS");
  app.add_option("--epochs", o.epochs, "epochs on each side (default 2)")
      ->envname("YANTRA_EPOCHS")
      ->check(CLI::Range(1, 50));
  app.add_option("--peers", o.peers_dir, "directory of the peer scripts")->envname("YANTRA_PEERS");
  app.add_option("--python", o.python, "the peer's interpreter (default /usr/bin/python3)")
      ->envname("YANTRA_BENCH_PYTHON");
  app.add_option("--work-dir", o.work_dir,
                 "where the graphs and models go (default: a temporary "
                 "directory, removed afterwards)");
  app.add_flag("!--no-peer", o.run_peer, "run yantra alone");
  app.add_flag("--json", a->json_out, "print only the JSON line");
  return [a] {
    bench::StudentBenchResult r = bench::run_student_bench(a->options).take();
    if (!a->json_out) std::cout << r.table << "\n";
    std::cout << r.json_line << "\n";
    return 0;
  };
}

struct BenchCrowdArgs {
  bench::CrowdBenchOptions options;
  bool json_out = false;
};

Handler declare_bench_crowd(CLI::App& app) {
  auto a = std::make_shared<BenchCrowdArgs>();
  bench::CrowdBenchOptions& o = a->options;
  app.add_option("--seconds", o.seconds, "seconds of uploads per storage backend (default 10)")
      ->envname("YANTRA_BENCH_SECONDS")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--clients", o.clients, "concurrent clients on loopback (default 50)")
      ->envname("YANTRA_BENCH_CLIENTS")
      ->check(CLI::Range(1, 1000));
  app.add_option("--min-clients", o.min_clients,
                 "the server aggregates once this many users sent deltas (default 10)")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  app.add_flag("--json", a->json_out, "print only the JSON line");
  return [a] {
    bench::CrowdBenchResult r = bench::run_crowd_bench(a->options).take();
    if (!a->json_out) std::cout << r.table << "\n";
    std::cout << r.json_line << "\n";
    return 0;
  };
}

struct Bench {
  const char* name;
  const char* help;
  Handler (*declare)(CLI::App& app);
};

// One entry per `yantra bench NAME`.
constexpr Bench kBenches[] = {
    {"index", "index a Python tree cold and incrementally, beside gold_graph.py and ctags",
     declare_bench_index},
    {"validate", "validate the recorded HumanEval answers in the sandbox, beside exec_peer.py",
     declare_bench_validate},
    {"cascade", "HumanEval dev tasks round after round through the router, replayed teachers",
     declare_bench_cascade},
    {"generalize",
     "learn the HumanEval dev tasks, then ask them reworded (ReCode) and ask unlearned ones: "
     "student share and precision beside an exact-match cache",
     declare_bench_generalize},
    {"student", "train the student beside sage_ref.py on the same corpus: epoch time, Hits@10, MRR",
     declare_bench_student},
    {"crowd", "the crowd server's uploads/s and p99 latency, SQLite and PostgreSQL storage",
     declare_bench_crowd},
};

}  // namespace

Handler declare_bench(CLI::App& app) {
  app.require_subcommand(1);
  auto handlers = std::make_shared<std::map<std::string, Handler>>();
  for (const Bench& b : kBenches)
    (*handlers)[b.name] = b.declare(*app.add_subcommand(b.name, b.help));
  CLI::App* self = &app;
  return [handlers, self] { return handlers->at(self->get_subcommands().front()->get_name())(); };
}

}  // namespace yantra::cli
