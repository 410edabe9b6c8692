// The GraphSAGE network and its link decoder (LibTorch).
#include "student/model.h"

namespace yantra::student {

NodeBatch gather_inputs(const ModelInputs& in, const std::vector<int32_t>& nodes, size_t n_seeds,
                        SeedView view) {
  const size_t n_blind = view == SeedView::kBlind ? n_seeds : 0;
  const size_t n_body = view == SeedView::kBody ? n_seeds : 0;
  std::vector<int64_t> tokens, offsets;
  offsets.reserve(nodes.size());
  std::vector<float> numeric(nodes.size() * kNumericFeatures);
  const int64_t total = int64_t(in.tokens.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    int32_t v = nodes[i];
    offsets.push_back(int64_t(tokens.size()));
    int64_t begin = in.offsets[v];
    int64_t end = size_t(v) + 1 < in.offsets.size() ? in.offsets[v + 1] : total;
    if (i < n_blind) end = in.own_end[v];
    tokens.insert(tokens.end(), in.tokens.begin() + begin, in.tokens.begin() + end);
    float* row = &numeric[i * kNumericFeatures];
    std::copy_n(&in.numeric[size_t(v) * kNumericFeatures], kNumericFeatures, row);
    if (i < n_blind)  // call counts: in-degree, out-degree, external calls
      for (int j : {3, 4, 5}) row[j] = in.zero_numeric[size_t(j)];
    if (i < n_body) row[3] = in.zero_numeric[3];  // no callers
  }
  NodeBatch b;
  b.tokens = torch::tensor(tokens, torch::kLong);
  b.offsets = torch::tensor(offsets, torch::kLong);
  b.numeric =
      torch::from_blob(numeric.data(), {int64_t(nodes.size()), kNumericFeatures}, torch::kFloat)
          .clone();
  return b;
}

SageImpl::SageImpl(int hidden_, int layers, double dropout_)
    : hidden(hidden_), n_layers(layers), dropout(dropout_) {
  tokens = register_module(
      "tokens", torch::nn::EmbeddingBag(
                    torch::nn::EmbeddingBagOptions(kTokenBuckets, kInputWidth).mode(torch::kMean)));
  numeric = register_module("numeric", torch::nn::Linear(kNumericFeatures, kInputWidth));
  for (int l = 0; l < layers; ++l) {
    int in = l == 0 ? kInputWidth : hidden;
    convs.push_back(register_module("conv" + std::to_string(l),
                                    torch::nn::Linear((kRelations + 1) * in, hidden)));
  }
  pair_in = register_module("pair_in", torch::nn::Linear(kPairFeatures, 64));
  link_hidden = register_module("link_hidden", torch::nn::Linear(hidden, 64));
  link_out = register_module("link_out", torch::nn::Linear(64, 1));
  node_hidden = register_module("node_hidden", torch::nn::Linear(hidden, 128));
  imports_out = register_module("imports_out", torch::nn::Linear(128, kImportSlots));
  test_kinds_out = register_module("test_kinds_out", torch::nn::Linear(128, labels::kTestKinds));
  bug_kinds_out = register_module("bug_kinds_out", torch::nn::Linear(128, labels::kBugKinds));
  imports_local = register_parameter("imports_local", torch::full({kImportSlots}, 2.0));
}

NodeLogits SageImpl::node_logits(const torch::Tensor& z, const torch::Tensor& file_imports) {
  torch::Tensor h = torch::relu(node_hidden(z));
  return {imports_out(h) + file_imports * imports_local, test_kinds_out(h), bug_kinds_out(h)};
}

torch::Tensor SageImpl::input_layer(const NodeBatch& batch) {
  return tokens(batch.tokens, batch.offsets) + numeric(batch.numeric);
}

torch::Tensor relation_means(const torch::Tensor& x, const torch::Tensor& dst,
                             const torch::Tensor& src, const torch::Tensor& rel, int64_t n_dst) {
  const int64_t d = x.size(1);
  torch::Tensor slot = dst * kRelations + rel;
  torch::Tensor count = torch::zeros({n_dst * kRelations}, x.options())
                            .index_add_(0, slot, torch::ones({slot.size(0)}, x.options()));
  torch::Tensor weight = 1.0 / count.clamp_min(1).index_select(0, slot);
  torch::Tensor msg = x.index_select(0, src) * weight.unsqueeze(1);
  torch::Tensor sum = torch::zeros({n_dst * kRelations, d}, x.options()).index_add(0, slot, msg);
  return sum.view({n_dst, kRelations * d});
}

torch::Tensor SageImpl::forward_block(const ModelInputs& in, const Block& block, SeedView view) {
  torch::Tensor x = input_layer(gather_inputs(in, block.nodes, size_t(block.hop_end[0]), view));
  const size_t edges = block.edge_dst.size();
  torch::Tensor dst =
      torch::from_blob(const_cast<int32_t*>(block.edge_dst.data()), {int64_t(edges)}, torch::kInt)
          .to(torch::kLong);
  torch::Tensor src =
      torch::from_blob(const_cast<int32_t*>(block.edge_src.data()), {int64_t(edges)}, torch::kInt)
          .to(torch::kLong);
  torch::Tensor rel =
      torch::from_blob(const_cast<uint8_t*>(block.edge_rel.data()), {int64_t(edges)}, torch::kUInt8)
          .to(torch::kLong);
  for (int l = 0; l < n_layers; ++l) {
    int64_t n_dst = block.hop_end[size_t(n_layers - 1 - l)];
    // Edges are sorted by dst: those into the first n_dst nodes are a prefix.
    int64_t m = std::lower_bound(block.edge_dst.begin(), block.edge_dst.end(), int32_t(n_dst)) -
                block.edge_dst.begin();
    torch::Tensor agg =
        relation_means(x, dst.narrow(0, 0, m), src.narrow(0, 0, m), rel.narrow(0, 0, m), n_dst);
    x = convs[size_t(l)](torch::cat({agg, x.narrow(0, 0, n_dst)}, 1));
    if (l + 1 < n_layers) x = torch::dropout(torch::relu(x), dropout, is_training());
  }
  return x;
}

torch::Tensor SageImpl::forward_full(const ModelInputs& in, size_t n_nodes) {
  std::vector<int32_t> all(n_nodes);
  for (size_t i = 0; i < n_nodes; ++i) all[i] = int32_t(i);
  std::vector<int64_t> dst_v, src_v, rel_v;
  for (int r = 0; r < kRelations; ++r) {
    const Csr& c = in.relations[r];
    for (size_t v = 0; v < n_nodes; ++v)
      for (int64_t k = c.rowptr[v]; k < c.rowptr[v + 1]; ++k)
        dst_v.push_back(int64_t(v)), src_v.push_back(c.col[k]), rel_v.push_back(r);
  }
  torch::Tensor dst = torch::tensor(dst_v, torch::kLong), src = torch::tensor(src_v, torch::kLong),
                rel = torch::tensor(rel_v, torch::kLong);
  torch::Tensor x = input_layer(gather_inputs(in, all));
  const int64_t n = int64_t(n_nodes);
  for (int l = 0; l < n_layers; ++l) {
    x = convs[size_t(l)](torch::cat({relation_means(x, dst, src, rel, n), x}, 1));
    if (l + 1 < n_layers) x = torch::dropout(torch::relu(x), dropout, is_training());
  }
  return x;
}

torch::Tensor SageImpl::link_logits(const torch::Tensor& zu, const torch::Tensor& zv,
                                    const torch::Tensor& pairs) {
  torch::Tensor h = torch::relu(link_hidden(zu * zv) + pair_in(pairs));
  return link_out(h).squeeze(-1) + (zu * zv).sum(-1) / std::sqrt(double(hidden));
}

torch::Tensor SageImpl::link_logits_one(const torch::Tensor& zu, const torch::Tensor& z,
                                        const torch::Tensor& candidates,
                                        const torch::Tensor& pairs) {
  torch::Tensor scaled = link_hidden->weight * zu.unsqueeze(0);  // 64 x hidden
  torch::Tensor zc = z.index_select(0, candidates);
  torch::Tensor h = torch::addmm(link_hidden->bias, zc, scaled.t()).add_(pair_in(pairs)).relu_();
  return link_out(h).squeeze(-1) + zc.mv(zu) / std::sqrt(double(hidden));
}

torch::Tensor bernoulli_kl(const torch::Tensor& student_logits, const torch::Tensor& teacher_p,
                           double t) {
  // The teacher's probability is softened the same way as the student's: through its logit.
  torch::Tensor pt = teacher_p.clamp(1e-6, 1 - 1e-6);
  torch::Tensor qt = torch::sigmoid(torch::log(pt / (1 - pt)) / t);
  torch::Tensor qs_log = torch::nn::functional::logsigmoid(student_logits / t);
  torch::Tensor qs_log_not = torch::nn::functional::logsigmoid(-student_logits / t);
  torch::Tensor kl = qt * (torch::log(qt) - qs_log) + (1 - qt) * (torch::log(1 - qt) - qs_log_not);
  return kl.sum(-1).mean() * t * t;
}

torch::Tensor softmax_kl(const torch::Tensor& student_logits, const torch::Tensor& teacher_p,
                         double t) {
  torch::Tensor pt = torch::softmax(torch::log(teacher_p.clamp_min(1e-8)) / t, -1);
  torch::Tensor log_qs = torch::log_softmax(student_logits / t, -1);
  return (pt * (torch::log(pt) - log_qs)).sum(-1).mean() * t * t;
}

}  // namespace yantra::student
