// `yantra train`, `yantra predict`, `yantra eval`: the student network on a repository's
// code graph (REPO/.yantra/graph.db), its model under REPO/.yantra/student/.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "student/student.h"

namespace yantra::cli {
namespace {

namespace s = yantra::student;

struct StudentArgs {
  std::string repo = ".", store;
  s::StudentOptions options;
  std::string name;
  size_t top = 10;
  bool json_out = false;
  std::string graph_path() const { return (store.empty() ? repo + "/.yantra" : store) + "/graph.db"; }
  std::string model_dir() const { return (store.empty() ? repo + "/.yantra" : store) + "/student"; }
};

void add_common(CLI::App& app, StudentArgs& a) {
  app.add_option("--repo", a.repo, "indexed repository (default: the current directory)")
      ->envname("YANTRA_REPO");
  app.add_option("--store", a.store, "directory of the graph store (default: REPO/.yantra)")
      ->envname("YANTRA_STORE");
  app.add_flag("--json", a.json_out, "print JSON");
}

s::GraphData load_graph_or_fail(const StudentArgs& a) {
  if (!std::filesystem::exists(a.graph_path()))
    throw FatalError(a.graph_path() + ": no code graph; run `yantra index " + a.repo + "` first");
  return s::load_graph(a.graph_path()).take();
}

std::string fixed(double v, int d = 4) { return format_fixed(v, d); }

nlohmann::json rank_json(const s::RankMetrics& m) {
  return {{"hits@10", m.hits_at_10}, {"mrr", m.mrr}, {"queries", m.queries}};
}

nlohmann::json eval_json(const s::EvalReport& r) {
  return {{"next_call",
           {{"student", rank_json(r.next_call)},
            {"student_embedding_only", rank_json(r.next_call_embedding_only)},
            {"in_degree", rank_json(r.next_call_in_degree)},
            {"cooccurrence", rank_json(r.next_call_cooccurrence)},
            {"negatives_per_query", 100}}},
          {"seconds", r.seconds}};
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
  std::cout << t.render();
}

int run_train(const StudentArgs& a) {
  s::GraphData graph = load_graph_or_fail(a);
  s::StudentOptions o = a.options;
  o.progress = !a.json_out;
  s::TrainReport r = s::train_student(graph, o, a.model_dir()).take();
  if (a.json_out) {
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& e : r.epochs)
      epochs.push_back({{"epoch", e.epoch}, {"loss", e.loss}, {"seconds", e.seconds},
                        {"validation_mrr", e.validation_mrr}});
    std::cout << nlohmann::json{{"checkpoint", r.checkpoint}, {"best_epoch", r.best_epoch},
                                {"parameters", r.parameters}, {"epochs", epochs},
                                {"train_calls", r.train_calls}, {"test_calls", r.test_calls},
                                {"eval", eval_json(r.eval)}}
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

int run_predict(const StudentArgs& a) {
  s::GraphData graph = load_graph_or_fail(a);
  int32_t node = graph.find(a.name);
  if (node < 0) {
    throw FatalError("predict: '" + a.name +
                     "' names no function of the graph (or several); give its qualified name, "
                     "as `yantra graph show` prints it");
  }
  s::Student student = s::Student::load(model_path_or_fail(a), graph).take();
  s::Prediction p = student.predict(node, a.top).take();
  if (a.json_out) {
    nlohmann::json calls = nlohmann::json::array();
    for (const auto& c : p.calls) calls.push_back({{"qname", c.label}, {"p", c.p}});
    std::cout << nlohmann::json{{"qname", p.qname}, {"calls", calls}, {"seconds", p.seconds}}.dump()
              << "\n";
    return 0;
  }
  std::cout << p.qname << " (" << format_fixed(p.seconds * 1e3, 2) << " ms)\n";
  Table t({"likely call", "p"});
  for (const auto& c : p.calls) t.add({c.label, fixed(c.p, 3)});
  std::cout << t.render();
  return 0;
}

int run_eval(const StudentArgs& a) {
  s::GraphData graph = load_graph_or_fail(a);
  s::Student student = s::Student::load(model_path_or_fail(a), graph).take();
  s::EvalReport r = student.evaluate(a.options.seed).take();
  if (a.json_out) {
    std::cout << eval_json(r).dump() << "\n";
    return 0;
  }
  print_eval(r);
  return 0;
}

}  // namespace

Handler declare_train(CLI::App& app) {
  auto a = std::make_shared<StudentArgs>();
  add_common(app, *a);
  auto& o = a->options;
  app.add_option("--epochs", o.epochs, "maximum epochs (early stopping may end sooner)")
      ->envname("YANTRA_EPOCHS");
  app.add_option("--lr", o.lr, "Adam learning rate")->envname("YANTRA_LR");
  app.add_option("--hidden", o.hidden, "hidden and embedding width")->envname("YANTRA_HIDDEN");
  app.add_option("--layers", o.layers, "GraphSAGE layers (one fan-out each)")
      ->envname("YANTRA_LAYERS");
  app.add_option("--fanouts", o.train_fanouts, "neighbours sampled per hop in training")
      ->envname("YANTRA_FANOUTS")->delimiter(',');
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
  return [a] {
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
  app.add_option("--seed", a->options.seed, "seed of the sampled negatives")
      ->envname("YANTRA_SEED");
  return [a] { return run_eval(*a); };
}

}  // namespace yantra::cli
