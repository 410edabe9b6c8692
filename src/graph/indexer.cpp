// index_repository: scan, parse what changed (on every core), reuse stored facts for the
// rest, resolve the whole graph, write the difference.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <latch>
#include <thread>
#include <unordered_set>

#include "graph/facts.h"
#include "graph/graph.h"
#include "graph/resolve.h"
#include "graph/store.h"

namespace yantra::graph {
namespace {

// One file's journey through a run.
struct FileJob {
  const SourceFile* source = nullptr;
  const StoredFile* stored = nullptr;  // its row from the previous run, if any
  bool needs_read = false;             // new, or size/mtime changed
  FileRow row;
  FileFacts facts;
  bool has_facts = false;
  std::vector<Error> problems;
};

// Reads, decodes and extracts one file (worker thread). Unchanged content is not parsed.
void process(FileSystem& fs, const std::string& prefix, FileJob& job, bool force) {
  const SourceFile& src = *job.source;
  FileRow& row = job.row;
  row.path = src.rel_path;
  row.size = src.size;
  row.mtime_ns = src.mtime_ns;
  auto bytes = fs.read(src.abs_path);
  if (!bytes) {
    job.problems.push_back(Error::in(src.rel_path, bytes.error().message));
    if (job.stored) {  // keep what we knew rather than lose the file to a passing fault
      job.needs_read = false;
      row.change = FileRow::Change::kNone;
      job.problems.back().message += " (kept its previous index)";
      return;
    }
    row.status = "failed", row.message = job.problems.back().message;
    row.change = FileRow::Change::kContent;
    row.mtime_ns = -1;  // no file has this mtime: the next run reads it again
    return;
  }
  row.size = bytes->size();
  row.hash = hash64(*bytes);
  if (!force && job.stored && job.stored->hash == row.hash) {  // touched, not changed
    row.change = FileRow::Change::kStat;
    job.needs_read = false;
    return;
  }
  row.change = FileRow::Change::kContent;
  DecodedSource decoded = decode_source(std::move(bytes).value());
  if (!decoded.error.empty()) {
    job.problems.push_back(Error{src.rel_path + ":" + decoded.error});
    row.status = "failed", row.message = job.problems.back().message;
    return;
  }
  job.facts = extract_facts(decoded.text, module_name_for(src.rel_path, prefix),
                            is_test_path(src.rel_path));
  job.has_facts = true;
  row.n_lines = job.facts.n_lines;
  row.syntax_errors = job.facts.syntax_errors;
  row.status = job.facts.syntax_errors ? "syntax_errors" : "ok";
  if (job.facts.syntax_errors) {
    const SyntaxIssue& e = job.facts.first_errors.front();
    job.problems.push_back(Error::at(src.rel_path, e.line, e.col,
                                     e.what + " (" + std::to_string(job.facts.syntax_errors) +
                                         " in this file; indexed what parses)"));
    row.message = job.problems.back().message;
  }
  row.facts = encode_facts(job.facts);
}

void run_parallel(size_t count, unsigned threads, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count;) fn(i);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < count; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

std::string package_prefix(FileSystem& fs, const std::string& root) {
  auto st = fs.stat(root + "/__init__.py");
  if (!st || st->type != FileStat::Type::kFile) return "";
  return std::filesystem::path(root).filename().string();
}

}  // namespace

Result<IndexReport> index_repository(FileSystem& fs, const IndexOptions& options) {
  double t0 = monotonic_seconds();
  IndexReport report;
  std::error_code ec;
  std::string root = std::filesystem::weakly_canonical(options.root, ec).string();
  if (ec || root.empty()) root = options.root;
  auto root_stat = fs.stat(root);
  if (!root_stat || root_stat->type != FileStat::Type::kDirectory)
    return Error::in(options.root, "not a directory; give the path of a Python repository");
  std::string store_dir = options.store_dir.empty() ? root + "/.yantra" : options.store_dir;
  std::filesystem::create_directories(store_dir, ec);
  if (ec) return Error::in(store_dir, "cannot create the store directory: " + ec.message());
  auto lock = FileLock::try_acquire(store_dir + "/index.lock", "`yantra index`");
  if (!lock) return lock.error();
  report.db_path = store_dir + "/graph.db";
  auto opened = Store::open(report.db_path, true);
  if (!opened) return opened.error();
  Store store = std::move(opened).value();

  SourceScan scan = discover_sources(fs, root, options.sources);
  report.problems = scan.skipped;
  report.files_seen = scan.files.size();
  std::string prefix = package_prefix(fs, root);
  bool prefix_changed = store.meta("package_prefix") != prefix || store.meta("root").empty();
  std::unordered_map<std::string, StoredFile> stored = store.files();

  // The run's large structures (millions of small strings) live on the heap, so that a
  // one-shot process can leave them to the OS instead of freeing them one by one.
  auto jobs_owner = std::make_unique<std::vector<FileJob>>(scan.files.size());
  std::vector<FileJob>& jobs = *jobs_owner;
  std::vector<size_t> to_read;
  for (size_t i = 0; i < scan.files.size(); ++i) {
    FileJob& job = jobs[i];
    job.source = &scan.files[i];
    auto it = stored.find(job.source->rel_path);
    if (it != stored.end()) {
      job.stored = &it->second;
      job.needs_read = prefix_changed || it->second.size != job.source->size ||
                       it->second.mtime_ns != job.source->mtime_ns;
      if (prefix_changed) it->second.hash = 0;  // force a re-parse: module names moved
    } else {
      job.needs_read = true;
    }
    if (job.needs_read) to_read.push_back(i);
  }
  std::unordered_set<std::string_view> present;
  for (const SourceFile& f : scan.files) present.insert(f.rel_path);
  std::vector<std::string> removed;
  for (const auto& [path, row] : stored)
    if (!present.count(path)) removed.push_back(path);
  report.files_removed = removed.size();
  report.scan_seconds = monotonic_seconds() - t0;

  double t1 = monotonic_seconds();
  unsigned threads = options.threads ? options.threads : core_count();
  auto parse_all = [&](const std::vector<size_t>& which, bool force) {
    Progress progress("indexing", which.size());
    if (!options.progress) progress.finish();
    run_parallel(which.size(), threads, [&](size_t k) {
      process(fs, prefix, jobs[which[k]], force);
      progress.advance();
    });
  };
  // Largest files first, so that no core waits alone on a big file at the end.
  std::sort(to_read.begin(), to_read.end(), [&](size_t a, size_t b) {
    const SourceFile &fa = scan.files[a], &fb = scan.files[b];
    return fa.size != fb.size ? fa.size > fb.size : a < b;
  });
  parse_all(to_read, false);
  report.parse_seconds = monotonic_seconds() - t1;

  bool any_change = !removed.empty();
  for (const FileJob& job : jobs) any_change |= job.row.change == FileRow::Change::kContent;
  if (!any_change) {
    // Touched but unchanged files: remember their new mtime, so they are not read again.
    std::vector<FileRow> touched;
    for (FileJob& job : jobs) {
      for (auto& p : job.problems) report.problems.push_back(std::move(p));
      if (job.row.change == FileRow::Change::kStat) touched.push_back(std::move(job.row));
    }
    if (!touched.empty()) {
      if (auto begun = store.begin_write(touched, {}); !begun) return begun.error();
      if (auto done = store.finish_files(); !done) return done.error();
    }
    report.up_to_date = true;
    report.files_unchanged = scan.files.size();
    report.seconds = monotonic_seconds() - t0;
    return report;
  }

  // Unchanged files: their stored facts. A blob this build cannot read (another format
  // version, damage) means parsing the file again, never dropping it.
  double t2 = monotonic_seconds();
  std::vector<int64_t> reuse_ids;
  for (const FileJob& job : jobs)
    if (job.stored && job.row.change != FileRow::Change::kContent)
      reuse_ids.push_back(job.stored->id);
  std::unordered_map<int64_t, std::string> blobs = store.facts_blobs(reuse_ids);
  std::vector<size_t> reused;
  for (size_t i = 0; i < jobs.size(); ++i)
    if (jobs[i].stored && blobs.count(jobs[i].stored->id)) reused.push_back(i);
  // (A file without a blob failed before and has not changed since.)
  run_parallel(reused.size(), threads, [&](size_t k) {
    FileJob& job = jobs[reused[k]];
    job.has_facts = decode_facts(blobs.at(job.stored->id), job.facts);
  });
  std::vector<size_t> retry;
  for (size_t i : reused)
    if (!jobs[i].has_facts) retry.push_back(i);
  blobs.clear();
  parse_all(retry, true);

  std::vector<const FileFacts*> facts;
  std::vector<std::string> fact_paths;
  for (FileJob& job : jobs) {
    for (auto& p : job.problems) report.problems.push_back(std::move(p));
    if (job.row.change == FileRow::Change::kContent) {
      report.files_parsed += job.has_facts;
      report.bytes_parsed += job.has_facts ? job.row.size : 0;
      report.files_failed += !job.has_facts;
    } else {
      report.files_unchanged++;
    }
    if (!job.has_facts) continue;
    report.syntax_errors += job.facts.syntax_errors;
    report.files_with_syntax_errors += job.facts.syntax_errors > 0;
    facts.push_back(&job.facts);
    fact_paths.push_back(job.source->rel_path);
  }
  // A first index is built beside the store and renamed into place (see create_scratch).
  auto scratch = store.empty() ? Store::create_scratch(report.db_path) : Result<Store>(Error{});
  Store& target = scratch ? scratch.value() : store;
  std::vector<FileRow> rows;
  rows.reserve(jobs.size());
  for (FileJob& job : jobs) rows.push_back(std::move(job.row));

  // The store works on a second thread beside the resolver: it writes the file rows while
  // the repository's nodes are resolved, then those nodes while the calls are resolved.
  auto resolution_owner = std::make_unique<Resolution>(facts);
  Resolution& resolution = *resolution_owner;
  const std::vector<NodeRecord>* repository_nodes = nullptr;
  std::latch nodes_ready(1);
  Result<void> begun, nodes_written;
  std::thread writer([&] {
    begun = target.begin_write(rows, removed);
    nodes_ready.wait();
    if (begun) nodes_written = target.write_nodes(fact_paths, *repository_nodes);
  });
  repository_nodes = &resolution.repository_nodes();
  nodes_ready.count_down();
  resolution.edges();
  writer.join();
  auto graph_owner = std::make_unique<ResolvedGraph>(resolution.take());
  ResolvedGraph& graph = *graph_owner;
  report.resolve_seconds = monotonic_seconds() - t2;
  if (!begun) return begun.error();
  if (!nodes_written) return nodes_written.error();

  double t3 = monotonic_seconds();
  std::vector<std::pair<std::string, std::string>> meta = {
      {"root", root},
      {"package_prefix", prefix},
      {"indexed_at", utc_now_iso()},
      {"call_sites", std::to_string(graph.call_sites)},
      {"call_sites_resolved", std::to_string(graph.call_sites_resolved)},
      {"call_sites_unnamed", std::to_string(graph.call_sites_unnamed)}};
  auto written = target.finish_write(graph, meta);
  if (!written) return written.error();
  if (scratch) {
    if (auto published = scratch->publish(store); !published) return published.error();
  }
  report.write_seconds = monotonic_seconds() - t3;

  report.nodes = graph.nodes.size();
  report.edges = graph.edges.size();
  for (const auto& n : graph.nodes) report.nodes_by_kind[std::string(to_string(n.kind))]++;
  for (const auto& e : graph.edges) {
    report.edges_by_kind[std::string(to_string(e.kind))]++;
    report.calls_resolved += e.kind == EdgeKind::kCalls && e.resolved;
  }
  report.nodes_written = written->nodes_written;
  report.nodes_deleted = written->nodes_deleted;
  report.edges_written = written->edges_written;
  report.edges_deleted = written->edges_deleted;
  report.seconds = monotonic_seconds() - t0;
  if (options.leave_memory_to_exit) {  // see IndexOptions
    (void)jobs_owner.release();
    (void)resolution_owner.release();
    (void)graph_owner.release();
  }
  return report;
}

}  // namespace yantra::graph
