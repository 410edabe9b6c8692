// The LibTorch module's one exported symbol: the table the core forwards through
// (torch_module.h). Everything else in libyantra_torch.so is local to it (module.map).
#include "student/model.h"

namespace yantra::student {
namespace {

const TorchModule kModule{
    .abi = kTorchModuleAbi,
    .load_student = torch_side::load_student,
    .open_learner = torch_side::open_learner,
    .train_student = torch_side::train_student,
    .read_parameters = torch_side::read_parameters,
    .write_parameters = torch_side::write_parameters,
    .bernoulli_distillation = torch_side::bernoulli_distillation,
    .softmax_distillation = torch_side::softmax_distillation,
    .blas_library = torch_side::blas_library,
    .train_encoder = torch_side::train_encoder,
};

}  // namespace
}  // namespace yantra::student

extern "C" __attribute__((visibility("default"))) const yantra::student::TorchModule*
yantra_torch_module() {
  return &yantra::student::kModule;
}
