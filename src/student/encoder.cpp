// The trained request encoder's forward pass and weights file, in plain C++: encoding a
// request costs a few microseconds and never loads LibTorch (training does, in the module).
#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "base/base.h"
#include "student/student.h"
#include "student/torch_module.h"

namespace yantra::student {
namespace {

constexpr char kMagic[8] = {'Y', 'E', 'N', 'C', 'O', 'D', '0', '1'};

size_t table_size() {
  return size_t(kEncoderBuckets) * kEncoderHidden;
}
size_t projection_size() {
  return size_t(kTextEmbeddingDim) * kEncoderHidden;
}

std::string weights_version(const EncoderWeights& w) {
  uint64_t h = hash64(std::string_view(reinterpret_cast<const char*>(w.table.data()),
                                       w.table.size() * sizeof(float)));
  h = hash64_combine(h, std::string_view(reinterpret_cast<const char*>(w.projection.data()),
                                         w.projection.size() * sizeof(float)));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

EncoderInput encoder_input(const RequestView& view, const Lexicon& lexicon) {
  EncoderInput in;
  std::vector<std::pair<std::string, float>> features = view_features(view, lexicon);
  in.base = hash_features(features);
  for (const auto& [key, value] : features) {
    // A hash of its own for the learned table, so its collisions are not the view's.
    in.buckets.push_back(
        int64_t(hash64_combine(hash64(key), "encoder") % uint64_t(kEncoderBuckets)));
    in.weights.push_back(value);
  }
  return in;
}

EncoderWeights EncoderWeights::initial(uint64_t seed) {
  EncoderWeights w;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> table(0.0f, 0.1f), projection(0.0f, 0.01f);
  w.table.resize(table_size());
  for (float& x : w.table) x = table(rng);
  w.projection.resize(projection_size());
  for (float& x : w.projection) x = projection(rng);
  return w;
}

Result<RequestEncoder> RequestEncoder::from_weights(EncoderWeights weights) {
  if (weights.table.size() != table_size() || weights.projection.size() != projection_size())
    return Error{"encoder weights of the wrong shape: " + std::to_string(weights.table.size()) +
                 " + " + std::to_string(weights.projection.size()) + " values, not " +
                 std::to_string(table_size()) + " + " + std::to_string(projection_size())};
  RequestEncoder e;
  e.version_ = weights_version(weights);
  e.weights_ = std::move(weights);
  return e;
}

Result<RequestEncoder> RequestEncoder::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::in(path,
                     "cannot read the request encoder; train one with "
                     "`yantra train --encoder`");
  char magic[8];
  int32_t dims[3];
  in.read(magic, sizeof magic);
  in.read(reinterpret_cast<char*>(dims), sizeof dims);
  if (!in || std::memcmp(magic, kMagic, sizeof magic) != 0)
    return Error::in(path, "not a request encoder file; train one with `yantra train --encoder`");
  if (dims[0] != kEncoderBuckets || dims[1] != kEncoderHidden || dims[2] != kTextEmbeddingDim)
    return Error::in(path, "a request encoder of another shape (" + std::to_string(dims[0]) + "x" +
                               std::to_string(dims[1]) + "->" + std::to_string(dims[2]) +
                               "); train a new one with `yantra train --encoder`");
  EncoderWeights w;
  w.table.resize(table_size());
  w.projection.resize(projection_size());
  in.read(reinterpret_cast<char*>(w.table.data()), std::streamsize(w.table.size() * sizeof(float)));
  in.read(reinterpret_cast<char*>(w.projection.data()),
          std::streamsize(w.projection.size() * sizeof(float)));
  if (!in) return Error::in(path, "the request encoder file is cut short; train it again");
  for (float x : w.projection)
    if (!std::isfinite(x)) return Error::in(path, "the request encoder holds non-finite weights");
  return from_weights(std::move(w));
}

Result<void> RequestEncoder::save(const std::string& path) const {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    int32_t dims[3] = {kEncoderBuckets, kEncoderHidden, kTextEmbeddingDim};
    out.write(kMagic, sizeof kMagic);
    out.write(reinterpret_cast<const char*>(dims), sizeof dims);
    out.write(reinterpret_cast<const char*>(weights_.table.data()),
              std::streamsize(weights_.table.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(weights_.projection.data()),
              std::streamsize(weights_.projection.size() * sizeof(float)));
    if (!out) return Error::in(tmp, "cannot write the request encoder");
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Error::in(path, "cannot move the request encoder into place: " + ec.message());
  return {};
}

std::vector<float> RequestEncoder::encode(const EncoderInput& in) const {
  // h = tanh(sum_f w_f E[bucket_f]);  y = normalise(base + P h)
  float h[kEncoderHidden] = {};
  for (size_t f = 0; f < in.buckets.size(); ++f) {
    const float* row = weights_.table.data() + size_t(in.buckets[f]) * kEncoderHidden;
    for (int k = 0; k < kEncoderHidden; ++k) h[k] += in.weights[f] * row[k];
  }
  for (float& x : h) x = std::tanh(x);
  std::vector<float> y = in.base;
  for (int d = 0; d < kTextEmbeddingDim; ++d) {
    const float* row = weights_.projection.data() + size_t(d) * kEncoderHidden;
    float s = 0;
    for (int k = 0; k < kEncoderHidden; ++k) s += row[k] * h[k];
    y[size_t(d)] += s;
  }
  to_unit(y);
  return y;
}

std::vector<float> RequestEncoder::encode(const RequestView& view, const Lexicon& lexicon) const {
  return encode(encoder_input(view, lexicon));
}

std::string base_encoder_path() {
  if (const char* env = std::getenv("YANTRA_BASE_ENCODER"); env && *env) return env;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&base_encoder_path), &info) == 0 || !info.dli_fname)
    return kBaseEncoderFile;
  return (std::filesystem::path(info.dli_fname).parent_path() / kBaseEncoderFile).string();
}

std::string repo_encoder_path(const std::string& repo_dir) {
  return repo_dir + "/.yantra/student/encoder.bin";
}

Result<RequestEncoder> load_encoder(const std::string& repo_dir) {
  std::string own = repo_encoder_path(repo_dir);
  std::error_code ec;
  if (std::filesystem::exists(own, ec)) return RequestEncoder::load(own);
  auto base = RequestEncoder::load(base_encoder_path());
  if (!base)
    return Error{base.error().message + " (the base encoder is built with yantra: " +
                 "`cmake --build build`, or set YANTRA_BASE_ENCODER)"};
  return base;
}

Result<RequestEncoder> fine_tune_encoder(const EncoderWeights& start,
                                         const std::vector<RequestPair>& requests, int views,
                                         const EncoderTrainOptions& options,
                                         EncoderTrainReport* report) {
  std::vector<EncoderPair> pairs = augmented_pairs(requests, views, options.seed);
  EncoderWeights w = start;
  auto trained = train_encoder(pairs, options, w);
  if (!trained) return trained.error();
  if (report) *report = *trained;
  return RequestEncoder::from_weights(std::move(w));
}

Result<EncoderTrainReport> train_encoder(const std::vector<EncoderPair>& pairs,
                                         const EncoderTrainOptions& options,
                                         EncoderWeights& weights) {
  auto module = torch_module();
  if (!module) return module.error();
  return (*module)->train_encoder(pairs, options, weights);
}

}  // namespace yantra::student
