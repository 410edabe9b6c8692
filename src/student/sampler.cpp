// Neighbourhood sampling for mini-batch training and single-node inference: for each node
// reached before the last hop, up to fanout[hop] distinct in-neighbours drawn uniformly
// from the union of its relations (the semantics of PyG's NeighborLoader, which the peer
// uses), so a hub costs no more than a leaf.
#include <algorithm>

#include "student/student.h"

namespace yantra::student {

Sampler::Sampler(const ModelInputs& inputs, size_t n_nodes, uint64_t seed)
    : in_(inputs), local_(n_nodes, -1), state_(seed * 0x9E3779B97F4A7C15ull + 1) {}

// splitmix64: fast, seedable, and the same on every platform (determinism with a seed).
uint64_t Sampler::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Block Sampler::sample(const std::vector<int32_t>& seeds, const std::vector<int>& fanouts,
                      SeedView view) {
  for (int32_t t : touched_) local_[t] = -1;
  touched_.clear();
  Block b;
  auto admit = [&](int32_t node) {
    if (local_[node] < 0) {
      local_[node] = int32_t(b.nodes.size());
      b.nodes.push_back(node);
      touched_.push_back(node);
    }
    return local_[node];
  };
  for (int32_t s : seeds) admit(s);
  b.hop_end.push_back(int64_t(b.nodes.size()));
  size_t begin = 0;
  std::vector<int64_t> picks;
  for (int k : fanouts) {
    size_t end = b.nodes.size();
    for (size_t x = begin; x < end; ++x) {
      int32_t node = b.nodes[x];
      int64_t degree[kRelations], total = 0;
      for (int r = 0; r < kRelations; ++r) total += degree[r] = in_.relations[r].degree(node);
      if (view != SeedView::kOpen && x < size_t(b.hop_end[0])) {
        total -= degree[kUsedBy], degree[kUsedBy] = 0;  // never its callers
        if (view == SeedView::kBlind) total -= degree[kUses], degree[kUses] = 0;
      }
      picks.clear();
      if (total <= k) {
        for (int64_t i = 0; i < total; ++i) picks.push_back(i);
      } else {
        // Floyd's algorithm: k distinct positions of [0, total).
        for (int64_t j = total - k; j < total; ++j) {
          int64_t t = int64_t(next() % uint64_t(j + 1));
          if (std::find(picks.begin(), picks.end(), t) != picks.end()) t = j;
          picks.push_back(t);
        }
      }
      for (int64_t p : picks) {
        int r = 0;
        while (p >= degree[r]) p -= degree[r], ++r;
        int32_t nb = in_.relations[r].col[in_.relations[r].rowptr[node] + p];
        int32_t src = admit(nb);
        b.edge_dst.push_back(int32_t(x));
        b.edge_src.push_back(src);
        b.edge_rel.push_back(uint8_t(r));
      }
    }
    b.hop_end.push_back(int64_t(b.nodes.size()));
    begin = end;
  }
  return b;
}

}  // namespace yantra::student
