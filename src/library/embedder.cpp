// Which embedder the stored embeddings came from, and re-embedding them when the student's
// view of a request changes: vectors of two different spaces must never be compared.
#include "library/internal.h"
#include "library/library.h"

namespace yantra::library {
namespace {

constexpr const char* kEmbedderKey = "embedder";

Result<std::string> stored_embedder(Library::State& s) {
  Statement get(s.db, "SELECT value FROM library_info WHERE key='embedder'", s.path);
  auto row = get.step();
  if (!row) return row.error();
  return *row ? get.text(0) : std::string();
}

}  // namespace

Result<size_t> Library::use_embedder(const Embedder& embedder) {
  State& s = *state_;
  if (embedder.name.empty() || !embedder.embed)
    return Error::in(s.path, "library: an embedder needs a name and a function");
  std::lock_guard lock(s.mutex);
  auto stored = stored_embedder(s);
  if (!stored) return stored.error();
  if (*stored == embedder.name) return size_t{0};

  auto tx = Transaction::begin(s.db, s.path);
  if (!tx) return tx.error();
  // Read every entry first: the update must not run while the SELECT still steps.
  std::vector<Entry> entries;
  {
    Statement rows(s.db, std::string("SELECT ") + kEntryColumns + " FROM library_entries", s.path);
    auto read = rows.for_each_row([&]() -> Result<void> {
      auto e = read_entry(rows, s.dim, s.path);
      if (!e) return e.error();
      entries.push_back(std::move(e).value());
      return {};
    });
    if (!read) return read.error();
  }
  for (const Entry& e : entries) {
    std::vector<float> v = embedder.embed(e);
    if (auto ok = check_vector(v, s.dim, "embedding of entry " + std::to_string(e.id), s.path); !ok)
      return ok.error();
    Statement put(s.db, "UPDATE library_entries SET embedding = ? WHERE id = ?", s.path);
    if (auto ok = put.bind_blob(1, v.data(), v.size() * sizeof(float)).bind(2, e.id).run(); !ok)
      return ok.error();
  }
  Statement key(s.db, "INSERT OR REPLACE INTO library_info VALUES(?, ?)", s.path);
  if (auto ok = key.bind(1, kEmbedderKey).bind(2, embedder.name).run(); !ok) return ok.error();
  if (auto ok = tx->commit(); !ok) return ok.error();
  // The in-memory index holds the old vectors: rebuilt from the rows.
  s.kept = VectorIndex(s.dim);
  s.avoided = VectorIndex(s.dim);
  s.indexed.clear();
  s.data_version = -1;
  if (auto ok = sync(s); !ok) return ok.error();
  return entries.size();
}

}  // namespace yantra::library
