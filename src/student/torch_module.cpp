// The core's half of the student's public API: each call that needs the network goes to
// the LibTorch module (torch_module.h), opened on first use.
#include "student/torch_module.h"

#include <dlfcn.h>

#include <filesystem>
#include <utility>

namespace yantra::student {
namespace {

constexpr const char* kModuleFile = "libyantra_torch.so";

// Where the module is installed: beside the library this function is in.
std::string module_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&module_path), &info) == 0 || info.dli_fname == nullptr)
    return kModuleFile;
  return (std::filesystem::path(info.dli_fname).parent_path() / kModuleFile).string();
}

using ModuleEntry = const TorchModule* (*)();

Result<const TorchModule*> open_module() {
  // A program that links the LibTorch objects itself exports the entry point.
  auto entry = reinterpret_cast<ModuleEntry>(dlsym(RTLD_DEFAULT, "yantra_torch_module"));
  const std::string path = module_path();
  if (!entry) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      return Error::in(path, std::string("cannot load the student's LibTorch module (") +
                                 (why ? why : "unknown reason") +
                                 "); rebuild with `cmake --build build`, which builds it beside "
                                 "libyantra_core.so");
    }
    // The module stays loaded for the life of the process: its objects outlive any caller.
    entry = reinterpret_cast<ModuleEntry>(dlsym(handle, "yantra_torch_module"));
    if (!entry) return Error::in(path, "not Yantra's LibTorch module (no yantra_torch_module)");
  }
  const TorchModule* module = entry();
  if (!module || module->abi != kTorchModuleAbi)
    return Error::in(path, "a LibTorch module from another build of yantra (interface " +
                               std::to_string(module ? module->abi : 0) + ", this one needs " +
                               std::to_string(kTorchModuleAbi) +
                               "); rebuild with `cmake --build build`");
  return module;
}

// Calls into the module, or says why it could not be loaded.
template <class Call>
auto with_module(Call&& call) -> decltype(call(std::declval<const TorchModule&>())) {
  auto module = torch_module();
  if (!module) return module.error();
  return call(**module);
}

// For calls whose signature has no room for an error: failing to load aborts the command.
const TorchModule& module_or_throw() {
  return *std::move(torch_module()).take();
}

}  // namespace

Result<const TorchModule*> torch_module() {
  static const Result<const TorchModule*> loaded = open_module();
  return loaded;
}

// ---- Student ----

Student::Student(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Student::Student(Student&&) noexcept = default;
Student::~Student() = default;

Result<Student> Student::load(const std::string& checkpoint, const GraphData& graph) {
  auto impl = with_module([&](const TorchModule& m) { return m.load_student(checkpoint, graph); });
  if (!impl) return impl.error();
  return Student(std::move(impl).value());
}

Result<Prediction> Student::predict(int32_t node, size_t top_k) {
  return impl_->predict(node, top_k);
}

Result<EvalReport> Student::evaluate(uint64_t seed, const labels::LabelReport* labels) {
  return impl_->evaluate(seed, labels);
}

Result<InferenceTiming> Student::time_inference(size_t queries, uint64_t seed) {
  return impl_->time_inference(queries, seed);
}

std::string Student::describe() const {
  return impl_->describe();
}

const EmbeddingRefresh& Student::embeddings() const {
  return impl_->embeddings();
}

Result<EmbeddingRefresh> refresh_embeddings(const std::string& checkpoint, const GraphData& graph) {
  auto student = Student::load(checkpoint, graph);
  if (!student) return student.error();
  return student->embeddings();
}

std::string embedding_cache_path(const std::string& checkpoint) {
  return (std::filesystem::path(checkpoint).parent_path() / "embeddings.bin").string();
}

Result<TrainReport> train_student(const GraphData& graph, const StudentOptions& options,
                                  const std::string& out_dir, const labels::LabelReport* labels) {
  return with_module(
      [&](const TorchModule& m) { return m.train_student(graph, options, out_dir, labels); });
}

// ---- OnlineLearner ----

OnlineLearner::OnlineLearner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OnlineLearner::OnlineLearner(OnlineLearner&&) noexcept = default;
OnlineLearner& OnlineLearner::operator=(OnlineLearner&&) noexcept = default;
OnlineLearner::~OnlineLearner() = default;

Result<OnlineLearner> OnlineLearner::open(const std::string& path, const OnlineOptions& options) {
  auto impl = with_module([&](const TorchModule& m) { return m.open_learner(path, options); });
  if (!impl) return impl.error();
  return OnlineLearner(std::move(impl).value());
}

double OnlineLearner::predict(const std::vector<float>& features) {
  return impl_->predict(features);
}
Result<double> OnlineLearner::observe(const Observation& observation) {
  return impl_->observe(observation);
}
Result<void> OnlineLearner::save() {
  return impl_->save();
}
uint64_t OnlineLearner::steps() const {
  return impl_->steps();
}
size_t OnlineLearner::replay_size() const {
  return impl_->replay_size();
}
PassCalibration OnlineLearner::calibration() const {
  return impl_->calibration();
}

// ---- Parameters, losses, the BLAS in use ----

Result<Parameters> read_parameters(const std::string& checkpoint) {
  return with_module([&](const TorchModule& m) { return m.read_parameters(checkpoint); });
}

Result<void> write_parameters(const std::string& checkpoint, const Parameters& params,
                              const std::string& out) {
  return with_module(
      [&](const TorchModule& m) { return m.write_parameters(checkpoint, params, out); });
}

bool repository_specific(std::string_view parameter) {
  return parameter.starts_with("imports_out.") || parameter == "imports_local";
}

double bernoulli_distillation(const std::vector<float>& student_logits,
                              const std::vector<float>& teacher_probs, double temperature) {
  return module_or_throw().bernoulli_distillation(student_logits, teacher_probs, temperature);
}

double softmax_distillation(const std::vector<float>& student_logits,
                            const std::vector<float>& teacher_probs, double temperature) {
  return module_or_throw().softmax_distillation(student_logits, teacher_probs, temperature);
}

std::string blas_library() {
  return module_or_throw().blas_library();
}

}  // namespace yantra::student
