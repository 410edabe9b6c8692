// Named float tensors: their binary form, deltas, clipping and federated averaging.
#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include "crowd/crowd.h"

namespace yantra::crowd {
namespace {

constexpr char kMagic[4] = {'Y', 'W', 'T', 'S'};
constexpr uint32_t kFormatVersion = 1;
// Generous bounds that still stop a hostile header from asking for absurd allocations.
constexpr uint32_t kMaxNameBytes = 4096;
constexpr uint32_t kMaxRank = 8;

// The form is little-endian; every machine Debian builds this for is too, which the
// static_assert keeps honest rather than byte-swapping code nobody runs.
static_assert(std::endian::native == std::endian::little, "weights are little-endian");

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Reads fixed-size values off a buffer, remembering the first overrun.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  template <class T>
  bool get(T& value) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_bytes(size_t n, std::string_view& out) {
    if (bytes_.size() - pos_ < n) return false;
    out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t left() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s.append(i ? "," : "").append(std::to_string(shape[i]));
  return s + "]";
}

Result<Tensor> read_tensor(Reader& r, const std::string& name, std::string_view what) {
  uint32_t rank = 0;
  if (!r.get(rank)) return Error::in(what, "truncated weights (shape of '" + name + "')");
  if (rank > kMaxRank) return Error::in(what, "parameter '" + name + "' has an impossible rank");
  Tensor t;
  uint64_t count = 1;
  for (uint32_t i = 0; i < rank; ++i) {
    int64_t dim = 0;
    if (!r.get(dim)) return Error::in(what, "truncated weights (shape of '" + name + "')");
    if (dim < 0 || (dim > 0 && count > (uint64_t(1) << 40) / uint64_t(dim)))
      return Error::in(what, "parameter '" + name + "' has an impossible shape");
    t.shape.push_back(dim);
    count *= uint64_t(dim);
  }
  if (count > r.left() / sizeof(float))
    return Error::in(what, "truncated weights (values of '" + name + "')");
  t.values.resize(count);
  std::string_view raw;
  r.get_bytes(count * sizeof(float), raw);
  std::memcpy(t.values.data(), raw.data(), raw.size());
  for (float v : t.values)
    if (!std::isfinite(v)) return Error::in(what, "parameter '" + name + "' holds NaN or infinity");
  return t;
}

// Applies `op` element-wise over two weight sets with the same names and shapes.
template <class Op>
Result<Weights> zip(const Weights& a, const Weights& b, Op op) {
  for (const auto& [name, t] : b)
    if (!a.count(name)) return Error{"parameter '" + name + "' is only in the second weights"};
  Weights out;
  for (const auto& [name, ta] : a) {
    auto it = b.find(name);
    if (it == b.end()) return Error{"parameter '" + name + "' is only in the first weights"};
    if (ta.shape != it->second.shape || ta.values.size() != it->second.values.size())
      return Error{"parameter '" + name + "' is " + shape_text(ta.shape) + " in one and " +
                   shape_text(it->second.shape) + " in the other"};
    Tensor t{ta.shape, std::vector<float>(ta.values.size())};
    for (size_t i = 0; i < t.values.size(); ++i) t.values[i] = op(ta.values[i], it->second.values[i]);
    out.emplace(name, std::move(t));
  }
  return out;
}

}  // namespace

std::string encode(const Weights& weights) {
  std::string out(kMagic, sizeof(kMagic));
  put(out, kFormatVersion);
  put(out, uint32_t(weights.size()));
  for (const auto& [name, t] : weights) {
    put(out, uint32_t(name.size()));
    out += name;
    put(out, uint32_t(t.shape.size()));
    for (int64_t d : t.shape) put(out, d);
    out.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
  }
  return out;
}

Result<Weights> decode(std::string_view bytes, std::string_view what) {
  Reader r(bytes);
  std::string_view magic;
  if (!r.get_bytes(sizeof(kMagic), magic) || magic != std::string_view(kMagic, sizeof(kMagic)))
    return Error::in(what, "not a Yantra weights file (no YWTS header)");
  uint32_t version = 0, count = 0;
  if (!r.get(version) || !r.get(count)) return Error::in(what, "truncated weights header");
  if (version != kFormatVersion)
    return Error::in(what, "weights format " + std::to_string(version) + " is not the " +
                               std::to_string(kFormatVersion) + " this yantra reads; update yantra");
  Weights out;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t name_bytes = 0;
    std::string_view name;
    if (!r.get(name_bytes) || name_bytes == 0 || name_bytes > kMaxNameBytes ||
        !r.get_bytes(name_bytes, name))
      return Error::in(what, "truncated or corrupt weights (name of tensor " + std::to_string(i) + ")");
    auto tensor = read_tensor(r, std::string(name), what);
    if (!tensor) return tensor.error();
    if (!out.emplace(std::string(name), std::move(*tensor)).second)
      return Error::in(what, "parameter '" + std::string(name) + "' appears twice");
  }
  if (r.left() != 0) return Error::in(what, "trailing bytes after the last tensor");
  return out;
}

Result<Weights> subtract(const Weights& a, const Weights& b) {
  return zip(a, b, [](float x, float y) { return x - y; });
}

Result<Weights> add(const Weights& a, const Weights& b) {
  return zip(a, b, [](float x, float y) { return x + y; });
}

double l2_norm(const Weights& w) {
  double sum = 0;
  for (const auto& [name, t] : w)
    for (float v : t.values) sum += double(v) * double(v);
  return std::sqrt(sum);
}

Weights clip_l2(Weights w, double max_norm) {
  double norm = l2_norm(w);
  if (max_norm <= 0 || norm <= max_norm) return w;
  const double scale = max_norm / norm;
  for (auto& [name, t] : w)
    for (float& v : t.values) v = float(double(v) * scale);
  return w;
}

Result<Weights> fed_avg(const std::vector<Contribution>& contributions) {
  if (contributions.empty()) return Error{"no deltas to average"};
  uint64_t total = 0;
  for (const Contribution& c : contributions) total += c.examples;
  if (total == 0) return Error{"the deltas to average carry no training examples"};
  // Accumulate in double: thousands of small float deltas would otherwise lose bits.
  std::map<std::string, std::vector<double>> sums;
  const Weights& first = contributions.front().delta;
  for (const auto& [name, t] : first) sums[name].assign(t.values.size(), 0.0);
  for (size_t k = 0; k < contributions.size(); ++k) {
    const Weights& d = contributions[k].delta;
    if (auto same = zip(first, d, [](float, float) { return 0.f; }); !same)
      return Error{"delta " + std::to_string(k) + " does not match the others: " + same.error().message};
    const double weight = double(contributions[k].examples) / double(total);
    for (const auto& [name, t] : d) {
      std::vector<double>& s = sums[name];
      for (size_t i = 0; i < t.values.size(); ++i) s[i] += weight * double(t.values[i]);
    }
  }
  Weights out;
  for (const auto& [name, t] : first) {
    const std::vector<double>& s = sums[name];
    out.emplace(name, Tensor{t.shape, std::vector<float>(s.begin(), s.end())});
  }
  return out;
}

void add_gaussian_noise(Weights& w, double sigma, uint64_t seed) {
  if (sigma <= 0) return;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, sigma);
  for (auto& [name, t] : w)
    for (float& v : t.values) v = float(double(v) + noise(rng));
}

}  // namespace yantra::crowd
