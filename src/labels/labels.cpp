// extract_labels: which files need analysing, running the analysers and the test-kind
// query on them, the cache update, then the labels of every function from the cache.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>
#include <unordered_set>

#include "graph/facts.h"
#include "labels/internal.h"

namespace yantra::labels {

namespace {

constexpr int kPyflakes = static_cast<int>(Analyser::kPyflakes);
constexpr int kPylint = static_cast<int>(Analyser::kPylint);

// One file whose cached labels do not cover this run.
struct Job {
  int32_t file = -1;             // index into GraphInput::files
  bool run[2] = {false, false};  // per Analyser
  bool tests = false;            // re-read its tests' kinds
  bool fresh = false;            // its content is not the cached one: start empty
  std::vector<uint32_t> test_lines;
  std::vector<std::string> test_qnames;
  std::string problem;                            // could not be read as indexed: not analysed
  std::unordered_map<uint32_t, TestKinds> kinds;  // test line -> kinds
};

// Runs `work(i)` for i in [0, n) on `threads` threads.
template <class F>
void parallel_for(size_t n, unsigned threads, F work) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::min<size_t>(threads, n); ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) work(i);
    });
  for (std::thread& t : pool) t.join();
}

// Reads a job's file and checks it is what the graph was built from; then its tests.
void read_job(const std::string& root, const GraphFile& file, Job& job) {
  auto bytes = read_file(root + "/" + file.path);
  if (!bytes) {
    job.problem = "cannot be read since it was indexed (" + bytes.error().message +
                  "); run `yantra index` again";
    return;
  }
  if (hash64(*bytes) != file.hash) {
    job.problem = "changed since it was indexed; run `yantra index` again";
    return;
  }
  if (!job.tests) return;
  graph::DecodedSource decoded = graph::decode_source(std::move(bytes).value());
  if (decoded.error.empty()) job.kinds = source_test_kinds(decoded.text, job.test_lines);
}

std::vector<Job> plan(const GraphInput& graph,
                      const std::unordered_map<std::string, CachedFile>& cached,
                      const std::array<std::string, 2>& versions, bool pylint,
                      uint64_t tests_version, const std::vector<bool>& has_functions) {
  std::vector<Job> jobs;
  std::vector<int32_t> job_of(graph.files.size(), -1);
  std::vector<bool> has_tests(graph.files.size(), false);
  for (const GraphNode& n : graph.nodes)
    if (n.kind == NodeKind::kTest) has_tests[n.file] = true;
  for (size_t f = 0; f < graph.files.size(); ++f) {
    if (!has_functions[f]) continue;
    auto it = cached.find(graph.files[f].path);
    bool same = it != cached.end() && it->second.hash == graph.files[f].hash;
    Job job;
    job.file = static_cast<int32_t>(f);
    job.fresh = !same;
    job.run[kPyflakes] = !same || it->second.version[kPyflakes] != versions[kPyflakes];
    job.run[kPylint] = pylint && (!same || it->second.version[kPylint] != versions[kPylint]);
    // A file without tests has no kinds to read, whatever the query's version.
    job.tests = has_tests[f] && (!same || it->second.tests_version != tests_version);
    if (!job.run[kPyflakes] && !job.run[kPylint] && !job.tests) continue;
    job_of[f] = static_cast<int32_t>(jobs.size());
    jobs.push_back(std::move(job));
  }
  for (const GraphNode& n : graph.nodes)
    if (n.kind == NodeKind::kTest && job_of[n.file] >= 0) {
      jobs[job_of[n.file]].test_lines.push_back(n.line);
      jobs[job_of[n.file]].test_qnames.push_back(n.qname);
    }
  return jobs;
}

// The cache row a job leaves: the old one (same content) with what ran replaced.
CachedFile updated(const CachedFile* old, const GraphFile& file, const Job& job,
                   const std::array<std::string, 2>& versions, uint64_t tests_version,
                   FileResult* results[2]) {
  CachedFile c;
  if (old && !job.fresh) c = *old;
  c.hash = file.hash;
  for (int a : {kPyflakes, kPylint}) {
    if (!job.run[a]) continue;
    std::erase_if(c.findings, [&](const Finding& x) { return static_cast<int>(x.analyser) == a; });
    c.version[a] = versions[a];
    c.error[a] = results[a]->ok ? "" : results[a]->error;
    for (Finding& x : results[a]->findings) c.findings.push_back(std::move(x));
  }
  if (job.tests) {
    c.tests.clear();
    for (size_t i = 0; i < job.test_lines.size(); ++i) {
      auto k = job.kinds.find(job.test_lines[i]);
      c.tests.push_back(
          {job.test_lines[i], job.test_qnames[i], k == job.kinds.end() ? TestKinds{} : k->second});
    }
    c.tests_version = tests_version;
  } else if (job.fresh) {
    c.tests_version = tests_version;  // no tests in it
  }
  return c;
}

}  // namespace

Result<LabelReport> extract_labels(const LabelOptions& options) {
  double start = monotonic_seconds();
  if (options.root.empty()) return Error{"labels: no repository given"};
  std::string store_dir = options.store_dir.empty() ? options.root + "/.yantra" : options.store_dir;
  auto graph = read_graph(store_dir + "/graph.db");
  if (!graph) return graph.error();
  auto found = analyser_versions(options.pylint);
  if (!found) return found.error();
  const std::array<std::string, 2>& versions = *found;
  auto store = LabelStore::open(store_dir + "/labels.db");
  if (!store) return store.error();
  auto loaded = store->load();
  if (!loaded) return loaded.error();
  std::unordered_map<std::string, CachedFile> cached = std::move(loaded).value();

  unsigned threads = options.threads ? options.threads : core_count();
  uint64_t tests_version = test_kinds_version();
  std::vector<bool> has_functions(graph->files.size(), false);
  for (const GraphNode& n : graph->nodes)
    if (is_function(n.kind)) has_functions[n.file] = true;
  std::vector<Job> jobs =
      plan(*graph, cached, versions, options.pylint, tests_version, has_functions);
  parallel_for(jobs.size(), threads,
               [&](size_t i) { read_job(options.root, graph->files[jobs[i].file], jobs[i]); });

  // Each analyser on the files that need it, in one sweep of batches.
  std::vector<FileResult> results[2];
  std::vector<size_t> slot[2];  // job -> index into results[a]
  size_t total = 0;
  std::vector<std::string> paths[2];
  for (int a : {kPyflakes, kPylint}) {
    slot[a].assign(jobs.size(), SIZE_MAX);
    for (size_t j = 0; j < jobs.size(); ++j)
      if (jobs[j].run[a] && jobs[j].problem.empty()) {
        slot[a][j] = paths[a].size();
        paths[a].push_back(graph->files[jobs[j].file].path);
      }
    total += paths[a].size();
  }
  {
    std::optional<Progress> progress;
    if (options.progress && total > 0) progress.emplace("labels", total);
    for (int a : {kPyflakes, kPylint})
      results[a] = run_analyser(static_cast<Analyser>(a), options.root, paths[a], threads,
                                progress ? &*progress : nullptr);
    if (progress) progress->finish();
  }

  LabelReport report;
  std::unordered_map<std::string, CachedFile> changed;
  std::vector<bool> readable(graph->files.size(), true);
  for (size_t j = 0; j < jobs.size(); ++j) {
    const Job& job = jobs[j];
    const GraphFile& file = graph->files[job.file];
    if (!job.problem.empty()) {
      readable[job.file] = false;
      report.problems.push_back(Error::in(file.path, job.problem));
      continue;
    }
    FileResult* r[2] = {nullptr, nullptr};
    for (int a : {kPyflakes, kPylint})
      if (slot[a][j] != SIZE_MAX) r[a] = &results[a][slot[a][j]];
    auto old = cached.find(file.path);
    changed[file.path] = updated(old == cached.end() ? nullptr : &old->second, file, job, versions,
                                 tests_version, r);
    if (job.run[kPyflakes] || job.run[kPylint]) ++report.files_analysed;
  }
  std::unordered_set<std::string_view> current;
  for (size_t f = 0; f < graph->files.size(); ++f)
    if (has_functions[f]) current.insert(graph->files[f].path);
  std::vector<std::string> removed;
  for (const auto& [path, file] : cached)
    if (!current.contains(path)) removed.push_back(path);
  if (auto ok = store->update(changed, removed); !ok) return ok.error();

  for (auto& [path, file] : changed) cached[path] = std::move(file);
  LabelReport labels = assemble_labels(*graph, cached, readable, options.pylint);
  labels.files_analysed = report.files_analysed;
  size_t with_functions = current.size();
  size_t unreadable = static_cast<size_t>(std::count(readable.begin(), readable.end(), false));
  labels.files_cached = with_functions - report.files_analysed - unreadable;
  report.problems.insert(report.problems.end(), labels.problems.begin(), labels.problems.end());
  labels.problems = std::move(report.problems);
  std::sort(labels.problems.begin(), labels.problems.end(),
            [](const Error& a, const Error& b) { return a.message < b.message; });
  labels.seconds = monotonic_seconds() - start;
  return labels;
}

}  // namespace yantra::labels
