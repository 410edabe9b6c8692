// student: a GraphSAGE network over the code graph that predicts what a function needs.
//
//   GraphData graph = load_graph("repo/.yantra/graph.db").take();
//   StudentOptions options;                       // hidden 256, 3 layers, fan-outs 10/5/2
//   TrainReport report = train_student(graph, options, "repo/.yantra/student").take();
//   printf("next call Hits@10 %.3f\n", report.eval.next_call.hits_at_10);
//
//   Student student = Student::load("repo/.yantra/student/model.pt", graph).take();
//   Prediction p = student.predict(graph.find("json.dumps")).take();
//   for (const Scored& call : p.calls) printf("%s %.2f\n", call.label.c_str(), call.p);
//
// Inputs are vocabulary-free (hashed sub-tokens and normalised counts), so a trained model
// works on any repository. LibTorch is confined to the module part.cmake builds
// (libyantra_torch.so), which the core loads on the first call that needs the network
// (torch_module.h): commands that never touch the model never pay LibTorch's start-up.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/base.h"
#include "labels/labels.h"

namespace yantra::student {

// Message-passing relations: an edge kind and its direction.
enum Relation : int { kUses = 0, kUsedBy = 1, kStructure = 2, kRelations = 3 };

// Incoming neighbours of each node for one relation (compressed sparse rows).
struct Csr {
  std::vector<int64_t> rowptr;  // size n + 1
  std::vector<int32_t> col;
  int64_t degree(int32_t node) const { return rowptr[node + 1] - rowptr[node]; }
};

enum class Kind : uint8_t { kModule, kClass, kFunction, kMethod, kTest, kExternal };

// The code graph as the student sees it, loaded once from a graph store.
struct GraphData {
  std::string db_path;
  std::vector<int64_t> db_id;
  std::vector<std::string> qname, name, signature, docstring;
  std::vector<Kind> kind;
  std::vector<int32_t> file;    // file id, -1 for externals
  std::vector<int32_t> parent;  // the node that contains this one, -1 for none
  std::vector<float> n_params, n_lines, complexity;
  std::vector<uint32_t> flags;
  // Edges by kind, as (src, dst) node indices.
  std::vector<std::pair<int32_t, int32_t>> calls_resolved;  // into the repository, no self-calls
  std::vector<std::pair<int32_t, int32_t>> calls_external;  // to external symbols
  std::vector<std::pair<int32_t, int32_t>> contains, imports, inherits, tests;

  size_t size() const { return kind.size(); }
  // The node with this qname (or a unique name / qname suffix); -1 if none.
  int32_t find(const std::string& name) const;
  bool is_candidate(int32_t node) const;  // a possible callee: function, method, class, test
};

Result<GraphData> load_graph(const std::string& db_path);

constexpr int kNumericFeatures = 19;
constexpr int kPairFeatures = 7;
constexpr int kTokenBuckets = 1 << 13;

// How raw counts become inputs: per numeric feature, (x - mean) / sd. A checkpoint keeps
// its training graph's, so a model reads every graph, and every later version of its own
// graph, the same way (and a node's input changes only when the node does).
struct NumericScale {
  std::array<float, kNumericFeatures> mean{}, sd{};
};

// What the model reads for one graph, given which call pairs are hidden from it.
struct ModelInputs {
  NumericScale scale;
  std::vector<int64_t> tokens;   // EmbeddingBag indices, all nodes back to back
  std::vector<int64_t> offsets;  // where each node's tokens start (size n)
  std::vector<int64_t> own_end;  // where its own tokens end and its callees' begin
  std::vector<float> numeric;    // n x kNumericFeatures, standardised
  // A node seen "blind", as a function just declared: the standardised value of a zero
  // count for each numeric feature (used for its call counts).
  std::array<float, kNumericFeatures> zero_numeric{};
  std::array<Csr, kRelations> relations;
  std::vector<float> call_in_degree;  // visible calls into each node
  // Visible calls and imports between files, for pair features.
  std::vector<std::vector<std::pair<int32_t, float>>>
      file_calls;                                  // by caller file: (callee file, log1p n)
  std::vector<std::vector<int32_t>> file_imports;  // by importing file: imported files, sorted
  std::vector<std::vector<int32_t>> neighbours;    // undirected visible neighbours, sorted
};

// Width of the hashed-token and numeric input, projected to `hidden` by the first layer:
// the first layer runs on most sampled nodes, so a narrow input keeps an epoch cheap.
constexpr int kInputWidth = 64;

// `hidden_calls[i]` hides graph.calls_resolved[i] from features and message passing.
// `scale`: standardise with it; null: measure this graph's.
ModelInputs build_inputs(const GraphData& graph, const std::vector<bool>& hidden_calls,
                         const NumericScale* scale = nullptr);
// Structural facts about a (caller, candidate callee) pair: kPairFeatures floats.
void pair_features(const GraphData& graph, const ModelInputs& in, int32_t u, int32_t v, float* out);
// Sub-tokens of an identifier: snake_case, camelCase and dotted parts, lower-cased.
std::vector<std::string> sub_tokens(std::string_view identifier);

// A request as the student first sees it: its function name, parameters and words (and
// word pairs) feature-hashed into kTextEmbeddingDim signed buckets, L2-normalised. Equal
// requests map to equal vectors; requests that share words point the same way. The
// validated library indexes requests by it.
constexpr int kTextEmbeddingDim = 256;
std::vector<float> text_embedding(std::string_view name, const std::vector<std::string>& params,
                                  std::string_view text);
// L2-normalises `v` in place; an all-zero vector becomes the first axis, so that even an
// empty request has a direction and can be stored.
void to_unit(std::vector<float>& v);

// ---- the request view -------------------------------------------------------------------
//
//   RequestView view = view_request(prompt, "mean_absolute_deviation");
//   std::vector<float> v = view_embedding(view);   // what the library indexes requests by
//
// What survives rewording is kept apart from how a request is worded: the name's
// sub-words, the parameters and types, the description (docstring, else comments, else
// free text) normalised by well-kept resources, and the examples.

// Snowball's English stem of a lower-case word ("sorting" -> "sort").
std::string stem(std::string_view word);

// WordNet (Debian's wordnet-base): the synonym sets a word belongs to, most common sense
// first, found through WordNet's own exception lists and detachment rules ("sorted" ->
// "sort"), as morphy(7WN) does.
class Lexicon {
 public:
  static Result<std::unique_ptr<Lexicon>> load(const std::string& dir);
  // The one the view uses: $YANTRA_WORDNET_DIR or /usr/share/wordnet, loaded on first
  // use; throws (aborting the command) when it cannot be read, saying how to install it.
  static const Lexicon& shared();
  std::span<const uint32_t> synsets(std::string_view word) const;
  bool known(std::string_view word) const;             // WordNet knows it: a content word
  std::string base_form(std::string_view word) const;  // "" when WordNet does not know it
  // The words of a synonym set, as WordNet spells them ("work_out" for collocations).
  std::span<const std::string> lemmas(uint32_t synset) const;
  ~Lexicon();

 private:
  Lexicon();
  std::unordered_map<std::string, std::vector<uint32_t>> senses_;
  std::unordered_map<std::string, std::string> exceptions_;
  std::unordered_map<uint32_t, std::vector<std::string>> lemmas_;
};

struct RequestView {
  std::string name;                      // the function's name
  std::string signature;                 // its `def` line(s) up to the ':' ("" without one)
  bool has_def = false;                  // the text defines the function
  bool defines_any = false;              // the text has a `def` at all
  std::vector<std::string> name_words;   // "meanAbsoluteDeviation" -> mean, absolute, deviation
  std::vector<std::string> params;       // parameter names, in order
  std::vector<std::string> param_types;  // their annotations ("" where none), parallel
  std::string return_type;               // "" where none
  // The docstring, else the comments, else the free text around the code; without the
  // example lines.
  std::string description;
  std::vector<std::string> examples;  // ">>> f(1)", the output under it, "f(2) == 3"...
};
// `entry_point` picks the function when the text defines several (empty: the last one).
// A text without a `def` is all description.
RequestView view_request(std::string_view text, std::string_view entry_point);
// The view feature-hashed into kTextEmbeddingDim signed buckets, L2-normalised: name
// sub-words, parameters and types; description words by Snowball stem, by WordNet synonym
// set and by character trigrams (typos); short words WordNet does not know ("the", "of") count
// little; example tokens.
std::vector<float> view_embedding(const RequestView& view,
                                  const Lexicon& lexicon = Lexicon::shared());
// The features view_embedding hashes, by key ("n:sort", "s:<synset>", "g:ort"...), each with
// its weight: what the trained encoder reads too.
std::vector<std::pair<std::string, float>> view_features(
    const RequestView& view, const Lexicon& lexicon = Lexicon::shared());
// Features feature-hashed into kTextEmbeddingDim signed buckets, L2-normalised.
std::vector<float> hash_features(const std::vector<std::pair<std::string, float>>& features);

// Augmented views: the same task as another user might ask it. Example lines never change
// (they would change the task). Seeded: one seed, one view.
enum class Augmentation {
  rename,    // the function renamed: camelCase, sometimes a name word swapped for a synonym
  synonyms,  // about half of the description's content words swapped for WordNet synonyms
  typos,     // letters hit on a neighbouring key (5 %), as ReCode's ButterFingers does
  comments,  // the docstring turned into `#` comment lines
  reorder,   // the description's sentences in another order
};
inline constexpr Augmentation kAugmentations[] = {Augmentation::rename, Augmentation::synonyms,
                                                  Augmentation::typos, Augmentation::comments,
                                                  Augmentation::reorder};
std::string_view to_string(Augmentation a);
struct AugmentedRequest {
  std::string request, entry_point;
};
AugmentedRequest augment(std::string_view request, std::string_view entry_point, Augmentation kind,
                         uint64_t seed, const Lexicon& lexicon = Lexicon::shared());

// ---- the trained request encoder ---------------------------------------------------------
//
//   RequestEncoder enc = RequestEncoder::load(path).take();
//   std::vector<float> v = enc.encode(view_request(prompt, name));  // unit, kTextEmbeddingDim
//
// y = normalise(base + P tanh(sum_f w_f E[bucket_f])): the request view's own embedding
// (base) plus what contrastive training learned about its features (which words matter,
// which ones mean the same). E: kEncoderBuckets x kEncoderHidden; P: kTextEmbeddingDim x
// kEncoderHidden. Encoding runs in plain C++; only training loads LibTorch.
constexpr int kEncoderBuckets = 1 << 14, kEncoderHidden = 64;

struct EncoderWeights {
  std::vector<float> table;                      // kEncoderBuckets x kEncoderHidden, row-major
  std::vector<float> projection;                 // kTextEmbeddingDim x kEncoderHidden, row-major
  static EncoderWeights initial(uint64_t seed);  // small random values
};

// One view as the encoder reads it: feature buckets, their weights, and the view's own
// embedding.
struct EncoderInput {
  std::vector<int64_t> buckets;
  std::vector<float> weights;
  std::vector<float> base;  // view_embedding of the same view
};
EncoderInput encoder_input(const RequestView& view, const Lexicon& lexicon = Lexicon::shared());

class RequestEncoder {
 public:
  static Result<RequestEncoder> load(const std::string& path);
  static Result<RequestEncoder> from_weights(EncoderWeights weights);
  Result<void> save(const std::string& path) const;  // a temporary file, then renamed
  std::vector<float> encode(const EncoderInput& input) const;
  std::vector<float> encode(const RequestView& view,
                            const Lexicon& lexicon = Lexicon::shared()) const;
  const std::string& version() const { return version_; }  // the weights' hash, 16 hex digits
  const EncoderWeights& weights() const { return weights_; }

 private:
  EncoderWeights weights_;
  std::string version_;
};

// Two views of one request (the anchor as asked, the positive augmented); pairs of one
// group (one task) are never each other's negatives.
struct EncoderPair {
  EncoderInput anchor, positive;
  int64_t group = 0;
};
struct EncoderTrainOptions {
  int steps = 300;
  int batch = 128;
  double lr = 0.005;
  double temperature = 0.05;
  uint64_t seed = 1;
};
struct EncoderTrainReport {
  std::vector<double> losses;  // mean InfoNCE loss of each tenth of the steps
  double seconds = 0;
};
// InfoNCE: each anchor against every positive of its batch (cross-entropy both ways),
// Adam on E and P, starting from `weights` and leaving the trained ones there.
Result<EncoderTrainReport> train_encoder(const std::vector<EncoderPair>& pairs,
                                         const EncoderTrainOptions& options,
                                         EncoderWeights& weights);

// Where encoders live: the base one (trained on Debian's CPython standard library when
// yantra is built) beside libyantra_core.so, or $YANTRA_BASE_ENCODER; a repository's own,
// fine-tuned on its library by `yantra train --encoder`, in REPO/.yantra/student/.
inline constexpr const char* kBaseEncoderFile = "encoder-base.bin";
std::string base_encoder_path();
std::string repo_encoder_path(const std::string& repo_dir);
// The repository's own encoder when it trained one, else the base encoder.
Result<RequestEncoder> load_encoder(const std::string& repo_dir);

// A request written by someone else, and the function that answers it.
struct RequestPair {
  std::string request;      // "def name(params) -> ret:\n    \"\"\"docstring\"\"\"\n"
  std::string entry_point;  // the function's name
  std::string qname;        // where it is defined
};
// Every function and method of `graph` with a docstring of at least `min_docstring`
// characters (dunder methods left out), each text once.
std::vector<RequestPair> docstring_pairs(const GraphData& graph, size_t min_docstring = 40);
// Training pairs for the encoder: each request against `views` augmented views of itself
// (each augmentation with probability one half, at least one), one group per request.
std::vector<EncoderPair> augmented_pairs(const std::vector<RequestPair>& requests, int views,
                                         uint64_t seed, const Lexicon& lexicon = Lexicon::shared());
// An encoder trained from `start` on `views` augmented views of each request.
Result<RequestEncoder> fine_tune_encoder(const EncoderWeights& start,
                                         const std::vector<RequestPair>& requests, int views,
                                         const EncoderTrainOptions& options,
                                         EncoderTrainReport* report = nullptr);

// A sampled neighbourhood: nodes ordered by the hop that first reached them (seeds first),
// and for each node reached before the last hop, up to fanout[hop] sampled in-neighbours
// per relation pool. Layer l of L computes nodes with hop <= L - l.
struct Block {
  std::vector<int32_t> nodes;     // global ids
  std::vector<int64_t> hop_end;   // nodes[0, hop_end[h]) have hop <= h; size L + 1
  std::vector<int32_t> edge_dst;  // local ids, sorted ascending
  std::vector<int32_t> edge_src;  // local ids
  std::vector<uint8_t> edge_rel;
};

// How a sample's seeds are seen. kBlind: as just declared, with their structure (module,
// class, members) but none of their calls or callers. kBody: their code too (the calls
// they make, callee names, calls out) but still none of their callers, so the tests that
// call a function never show through to a head that learns from those tests.
enum class SeedView : uint8_t { kOpen, kBlind, kBody };

class Sampler {
 public:
  Sampler(const ModelInputs& inputs, size_t n_nodes, uint64_t seed);
  // `seeds` may repeat; block.nodes holds each once. local_of() maps a global id of the
  // last sampled block to its local index.
  Block sample(const std::vector<int32_t>& seeds, const std::vector<int>& fanouts,
               SeedView view = SeedView::kOpen);
  int32_t local_of(int32_t node) const { return local_[node]; }

 private:
  const ModelInputs& in_;
  std::vector<int32_t> local_;
  std::vector<int32_t> touched_;
  uint64_t state_;
  uint64_t next();
};

// What the node heads learn, per graph node, and the seeded files held out to measure
// them: 10 % for testing, 5 % for early stopping (targets.cpp). Import labels come from the graph:
// the module's imports that the function's calls go through. Test and bug kinds come from the
// labels part.
constexpr int kImportSlots = 512;  // import head width: the most imported targets
struct NodeTargets {
  std::vector<std::string> vocabulary;              // import slot -> the target's qname
  std::vector<std::vector<uint16_t>> imports;       // slots a function relies on
  std::vector<std::vector<uint16_t>> file_imports;  // slots its module imports (an input)
  std::vector<uint8_t> has_imports;                 // a function or method in a module
  std::vector<uint32_t> test_kinds;                 // bit per labels::TestKind
  std::vector<uint8_t> tested;                      // test_kinds is a label
  std::vector<std::array<float, labels::kBugKinds>> bug_kinds;     // teacher probabilities
  std::vector<uint8_t> analysed;                                   // bug_kinds is a label
  std::vector<bool> held_out;                                      // in a test or validation file
  std::vector<int32_t> train_nodes, validation_nodes, test_nodes;  // labelled by some head
};
// `vocabulary`: a checkpoint's import slots (null: the graph's kImportSlots most imported).
NodeTargets build_targets(const GraphData& graph, const labels::LabelReport* labels,
                          const std::vector<std::string>* vocabulary, uint64_t seed);
// How sure the teachers are of a function's labels, in [0, 1]: the analysers' soft bug
// labels by their mean distance from a coin toss (|2p - 1|); labels read off the graph and
// the tests are certain (1).
double teacher_confidence(const NodeTargets& targets, int32_t node);
// The training functions for a curriculum's first pass: a seeded shuffle in which the
// functions with unsure labels (confidence < 1) come easy to hard, each in a place one of
// them held, so every stretch of the pass keeps its mix of sure and unsure labels.
std::vector<int32_t> curriculum_order(const NodeTargets& targets, uint64_t seed);

struct StudentOptions {
  int hidden = 256;
  int layers = 3;
  double dropout = 0.5;
  std::vector<int> train_fanouts{10, 5, 2};
  std::vector<int> infer_fanouts{10, 5, 2};
  int batch_edges = 2048;
  int negatives = 2;  // per positive call: one from the caller's file, the rest uniform
  int epochs = 5;
  int patience = 2;  // epochs without validation gain before stopping
  double lr = 0.005;
  double temperature = 3.0;  // distillation temperature
  double alpha = 0.5;        // weight of the distillation term where soft labels exist
  int node_batch = 1024;     // labelled functions per step for the node heads (at most)
  int tested_batch = 256;    // tested functions per step for the test-kind head (at most)
  // A small repository passes over its calls several times an epoch: with a step or two
  // per epoch, early stopping would judge heads that have barely moved.
  int min_steps_per_epoch = 40;
  // The first epoch meets the node heads' functions easy to hard (curriculum_order); later
  // epochs in random order.
  bool curriculum = true;
  uint64_t seed = 0;
  int threads = 2;
  int keep_checkpoints = 3;
  bool progress = true;
  // A checkpoint whose weights training starts from (a crowd master, so that the weight
  // delta after local training means something); empty: a fresh seeded initialisation.
  std::string init_from;
};

struct RankMetrics {
  double hits_at_10 = 0, mrr = 0;
  size_t queries = 0;
};
struct SetMetrics {
  double precision_at_5 = 0, recall_at_5 = 0, f1 = 0;
  size_t queries = 0;
};
// Multi-label heads: micro-averaged over every (function, kind) pair of held-out functions;
// F1 at the score threshold that maximises it on validation functions (training ones when
// validation holds no positive).
struct KindMetrics {
  double micro_f1 = 0, auroc = 0, threshold = 0.5;
  size_t functions = 0, positives = 0;
};
struct EvalReport {
  RankMetrics next_call, next_call_embedding_only, next_call_in_degree, next_call_cooccurrence;
  SetMetrics imports, imports_frequency, imports_file_frequency;
  KindMetrics test_kinds, test_kinds_prior, bug_kinds, bug_kinds_prior;
  double seconds = 0;
};
// Each head beside its baselines: what `yantra eval --json` prints and a checkpoint keeps.
nlohmann::json eval_report_json(const EvalReport& r);

struct EpochStats {
  int epoch = 0;
  double loss = 0, seconds = 0, validation_mrr = 0;
  double validation_node_loss = 0;  // the node heads' loss on validation files
};
struct TrainReport {
  std::vector<EpochStats> epochs;
  int best_epoch = 0;
  EvalReport eval;  // held-out calls and files, at the best epoch
  std::string checkpoint;
  size_t train_calls = 0, validation_calls = 0, test_calls = 0;
  uint64_t parameters = 0;
};

struct Scored {
  std::string label;
  double p = 0;
};
struct Prediction {
  std::string qname;
  std::vector<Scored> calls, imports, test_kinds, bug_kinds;  // each sorted, most likely first
  double seconds = 0;
};

// ---- Full-graph embeddings, cached beside the checkpoint (embedding_cache.cpp) ----
//
//   auto r = refresh_embeddings("repo/.yantra/student/model.pt", graph).take();
//   printf("%zu of %zu embeddings recomputed\n", r.recomputed, r.nodes);
//
// Every node's embedding over its whole neighbourhood (the callee side of next-call
// prediction) is kept in embeddings.bin beside the checkpoint, with a fingerprint of what
// each node reads: its inputs and who sends it messages. A refresh recomputes only nodes
// within `layers` hops of a node whose fingerprint changed, so `yantra index` keeps the
// cache fresh after an edit at the cost of the edit, and loading the student is a read.
struct EmbeddingRefresh {
  size_t nodes = 0;        // in the graph
  size_t changed = 0;      // whose fingerprint differs from the cache's (or have none)
  size_t recomputed = 0;   // changed ones and those within reach of them
  bool full = false;       // the whole graph was recomputed (most of it was in reach)
  std::string cache_note;  // why the cache was rebuilt or not saved; "" when all went well
  double seconds = 0;
};
std::string embedding_cache_path(const std::string& checkpoint);
// Loads the checkpoint for `graph` and brings its embedding cache up to date.
Result<EmbeddingRefresh> refresh_embeddings(const std::string& checkpoint, const GraphData& graph);

// Inference as the router runs it, timed: one function's embedding from a sampled
// neighbourhood (the checkpoint's inference fan-outs), then one embedding of every node
// over its whole neighbourhood (no cache): the protocol of sage_ref.py's latency figures.
struct InferenceTiming {
  size_t queries = 0;
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
  double full_graph_seconds = 0;
};

class Student {
 public:
  // A checkpoint written by train_student, for the graph it will answer about.
  static Result<Student> load(const std::string& checkpoint, const GraphData& graph);
  Student(Student&&) noexcept;
  ~Student();
  Result<Prediction> predict(int32_t node, size_t top_k = 10);
  // Held-out metrics on the split the checkpoint was trained with (the next-call protocol
  // of sage_ref.py); an error if the graph's calls changed since, as test calls would leak.
  // `labels`: the test and bug kinds to score those heads against (null: imports only).
  Result<EvalReport> evaluate(uint64_t seed, const labels::LabelReport* labels = nullptr);
  // `queries` seeded functions or methods, after ten untimed ones to warm up.
  Result<InferenceTiming> time_inference(size_t queries, uint64_t seed);
  std::string describe() const;  // version, options and metrics stored with the weights
  const EmbeddingRefresh& embeddings() const;  // how load() got the full-graph embeddings

  struct Impl;  // the LibTorch side (torch_module.h)

 private:
  explicit Student(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Trains on `graph` and writes rotated checkpoints under `out_dir`. `labels` (from
// labels::extract_labels) teach the test-kind and bug-kind heads; null leaves them untrained.
Result<TrainReport> train_student(const GraphData& graph, const StudentOptions& options,
                                  const std::string& out_dir,
                                  const labels::LabelReport* labels = nullptr);

// Distillation terms, KL(teacher_T || student_T) * T^2, averaged over rows (for tests and
// for the learning loop's bookkeeping; training uses the same code on tensors).
double bernoulli_distillation(const std::vector<float>& student_logits,
                              const std::vector<float>& teacher_probs, double temperature);
double softmax_distillation(const std::vector<float>& student_logits,
                            const std::vector<float>& teacher_probs, double temperature);

// ---- The pass-probability head, learned online (online.cpp) ----
//
//   OnlineLearner head = OnlineLearner::open("repo/.yantra/student/pass_head.pt", {}).take();
//   auto x = pass_features(text_embedding(name, params, request), "premium", "gpt-4");
//   double p = head.predict(x);                  // before asking gpt-4
//   head.observe({x, passed ? 1.f : 0.f, router_confidence}).take();  // after validation
//
// P(a source's answer to a request passes validation), from the request's embedding and
// which source answers. Each observation takes one step on itself plus a replayed batch
// (reservoir sampling, so old requests are not forgotten); a checkpoint, replay buffer
// included, is written atomically every `checkpoint_every` observations.
constexpr int kSourceBuckets = 16;
constexpr int kPassFeatures = kTextEmbeddingDim + kSourceBuckets;
std::vector<float> pass_features(const std::vector<float>& request_embedding, std::string_view tier,
                                 std::string_view model);

struct OnlineOptions {
  int hidden = 64;
  int replay_capacity = 4096;
  int replay_batch = 31;  // replayed examples per step, beside the new one
  double lr = 0.003;
  double temperature = 3.0;  // distillation temperature for soft labels
  double alpha = 0.5;        // weight of the distillation term where a soft label exists
  int checkpoint_every = 100;
  uint64_t seed = 0;
};

struct Observation {
  std::vector<float> features;  // kPassFeatures, from pass_features()
  float label = 0;              // 1: the answer passed validation
  float soft_label = -1;        // the router's confidence in it, in [0, 1]; < 0: none
};

// How well the head's forecasts matched outcomes, each forecast made before the head
// learned from its outcome (prequential), over every observation since it started.
struct PassCalibration {
  size_t outcomes = 0;
  double mean_p = 0, pass_rate = 0;
  double brier = 0;  // mean squared error of the forecasts
  double ece = 0;    // expected calibration error over 10 equal-width bins
};

class OnlineLearner {
 public:
  // Loads `path` when it exists (an error if it is not such a checkpoint), else starts
  // fresh with `options`; later checkpoints go to `path`.
  static Result<OnlineLearner> open(const std::string& path, const OnlineOptions& options);
  OnlineLearner(OnlineLearner&&) noexcept;
  OnlineLearner& operator=(OnlineLearner&&) noexcept;
  ~OnlineLearner();
  double predict(const std::vector<float>& features);
  // One optimisation step; returns the batch loss. Bad feature widths are errors.
  Result<double> observe(const Observation& observation);
  Result<void> save();  // atomically, now
  uint64_t steps() const;
  size_t replay_size() const;
  PassCalibration calibration() const;

  struct Impl;  // the LibTorch side (torch_module.h)

 private:
  explicit OnlineLearner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A checkpoint's parameters by name, as plain floats: what crowd learning averages.
struct ParameterTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major
};
using Parameters = std::map<std::string, ParameterTensor>;
Result<Parameters> read_parameters(const std::string& checkpoint);
// Parameters whose meaning belongs to one repository (the import head's slots name its
// imports): crowd learning never sends or averages them, and training from a crowd master
// starts them from the local repository's priors.
bool repository_specific(std::string_view parameter);
// Writes `out` (atomically): the checkpoint with every parameter replaced by the one of the
// same name in `params`. A missing name or a shape that differs is an error, nothing written.
Result<void> write_parameters(const std::string& checkpoint, const Parameters& params,
                              const std::string& out);

// The BLAS shared object LibTorch multiplies with, read from /proc/self/maps after a matmul.
std::string blas_library();

}  // namespace yantra::student
