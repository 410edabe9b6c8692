// `yantra bench validate`: 3,300 recorded HumanEval answers against their hidden tests,
// each in its own sandboxed process, beside exec_peer.py on the same machine.
//
// The program each run executes is the peer's: prompt + recorded code, then the hidden
// `test` source and check(entry_point). The validator here is the scorer, so the hidden
// tests are its input by design; recorded_result is only compared afterwards.
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/bench.h"
#include "bench/internal.h"
#include "validator/validator.h"

namespace yantra::bench {
namespace {

namespace fs = std::filesystem;
namespace v = yantra::validator;
using Json = nlohmann::ordered_json;

struct Loaded {
  std::vector<v::Job> jobs;
  std::vector<nlohmann::json> runs;
};

Result<Loaded> load(const ValidateBenchOptions& o, const std::string& problems_path,
                    const std::string& runs_path) {
  auto problems = read_jsonl_gz(problems_path);
  if (!problems) return problems.error();
  auto runs = read_jsonl_gz(runs_path);
  if (!runs) return runs.error();
  std::map<std::string, const nlohmann::json*> by_task;
  for (const auto& p : *problems) by_task[p.value("task_id", "")] = &p;
  Loaded out;
  for (auto& r : *runs) {
    if (o.limit && out.jobs.size() >= o.limit) break;
    auto it = by_task.find(r.value("task_id", ""));
    if (it == by_task.end())
      return Error::in(runs_path, "run of unknown task " + r.value("task_id", ""));
    const nlohmann::json& p = *it->second;
    v::Job job;
    job.code = p.value("prompt", "") + r.value("code", "");
    job.tests = v::TestSuite::check(p.value("test", ""), p.value("entry_point", ""));
    // The peer's 3 s, as CPU time (deterministic under load), with room on the wall.
    job.limits.cpu_seconds = std::max(1, static_cast<int>(std::lround(o.timeout_seconds)));
    job.limits.wall_seconds = 2 * o.timeout_seconds;
    out.jobs.push_back(std::move(job));
    out.runs.push_back(std::move(r));
  }
  return out;
}

std::string fixed(double v, int decimals) {
  return format_fixed(v, decimals);
}

// Where the time went: the long runs' floor, what each other run cost, and the speed-up
// over the peer that the floor leaves room for.
struct TimeSplit {
  double floor_s = 0;       // the long runs alone, spread over every worker
  double other_run_ms = 0;  // workers x (seconds - floor), per other run
  double ceiling = 0;       // peer seconds / floor_s: were every other run free
};

TimeSplit split_time(const ValidateBenchResult& r, int workers) {
  TimeSplit t;
  t.floor_s = r.long_runs_seconds / workers;
  size_t others = r.executions - r.long_runs;
  if (others)
    t.other_run_ms =
        1000 * (r.seconds * workers - r.long_runs_seconds) / static_cast<double>(others);
  if (r.peer.ran && t.floor_s > 0) t.ceiling = r.peer.seconds / t.floor_s;
  return t;
}

std::string time_split_text(const ValidateBenchResult& r, int workers) {
  TimeSplit t = split_time(r, workers);
  std::string text =
      with_commas(r.long_runs) + " runs took " + fixed(ValidateBenchResult::kLongRunSeconds, 1) +
      " s or more (" + fixed(r.long_runs_seconds, 1) +
      " s in all, the programs' own work): at least " + fixed(t.floor_s, 2) + " s on " +
      std::to_string(workers) + " workers; the other " + with_commas(r.executions - r.long_runs) +
      " cost " + fixed(t.other_run_ms, 2) + " ms each (workers x seconds)";
  if (t.ceiling > 0)
    text += "; were they free, the speed-up would be " + fixed(t.ceiling, 2) + "x at most";
  return text + "\n";
}

// The earlier run's figures: the last line of `path` that is the validate bench's JSON.
Result<ValidateBenchResult::Before> read_before(const std::string& path) {
  auto text = read_file(path);
  if (!text)
    return Error::in(path, "cannot read the earlier run (--before): " + text.error().message);
  ValidateBenchResult::Before before;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    auto line = nlohmann::json::parse(text->substr(start, end - start), nullptr, false);
    if (line.is_object() && line.value("bench", "") == "validate") {
      before = {.given = true,
                .exec_per_s = line.value("exec_per_s", 0.0),
                .speedup = line.value("speedup", 0.0),
                .other_run_ms = line.value("other_run_ms", 0.0)};
    }
    start = end + 1;
  }
  if (!before.given)
    return Error::in(path, "holds no JSON line of `yantra bench validate`; save one with --json");
  return before;
}

void render_before(const ValidateBenchResult::Before& b, double other_run_ms, std::string& table,
                   Json& j) {
  table +=
      "before (--before): " + fixed(b.exec_per_s, 1) + " exec/s, speed-up " + fixed(b.speedup, 2) +
      "x, the other runs " + fixed(b.other_run_ms, 2) + " ms each; now " + fixed(other_run_ms, 2) +
      " ms (" +
      (b.other_run_ms > 0 ? fixed(other_run_ms / b.other_run_ms, 2) + "x" : std::string("n/a")) +
      ")\n";
  j["before"] = {
      {"exec_per_s", b.exec_per_s}, {"speedup", b.speedup}, {"other_run_ms", b.other_run_ms}};
}

void render(const ValidateBenchOptions& o, ValidateBenchResult& r, int workers) {
  Table t({"system", "executions", "seconds", "exec/s", "passed", "agreement", "isolation"});
  t.add({"yantra validate", with_commas(r.executions), fixed(r.seconds, 2), fixed(r.exec_per_s, 1),
         with_commas(r.passed), with_commas(r.agreement) + " / " + with_commas(r.executions),
         "bubblewrap, a process per run"});
  if (r.peer.ran) {
    t.add({"exec_peer.py", with_commas(r.executions), fixed(r.peer.seconds, 2),
           fixed(r.peer_exec_per_s, 1), "",
           with_commas(r.peer_agreement) + " / " + with_commas(r.executions),
           "none, a process per run"});
  }
  std::string table = t.render();
  table += "\n" + std::to_string(workers) + " workers each; timeout " +
           fixed(o.timeout_seconds, 1) + " s (yantra: CPU time, peer: wall clock); ";
  table += r.peer.ran ? "speed-up " + fixed(r.exec_per_s / r.peer_exec_per_s, 2) + "x\n"
                      : "peer not run: " + r.peer.not_run + "\n";
  table += time_split_text(r, workers);
  table += "statuses:";
  for (const auto& [status, count] : r.statuses)
    table += " " + status + " " + std::to_string(count);
  table += "\n";
  for (const auto& d : r.disagreements) table += "disagrees: " + d + "\n";
  r.table = std::move(table);

  Json j;
  j["bench"] = "validate";
  j["executions"] = r.executions;
  j["agreement"] = r.agreement;
  j["passed"] = r.passed;
  j["seconds"] = std::round(r.seconds * 100) / 100;
  j["exec_per_s"] = std::round(r.exec_per_s * 10) / 10;
  j["workers"] = workers;
  j["timeout_s"] = o.timeout_seconds;
  if (r.peer.ran) {
    j["peer_exec_per_s"] = std::round(r.peer_exec_per_s * 10) / 10;
    j["peer_agreement"] = r.peer_agreement;
    j["speedup"] = std::round(r.exec_per_s / r.peer_exec_per_s * 100) / 100;
  } else {
    j["peer_not_run"] = r.peer.not_run;
  }
  TimeSplit split = split_time(r, workers);
  j["long_runs"] = r.long_runs;
  j["long_runs_s"] = std::round(r.long_runs_seconds * 100) / 100;
  j["floor_s"] = std::round(split.floor_s * 100) / 100;
  j["other_run_ms"] = std::round(split.other_run_ms * 100) / 100;
  if (r.peer.ran) j["speedup_ceiling"] = std::round(split.ceiling * 100) / 100;
  Json statuses = Json::object();
  for (const auto& [status, count] : r.statuses) statuses[status] = count;
  j["statuses"] = statuses;
  j["disagreements"] = r.disagreements;
  if (r.before.given) render_before(r.before, split.other_run_ms, r.table, j);
  r.json_line = j.dump();
}

void run_peer(const ValidateBenchOptions& o, const std::string& peers, const std::string& problems,
              const std::string& runs, int workers, ValidateBenchResult& r) {
  r.peer.name = "exec_peer.py";
  if (!o.run_peer) {
    r.peer.not_run = "disabled (--no-peer)";
    return;
  }
  std::string script = peers + "/exec_peer.py";
  if (peers.empty() || !fs::exists(script)) {
    r.peer.not_run = "exec_peer.py not found (pass --peers or set YANTRA_PEERS)";
    return;
  }
  if (o.limit) {
    r.peer.not_run = "--limit runs a subset; the peer always runs every recorded answer";
    return;
  }
  progress("running exec_peer.py ...");
  auto run =
      run_measured("exec_peer.py", {o.python, script, problems, runs, std::to_string(workers)});
  if (!run || run->measured.exit_code != 0) {
    r.peer.not_run = run ? "exited with status " + std::to_string(run->measured.exit_code) + ": " +
                               last_lines(run->err_tail, 1)
                         : run.error().message;
    return;
  }
  auto line = nlohmann::json::parse(last_lines(run->out, 1), nullptr, false);
  if (line.is_discarded() || !line.contains("exec_per_s")) {
    r.peer.not_run = "exec_peer.py printed no JSON line";
    return;
  }
  r.peer = run->measured;
  r.peer.ran = true;
  r.peer_exec_per_s = line.value("exec_per_s", 0.0);
  r.peer_agreement = line.value("agree_with_recorded", size_t{0});
  r.peer.seconds = line.value("seconds", r.peer.seconds);
}

}  // namespace

Result<std::vector<nlohmann::json>> read_jsonl_gz(const std::string& path,
                                                  std::string_view what_to_do) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) return Error::in(path, "cannot open; " + std::string(what_to_do));
  std::string text;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  bool failed = n < 0;
  gzclose(file);
  if (failed) return Error::in(path, "not a valid gzip file");
  std::vector<nlohmann::json> rows;
  size_t start = 0, line = 1;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == text.npos) end = text.size();
    std::string_view row(text.data() + start, end - start);
    if (!row.empty()) {
      auto parsed = nlohmann::json::parse(row, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object())
        return Error::at(path, static_cast<uint32_t>(line), 1, "not a JSON object");
      rows.push_back(std::move(parsed));
    }
    start = end + 1;
    ++line;
  }
  return rows;
}

Result<ValidateBenchResult> run_validate_bench(const ValidateBenchOptions& o) {
  std::string peers = find_peers_dir(o.peers_dir, "");
  std::string data =
      peers.empty() ? std::string() : (fs::path(peers).parent_path() / "data/humaneval").string();
  std::string problems = o.problems.empty() ? data + "/HumanEval-dev.jsonl.gz" : o.problems;
  std::string runs = o.runs.empty() ? data + "/recorded-runs-dev.jsonl.gz" : o.runs;
  auto loaded = load(o, problems, runs);
  if (!loaded) return loaded.error();
  ValidateBenchResult::Before before;
  if (!o.before.empty()) {
    auto read = read_before(o.before);
    if (!read) return read.error();
    before = std::move(read).value();
  }
  int workers = o.workers > 0 ? o.workers : static_cast<int>(core_count());

  auto pool = v::Validator::start({.workers = workers});
  if (!pool) return pool.error();
  // Start every sandbox before the clock does: warm-up is paid once per session.
  std::vector<v::Job> warm(static_cast<size_t>(workers), loaded->jobs.front());
  (*pool)->run_all(warm);

  ValidateBenchResult r;
  r.executions = loaded->jobs.size();
  progress("validating " + with_commas(r.executions) + " recorded answers ...");
  double started = monotonic_seconds();
  std::vector<v::RunResult> results = (*pool)->run_all(loaded->jobs);
  r.seconds = monotonic_seconds() - started;
  r.exec_per_s = static_cast<double>(r.executions) / r.seconds;

  std::map<std::string, size_t> statuses;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& run = loaded->runs[i];
    bool ours = results[i].status == v::Status::passed;
    bool recorded = run.value("recorded_result", "") == "Pass";
    r.passed += ours;
    r.agreement += ours == recorded;
    statuses[std::string(v::to_string(results[i].status))]++;
    if (results[i].seconds >= ValidateBenchResult::kLongRunSeconds)
      r.long_runs++, r.long_runs_seconds += results[i].seconds;
    if (ours != recorded) {
      r.disagreements.push_back(run.value("task_id", "") + " " + run.value("model", "") + " run " +
                                std::to_string(run.value("run", 0)) + ": " +
                                std::string(v::to_string(results[i].status)) + " (" +
                                results[i].reason.substr(0, 160) + ") vs recorded " +
                                run.value("recorded_result", ""));
    }
  }
  r.statuses.assign(statuses.begin(), statuses.end());
  pool->reset();  // free the cores before the peer runs
  run_peer(o, peers, problems, runs, workers, r);
  r.before = std::move(before);
  render(o, r, workers);
  return r;
}

}  // namespace yantra::bench
