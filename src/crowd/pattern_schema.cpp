// The pattern schema as an allow-list: what is not listed here is refused. The client
// checks its own payloads with it before sending, and the server every pattern it gets.
// Errors name the field and what it must be, never the value that was sent.
#include <cmath>
#include <set>

#include "crowd/crowd.h"
#include "crowd/patterns_internal.h"
#include "library/library.h"

namespace yantra::crowd {
namespace {

using nlohmann::json;

constexpr int64_t kMaxCount = 1'000'000;
// Unit vector plus noise: beyond 1 + 8 sigma is not noise any more.
constexpr double kMaxEmbeddingValue = 1 + 8 * kMaxEmbeddingNoise;

// A key as an error may print it: identifier characters only, cut short.
std::string printable_key(const std::string& key) {
  std::string out;
  for (char c : key.substr(0, 32)) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out.push_back(word ? c : '?');
  }
  return out;
}

Error field_error(const std::string& field, const std::string& must) {
  return Error{std::string("pattern field '").append(field).append("' must be ").append(must)};
}

// Exactly these keys, no more, no fewer.
template <class Keys>
Result<void> exact_keys(const json& j, const Keys& keys, const std::string& field) {
  if (!j.is_object()) return field_error(field, "an object");
  std::set<std::string> want(std::begin(keys), std::end(keys));
  // The unknown key is named (the protocol's 400 names the field), in identifier
  // characters only and cut short, so an error line stays one short line.
  for (const auto& [key, value] : j.items())
    if (!want.contains(key))
      return Error{std::string("pattern field '")
                       .append(field)
                       .append("' has an unknown key '")
                       .append(printable_key(key))
                       .append("'; the schema allows no others")};
  for (const auto& key : want)
    if (!j.contains(key)) return field_error(field + "." + key, "present");
  return {};
}

Result<void> check_int(const json& j, const std::string& field, int64_t lo, int64_t hi) {
  if (!j.is_number_integer()) return field_error(field, "an integer");
  // Unsigned values above hi fail before the cast could wrap them.
  bool ok = j.is_number_unsigned() ? j.get<uint64_t>() <= uint64_t(hi) && int64_t(j.get<uint64_t>()) >= lo
                                   : j.get<int64_t>() >= lo && j.get<int64_t>() <= hi;
  if (!ok)
    return field_error(field, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  return {};
}

Result<void> check_number(const json& j, const std::string& field, double lo, double hi) {
  if (!j.is_number() || !std::isfinite(j.get<double>()) || j.get<double>() < lo ||
      j.get<double>() > hi)
    return field_error(field, "a number from " + format_fixed(lo, 0) + " to " + format_fixed(hi, 0));
  return {};
}

Result<void> check_word(const json& j, const std::string& field,
                        const std::vector<std::string>& words) {
  std::string list;
  for (const auto& w : words) list.append(list.empty() ? "" : ", ").append(w);
  if (!j.is_string() || std::find(words.begin(), words.end(), j.get<std::string>()) == words.end())
    return field_error(field, "one of " + list);
  return {};
}

Result<void> check_counts(const json& j, const std::string& field,
                          const std::vector<std::string>& keys) {
  if (auto ok = exact_keys(j, keys, field); !ok) return ok;
  for (const auto& k : keys)
    if (auto ok = check_int(j[k], field + "." + k, 0, kMaxCount); !ok) return ok;
  return {};
}

Result<void> check_flags(const json& j) {
  std::vector<std::string> names = detail::flag_names();
  if (auto ok = exact_keys(j, names, "flags"); !ok) return ok;
  for (const auto& k : names)
    if (!j[k].is_boolean()) return field_error("flags." + k, "true or false");
  return {};
}

Result<void> check_embedding(const json& j) {
  if (!j.is_array() || j.size() != size_t(student::kTextEmbeddingDim))
    return field_error("embedding",
                       "an array of " + std::to_string(student::kTextEmbeddingDim) + " numbers");
  for (const auto& x : j)
    if (!x.is_number() || !std::isfinite(x.get<double>()) ||
        std::abs(x.get<double>()) > kMaxEmbeddingValue)
      return field_error("embedding", "finite numbers from -" + format_fixed(kMaxEmbeddingValue, 0) +
                                          " to " + format_fixed(kMaxEmbeddingValue, 0));
  return {};
}

Result<void> check_outcome(const json& j) {
  if (auto ok = exact_keys(j, detail::outcome_keys(), "outcome"); !ok) return ok;
  if (auto ok = check_int(j["tests_passed"], "outcome.tests_passed", 0, kMaxCount); !ok) return ok;
  if (auto ok = check_int(j["tests_failed"], "outcome.tests_failed", 0, kMaxCount); !ok) return ok;
  if (!j["bugs_found"].is_null())
    if (auto ok = check_int(j["bugs_found"], "outcome.bugs_found", 0, kMaxCount); !ok) return ok;
  return {};
}

bool is_hex(const json& j, size_t size) {
  if (!j.is_string() || j.get<std::string>().size() != size) return false;
  for (char c : j.get<std::string>())
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

Result<void> validate_pattern(const json& p) {
  if (auto ok = exact_keys(p, detail::pattern_keys(), "pattern"); !ok) return ok;
  if (!p["v"].is_number_integer() || p["v"].get<int64_t>() != kProtocolVersion)
    return field_error("v", "the protocol version " + std::to_string(kProtocolVersion));
  if (auto ok = check_word(p["language"], "language", {"python"}); !ok) return ok;
  if (auto ok = check_counts(p["nodes"], "nodes", detail::node_kinds()); !ok) return ok;
  if (auto ok = check_counts(p["edges"], "edges", detail::edge_kinds()); !ok) return ok;
  if (auto ok = check_int(p["complexity"], "complexity", 1, kMaxCount); !ok) return ok;
  if (auto ok = check_int(p["lines"], "lines", 0, kMaxCount); !ok) return ok;
  if (auto ok = check_int(p["params"], "params", 0, 10'000); !ok) return ok;
  if (!p["async"].is_boolean()) return field_error("async", "true or false");
  if (auto ok = check_flags(p["flags"]); !ok) return ok;
  if (auto ok = check_embedding(p["embedding"]); !ok) return ok;
  if (auto ok = check_number(p["embedding_noise"], "embedding_noise", 0, kMaxEmbeddingNoise); !ok)
    return ok;
  if (auto ok = check_outcome(p["outcome"]); !ok) return ok;
  std::vector<std::string> tiers(std::begin(library::kTiers), std::end(library::kTiers));
  if (auto ok = check_word(p["tier"], "tier", tiers); !ok) return ok;
  if (auto ok = check_number(p["confidence_before"], "confidence_before", 0, 1); !ok) return ok;
  if (auto ok = check_number(p["confidence_after"], "confidence_after", 0, 1); !ok) return ok;
  return {};
}

Result<void> validate_pattern_batch(const json& b) {
  if (auto ok = exact_keys(b, detail::batch_keys(), "batch"); !ok) return ok;
  if (!is_hex(b["batch"], 32)) return field_error("batch", "32 lowercase hex digits");
  if (!is_hex(b["user"], 64)) return field_error("user", "64 lowercase hex digits (an HMAC-SHA256)");
  const json& list = b["patterns"];
  if (!list.is_array() || list.empty() || list.size() > kMaxPatternsPerBatch)
    return field_error("patterns", "an array of 1 to " + std::to_string(kMaxPatternsPerBatch) +
                                       " patterns");
  for (size_t i = 0; i < list.size(); ++i)
    if (auto ok = validate_pattern(list[i]); !ok)
      return Error{"patterns[" + std::to_string(i) + "]: " + ok.error().message};
  return {};
}

}  // namespace yantra::crowd
