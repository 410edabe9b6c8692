// Full-graph embeddings kept beside the checkpoint (embeddings.bin), so that loading the
// student does not re-run the network over the whole graph, and an edit re-runs it only
// over what the edit can reach: a node's embedding after L layers depends on the inputs
// and neighbour lists of the nodes within L hops upstream, so only nodes within L hops
// downstream of a node whose fingerprint changed are recomputed, each over its whole
// neighbourhood (no sampling), which gives what the full pass would.
//
// File layout (host byte order; the file never leaves the machine):
//   "YEMB" u32 version | u64 checkpoint hash | u32 width | u32 0 | u64 rows
//   rows x (i64 graph node id, u64 fingerprint) | rows x width float32
#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "student/model.h"

namespace yantra::student {
namespace {

constexpr char kMagic[4] = {'Y', 'E', 'M', 'B'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 4 + 4 + 8 + 4 + 4 + 8;

struct CacheFile {
  uint64_t checkpoint = 0;
  uint32_t width = 0;
  std::vector<int64_t> ids;
  std::vector<uint64_t> fingerprints;
  torch::Tensor rows;  // ids.size() x width float32; undefined when there are none
};

template <typename T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T get(std::string_view in, size_t& at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof v);
  at += sizeof v;
  return v;
}

// The cache at `path`, or why it cannot be used ("" with no rows: there is none yet). The
// rows are read straight into the tensor that becomes the embeddings: on this kind of
// machine every fresh page costs a fault, and 80 MB copied twice cost 0.2-0.3 s a load.
Result<CacheFile> read_cache(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return CacheFile{};
  std::ifstream f(path, std::ios::binary);
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!f || ec) return Error::in(path, "cannot read the embedding cache");
  char header[kHeaderBytes];
  if (!f.read(header, kHeaderBytes) || std::memcmp(header, kMagic, 4) != 0)
    return Error::in(path, "not an embedding cache");
  std::string_view h(header, kHeaderBytes);
  size_t at = 4;
  if (get<uint32_t>(h, at) != kVersion)
    return Error::in(path, "an embedding cache of another version");
  CacheFile c;
  c.checkpoint = get<uint64_t>(h, at);
  c.width = get<uint32_t>(h, at);
  get<uint32_t>(h, at);
  uint64_t rows = get<uint64_t>(h, at);
  if (c.width == 0 || c.width > 65536 || rows > size ||
      size != kHeaderBytes + rows * (16 + uint64_t(c.width) * 4))
    return Error::in(path, "truncated or damaged embedding cache");
  std::string table(rows * 16, '\0');
  c.rows = torch::empty({int64_t(rows), int64_t(c.width)});
  if (!f.read(table.data(), std::streamsize(table.size())) ||
      !f.read(reinterpret_cast<char*>(c.rows.data_ptr<float>()),
              std::streamsize(rows * c.width * sizeof(float))))
    return Error::in(path, "truncated or damaged embedding cache");
  c.ids.resize(rows), c.fingerprints.resize(rows);
  at = 0;
  for (size_t i = 0; i < rows; ++i)
    c.ids[i] = get<int64_t>(table, at), c.fingerprints[i] = get<uint64_t>(table, at);
  return c;
}

Result<void> write_cache(const std::string& path, const CacheFile& c) {
  std::string out;
  const size_t floats = size_t(c.rows.numel());  // c.rows is contiguous
  out.reserve(kHeaderBytes + c.ids.size() * 16 + floats * 4);
  out.append(kMagic, 4);
  put(out, kVersion), put(out, c.checkpoint), put(out, c.width), put(out, uint32_t{0});
  put(out, uint64_t(c.ids.size()));
  for (size_t i = 0; i < c.ids.size(); ++i) put(out, c.ids[i]), put(out, c.fingerprints[i]);
  out.append(reinterpret_cast<const char*>(c.rows.data_ptr<float>()), floats * sizeof(float));
  return write_file_atomic(path, out);
}

// What a node's embedding reads directly: its tokens, its numeric row and, per relation,
// which nodes (by stable graph id) send it messages.
std::vector<uint64_t> fingerprints(const GraphData& g, const ModelInputs& in) {
  const size_t n = g.size();
  std::vector<uint64_t> fp(n);
  std::vector<int64_t> ids;
  for (size_t i = 0; i < n; ++i) {
    size_t from = size_t(in.offsets[i]);
    size_t to = i + 1 < n ? size_t(in.offsets[i + 1]) : in.tokens.size();
    uint64_t h = hash64(
        {reinterpret_cast<const char*>(in.tokens.data() + from), (to - from) * sizeof(int64_t)});
    h = hash64_combine(h, {reinterpret_cast<const char*>(&in.numeric[i * kNumericFeatures]),
                           kNumericFeatures * sizeof(float)});
    for (int r = 0; r < kRelations; ++r) {
      const Csr& c = in.relations[r];
      ids.clear();
      for (int64_t k = c.rowptr[i]; k < c.rowptr[i + 1]; ++k) ids.push_back(g.db_id[c.col[k]]);
      std::sort(ids.begin(), ids.end());
      ids.push_back(-1 - r);  // ends the relation: [a][b] and [a, b][] differ
      h = hash64_combine(h,
                         {reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int64_t)});
    }
    fp[i] = h;
  }
  return fp;
}

// Nodes within `hops` message-passing steps downstream of a `changed` node, changed ones
// included.
std::vector<int32_t> reached_from(const ModelInputs& in, size_t n, std::vector<char> mark,
                                  int hops) {
  // Out-neighbours: v receives from u (u in in_r(v)), so a change at u reaches v.
  std::vector<int64_t> start(n + 1, 0);
  for (const Csr& c : in.relations)
    for (int32_t u : c.col) ++start[size_t(u) + 1];
  for (size_t i = 0; i < n; ++i) start[i + 1] += start[i];
  std::vector<int32_t> out(size_t(start[n]));
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (const Csr& c : in.relations)
    for (size_t v = 0; v < n; ++v)
      for (int64_t k = c.rowptr[v]; k < c.rowptr[v + 1]; ++k)
        out[size_t(fill[size_t(c.col[k])]++)] = int32_t(v);
  std::vector<int32_t> frontier, reached;
  for (size_t i = 0; i < n; ++i)
    if (mark[i]) frontier.push_back(int32_t(i));
  reached = frontier;
  for (int h = 0; h < hops && !frontier.empty(); ++h) {
    std::vector<int32_t> next;
    for (int32_t u : frontier)
      for (int64_t k = start[size_t(u)]; k < start[size_t(u) + 1]; ++k)
        if (!mark[size_t(out[size_t(k)])])
          mark[size_t(out[size_t(k)])] = 1, next.push_back(out[size_t(k)]);
    reached.insert(reached.end(), next.begin(), next.end());
    frontier = std::move(next);
  }
  return reached;
}

}  // namespace

Result<torch::Tensor> cached_embeddings(Sage& model, const GraphData& g, const ModelInputs& in,
                                        const std::string& checkpoint, EmbeddingRefresh* report) {
  double start = monotonic_seconds();
  torch::NoGradGuard no_grad;
  model->eval();
  const size_t n = g.size();
  const std::string path = embedding_cache_path(checkpoint);
  auto weights = read_file(checkpoint);
  if (!weights) return weights.error();
  const uint64_t checkpoint_hash = hash64(*weights);
  const uint32_t width = uint32_t(model->hidden);

  CacheFile cache;
  if (auto read = read_cache(path); !read) {
    report->cache_note = read.error().message + "; rebuilt";
  } else if (!read->ids.empty() && (read->checkpoint != checkpoint_hash || read->width != width)) {
    report->cache_note = path + ": made for another checkpoint; rebuilt";
  } else {
    cache = std::move(*read);
  }
  std::unordered_map<int64_t, size_t> cached_row;
  for (size_t r = 0; r < cache.ids.size(); ++r) cached_row.emplace(cache.ids[r], r);

  std::vector<uint64_t> fp = fingerprints(g, in);
  std::vector<char> changed(n, 0);
  std::vector<int64_t> row_of(n, -1);
  for (size_t i = 0; i < n; ++i) {
    auto it = cached_row.find(g.db_id[i]);
    if (it != cached_row.end() && cache.fingerprints[it->second] == fp[i])
      row_of[i] = int64_t(it->second);
    else
      changed[i] = 1, ++report->changed;
  }
  report->nodes = n;
  torch::Tensor z;
  if (report->changed == 0) {
    // Written in node order, the cache is the embeddings as read; otherwise one gather.
    // (With no nodes there may be no cache at all.)
    bool in_order = cache.rows.defined() && size_t(cache.rows.size(0)) == n;
    for (size_t i = 0; i < n && in_order; ++i) in_order = row_of[i] == int64_t(i);
    if (n == 0)
      z = torch::empty({0, int64_t(width)});
    else
      z = in_order ? cache.rows : cache.rows.index_select(0, torch::tensor(row_of, torch::kLong));
  } else {
    std::vector<int32_t> affected = reached_from(in, n, changed, model->n_layers);
    report->recomputed = affected.size();
    if (affected.size() * 2 > n) {
      report->full = true;
      z = model->forward_full(in, n);
    } else {
      // Every neighbour at every hop: the block computes exactly what the full pass does.
      Sampler all(in, n, 0);
      Block block = all.sample(affected, std::vector<int>(size_t(model->n_layers), INT_MAX));
      torch::Tensor fresh = model->forward_block(in, block);
      std::vector<char> is_affected(n, 0);
      for (int32_t v : affected) is_affected[size_t(v)] = 1;
      z = torch::empty({int64_t(n), int64_t(width)});
      float* dst = z.data_ptr<float>();
      const float* cached = cache.rows.defined() ? cache.rows.data_ptr<float>() : nullptr;
      for (size_t i = 0; i < n; ++i)
        if (!is_affected[i])  // so its fingerprint matched a cached row
          std::memcpy(dst + i * width, cached + size_t(row_of[i]) * width, width * sizeof(float));
      z.index_copy_(0, torch::tensor(std::vector<int64_t>(affected.begin(), affected.end())),
                    fresh);
    }
    z = z.contiguous();
    CacheFile out{checkpoint_hash, width, {}, std::move(fp), {}};
    out.ids.assign(g.db_id.begin(), g.db_id.end());
    out.rows = z;
    // A cache that cannot be written costs the next load time, never an answer.
    if (auto ok = write_cache(path, out); !ok)
      report->cache_note = ok.error().message + "; not saved";
  }
  report->seconds = monotonic_seconds() - start;
  return z;
}

}  // namespace yantra::student
