// The network (LibTorch): internal to the student; include only from the translation
// units of the LibTorch module (part.cmake) and the model tests.
#pragma once

#include <torch/torch.h>

#include "student/torch_module.h"

namespace yantra::student {

// The module's implementations of the public API that needs the network (the table in
// module_entry.cpp; the core forwards to them through torch_module.h).
namespace torch_side {
Result<std::unique_ptr<Student::Impl>> load_student(const std::string& checkpoint,
                                                    const GraphData& graph);
Result<std::unique_ptr<OnlineLearner::Impl>> open_learner(const std::string& path,
                                                          const OnlineOptions& options);
Result<TrainReport> train_student(const GraphData& graph, const StudentOptions& options,
                                  const std::string& out_dir, const labels::LabelReport* labels);
Result<Parameters> read_parameters(const std::string& checkpoint);
Result<void> write_parameters(const std::string& checkpoint, const Parameters& params,
                              const std::string& out);
double bernoulli_distillation(const std::vector<float>& student_logits,
                              const std::vector<float>& teacher_probs, double temperature);
double softmax_distillation(const std::vector<float>& student_logits,
                            const std::vector<float>& teacher_probs, double temperature);
std::string blas_library();
Result<EncoderTrainReport> train_encoder(const std::vector<EncoderPair>& pairs,
                                         const EncoderTrainOptions& options,
                                         EncoderWeights& weights);
}  // namespace torch_side

// Makes LibTorch's CPU allocator keep freed blocks of 1 MiB and more, up to
// `max_cached_bytes`, for reuse by later steps (caching_allocator.cpp). Process-wide, once.
void use_caching_cpu_allocator(size_t max_cached_bytes);

// Node inputs of a set of graph nodes, as tensors.
struct NodeBatch {
  torch::Tensor tokens, offsets, numeric;
};
// The first `n_seeds` nodes are seen as `view` says: kBlind, their own tokens only (no
// callee names) and zero call counts; kBody, everything but the count of calls into them.
NodeBatch gather_inputs(const ModelInputs& in, const std::vector<int32_t>& nodes,
                        size_t n_seeds = 0, SeedView view = SeedView::kOpen);

// Logits of the node heads for rows of embeddings.
struct NodeLogits {
  torch::Tensor imports, test_kinds, bug_kinds;
};

// GraphSAGE with the mean aggregator per relation:
//   h' = W · [mean_uses(h) | mean_used_by(h) | mean_structure(h) | h] + b
// then a link decoder over [z_u * z_v, pair features] for next-call prediction.
struct SageImpl : torch::nn::Module {
  SageImpl(int hidden, int layers, double dropout);
  // Embeddings of block.nodes[0, hop_end[0]) from a sampled block; `view`: how the block
  // was sampled, and so how its seeds read their inputs.
  torch::Tensor forward_block(const ModelInputs& in, const Block& block,
                              SeedView view = SeedView::kOpen);
  // The node heads on embeddings `z` of functions whose modules import `file_imports`
  // (rows x kImportSlots, 1 where the module imports that slot's target).
  NodeLogits node_logits(const torch::Tensor& z, const torch::Tensor& file_imports);
  // Embeddings of every node, aggregating over all neighbours (no sampling).
  torch::Tensor forward_full(const ModelInputs& in, size_t n_nodes);
  // Link logits for rows of caller and callee embeddings with their pair features.
  torch::Tensor link_logits(const torch::Tensor& zu, const torch::Tensor& zv,
                            const torch::Tensor& pairs);
  // The same logits for one caller `zu` against the rows `candidates` of `z`, without
  // building a caller-by-candidate product: (zu * zv) W^T is zv (W * zu)^T.
  torch::Tensor link_logits_one(const torch::Tensor& zu, const torch::Tensor& z,
                                const torch::Tensor& candidates, const torch::Tensor& pairs);
  // A node's input embedding: its hashed tokens plus its numeric features.
  torch::Tensor input_layer(const NodeBatch& batch);

  int hidden, n_layers;
  double dropout;
  torch::nn::EmbeddingBag tokens{nullptr};
  torch::nn::Linear numeric{nullptr};
  std::vector<torch::nn::Linear> convs;
  torch::nn::Linear pair_in{nullptr}, link_hidden{nullptr}, link_out{nullptr};
  torch::nn::Linear node_hidden{nullptr}, imports_out{nullptr}, test_kinds_out{nullptr},
      bug_kinds_out{nullptr};
  torch::Tensor imports_local;  // per slot: how much "the module imports it" counts
};
TORCH_MODULE(Sage);

// Mean over each relation of the rows of `x` picked by edges whose dst < n_dst,
// laid out as [n_dst, kRelations * d].
torch::Tensor relation_means(const torch::Tensor& x, const torch::Tensor& dst,
                             const torch::Tensor& src, const torch::Tensor& rel, int64_t n_dst);

// ---- The node heads (node_heads.cpp) ----
// Rows x kImportSlots: 1 where the node's module imports that slot's target.
torch::Tensor file_imports_tensor(const NodeTargets& t, const std::vector<int32_t>& nodes);
// Starts the heads where counting the training functions' labels would: each kind at its
// prior, each import slot at how often a function uses it when its module imports it
// (labels never hold an import the module lacks), the output weights at zero. Training
// then learns only what a function's own features add. `kinds`: false keeps the kinds
// heads as they are (weights from a crowd master); import slots are this repository's.
void init_node_heads_from_priors(Sage& model, const NodeTargets& t, bool kinds);
// Head logits for `nodes`, each embedded from a sampled neighbourhood, seen as `view`.
// The import and bug-kind heads read the blind view (import labels are read off a
// function's calls); the test-kind head reads the body view (the tests that call a
// function hold its labels, and what its code does is the evidence).
NodeLogits seed_logits(Sage& model, const ModelInputs& in, Sampler& sampler, const NodeTargets& t,
                       const std::vector<int32_t>& nodes, const std::vector<int>& fanouts,
                       SeedView view);
// The three heads' losses: imports and bug kinds on `nodes` (each on the rows it labels),
// test kinds on `tested` (functions some test reaches).
torch::Tensor node_head_loss(Sage& model, const ModelInputs& in, Sampler& sampler,
                             const NodeTargets& t, const std::vector<int32_t>& nodes,
                             const std::vector<int32_t>& tested, const StudentOptions& o);
// Probabilities, row-major per node: imports kImportSlots, test kinds, bug kinds.
struct NodeScores {
  std::vector<float> imports, test_kinds, bug_kinds;
};
NodeScores score_nodes(Sage& model, const ModelInputs& in, Sampler& sampler, const NodeTargets& t,
                       const std::vector<int32_t>& nodes, const std::vector<int>& fanouts);
// Held-out metrics of the node heads beside their baselines, into `report`.
void evaluate_node_heads(Sage& model, const GraphData& g, const ModelInputs& in,
                         const NodeTargets& t, const std::vector<int>& fanouts, uint64_t seed,
                         EvalReport& report);

// Distillation on tensors: KL(teacher_T || student_T) * T^2, mean over rows.
torch::Tensor bernoulli_kl(const torch::Tensor& student_logits, const torch::Tensor& teacher_p,
                           double temperature);
torch::Tensor softmax_kl(const torch::Tensor& student_logits, const torch::Tensor& teacher_p,
                         double temperature);

}  // namespace yantra::student

namespace yantra::student {

// The seeded split of resolved calls: test 10 %, validation 5 %, the rest trains.
// Held-out calls are hidden from features and message passing.
struct Split {
  std::vector<size_t> train, validation, test;
  std::vector<bool> hidden;
  uint64_t fingerprint = 0;  // of the call list: a changed graph gives a different split
};
Split make_split(const GraphData& graph, uint64_t seed);

// Ranks each query call (u, v) against `negatives` candidates that u never calls, with
// ties counted half (the protocol of sage_ref.py). `score(u, vs)` scores candidates.
struct RankQueries {
  std::vector<int32_t> u, v;
  std::vector<std::vector<int32_t>> negatives;
};
RankQueries make_queries(const GraphData& graph, const std::vector<size_t>& calls, uint64_t seed,
                         int negatives = 100);
RankMetrics rank(
    const RankQueries& q,
    const std::function<std::vector<float>(int32_t u, const std::vector<int32_t>&)>& score);

// Scores of candidate callees `vs` of `u` from full-graph embeddings `z`.
std::vector<float> link_scores(Sage& model, const GraphData& graph, const ModelInputs& in,
                               const torch::Tensor& z, int32_t u, const std::vector<int32_t>& vs);
// The baselines of `yantra eval`.
std::vector<float> in_degree_scores(const ModelInputs& in, const std::vector<int32_t>& vs);
class Cooccurrence {
 public:
  Cooccurrence(const GraphData& graph, const std::vector<bool>& hidden);
  std::vector<float> scores(int32_t u, const std::vector<int32_t>& vs) const;

 private:
  std::vector<std::vector<int32_t>> callees_, callers_;
  std::vector<float> degree_;
};

// `targets`: also measure the node heads on held-out files (null: next call only).
EvalReport evaluate_split(Sage& model, const GraphData& graph, const ModelInputs& in,
                          const Split& split, uint64_t seed, const NodeTargets* targets,
                          const std::vector<int>& fanouts);

// Checkpoints: the model's tensors and a JSON header (version, options, split, metrics).
Result<void> save_checkpoint(Sage& model, const std::string& meta_json, const std::string& path);
// Full-graph embeddings of `model` (loaded from `checkpoint`, in eval mode) for `in`: from
// the cache where fingerprints match, recomputed where they do not, the cache rewritten.
Result<torch::Tensor> cached_embeddings(Sage& model, const GraphData& g, const ModelInputs& in,
                                        const std::string& checkpoint, EmbeddingRefresh* report);
Result<std::string> read_checkpoint_meta(const std::string& path);
Result<void> load_checkpoint(Sage& model, const std::string& path);

}  // namespace yantra::student
