// Library: the in-memory hnswlib index over unit vectors, kept in step with the rows, and
// nearest-neighbour search.
//
// hnswlib.h defines two non-inline functions (cpuid, xgetbv): this must stay the only file of
// the program that includes it.
#if defined(__SANITIZE_ADDRESS__)
#define YANTRA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define YANTRA_ASAN 1
#endif
#endif
#if defined(YANTRA_ASAN) && !defined(NO_MANUAL_VECTORIZATION)
// hnswlib 0.6's SSE prefetch reads one element past a link list (nmslib/hnswlib#107,
// harmless in practice); AddressSanitizer builds use its plain distance code instead.
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>
#include <set>

#include "library/internal.h"
#include "library/library.h"

namespace yantra::library {
namespace {

constexpr size_t kM = 16;
constexpr size_t kEfConstruction = 200;
constexpr size_t kEfSearchMin = 64;  // at least 2k is used for k results
constexpr size_t kInitialCapacity = 1024;
constexpr size_t kRandomSeed = 100;

}  // namespace

struct VectorIndex::Impl {
  explicit Impl(int dim) : space(static_cast<size_t>(dim)), dim(static_cast<size_t>(dim)) {}
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;  // made with the first point
  size_t dim;
  size_t live = 0;
};

VectorIndex::VectorIndex(int dim) : impl_(std::make_unique<Impl>(dim)) {}
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;
VectorIndex::~VectorIndex() = default;

size_t VectorIndex::size() const {
  return impl_->live;
}

Result<void> VectorIndex::add(int64_t id, std::span<const float> unit) {
  Impl& x = *impl_;
  if (unit.size() != x.dim) return Error{"library index: vector of the wrong dimension"};
  try {
    if (!x.graph)
      x.graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&x.space, kInitialCapacity, kM,
                                                                  kEfConstruction, kRandomSeed);
    if (x.graph->cur_element_count >= x.graph->max_elements_)
      x.graph->resizeIndex(x.graph->max_elements_ * 2);
    x.graph->addPoint(unit.data(), static_cast<hnswlib::labeltype>(id));
    ++x.live;
    return {};
  } catch (const std::bad_alloc&) {
    return Error{"library index: out of memory adding entry " + std::to_string(id)};
  } catch (const std::exception& e) {
    return Error{"library index: cannot add entry " + std::to_string(id) + ": " + e.what()};
  }
}

Result<void> VectorIndex::remove(int64_t id) {
  Impl& x = *impl_;
  if (!x.graph) return Error{"library index: entry " + std::to_string(id) + " is not indexed"};
  try {
    x.graph->markDelete(static_cast<hnswlib::labeltype>(id));
    --x.live;
    return {};
  } catch (const std::exception& e) {
    return Error{"library index: cannot remove entry " + std::to_string(id) + ": " + e.what()};
  }
}

Result<std::vector<std::pair<float, int64_t>>> VectorIndex::search(std::span<const float> unit,
                                                                   size_t n) {
  Impl& x = *impl_;
  std::vector<std::pair<float, int64_t>> out;
  if (!x.graph || x.live == 0 || n == 0) return out;
  if (unit.size() != x.dim) return Error{"library index: query of the wrong dimension"};
  try {
    x.graph->setEf(std::max(kEfSearchMin, 2 * n));
    auto found = x.graph->searchKnn(unit.data(), n);
    out.resize(found.size());
    // The queue pops the farthest first; InnerProductSpace's distance is 1 - dot.
    for (size_t i = out.size(); i-- > 0; found.pop()) {
      float similarity = std::clamp(1.0f - found.top().first, -1.0f, 1.0f);
      out[i] = {similarity, static_cast<int64_t>(found.top().second)};
    }
    return out;
  } catch (const std::bad_alloc&) {
    return Error{"library index: out of memory searching"};
  } catch (const std::exception& e) {
    return Error{std::string("library index: search failed: ") + e.what()};
  }
}

Result<void> sync(Library::State& s) {
  Statement version(s.db, "PRAGMA data_version", s.path);
  auto row = version.step();
  if (!row) return row.error();
  int64_t now = version.int64(0);
  if (now == s.data_version) return {};

  // Rows read in one statement (one snapshot): what is valid goes in, what is not comes out.
  Statement rows(s.db,
                 "SELECT id, avoid OR pending, valid, embedding FROM library_entries ORDER BY id",
                 s.path);
  std::set<int64_t> present;
  auto read = rows.for_each_row([&]() -> Result<void> {
    int64_t id = rows.int64(0);
    bool avoid = rows.int64(1) != 0, valid = rows.int64(2) != 0;
    present.insert(id);
    bool in_index = s.indexed.count(id) > 0;
    if (valid && !in_index) {
      auto blob = rows.blob(3);
      if (blob.size() != static_cast<size_t>(s.dim) * sizeof(float))
        return Error::in(s.path, "library entry " + std::to_string(id) + ": its embedding has " +
                                     std::to_string(blob.size()) + " bytes, not " +
                                     std::to_string(s.dim * sizeof(float)) + "; delete " + s.path +
                                     " to start over");
      std::vector<float> v(static_cast<size_t>(s.dim));
      std::memcpy(v.data(), blob.data(), blob.size());
      std::vector<float> unit = normalised(v);
      if (unit.empty())
        return Error::in(s.path, "library entry " + std::to_string(id) +
                                     ": its embedding is all zeros or not finite; delete " +
                                     s.path + " to start over");
      if (auto ok = (avoid ? s.avoided : s.kept).add(id, unit); !ok) return ok;
      s.indexed[id] = avoid;
    } else if (!valid && in_index) {
      unindex(s, id);
    }
    return {};
  });
  if (!read) return read;
  // Rows another connection deleted.
  std::vector<int64_t> gone;
  for (const auto& [id, _] : s.indexed)
    if (!present.count(id)) gone.push_back(id);
  for (int64_t id : gone) unindex(s, id);
  s.data_version = now;
  return {};
}

void unindex(Library::State& s, int64_t id) {
  auto it = s.indexed.find(id);
  if (it == s.indexed.end()) return;
  // markDelete can only fail for a label the graph does not hold, which indexed rules out.
  (it->second ? s.avoided : s.kept).remove(id).ok();
  s.indexed.erase(it);
}

Result<std::vector<Hit>> Library::nearest(std::span<const float> query, int k, bool include_avoid) {
  State& s = *state_;
  if (k < 0) return Error::in(s.path, "library: k must be >= 0, not " + std::to_string(k));
  if (auto ok = check_vector(query, s.dim, "query embedding", s.path); !ok) return ok.error();
  std::vector<float> unit = normalised(query);
  std::lock_guard lock(s.mutex);
  if (auto ok = sync(s); !ok) return ok.error();

  std::vector<VectorIndex*> indexes = {&s.kept};
  if (include_avoid) indexes.push_back(&s.avoided);
  size_t want = static_cast<size_t>(k);
  std::vector<std::pair<float, int64_t>> best;
  // Ask each index for `fetch` points; when the k-th best ties with the last point an index
  // gave and that index holds more, the tie may go on past it: ask again for twice as many.
  for (size_t fetch = want; want > 0;) {
    best.clear();
    std::vector<std::pair<float, size_t>> worst;  // (lowest similarity returned, index)
    for (size_t i = 0; i < indexes.size(); ++i) {
      auto found = indexes[i]->search(unit, fetch);
      if (!found) return Error::in(s.path, found.error().message);
      if (found->size() == fetch && indexes[i]->size() > fetch)
        worst.emplace_back(found->back().first, i);
      best.insert(best.end(), found->begin(), found->end());
    }
    std::sort(best.begin(), best.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    if (best.size() > want) best.resize(want);
    bool tie_may_go_on = false;
    for (const auto& [lowest, _] : worst)
      tie_may_go_on = tie_may_go_on || (best.size() == want && lowest == best.back().first);
    if (!tie_may_go_on) break;
    fetch *= 2;
  }

  std::vector<Hit> hits;
  hits.reserve(best.size());
  for (const auto& [similarity, id] : best) {
    auto entry = load_entry(s, id);
    if (!entry) return entry.error();
    hits.push_back({std::move(entry).value(), similarity});
  }
  return hits;
}

}  // namespace yantra::library
