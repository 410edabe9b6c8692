// `yantra bench student`: the student's training beside sage_ref.py, the plain-PyTorch
// GraphSAGE peer, on the same corpus in one run, so the epoch time is a ratio. Both
// sides run as processes at their own defaults and report the same next-call protocol
// (each held-out call ranked against 100 negatives).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/bench.h"
#include "bench/internal.h"

namespace yantra::bench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string failure(const Result<ProcessRun>& run) {
  if (!run) return run.error().message;
  return "exited with status " + std::to_string(run->measured.exit_code) + ": " +
         last_lines(run->err_tail, 2);
}

Result<StudentSide> run_yantra(const StudentBenchOptions& o, const std::string& binary,
                               const std::string& store) {
  progress("yantra index " + o.corpus + " ...");
  auto index = run_measured("yantra index", {binary, "index", o.corpus, "--store", store});
  if (!index || index->measured.exit_code != 0) return Error{"yantra index: " + failure(index)};
  progress("yantra train, " + std::to_string(o.epochs) + " epoch(s) ...");
  std::string epochs = std::to_string(o.epochs);
  auto train = run_measured(
      "yantra train", {binary, "train", "--repo", o.corpus, "--store", store, "--epochs", epochs,
                       "--patience", epochs, "--no-pylint", "--json"});
  if (!train || train->measured.exit_code != 0) return Error{"yantra train: " + failure(train)};
  Json j = Json::parse(last_lines(train->out, 1), nullptr, false);
  if (j.is_discarded() || !j.contains("eval")) return Error{"yantra train printed no JSON report"};
  StudentSide s;
  s.train = train->measured;
  s.train.ran = true;
  std::vector<double> seconds;
  for (const Json& e : j["epochs"]) seconds.push_back(e.value("seconds", 0.0));
  s.epoch_seconds = median(seconds);
  const Json& next = j["eval"]["next_call"];
  s.hits_at_10 = next["student"].value("hits@10", 0.0), s.mrr = next["student"].value("mrr", 0.0);
  s.in_degree_hits_at_10 = next["in_degree"].value("hits@10", 0.0);
  s.in_degree_mrr = next["in_degree"].value("mrr", 0.0);
  s.test_calls = j.value("test_calls", size_t{0});
  // Inference on the trained checkpoint, timed as sage_ref.py times its own.
  progress("yantra eval --timing 100 ...");
  auto eval = run_measured("yantra eval", {binary, "eval", "--repo", o.corpus, "--store", store,
                                           "--no-pylint", "--timing", "100", "--json"});
  if (!eval || eval->measured.exit_code != 0) return Error{"yantra eval: " + failure(eval)};
  Json e = Json::parse(last_lines(eval->out, 1), nullptr, false);
  if (e.is_discarded() || !e.contains("inference"))
    return Error{"yantra eval printed no inference timing"};
  s.infer_p50_ms = e["inference"].value("p50_ms", 0.0);
  s.infer_p99_ms = e["inference"].value("p99_ms", 0.0);
  s.full_graph_seconds = e["inference"].value("full_graph_s", 0.0);
  std::error_code ec;
  s.model_bytes = fs::file_size(store + "/student/model.pt", ec);
  if (ec) return Error::in(store + "/student/model.pt", "no checkpoint after training");
  return s;
}

// gold_graph.py then sage_ref.py; a peer that cannot run is reported, not fatal.
StudentSide run_peer(const StudentBenchOptions& o, const std::string& peers,
                     const std::string& work) {
  StudentSide s;
  s.train.name = "sage_ref.py";
  if (!o.run_peer) {
    s.train.not_run = "disabled (--no-peer)";
    return s;
  }
  std::string gold = peers + "/gold_graph.py", sage = peers + "/sage_ref.py";
  if (peers.empty() || !fs::exists(gold) || !fs::exists(sage)) {
    s.train.not_run = "sage_ref.py not found (pass --peers or set YANTRA_PEERS)";
    return s;
  }
  progress("gold_graph.py " + o.corpus + " ...");
  const std::string prefix = work + "/gold";
  auto graph = run_measured("gold_graph.py", {o.python, gold, o.corpus, prefix});
  if (!graph || graph->measured.exit_code != 0) {
    s.train.not_run = "gold_graph.py " + failure(graph);
    return s;
  }
  progress("sage_ref.py, " + std::to_string(o.epochs) + " epoch(s) ...");
  auto train =
      run_measured("sage_ref.py", {o.python, sage, prefix, "--epochs", std::to_string(o.epochs),
                                   "--infer-nodes", "100", "--forward-reps", "3"});
  if (!train || train->measured.exit_code != 0) {
    s.train.not_run = failure(train);
    return s;
  }
  std::vector<double> seconds;
  std::istringstream lines(train->out);
  for (std::string line; std::getline(lines, line);) {
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    if (j.contains("epoch")) seconds.push_back(j.value("time_s", 0.0));
    if (j.contains("linkpred")) {
      const Json& l = j["linkpred"];
      s.hits_at_10 = l["sage"].value("hits@10", 0.0), s.mrr = l["sage"].value("mrr", 0.0);
      s.in_degree_hits_at_10 = l["indegree_baseline"].value("hits@10", 0.0);
      s.in_degree_mrr = l["indegree_baseline"].value("mrr", 0.0);
      s.test_calls = l.value("test_edges", size_t{0});
    }
    if (j.contains("full_forward_s"))
      s.full_graph_seconds = j["full_forward_s"].value("median", 0.0);
    if (j.contains("single_node") && j["single_node"].contains("sampled_10_5_2")) {
      const Json& n = j["single_node"]["sampled_10_5_2"];
      s.infer_p50_ms = n.value("median_ms", 0.0), s.infer_p99_ms = n.value("p99_ms", 0.0);
    }
  }
  if (seconds.empty()) {
    s.train.not_run = "sage_ref.py printed no epoch line";
    return s;
  }
  s.train = train->measured;
  s.train.ran = true;
  s.epoch_seconds = median(seconds);
  return s;
}

std::string row(const std::string& name, const StudentSide& s) {
  char line[256];
  std::snprintf(line, sizeof line, "%-13s %9.2f  %7.3f  %6.3f  %13.3f / %.3f  %9s  %9zu",
                name.c_str(), s.epoch_seconds, s.hits_at_10, s.mrr, s.in_degree_hits_at_10,
                s.in_degree_mrr, human_bytes(s.train.peak_rss_bytes).c_str(), s.test_calls);
  return line;
}

std::string inference_row(const std::string& name, const StudentSide& s) {
  char line[256];
  std::snprintf(line, sizeof line, "%-13s %10.2f  %10.2f  %16.2f  %10s", name.c_str(),
                s.infer_p50_ms, s.infer_p99_ms, s.full_graph_seconds,
                s.model_bytes ? human_bytes(s.model_bytes).c_str() : "-");
  return line;
}

Json side_json(const StudentSide& s) {
  return {{"ran", s.train.ran},
          {"epoch_s", s.epoch_seconds},
          {"infer_p50_ms", s.infer_p50_ms},
          {"infer_p99_ms", s.infer_p99_ms},
          {"full_graph_s", s.full_graph_seconds},
          {"model_bytes", s.model_bytes},
          {"hits_at_10", s.hits_at_10},
          {"mrr", s.mrr},
          {"in_degree_hits_at_10", s.in_degree_hits_at_10},
          {"in_degree_mrr", s.in_degree_mrr},
          {"peak_rss_bytes", s.train.peak_rss_bytes},
          {"test_calls", s.test_calls},
          {"not_run", s.train.not_run}};
}

void render(StudentBenchResult& r) {
  std::ostringstream t;
  t << "student: next-call link prediction, " << r.epochs << " epoch(s) each, same machine\n\n"
    << "              epoch (s)  Hits@10     MRR  in-degree H@10 / MRR   peak RSS  held out\n"
    << row("yantra", r.yantra) << "\n";
  if (r.peer.train.ran)
    t << row("sage_ref.py", r.peer)
      << "\n\nepoch: sage_ref.py / yantra = " << format_fixed(r.epoch_ratio, 2)
      << "x (above 1: yantra is faster)\n";
  else
    t << "sage_ref.py   not run: " << r.peer.train.not_run << "\n";
  t << "\ninference     one function, sampled 10/5/2          every node  model on disk\n"
    << "                  p50 ms      p99 ms   full graph (s)\n"
    << inference_row("yantra", r.yantra) << "\n";
  if (r.peer.train.ran)
    t << inference_row("sage_ref.py", r.peer)
      << "\n\nsingle-function p99: sage_ref.py / yantra = " << format_fixed(r.p99_ratio, 2)
      << "x\n";
  r.table = t.str();
  r.json_line = Json{{"bench", "student"},
                     {"epochs", r.epochs},
                     {"epoch_s", r.yantra.epoch_seconds},
                     {"peer_epoch_s", r.peer.epoch_seconds},
                     {"epoch_ratio", r.epoch_ratio},
                     {"p99_ratio", r.p99_ratio},
                     {"infer_p99_ms", r.yantra.infer_p99_ms},
                     {"model_bytes", r.yantra.model_bytes},
                     {"hits_at_10", r.yantra.hits_at_10},
                     {"mrr", r.yantra.mrr},
                     {"yantra", side_json(r.yantra)},
                     {"peer", side_json(r.peer)}}
                    .dump();
}

}  // namespace

Result<StudentBenchResult> run_student_bench(const StudentBenchOptions& o) {
  if (o.epochs < 1) return Error{"--epochs: at least 1"};
  std::error_code ec;
  if (!fs::is_directory(o.corpus, ec)) return Error::in(o.corpus, "no such directory to index");
  std::string binary =
      o.yantra_binary.empty() ? fs::read_symlink("/proc/self/exe", ec).string() : o.yantra_binary;
  std::string work = o.work_dir;
  if (work.empty())
    work =
        (fs::temp_directory_path() / ("yantra-bench-student-" + std::to_string(getpid()))).string();
  fs::create_directories(work, ec);
  if (ec) return Error::in(work, "cannot create: " + ec.message());
  StudentBenchResult r;
  r.epochs = o.epochs;
  auto ours = run_yantra(o, binary, work + "/store");
  if (ours) r.yantra = *ours;
  if (ours) r.peer = run_peer(o, find_peers_dir(o.peers_dir, binary), work);
  if (o.work_dir.empty()) fs::remove_all(work, ec);
  if (!ours) return ours.error();
  if (r.peer.train.ran && r.yantra.epoch_seconds > 0)
    r.epoch_ratio = r.peer.epoch_seconds / r.yantra.epoch_seconds;
  if (r.peer.train.ran && r.yantra.infer_p99_ms > 0)
    r.p99_ratio = r.peer.infer_p99_ms / r.yantra.infer_p99_ms;
  render(r);
  return r;
}

}  // namespace yantra::bench
