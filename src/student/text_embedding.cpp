// The student's view of a request before the network has seen it: its name, parameters
// and words hashed into a fixed number of signed buckets (feature hashing), the same
// vocabulary-free tokens the network's input layer reads from code.
#include <algorithm>
#include <cmath>

#include "base/base.h"
#include "student/student.h"

namespace yantra::student {
namespace {

void add(std::vector<float>& v, std::string_view role, std::string_view token, float weight) {
  std::string key(role);
  key.append(":").append(token);
  uint64_t h = hash64(key);
  float sign = (h >> 63) ? -1.0f : 1.0f;
  v[h % v.size()] += sign * weight;
}

// Words of free text, each split into sub-tokens: "parseISODate(s)" -> parse, iso, date, s.
std::vector<std::string> text_tokens(std::string_view text) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() &&
           !(std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
      ++i;
    size_t start = i;
    while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
      ++i;
    if (i > start)
      for (std::string& t : sub_tokens(text.substr(start, i - start)))
        tokens.push_back(std::move(t));
  }
  return tokens;
}

}  // namespace

std::vector<float> text_embedding(std::string_view name, const std::vector<std::string>& params,
                                  std::string_view text) {
  std::vector<float> v(kTextEmbeddingDim, 0.0f);
  for (const std::string& t : sub_tokens(name)) add(v, "n", t, 2.0f);
  for (const std::string& p : params)
    for (const std::string& t : sub_tokens(p)) add(v, "p", t, 1.0f);
  std::vector<std::string> words = text_tokens(text);
  for (size_t i = 0; i < words.size(); ++i) {
    add(v, "w", words[i], 1.0f);
    // Word pairs keep some order: "sort by length" is not "length of sort".
    if (i + 1 < words.size()) add(v, "b", words[i] + " " + words[i + 1], 1.0f);
  }
  to_unit(v);
  return v;
}

void to_unit(std::vector<float>& v) {
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  if (norm == 0) {
    if (!v.empty()) v[0] = 1.0f;  // an empty request still has a direction, so it can be stored
    return;
  }
  float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= inv;
}

}  // namespace yantra::student

namespace yantra::student {

std::vector<float> pass_features(const std::vector<float>& request_embedding,
                                 std::string_view tier, std::string_view model) {
  std::vector<float> x(kPassFeatures, 0.0f);
  std::copy_n(request_embedding.begin(),
              std::min<size_t>(request_embedding.size(), kTextEmbeddingDim), x.begin());
  // The source: its tier in the first four buckets, its model hashed into the rest, so a
  // new model starts from what its tier usually does.
  static constexpr std::string_view kTierNames[] = {"student", "open_local", "open_cloud",
                                                    "premium"};
  for (size_t t = 0; t < std::size(kTierNames); ++t)
    if (tier == kTierNames[t]) x[kTextEmbeddingDim + t] = 1.0f;
  constexpr size_t kModelBuckets = kSourceBuckets - std::size(kTierNames);
  x[kTextEmbeddingDim + std::size(kTierNames) + hash64(model) % kModelBuckets] = 1.0f;
  return x;
}

}  // namespace yantra::student
