// `yantra index`, `yantra graph ...` and `yantra demo`.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/cli.h"
#include "graph/graph.h"
#include "student/student.h"

namespace yantra::cli {
namespace {

using graph::EdgeInfo;
using graph::NodeInfo;
using nlohmann::json;

constexpr size_t kProblemsShown = 20;

std::string with_commas(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

json report_json(const graph::IndexReport& r) {
  json problems = json::array();
  for (const auto& p : r.problems) problems.push_back(p.message);
  return {{"db", r.db_path},
          {"files",
           {{"seen", r.files_seen},
            {"parsed", r.files_parsed},
            {"unchanged", r.files_unchanged},
            {"removed", r.files_removed},
            {"failed", r.files_failed},
            {"with_syntax_errors", r.files_with_syntax_errors}}},
          {"syntax_errors", r.syntax_errors},
          {"bytes_parsed", r.bytes_parsed},
          {"up_to_date", r.up_to_date},
          {"nodes", r.nodes},
          {"edges", r.edges},
          {"nodes_by_kind", r.nodes_by_kind},
          {"edges_by_kind", r.edges_by_kind},
          {"calls_resolved", r.calls_resolved},
          {"written",
           {{"nodes", r.nodes_written},
            {"nodes_deleted", r.nodes_deleted},
            {"edges", r.edges_written},
            {"edges_deleted", r.edges_deleted}}},
          {"seconds",
           {{"total", r.seconds},
            {"scan", r.scan_seconds},
            {"parse", r.parse_seconds},
            {"resolve", r.resolve_seconds},
            {"write", r.write_seconds}}},
          {"peak_rss_bytes", peak_rss_bytes()},
          {"problems", problems}};
}

void print_problems(const graph::IndexReport& r, bool all) {
  size_t shown = all ? r.problems.size() : std::min(r.problems.size(), kProblemsShown);
  for (size_t i = 0; i < shown; ++i) std::cerr << r.problems[i].message << "\n";
  if (shown < r.problems.size())
    std::cerr << "... and " << r.problems.size() - shown << " more (--verbose lists them all)\n";
}

void print_report(const graph::IndexReport& r) {
  if (r.up_to_date) {
    std::cout << "up to date: " << with_commas(r.files_seen) << " files unchanged ("
              << format_fixed(r.seconds, 3) << " s)\n";
    return;
  }
  std::cout << "indexed " << with_commas(r.files_seen)
            << (r.files_seen == 1 ? " file: " : " files: ") << with_commas(r.files_parsed)
            << " parsed, " << with_commas(r.files_unchanged) << " unchanged, "
            << with_commas(r.files_removed) << " removed, " << with_commas(r.files_failed)
            << " skipped (" << format_fixed(r.seconds, 2) << " s, " << human_bytes(r.bytes_parsed)
            << " parsed)\n";
  std::cout << with_commas(r.nodes) << " nodes, " << with_commas(r.edges) << " edges ("
            << with_commas(r.calls_resolved) << " calls resolved inside the repository); "
            << with_commas(r.files_with_syntax_errors) << " files with syntax errors\n";
  std::cout << "store: " << r.db_path << "\n";
}

// A trained student beside the graph keeps its embedding cache in step with the graph;
// a student that cannot load is reported, and the index stands.
std::optional<student::EmbeddingRefresh> refresh_student_embeddings(const std::string& db_path) {
  std::string checkpoint =
      (std::filesystem::path(db_path).parent_path() / "student" / "model.pt").string();
  std::error_code ec;
  if (!std::filesystem::exists(checkpoint, ec)) return std::nullopt;
  auto done = [&]() -> Result<student::EmbeddingRefresh> {
    auto graph = student::load_graph(db_path);
    if (!graph) return graph.error();
    return student::refresh_embeddings(checkpoint, *graph);
  }();
  if (!done) {
    std::cerr << "yantra index: the student's embeddings were not refreshed: "
              << done.error().message << " (the index itself is complete)\n";
    return std::nullopt;
  }
  if (!done->cache_note.empty()) std::cerr << "yantra index: " << done->cache_note << "\n";
  return *done;
}

json embeddings_json(const student::EmbeddingRefresh& e) {
  return {{"nodes", e.nodes},
          {"changed", e.changed},
          {"recomputed", e.recomputed},
          {"full", e.full},
          {"seconds", e.seconds}};
}

struct IndexArgs {
  std::string path = ".";
  std::string store;
  unsigned threads = 0;
  bool json_out = false, verbose = false;
};

void add_store_option(CLI::App& app, std::string& store) {
  app.add_option("--store", store, "directory of the graph store (default: REPO/.yantra)")
      ->envname("YANTRA_STORE");
}

}  // namespace

Handler declare_index(CLI::App& app) {
  auto a = std::make_shared<IndexArgs>();
  app.add_option("path", a->path, "repository to index (default: the current directory)");
  add_store_option(app, a->store);
  app.add_option("--threads", a->threads, "parser threads (default: every core)")
      ->envname("YANTRA_THREADS");
  app.add_flag("--json", a->json_out, "print the report as JSON");
  app.add_flag("--verbose", a->verbose, "list every file problem, not the first 20");
  return [a] {
    graph::IndexOptions options;
    options.root = a->path;
    options.store_dir = a->store;
    options.threads = a->threads;
    options.leave_memory_to_exit = true;  // the process ends after the report
    graph::IndexReport r = graph::index_repository(real_file_system(), options).take();
    print_problems(r, a->verbose || a->json_out);
    std::optional<student::EmbeddingRefresh> embeddings;
    if (!r.up_to_date) embeddings = refresh_student_embeddings(r.db_path);
    if (a->json_out) {
      json j = report_json(r);
      if (embeddings) j["student_embeddings"] = embeddings_json(*embeddings);
      std::cout << j.dump() << "\n";
    } else {
      print_report(r);
      if (embeddings)
        std::cout << "student embeddings: " << with_commas(embeddings->recomputed) << " of "
                  << with_commas(embeddings->nodes) << " recomputed ("
                  << format_fixed(embeddings->seconds, 2) << " s)\n";
    }
    return 0;
  };
}

namespace {

struct GraphArgs {
  std::string repo = ".";
  std::string store;
  std::string name;
  bool json_out = false;
};

std::string db_path_for(const GraphArgs& a) {
  return (a.store.empty() ? a.repo + "/.yantra" : a.store) + "/graph.db";
}

json node_json(const NodeInfo& n) {
  json j = {{"id", n.id}, {"kind", n.kind}, {"qname", n.qname}, {"name", n.name}};
  if (!n.file.empty()) j.update({{"file", n.file}, {"line", n.line}, {"end_line", n.end_line}});
  if (n.n_params >= 0)
    j.update({{"signature", n.signature},
              {"n_params", n.n_params},
              {"complexity", n.complexity},
              {"flags", n.flags},
              {"async", n.is_async}});
  if (!n.decorators.empty()) j["decorators"] = n.decorators;
  if (!n.docstring.empty()) j["docstring"] = n.docstring;
  return j;
}

std::string location(const NodeInfo& n) {
  return n.file.empty() ? "(external)" : n.file + ":" + std::to_string(n.line);
}

int print_edges(const GraphArgs& a, const NodeInfo& of, const std::vector<EdgeInfo>& edges,
                const char* title) {
  if (a.json_out) {
    json list = json::array();
    for (const auto& e : edges)
      list.push_back(
          {{"node", node_json(e.node)}, {"n", e.n}, {"line", e.line}, {"resolved", e.resolved}});
    std::cout << json{{"of", node_json(of)}, {title, list}}.dump() << "\n";
    return 0;
  }
  std::cout << title << " of " << of.qname << " (" << location(of) << "): " << edges.size() << "\n";
  Table t({"node", "kind", "where", "sites"});
  for (const auto& e : edges)
    t.add({e.node.qname, e.node.kind, location(e.node), std::to_string(e.n)});
  if (!edges.empty()) std::cout << t.render();
  return 0;
}

int show_stats(const graph::GraphReader& g, const GraphArgs& a) {
  graph::GraphStats s = g.stats();
  if (a.json_out) {
    std::cout << json{{"root", s.root},
                      {"indexed_at", s.indexed_at},
                      {"files", s.files},
                      {"files_with_syntax_errors", s.files_with_syntax_errors},
                      {"syntax_errors", s.syntax_errors},
                      {"lines", s.lines},
                      {"bytes", s.bytes},
                      {"nodes", s.nodes},
                      {"edges", s.edges},
                      {"nodes_by_kind", s.nodes_by_kind},
                      {"edges_by_kind", s.edges_by_kind},
                      {"calls_resolved", s.calls_resolved},
                      {"calls_external", s.calls_external}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "graph of " << s.root << " (indexed " << s.indexed_at << ")\n"
            << with_commas(static_cast<uint64_t>(s.files)) << " files, "
            << with_commas(static_cast<uint64_t>(s.lines)) << " lines, "
            << human_bytes(static_cast<uint64_t>(s.bytes)) << "; " << s.files_with_syntax_errors
            << " files with syntax errors\n\n";
  Table t({"nodes", "count"});
  for (const auto& [k, v] : s.nodes_by_kind) t.add({k, with_commas(static_cast<uint64_t>(v))});
  t.add({"total", with_commas(static_cast<uint64_t>(s.nodes))});
  std::cout << t.render() << "\n";
  Table e({"edges", "count"});
  for (const auto& [k, v] : s.edges_by_kind) e.add({k, with_commas(static_cast<uint64_t>(v))});
  e.add({"total", with_commas(static_cast<uint64_t>(s.edges))});
  std::cout << e.render() << "\ncalls resolved inside the repository: "
            << with_commas(static_cast<uint64_t>(s.calls_resolved))
            << "; to external names: " << with_commas(static_cast<uint64_t>(s.calls_external))
            << "\n";
  return 0;
}

int show_node(const NodeInfo& n, const GraphArgs& a) {
  if (a.json_out) {
    std::cout << node_json(n).dump() << "\n";
    return 0;
  }
  std::cout << n.kind << " " << n.qname << "  " << location(n) << "\n";
  if (n.n_params >= 0) {
    std::cout << "  signature:  " << n.name << n.signature << (n.is_async ? "  (async)" : "")
              << "\n"
              << "  lines:      " << n.n_lines << ", complexity " << n.complexity << "\n";
    if (!n.flags.empty()) std::cout << "  patterns:   " << n.flags << "\n";
  }
  if (!n.decorators.empty()) std::cout << "  decorators: " << n.decorators << "\n";
  if (!n.docstring.empty()) std::cout << "\n" << n.docstring << "\n";
  return 0;
}

}  // namespace

Handler declare_graph(CLI::App& app) {
  auto a = std::make_shared<GraphArgs>();
  app.require_subcommand(1);
  // Declared once, on `graph`: subcommands fall through to them, so `yantra graph stats
  // --store S` works and an environment variable never beats a flag.
  app.add_option("--repo", a->repo, "indexed repository (default: the current directory)")
      ->envname("YANTRA_REPO");
  add_store_option(app, a->store);
  app.add_flag("--json", a->json_out, "print JSON");
  auto sub = [&app, a](const char* name, const char* help, bool takes_name) {
    CLI::App* s = app.add_subcommand(name, help)->fallthrough();
    if (takes_name)
      s->add_option("name", a->name, "qualified name, dotted suffix or bare name")->required();
  };
  sub("stats", "counts of nodes and edges by kind", false);
  sub("show", "one node: location, signature, docstring, patterns", true);
  sub("callers", "who calls NAME", true);
  sub("callees", "what NAME calls", true);
  sub("tests", "tests that exercise NAME (or, for a test, what it tests)", true);
  CLI::App* self = &app;
  return [a, self] {
    graph::GraphReader g = graph::GraphReader::open(db_path_for(*a)).take();
    std::string which = self->get_subcommands().front()->get_name();
    if (which == "stats") return show_stats(g, *a);
    NodeInfo n = g.find_one(a->name).take();
    if (which == "show") return show_node(n, *a);
    if (which == "callers") return print_edges(*a, n, g.callers(n.id), "callers");
    if (which == "callees") return print_edges(*a, n, g.callees(n.id), "callees");
    if (n.kind == "test") return print_edges(*a, n, g.tested_by_this(n.id), "exercises");
    return print_edges(*a, n, g.tests_of(n.id), "tests");
  };
}

Handler declare_demo(CLI::App& app) {
  auto corpus = std::make_shared<std::string>("/usr/lib/python3.11");
  app.add_option("--corpus", *corpus, "Python tree to index (default: Debian's CPython stdlib)")
      ->envname("YANTRA_DEMO_CORPUS");
  return [corpus] {
    const char* cache = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    std::string base = cache && *cache ? cache : std::string(home ? home : "/tmp") + "/.cache";
    graph::IndexOptions options;
    options.root = *corpus;
    options.store_dir = base + "/yantra/demo";
    std::cout << "indexing " << *corpus << " into " << options.store_dir << "\n";
    graph::IndexReport r = graph::index_repository(real_file_system(), options).take();
    print_report(r);
    std::cout << "\n";
    GraphArgs a;
    a.store = options.store_dir;
    graph::GraphReader g = graph::GraphReader::open(r.db_path).take();
    show_stats(g, a);
    for (const char* name : {"json.dumps", "json.encoder.JSONEncoder.encode"}) {
      auto n = g.find_one(name);
      if (!n) continue;
      std::cout << "\n";
      print_edges(a, *n, g.callers(n->id), "callers");
    }
    return 0;
  };
}

}  // namespace yantra::cli
