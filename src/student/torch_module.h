// The seam between the core and the student's LibTorch half.
//
//   auto module = torch_module();              // loads libyantra_torch.so once
//   if (!module) return module.error();         // names the file and what to do
//   auto impl = (*module)->load_student(checkpoint, graph);
//
// LibTorch costs about half a second to load (its operator registry runs at start-up), so
// it lives in a module beside libyantra_core.so that the core opens on the first call that
// needs the network: `yantra index`, `graph`, `validate` and `generate` without a student
// never map it. The public API (student.h) forwards through this table; the pimpl classes'
// implementations are the abstract `Impl`s below, made in the module.
#pragma once

#include "student/student.h"

namespace yantra::student {

struct Student::Impl {
  virtual ~Impl() = default;
  virtual Result<Prediction> predict(int32_t node, size_t top_k) = 0;
  virtual Result<EvalReport> evaluate(uint64_t seed, const labels::LabelReport* labels) = 0;
  virtual Result<InferenceTiming> time_inference(size_t queries, uint64_t seed) = 0;
  virtual std::string describe() const = 0;
  virtual const EmbeddingRefresh& embeddings() const = 0;
};

struct OnlineLearner::Impl {
  virtual ~Impl() = default;
  virtual double predict(const std::vector<float>& features) = 0;
  virtual Result<double> observe(const Observation& observation) = 0;
  virtual Result<void> save() = 0;
  virtual uint64_t steps() const = 0;
  virtual size_t replay_size() const = 0;
  virtual PassCalibration calibration() const = 0;
};

// Bumped whenever this table or the types it passes change, so a stale module beside a
// newer core is refused instead of misread.
constexpr int kTorchModuleAbi = 3;

struct TorchModule {
  int abi = kTorchModuleAbi;
  Result<std::unique_ptr<Student::Impl>> (*load_student)(const std::string& checkpoint,
                                                         const GraphData& graph);
  Result<std::unique_ptr<OnlineLearner::Impl>> (*open_learner)(const std::string& path,
                                                               const OnlineOptions& options);
  Result<TrainReport> (*train_student)(const GraphData& graph, const StudentOptions& options,
                                       const std::string& out_dir,
                                       const labels::LabelReport* labels);
  Result<Parameters> (*read_parameters)(const std::string& checkpoint);
  Result<void> (*write_parameters)(const std::string& checkpoint, const Parameters& params,
                                   const std::string& out);
  double (*bernoulli_distillation)(const std::vector<float>& student_logits,
                                   const std::vector<float>& teacher_probs, double temperature);
  double (*softmax_distillation)(const std::vector<float>& student_logits,
                                 const std::vector<float>& teacher_probs, double temperature);
  std::string (*blas_library)();
  Result<EncoderTrainReport> (*train_encoder)(const std::vector<EncoderPair>& pairs,
                                              const EncoderTrainOptions& options,
                                              EncoderWeights& weights);
};

// The module's table: from this process when a program links the LibTorch objects itself
// (the model tests), else from libyantra_torch.so beside libyantra_core.so, opened once.
Result<const TorchModule*> torch_module();

}  // namespace yantra::student

// The module's one exported symbol.
extern "C" const yantra::student::TorchModule* yantra_torch_module();
