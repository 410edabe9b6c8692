// library: every validated generation, kept so the student can answer later requests
// from it; failed candidates are kept too, as examples to avoid.
//
//   Library lib = Library::open("/path/to/repo", 256).take();   // REPO/.yantra/library.db
//   GraphFingerprinter graph =
//       GraphFingerprinter::open("/path/to/repo/.yantra/graph.db", "/path/to/repo").take();
//   int64_t id = lib.add({.request = "parse an ISO date", .entry_point = "parse_date",
//                         .code = code, .tests = {"assert parse_date('2024-01-02').day == 2"},
//                         .embedding = student_embedding, .tier = "open_local",
//                         .model = "deepseek-coder", .tests_passed = 1,
//                         .relies_on = {"pkg.dates.to_utc"}},
//                        &graph).take();          // pins pkg.dates.to_utc's current text
//   for (const Hit& hit : lib.nearest(query_embedding, 5).take())
//     printf("%.3f %s\n", hit.similarity, hit.entry.entry_point.c_str());
//   lib.record_use(id, /*passed=*/true).take();
//   // after `yantra index`: entries whose relied-on functions changed leave the index
//   size_t gone = lib.invalidate_changed(GraphFingerprinter::open(db, root).take()).take();
//
// Rows live in SQLite (tables library_entries and library_info, WAL mode, busy timeout) in a
// file of their own, REPO/.yantra/library.db: the indexer may rebuild graph.db from scratch.
// Embeddings are stored as float32 BLOBs exactly as given; nearest-neighbour search runs on
// an in-memory hnswlib graph (inner product over L2-normalised vectors, i.e. cosine), built
// from the rows at open and kept in step with add(), invalidation and other connections'
// writes (seen through PRAGMA data_version). A Library may be used from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "graph/graph.h"

namespace yantra::library {

// The tiers an entry's code may come from.
inline constexpr std::string_view kTiers[] = {"student", "open_local", "open_cloud", "premium"};

struct Entry {
  int64_t id = 0;                  // set by add()
  std::string request;             // the request text as the user gave it
  std::string entry_point;         // the function's name
  std::string signature;           // "def f(a, b):" line(s); may be empty
  std::string code;                // the validated code (or, for avoid, the failed candidate)
  std::vector<std::string> tests;  // the test statements it was run against, as run
  std::vector<float> embedding;    // the student's embedding of the request
  std::string tier;                // one of kTiers
  std::string model;               // e.g. "gpt-4"
  int tests_passed = 0, tests_failed = 0;
  double confidence = 0;  // how sure the router was of it when stored, in [0, 1]
  bool avoid = false;     // a failed candidate, kept as a negative example
  // An answer that passed but was not sure enough to reuse: kept as evidence, so a later
  // asking of the same request can add to it. Never returned unless avoid ones are asked.
  bool pending = false;
  std::vector<std::string> relies_on;  // qualified names of repository functions / imports
  // qname -> fingerprint when stored. add() fills the missing ones from its Fingerprinter;
  // a name with none is only checked for still existing.
  std::map<std::string, std::string> fingerprints;
  bool valid = true;             // set by add(); false once a relied-on function changed
  std::string invalid_reason;    // names the function
  std::string created_at;        // UTC ISO 8601, set by add() when empty
  int uses = 0, use_passes = 0;  // requests it answered, and how many of those validated
};

struct Hit {
  Entry entry;
  float similarity = 0;  // cosine similarity, in [-1, 1]
};

// The current fingerprint of a relied-on name: nullopt when it is gone; an Error when it
// cannot be told (a file that cannot be read), which stops an invalidation pass unwritten.
class Fingerprinter {
 public:
  virtual ~Fingerprinter() = default;
  virtual Result<std::optional<std::string>> fingerprint(std::string_view qname) = 0;
};

// Fingerprints from the code graph: the node with exactly this qualified name, its lines
// line..end_line of ROOT/file hashed with XXH3 (16 hex digits). External names (kind
// "external") fingerprint as "external": they never change with the repository. Open it
// after indexing: line numbers come from the graph, the text from the files as they are.
class GraphFingerprinter : public Fingerprinter {
 public:
  static Result<GraphFingerprinter> open(const std::string& graph_db_path,
                                         const std::string& repo_root);
  Result<std::optional<std::string>> fingerprint(std::string_view qname) override;

 private:
  GraphFingerprinter(graph::GraphReader graph, std::string root)
      : graph_(std::move(graph)), root_(std::move(root)) {}
  graph::GraphReader graph_;
  std::string root_;
};

// How requests become embeddings: a name stored with the library, and the function that
// embeds an entry's request. Vectors of two embedders are never compared.
struct Embedder {
  std::string name;  // e.g. "request-view-1"
  std::function<std::vector<float>(const Entry&)> embed;
};

class Library {
 public:
  static std::string db_path_for(const std::string& repo_dir);  // REPO/.yantra/library.db
  // Creates the store when missing. An existing store must hold `dim`-dimensional
  // embeddings; if it does not (a new student), the error says to delete it.
  static Result<Library> open(const std::string& repo_dir, int dim);
  static Result<Library> open_db(const std::string& db_path, int dim);

  // Validates (non-empty code, `dim` finite values not all zero, a known tier, counts >= 0)
  // and stores the entry as valid. With a Fingerprinter, every relies_on name without a
  // fingerprint gets its current one; a name it cannot find is an error.
  Result<int64_t> add(Entry entry, Fingerprinter* fingerprinter = nullptr);
  Result<Entry> get(int64_t id);
  // The k valid entries nearest to `query` by cosine similarity, best first, ties broken by
  // the smaller id; failed candidates (avoid) and pending answers only when asked.
  Result<std::vector<Hit>> nearest(std::span<const float> query, int k, bool include_avoid = false);
  Result<void> record_use(int64_t id, bool passed);
  // Records that `embedder` embeds this library's requests. When the stored embeddings came
  // from another one (or from an unnamed one, before embedders had names), every entry is
  // re-embedded from its request in one transaction first. Returns how many were.
  Result<size_t> use_embedder(const Embedder& embedder);
  // Re-fingerprints every name valid entries rely on; an entry whose name changed or
  // disappeared becomes invalid (the reason names it) and leaves the index. Returns how
  // many became invalid. Nothing is written if the Fingerprinter fails.
  Result<size_t> invalidate_changed(Fingerprinter& fingerprinter);
  // Stored entries, avoid ones included; invalid ones only when asked.
  Result<size_t> size(bool include_invalid = false);
  // Valid entries that were learned (neither avoid nor pending), counted without reading them.
  Result<size_t> learned_size();
  // Every stored entry, avoid and invalid ones included, by id.
  Result<std::vector<Entry>> all_entries();

  int dim() const;
  const std::string& path() const;

  Library(Library&& other) noexcept;
  Library& operator=(Library&& other) noexcept;
  ~Library();

  struct State;  // internal.h

 private:
  explicit Library(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace yantra::library
