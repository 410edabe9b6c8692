// Checkpoint parameters as plain named floats, for crowd learning: the crowd part averages
// them without LibTorch, and the averaged master is written back into a checkpoint here.
#include <nlohmann/json.hpp>

#include "student/model.h"

namespace yantra::student {
namespace {

// The model a checkpoint's header describes, with the checkpoint's weights loaded.
Result<Sage> load_model(const std::string& checkpoint, std::string* meta_out) {
  auto meta = read_checkpoint_meta(checkpoint);
  if (!meta) return meta.error();
  Sage model{nullptr};
  try {
    const auto o = nlohmann::json::parse(*meta).at("options");
    model =
        Sage(o.at("hidden").get<int>(), o.at("layers").get<int>(), o.at("dropout").get<double>());
  } catch (const std::exception& e) {
    return Error::in(checkpoint, std::string("unreadable checkpoint header: ") + e.what());
  }
  if (auto ok = load_checkpoint(model, checkpoint); !ok) return ok.error();
  if (meta_out) *meta_out = std::move(*meta);
  return model;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s.append(i ? "," : "").append(std::to_string(shape[i]));
  return s + "]";
}

}  // namespace

Result<Parameters> torch_side::read_parameters(const std::string& checkpoint) {
  auto model = load_model(checkpoint, nullptr);
  if (!model) return model.error();
  Parameters out;
  for (const auto& item : (*model)->named_parameters()) {
    torch::Tensor t = item.value().detach().contiguous().to(torch::kFloat);
    ParameterTensor p;
    p.shape.assign(t.sizes().begin(), t.sizes().end());
    p.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    out.emplace(item.key(), std::move(p));
  }
  return out;
}

Result<void> torch_side::write_parameters(const std::string& checkpoint, const Parameters& params,
                                          const std::string& out) {
  std::string meta;
  auto model = load_model(checkpoint, &meta);
  if (!model) return model.error();
  auto named = (*model)->named_parameters();
  if (named.size() != params.size())
    return Error::in(checkpoint, "the model has " + std::to_string(named.size()) +
                                     " parameters, the weights to install " +
                                     std::to_string(params.size()) +
                                     "; they are not the same model");
  // Check everything before changing anything.
  for (const auto& item : named) {
    auto it = params.find(item.key());
    if (it == params.end())
      return Error::in(checkpoint, "the weights to install lack parameter '" + item.key() + "'");
    std::vector<int64_t> want(item.value().sizes().begin(), item.value().sizes().end());
    if (it->second.shape != want || int64_t(it->second.values.size()) != item.value().numel())
      return Error::in(checkpoint, "parameter '" + item.key() + "' is " + shape_text(want) +
                                       " here but " + shape_text(it->second.shape) +
                                       " in the weights to install");
  }
  torch::NoGradGuard no_grad;
  for (auto& item : named) {
    const ParameterTensor& p = params.at(item.key());
    torch::Tensor src =
        torch::from_blob(const_cast<float*>(p.values.data()), item.value().sizes(), torch::kFloat);
    item.value().copy_(src);
  }
  return save_checkpoint(*model, meta, out);
}

}  // namespace yantra::student
