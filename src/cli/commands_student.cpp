// `yantra train`, `yantra predict`, `yantra eval`: the student network on a repository's
// code graph (REPO/.yantra/graph.db), its model under REPO/.yantra/student/.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/cli.h"
#include "graph/graph.h"
#include "labels/labels.h"
#include "student/student.h"

namespace yantra::cli {
namespace {

namespace s = yantra::student;

struct StudentArgs {
  std::string repo = ".", store;
  bool encoder = false;  // train: the request encoder instead of the network
  EncoderArgs encoder_args;
  s::StudentOptions options;
  bool pylint = true;
  std::string name;
  size_t top = 10;
  size_t timing = 0;  // eval: single-function inferences to time
  bool json_out = false;
  std::string graph_path() const {
    return (store.empty() ? repo + "/.yantra" : store) + "/graph.db";
  }
  std::string model_dir() const { return (store.empty() ? repo + "/.yantra" : store) + "/student"; }
};

void add_common(CLI::App& app, StudentArgs& a) {
  app.add_option("--repo", a.repo, "indexed repository (default: the current directory)")
      ->envname("YANTRA_REPO");
  app.add_option("--store", a.store, "directory of the graph store (default: REPO/.yantra)")
      ->envname("YANTRA_STORE");
  app.add_flag("--json", a.json_out, "print JSON");
}

void add_labels(CLI::App& app, StudentArgs& a) {
  app.add_flag("--pylint,!--no-pylint", a.pylint,
               "label bug kinds with pylint too (slow; cached per file) beside pyflakes")
      ->envname("YANTRA_PYLINT");
}

s::GraphData load_graph_or_fail(const StudentArgs& a) {
  if (!std::filesystem::exists(a.graph_path()))
    throw FatalError(a.graph_path() + ": no code graph; run `yantra index " + a.repo + "` first");
  return s::load_graph(a.graph_path()).take();
}

// Test kinds and bug kinds from the repository's tests and its analysers (cached in
// labels.db). Without them the next-call and import heads still learn, so a failure is
// said plainly and the command goes on.
std::optional<yantra::labels::LabelReport> extract_labels_or_warn(const StudentArgs& a) {
  yantra::labels::LabelOptions o;
  o.root = a.repo, o.store_dir = a.store, o.pylint = a.pylint, o.progress = !a.json_out;
  // With only --store given, the sources are where that store's graph was indexed from.
  if (!a.store.empty() && a.repo == ".")
    if (auto graph = yantra::graph::GraphReader::open(a.graph_path()); graph)
      if (std::string root = graph->stats().root; !root.empty()) o.root = root;
  auto report = yantra::labels::extract_labels(o);
  if (!report) {
    std::cerr << report.error().message
              << "\n(the test-kind and bug-kind heads get no labels this time)\n";
    return std::nullopt;
  }
  for (const Error& e : report->problems) std::cerr << e.message << "\n";
  return std::move(*report);
}

std::string fixed(double v, int d = 4) {
  return format_fixed(v, d);
}

void print_eval(const s::EvalReport& r) {
  Table t({"next call (100 negatives)", "Hits@10", "MRR", "queries"});
  auto row = [&](const char* name, const s::RankMetrics& m) {
    t.add({name, fixed(m.hits_at_10), fixed(m.mrr), std::to_string(m.queries)});
  };
  row("student", r.next_call);
  row("student, embeddings only", r.next_call_embedding_only);
  row("baseline: in-degree", r.next_call_in_degree);
  row("baseline: co-occurrence", r.next_call_cooccurrence);
  std::cout << t.render() << "\n";
  Table imports({"imports (held-out files)", "P@5", "R@5", "F1", "functions"});
  auto set_row = [&](const char* name, const s::SetMetrics& m) {
    imports.add({name, fixed(m.precision_at_5), fixed(m.recall_at_5), fixed(m.f1),
                 std::to_string(m.queries)});
  };
  set_row("student (blind)", r.imports);
  set_row("baseline: frequency", r.imports_frequency);
  set_row("baseline: the module's imports, by frequency", r.imports_file_frequency);
  std::cout << imports.render() << "\n";
  Table kinds({"kinds (held-out files)", "micro-F1", "AUROC", "functions", "positives"});
  auto kind_row = [&](const char* name, const s::KindMetrics& m) {
    kinds.add({name, fixed(m.micro_f1), fixed(m.auroc), std::to_string(m.functions),
               std::to_string(m.positives)});
  };
  kind_row("test kinds: student (body)", r.test_kinds);
  kind_row("test kinds: label priors", r.test_kinds_prior);
  kind_row("bug kinds: student (blind)", r.bug_kinds);
  kind_row("bug kinds: label priors", r.bug_kinds_prior);
  std::cout << kinds.render();
}

int run_train(const StudentArgs& a) {
  s::GraphData graph = load_graph_or_fail(a);
  s::StudentOptions o = a.options;
  o.progress = !a.json_out;
  auto labels = extract_labels_or_warn(a);
  s::TrainReport r = s::train_student(graph, o, a.model_dir(), labels ? &*labels : nullptr).take();
  if (a.json_out) {
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& e : r.epochs)
      epochs.push_back({{"epoch", e.epoch},
                        {"loss", e.loss},
                        {"seconds", e.seconds},
                        {"validation_mrr", e.validation_mrr}});
    std::cout << nlohmann::json{{"checkpoint", r.checkpoint},         {"best_epoch", r.best_epoch},
                                {"parameters", r.parameters},         {"epochs", epochs},
                                {"train_calls", r.train_calls},       {"test_calls", r.test_calls},
                                {"eval", s::eval_report_json(r.eval)}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "trained on " << std::to_string(r.train_calls) << " calls; best epoch "
            << r.best_epoch << "; " << std::to_string(r.parameters) << " parameters\n"
            << "model: " << r.checkpoint << "\n\n";
  print_eval(r.eval);
  return 0;
}

std::string model_path_or_fail(const StudentArgs& a) {
  std::string path = a.model_dir() + "/model.pt";
  if (!std::filesystem::exists(path))
    throw FatalError(path + ": no trained student; run `yantra train` first");
  return path;
}

// NAME is looked up as `yantra graph show` looks it up, so the errors are the same: the
// candidates when it is ambiguous, the nearest name when nothing matches.
int32_t node_to_predict(const StudentArgs& a, const s::GraphData& graph) {
  auto reader = yantra::graph::GraphReader::open(a.graph_path());
  if (!reader) throw FatalError(reader.error().message);
  auto found = reader->find_one(a.name);
  if (!found) throw FatalError("predict: " + found.error().message);
  if (found->kind == "external")
    throw FatalError("predict: '" + found->qname +
                     "' is outside the repository (an imported or unresolved name); the student "
                     "predicts for the repository's own functions");
  int32_t node = graph.find(found->qname);
  if (node < 0) throw FatalError("predict: '" + found->qname + "' is not in the loaded graph");
  return node;
}

int run_predict(const StudentArgs& a) {
  s::GraphData graph = load_graph_or_fail(a);
  int32_t node = node_to_predict(a, graph);
  s::Student student = s::Student::load(model_path_or_fail(a), graph).take();
  s::Prediction p = student.predict(node, a.top).take();
  if (a.json_out) {
    auto list = [](const std::vector<s::Scored>& v, const char* key) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& c : v) out.push_back({{key, c.label}, {"p", c.p}});
      return out;
    };
    std::cout << nlohmann::json{{"qname", p.qname},
                                {"calls", list(p.calls, "qname")},
                                {"imports", list(p.imports, "qname")},
                                {"test_kinds", list(p.test_kinds, "kind")},
                                {"bug_kinds", list(p.bug_kinds, "kind")},
                                {"seconds", p.seconds}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << p.qname << " (" << format_fixed(p.seconds * 1e3, 2) << " ms)\n";
  auto print = [](const char* title, const std::vector<s::Scored>& v, size_t most) {
    Table t({title, "p"});
    for (size_t i = 0; i < v.size() && i < most; ++i) t.add({v[i].label, fixed(v[i].p, 3)});
    std::cout << t.render() << "\n";
  };
  print("likely call", p.calls, a.top);
  print("likely import", p.imports, 5);
  print("test kind it needs", p.test_kinds, 5);
  print("bug kind it risks", p.bug_kinds, 5);
  return 0;
}

int run_eval(const StudentArgs& a) {
  s::GraphData graph = load_graph_or_fail(a);
  s::Student student = s::Student::load(model_path_or_fail(a), graph).take();
  auto labels = extract_labels_or_warn(a);
  s::EvalReport r = student.evaluate(a.options.seed, labels ? &*labels : nullptr).take();
  // The pass-probability head learns online from `yantra generate`; its calibration is
  // measured on each outcome before it learned from it.
  std::optional<s::PassCalibration> pass;
  std::string pass_path = a.model_dir() + "/pass_head.pt";
  if (std::filesystem::exists(pass_path))
    pass = s::OnlineLearner::open(pass_path, {}).take().calibration();
  std::optional<s::InferenceTiming> timing;
  if (a.timing > 0) timing = student.time_inference(a.timing, a.options.seed).take();
  if (a.json_out) {
    nlohmann::json j = s::eval_report_json(r);
    if (timing)
      j["inference"] = {{"queries", timing->queries},
                        {"p50_ms", timing->p50_ms},
                        {"p99_ms", timing->p99_ms},
                        {"mean_ms", timing->mean_ms},
                        {"full_graph_s", timing->full_graph_seconds}};
    if (pass)
      j["pass_probability"] = {{"outcomes", pass->outcomes},
                               {"mean_p", pass->mean_p},
                               {"pass_rate", pass->pass_rate},
                               {"brier", pass->brier},
                               {"ece", pass->ece}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  print_eval(r);
  if (timing) {
    Table t({"inference", "queries", "p50 ms", "p99 ms", "mean ms", "full graph s"});
    t.add({"one function, sampled neighbourhood", std::to_string(timing->queries),
           fixed(timing->p50_ms, 2), fixed(timing->p99_ms, 2), fixed(timing->mean_ms, 2),
           fixed(timing->full_graph_seconds, 2)});
    std::cout << "\n" << t.render();
  }
  if (pass) {
    Table t({"pass probability (prequential)", "outcomes", "mean p", "pass rate", "Brier", "ECE"});
    t.add({"pass head", std::to_string(pass->outcomes), fixed(pass->mean_p), fixed(pass->pass_rate),
           fixed(pass->brier), fixed(pass->ece)});
    std::cout << "\n" << t.render();
  } else {
    std::cout << "\npass probability: no outcomes yet (" << pass_path
              << " appears after `yantra generate`)\n";
  }
  return 0;
}

}  // namespace

Handler declare_train(CLI::App& app) {
  auto a = std::make_shared<StudentArgs>();
  add_common(app, *a);
  add_labels(app, *a);
  auto& o = a->options;
  app.add_option("--node-batch", o.node_batch,
                 "labelled functions per step for the import, test-kind and bug-kind heads")
      ->envname("YANTRA_NODE_BATCH");
  app.add_option("--tested-batch", o.tested_batch,
                 "tested functions per step for the test-kind head (drawn apart: they are few)")
      ->envname("YANTRA_TESTED_BATCH");
  app.add_flag("--curriculum,!--no-curriculum", o.curriculum,
               "first epoch: the node heads meet functions whose teachers are surest first")
      ->envname("YANTRA_CURRICULUM");
  app.add_option("--epochs", o.epochs, "maximum epochs (early stopping may end sooner)")
      ->envname("YANTRA_EPOCHS");
  app.add_option("--lr", o.lr, "Adam learning rate")->envname("YANTRA_LR");
  app.add_option("--hidden", o.hidden, "hidden and embedding width")->envname("YANTRA_HIDDEN");
  app.add_option("--layers", o.layers, "GraphSAGE layers (one fan-out each)")
      ->envname("YANTRA_LAYERS");
  app.add_option("--fanouts", o.train_fanouts, "neighbours sampled per hop in training")
      ->envname("YANTRA_FANOUTS")
      ->delimiter(',');
  app.add_option("--batch", o.batch_edges, "calls per mini-batch")->envname("YANTRA_BATCH");
  app.add_option("--negatives", o.negatives,
                 "non-callees scored per call: one from the caller's file, the rest uniform")
      ->envname("YANTRA_NEGATIVES")
      ->check(CLI::Range(1, 16));
  app.add_option("--patience", o.patience, "epochs without validation gain before stopping")
      ->envname("YANTRA_PATIENCE");
  app.add_option("--seed", o.seed, "seed of the split, sampling and initialisation")
      ->envname("YANTRA_SEED");
  app.add_option("--threads", o.threads, "LibTorch threads")->envname("YANTRA_THREADS");
  app.add_option("--init-from", o.init_from,
                 "start from this checkpoint's weights (a crowd master) instead of a fresh "
                 "initialisation")
      ->envname("YANTRA_INIT_FROM");
  app.add_flag("--encoder", a->encoder,
               "train the request encoder (from the library's learned requests, starting from "
               "the base encoder) instead of the network, and re-embed the library")
      ->envname("YANTRA_TRAIN_ENCODER");
  EncoderArgs& e = a->encoder_args;
  app.add_option("--base-corpus", e.base_corpus,
                 "with --encoder: train the base encoder from scratch on the docstrings of this "
                 "directory of Python code (the build does, on /usr/lib/python3.11)")
      ->envname("YANTRA_BASE_CORPUS");
  app.add_option("--out", e.out, "with --encoder: where to write it (default: its usual place)")
      ->envname("YANTRA_ENCODER_OUT");
  app.add_option("--encoder-steps", e.steps,
                 "with --encoder: Adam steps (default 300; 100 to fine-tune)")
      ->envname("YANTRA_ENCODER_STEPS")
      ->check(CLI::Range(1, 100000));
  app.add_option("--encoder-views", e.views, "with --encoder: augmented views of each request")
      ->envname("YANTRA_ENCODER_VIEWS")
      ->check(CLI::Range(1, 32));
  return [a] {
    if (a->encoder) {
      a->encoder_args.repo = a->repo;
      a->encoder_args.seed = a->options.seed;
      a->encoder_args.json_out = a->json_out;
      return run_train_encoder(a->encoder_args);
    }
    if (int(a->options.train_fanouts.size()) != a->options.layers) {
      throw FatalError("--fanouts: give one fan-out per layer (" +
                       std::to_string(a->options.layers) + " layers)");
    }
    a->options.infer_fanouts = a->options.train_fanouts;
    return run_train(*a);
  };
}

Handler declare_predict(CLI::App& app) {
  auto a = std::make_shared<StudentArgs>();
  add_common(app, *a);
  app.add_option("name", a->name, "function: qualified name or unique suffix")->required();
  app.add_option("--top", a->top, "how many calls to list")->envname("YANTRA_TOP");
  return [a] { return run_predict(*a); };
}

Handler declare_eval(CLI::App& app) {
  auto a = std::make_shared<StudentArgs>();
  add_common(app, *a);
  add_labels(app, *a);
  app.add_option("--seed", a->options.seed, "seed of the sampled negatives")
      ->envname("YANTRA_SEED");
  app.add_option("--timing", a->timing,
                 "also time N single-function inferences and one full-graph embedding")
      ->envname("YANTRA_TIMING");
  return [a] { return run_eval(*a); };
}

}  // namespace yantra::cli
