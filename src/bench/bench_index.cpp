// run_index_bench: `yantra index` cold and incremental, beside gold_graph.py and ctags on the
// same copied tree, each a measured child process (wall seconds, peak RSS from wait4).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/process.h"
#include "bench/bench.h"
#include "bench/internal.h"

namespace yantra::bench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keys in the order written: "bench" first

constexpr size_t kStderrKeptBytes = 64 * 1024;
constexpr size_t kStderrLinesInErrors = 10;
constexpr size_t kMissingShownInTable = 5;
constexpr const char* kTouchedFile = "json/encoder.py";  // in the stdlib; else the first file

}  // namespace

// Shared with the other benchmarks through bench/internal.h.
void progress(const std::string& line) {
  if (Progress::quiet()) return;
  std::cerr << "yantra bench: " << line << "\n";
}

// ---- measured child processes ----------------------------------------------------------

// Runs argv (argv[0] looked up in PATH when it has no '/') with stdin from /dev/null and
// stdout and stderr captured. An Error means it could not start at all.
Result<ProcessRun> run_measured(std::string name, const std::vector<std::string>& argv) {
  auto program = run_program(argv, {.search_path = true, .stderr_kept = kStderrKeptBytes});
  if (!program) return program.error();
  ProcessRun run;
  run.measured.name = std::move(name);
  run.measured.seconds = program->seconds;
  run.measured.cpu_seconds = program->cpu_seconds;
  run.measured.peak_rss_bytes = program->peak_rss_bytes;
  run.measured.exit_code = program->exit_code;
  run.measured.ran = true;
  run.out = std::move(program->out);
  run.err_tail = std::move(program->err);
  return run;
}

// The last `count` lines of `text`, without the final newline.
std::string last_lines(std::string_view text, size_t count) {
  while (text.ends_with('\n')) text.remove_suffix(1);
  size_t start = text.size();
  for (size_t i = 0; i < count && start > 0; ++i) {
    size_t newline = text.rfind('\n', start - 1);
    start = newline == std::string_view::npos ? 0 : newline;
  }
  if (start < text.size() && text[start] == '\n') ++start;
  return std::string(text.substr(start));
}

// ---- the work directory ----------------------------------------------------------------

// A fresh temporary directory removed by the destructor (also on every error path), or the
// user's directory, kept, with the previous run's outputs cleared so the index starts cold.
class WorkDir {
 public:
  static Result<WorkDir> create(const std::string& requested) {
    if (requested.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/yantra-bench-XXXXXX";
      if (!mkdtemp(pattern.data()))
        return Error::in(pattern, std::string("cannot create a temporary directory: ") +
                                      std::strerror(errno) + "; set TMPDIR or pass --work DIR");
      return WorkDir(pattern, true);
    }
    std::error_code ec;
    fs::create_directories(requested, ec);
    for (const char* old :
         {"corpus", "store", "tags", "gold.nodes.jsonl", "gold.edges.jsonl", "gold.meta.json"})
      if (!ec) fs::remove_all(fs::path(requested) / old, ec);
    if (ec) return Error::in(requested, "cannot prepare the work directory: " + ec.message());
    return WorkDir(requested, false);
  }
  WorkDir(WorkDir&& other) noexcept
      : path_(std::move(other.path_)), owned_(std::exchange(other.owned_, false)) {}
  WorkDir& operator=(WorkDir&&) = delete;
  ~WorkDir() {
    std::error_code ignored;
    if (owned_) fs::remove_all(path_, ignored);
  }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  WorkDir(std::string path, bool owned) : path_(std::move(path)), owned_(owned) {}
  std::string path_;
  bool owned_;
};

// ---- the corpus copy -------------------------------------------------------------------

struct CorpusCopy {
  uint64_t files = 0, bytes = 0;
  std::string first_file;  // smallest relative path
};

bool skipped_directory(const std::string& name) {
  return name.starts_with('.') || name == "__pycache__" || name == "site-packages" ||
         name == "dist-packages";
}

// Copies the tree's .py files, so the incremental step can edit one (the corpus itself may
// be read-only, like /usr) and every tool reads the same files.
Result<CorpusCopy> copy_python_files(const std::string& from, const std::string& to) {
  CorpusCopy copy;
  std::error_code ec, entry_ec;  // entry_ec: a broken link or unreadable entry is skipped
  auto it =
      fs::recursive_directory_iterator(from, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (it->is_directory(entry_ec)) {
      if (skipped_directory(name)) it.disable_recursion_pending();
      continue;
    }
    if (!name.ends_with(".py") || !it->is_regular_file(entry_ec)) continue;
    fs::path rel = it->path().lexically_relative(from);
    fs::path target = fs::path(to) / rel;
    fs::create_directories(target.parent_path(), ec);
    if (!ec) fs::copy_file(it->path(), target, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return Error::in(it->path().string(), "cannot copy into the work directory: " + ec.message());
    copy.files++;
    copy.bytes += fs::file_size(target, entry_ec);
    if (copy.first_file.empty() || rel.string() < copy.first_file) copy.first_file = rel.string();
  }
  if (ec) return Error::in(from, "cannot list the corpus: " + ec.message());
  if (copy.files == 0) return Error::in(from, "no .py files in the corpus; pass a Python tree");
  return copy;
}

// ---- the runs --------------------------------------------------------------------------

struct IndexRun {
  Measured measured;
  size_t files_parsed = 0;
};

double seconds_of(const IndexRun& run) {
  return run.measured.seconds;
}
// A peer that did not run counts as slowest, so a run that did is kept.
double seconds_of(const Measured& m) {
  return m.ran ? m.seconds : 1e300;
}

// `yantra index CORPUS --store STORE --json`; its report is the last JSON line of stdout.
Result<IndexRun> run_index(const std::string& binary, const WorkDir& work, std::string name) {
  progress("running " + name + " ...");
  std::vector<std::string> argv = {binary,    "index",        work / "corpus",
                                   "--store", work / "store", "--json"};
  auto run = run_measured(std::move(name), argv);
  if (!run) return run.error();
  std::string command = binary + " index " + work / "corpus";
  if (run->measured.exit_code != 0)
    return Error{command + " exited with status " + std::to_string(run->measured.exit_code) +
                 "; its last lines:\n" + last_lines(run->err_tail, kStderrLinesInErrors) +
                 "\n(pass --work DIR to keep the copied corpus and rerun it by hand)"};
  std::string line = last_lines(run->out, 1);
  Json report = Json::parse(line, nullptr, false);
  if (report.is_discarded() || !report.contains("files") || !report["files"].contains("parsed") ||
      !report["files"]["parsed"].is_number_unsigned())
    return Error{command + " --json printed no report with files.parsed: " + line.substr(0, 200)};
  return IndexRun{run->measured, report["files"]["parsed"].get<size_t>()};
}

// A peer never fails the bench: missing or failing, it is reported as not run, with why.
Measured run_peer(std::string name, const std::vector<std::string>& argv, std::string not_run) {
  Measured skipped{.name = name, .not_run = not_run};
  if (!not_run.empty()) return skipped;
  progress("running " + name + " ...");
  auto run = run_measured(name, argv);
  if (!run)
    skipped.not_run = run.error().message;
  else if (run->measured.exit_code != 0)
    skipped.not_run = "exited with status " + std::to_string(run->measured.exit_code) + ": " +
                      last_lines(run->err_tail, 1);
  else
    return run->measured;
  progress(name + " not run: " + skipped.not_run);
  return skipped;
}

// An ancestor's shared/peers holding gold_graph.py: the peers sit beside the source checkout
// (REPO/../shared/peers), and the binary is somewhere under REPO.
std::string find_peers_dir(const std::string& requested, const std::string& binary) {
  if (!requested.empty()) return requested;
  if (const char* env = std::getenv("YANTRA_PEERS"); env && *env) return env;
  std::error_code ec;
  for (const fs::path& start : {fs::path(binary), fs::read_symlink("/proc/self/exe", ec)}) {
    fs::path dir = fs::weakly_canonical(start, ec).parent_path();
    for (; !dir.empty(); dir = dir.parent_path()) {
      if (fs::is_regular_file(dir / "shared/peers/gold_graph.py", ec))
        return (dir / "shared/peers").string();
      if (dir == dir.root_path()) break;
    }
  }
  // A clone made elsewhere: the shared directory CMake found beside its origin.
  if (fs::is_regular_file(fs::path(YANTRA_SHARED_DIR) / "peers/gold_graph.py", ec))
    return (fs::path(YANTRA_SHARED_DIR) / "peers").string();
  return "";
}

// ---- the report ------------------------------------------------------------------------

// Appends rather than inserts: g++ 12 warns (-Wrestrict, falsely) on string::insert here.
std::string with_commas(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

namespace {

// Decimal megabytes in the table and the JSON alike (human_bytes counts in 1,024s), so both
// read the same figure, and the corpus size matches the peers' README (29.8 MB).
double megabytes(uint64_t bytes) {
  return static_cast<double>(bytes) / 1e6;
}
std::string mb_text(uint64_t bytes) {
  return format_fixed(megabytes(bytes), 1) + " MB";
}

double rounded(double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

std::string ratio(double seconds, double base) {
  double r = base > 0 ? seconds / base : 0;
  return format_fixed(r, r >= 10 ? 0 : r >= 1 ? 1 : 2) + "x";
}

// The wall time the cold index's CPU work needs at the least on this machine: every core
// busy from start to end. A ratio to the reference above what this floor allows is out of
// reach of scheduling alone; only less work gets there.
double cold_floor_seconds(const IndexBenchResult& r) {
  return r.cold.cpu_seconds / core_count();
}

std::string cpu_floor_line(const IndexBenchResult& r) {
  if (!r.cold.ran || r.cold.seconds <= 0) return "";
  double floor = cold_floor_seconds(r);
  std::string line = "yantra index (cold): " + format_fixed(r.cold.cpu_seconds, 2) + " CPU s, " +
                     format_fixed(r.cold.cpu_seconds / r.cold.seconds, 2) + " of " +
                     std::to_string(core_count()) +
                     " cores busy on average; with all of them busy " +
                     "throughout it would take " + format_fixed(floor, 2) + " s";
  if (r.gold.ran && floor > 0)
    line += ", " + ratio(r.gold.seconds, floor) +
            " faster than gold_graph.py: the most this much work allows here";
  return line + "\n";
}

constexpr const char* kRowNames[] = {"yantra index (cold)",
                                     "yantra index (incremental, 1 file changed)", "gold_graph.py",
                                     "ctags -R"};

std::string render_table(const IndexBenchOptions& options, const IndexBenchResult& r) {
  double mb = megabytes(r.bytes);
  Table t({"", "seconds", "CPU s", "files/s", "MB/s", "peak RSS", "vs yantra cold"});
  std::string notes;
  const Measured* rows[] = {&r.cold, &r.incremental, &r.gold, &r.ctags};
  for (size_t i = 0; i < 4; ++i) {
    const Measured& m = *rows[i];
    if (!m.ran) {
      t.add({kRowNames[i], "not run", "", "", "", "", ""});
      notes += std::string(kRowNames[i]) + " not run: " + m.not_run + "\n";
      continue;
    }
    // Rates are of the whole tree for every row: an incremental run still brings all of it
    // up to date, so its rate compares with the others.
    t.add(
        {kRowNames[i], format_fixed(m.seconds, 3), format_fixed(m.cpu_seconds, 2),
         with_commas(static_cast<uint64_t>(std::llround(static_cast<double>(r.files) / m.seconds))),
         format_fixed(mb / m.seconds, 1), mb_text(m.peak_rss_bytes),
         ratio(m.seconds, r.cold.seconds)});
  }
  std::string text =
      "corpus: " + options.corpus + " (" + with_commas(r.files) + " .py files, " +
      mb_text(r.bytes) + "), " + std::to_string(core_count()) + " cores" +
      (r.repeat > 1 ? ", fastest of " + std::to_string(r.repeat) + " runs each" : "") + "\n" +
      t.render() + notes + cpu_floor_line(r);
  if (!r.gold.ran) return text + "call edges of the reference graph: not measured\n";
  double percent = r.gold_calls ? 100.0 * static_cast<double>(r.gold_calls_found) /
                                      static_cast<double>(r.gold_calls)
                                : 0;
  text += "call edges of the reference graph found: " + with_commas(r.gold_calls_found) + " / " +
          with_commas(r.gold_calls) + " (" + format_fixed(percent, 1) + " %)\n";
  size_t shown = std::min(r.gold_calls_missing_sample.size(), kMissingShownInTable);
  for (size_t i = 0; i < shown; ++i) text += "  missing: " + r.gold_calls_missing_sample[i] + "\n";
  return text;
}

std::string render_json(const IndexBenchOptions& options, const IndexBenchResult& r) {
  auto or_null = [](bool present, auto value) { return present ? Json(value) : Json(); };
  auto mb = [](const Measured& m) { return rounded(megabytes(m.peak_rss_bytes), 1); };
  Json j = {{"bench", "index"},
            {"corpus", options.corpus},
            {"files", r.files},
            {"bytes", r.bytes},
            {"cores", core_count()}};
  j["repeat"] = r.repeat;
  j["cold_s"] = rounded(r.cold.seconds, 4);  // > 0: a measured run
  j["cold_files_per_s"] = rounded(static_cast<double>(r.files) / r.cold.seconds, 1);
  j["cold_mb_per_s"] = rounded(megabytes(r.bytes) / r.cold.seconds, 1);
  j["cold_peak_rss_mb"] = mb(r.cold);
  j["cold_cpu_s"] = rounded(r.cold.cpu_seconds, 3);
  j["cold_floor_s"] = rounded(cold_floor_seconds(r), 3);  // all cores busy throughout
  j["incremental_s"] = rounded(r.incremental.seconds, 4);
  j["incremental_cpu_s"] = rounded(r.incremental.cpu_seconds, 3);
  j["incremental_files_parsed"] = r.incremental_files_parsed;
  j["incremental_peak_rss_mb"] = mb(r.incremental);
  const std::pair<std::string, const Measured*> peers[] = {{"gold", &r.gold}, {"ctags", &r.ctags}};
  for (const auto& [key, m] : peers) {
    j[key + "_s"] = or_null(m->ran, rounded(m->seconds, 4));
    j[key + "_cpu_s"] = or_null(m->ran, rounded(m->cpu_seconds, 3));
    j[key + "_peak_rss_mb"] = or_null(m->ran, mb(*m));
    j[key + "_not_run"] = or_null(!m->ran, m->not_run);
  }
  for (const auto& [key, m] : peers)
    j["speedup_vs_" + key] = or_null(m->ran, rounded(m->seconds / r.cold.seconds, 2));
  // What the speed-up over the reference would be at cold_floor_s.
  double floor = cold_floor_seconds(r);
  j["speedup_ceiling_vs_gold"] =
      or_null(r.gold.ran && floor > 0, rounded(r.gold.seconds / floor, 2));
  j["gold_calls"] = or_null(r.gold.ran, r.gold_calls);
  j["gold_calls_found"] = or_null(r.gold.ran, r.gold_calls_found);
  double recall = static_cast<double>(r.gold_calls_found) / static_cast<double>(r.gold_calls);
  j["gold_call_recall"] = or_null(r.gold.ran && r.gold_calls > 0, rounded(recall, 4));
  j["gold_calls_missing_sample"] = r.gold_calls_missing_sample;
  return j.dump();
}

// ---- the steps -------------------------------------------------------------------------

std::string yantra_binary(const IndexBenchOptions& options) {
  if (!options.yantra_binary.empty()) return options.yantra_binary;
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

std::string gold_not_run_reason(const IndexBenchOptions& options, const std::string& peers) {
  if (!options.run_gold) return "disabled (--no-gold)";
  if (peers.empty())
    return "gold_graph.py not found (no shared/peers/gold_graph.py beside any ancestor of the "
           "yantra binary); pass --peers DIR or set YANTRA_PEERS";
  if (!fs::is_regular_file(peers + "/gold_graph.py"))
    return peers + "/gold_graph.py not found; pass --peers DIR or set YANTRA_PEERS";
  return "";
}

// Appends a comment to one file: a content change that adds no node and no edge.
Result<void> touch_one_file(const WorkDir& work, const CorpusCopy& copy) {
  std::string rel = fs::exists(work / "corpus/" + kTouchedFile) ? kTouchedFile : copy.first_file;
  std::string path = work / "corpus/" + rel;
  std::ofstream out(path, std::ios::app);
  out << "\n# yantra bench: touched\n";
  if (!out.flush()) return Error::in(path, "cannot append to the copied file");
  return {};
}

// The fastest of `repeat` runs: on a shared machine noise only ever adds time.
template <class Run>
auto fastest(int repeat, Run run) -> decltype(run()) {
  auto best = run();
  for (int i = 1; i < repeat && best; ++i) {
    auto next = run();
    if (!next) return next;
    if (seconds_of(*next) < seconds_of(*best)) best = std::move(next);
  }
  return best;
}

// Cold index, then the peers on the same (unedited) tree, then one edited file re-indexed;
// each step `options.repeat` times, the fastest kept.
Result<void> run_all(const IndexBenchOptions& options, const WorkDir& work, const CorpusCopy& copy,
                     IndexBenchResult& r) {
  std::string binary = yantra_binary(options);
  int repeat = std::max(1, options.repeat);
  auto cold = fastest(repeat, [&] {
    std::error_code ec;
    fs::remove_all(work / "store", ec);
    // The copy's dirty pages must not be written back inside a measured run (on ext4, the
    // index's one fsync would flush them too).
    ::sync();
    return run_index(binary, work, "yantra index (cold)");
  });
  if (!cold) return cold.error();
  r.cold = cold->measured;
  std::string peers = find_peers_dir(options.peers_dir, binary);
  std::string gold_reason = gold_not_run_reason(options, peers);
  r.gold = *fastest(repeat, [&] {
    return Result<Measured>(run_peer(
        "gold_graph.py", {options.python, peers + "/gold_graph.py", work / "corpus", work / "gold"},
        gold_reason));
  });
  r.ctags = *fastest(repeat, [&] {
    return Result<Measured>(
        run_peer("ctags -R",
                 {options.ctags, "-R", "--languages=Python", "-f", work / "tags", work / "corpus"},
                 options.run_ctags ? "" : "disabled (--no-ctags)"));
  });
  if (r.gold.ran) {
    auto recall = compare_calls_with_gold(work / "gold.edges.jsonl", work / "store/graph.db");
    if (!recall) return recall.error();
    r.gold_calls = recall->gold, r.gold_calls_found = recall->found;
    r.gold_calls_missing_sample = std::move(recall->missing_sample);
  }
  auto incremental = fastest(repeat, [&]() -> Result<IndexRun> {
    if (auto touched = touch_one_file(work, copy); !touched) return touched.error();
    ::sync();  // likewise: the edit and the peers' output files
    return run_index(binary, work, "yantra index (incremental)");
  });
  if (!incremental) return incremental.error();
  r.incremental = incremental->measured;
  r.incremental_files_parsed = incremental->files_parsed;
  return {};
}

}  // namespace

Result<IndexBenchResult> run_index_bench(const IndexBenchOptions& options) {
  if (std::error_code ec; !fs::is_directory(options.corpus, ec))
    return Error::in(options.corpus,
                     "corpus not found or not a directory; pass a directory of "
                     "Python sources (the default, /usr/lib/python3.11, comes "
                     "with Debian's libpython3.11-testsuite)");
  auto work = WorkDir::create(options.work_dir);
  if (!work) return work.error();
  progress("copying the .py files of " + options.corpus + " ...");
  auto copy = copy_python_files(options.corpus, *work / "corpus");
  if (!copy) return copy.error();
  IndexBenchResult r;
  r.files = copy->files, r.bytes = copy->bytes;
  r.repeat = std::max(1, options.repeat);
  if (auto ran = run_all(options, *work, *copy, r); !ran) return ran.error();
  r.table = render_table(options, r);
  r.json_line = render_json(options, r);
  return r;
}

}  // namespace yantra::bench
