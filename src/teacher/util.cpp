// Small helpers of the teacher part: names, masking, JSON accessors.
#include <algorithm>
#include <cctype>

#include "teacher/internal.h"

namespace yantra::teacher {

using nlohmann::json;

std::string_view to_string(ProviderKind kind) {
  switch (kind) {
    case ProviderKind::openai_compatible:
      return "openai_compatible";
    case ProviderKind::anthropic:
      return "anthropic";
    case ProviderKind::gemini:
      return "gemini";
  }
  return "unknown";
}

std::optional<ProviderKind> provider_kind_from_string(std::string_view s) {
  if (s == "openai_compatible" || s == "openai-compatible" || s == "openai")
    return ProviderKind::openai_compatible;
  if (s == "anthropic") return ProviderKind::anthropic;
  if (s == "gemini" || s == "google") return ProviderKind::gemini;
  return std::nullopt;
}

int64_t estimate_tokens(std::string_view text) {
  return static_cast<int64_t>((text.size() + 3) / 4);
}

std::string api_key_env(const ProviderConfig& config) {
  if (!config.api_key_env.empty()) return config.api_key_env;
  std::string env;
  for (char c : config.name)
    env += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  return env + "_API_KEY";
}

std::string one_line(std::string_view text, size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) return out + "...";
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return out;
}

bool is_truncation(std::string_view finish_reason) {
  return finish_reason == "length" || finish_reason == "max_tokens" ||
         finish_reason == "MAX_TOKENS";
}

bool is_identifier(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

namespace {

bool is_token_boundary(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == ',' ||
         c == '`' || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}';
}

// Replaces the whitespace-delimited word around [pos, pos + len) with "[redacted]":
// providers echo keys partly starred ("sk-abc*****xyz"), so the whole word goes.
size_t redact_word(std::string& text, size_t pos, size_t len) {
  size_t begin = pos, end = pos + len;
  while (begin > 0 && !is_token_boundary(text[begin - 1])) --begin;
  while (end < text.size() && !is_token_boundary(text[end])) ++end;
  text.replace(begin, end - begin, "[redacted]");
  return begin + 10;
}

}  // namespace

std::string mask_secret(std::string text, std::string_view key) {
  // Too short to be a secret, and masking it would garble ordinary words.
  if (key.size() < 4) return text;
  for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos))
    pos = redact_word(text, pos, key.size());
  // Long fragments too: echoes like "sk-SECRET-0123****cdef". Twelve characters of a
  // random key do not occur by chance, and shorter windows would hit ordinary words.
  constexpr size_t kWindow = 12;
  if (key.size() < 16) return text;
  for (size_t i = 0; i + kWindow <= key.size(); ++i) {
    std::string_view fragment = key.substr(i, kWindow);
    for (size_t pos = text.find(fragment); pos != std::string::npos; pos = text.find(fragment, pos))
      pos = redact_word(text, pos, kWindow);
  }
  return text;
}

std::optional<std::string> json_string(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<double> json_number(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

const json* json_array(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? &*it : nullptr;
}

const json* json_object(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

std::string provider_error_message(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    if (const json* error = json_object(j, "error")) {
      if (auto message = json_string(*error, "message")) return one_line(*message);
    }
    for (const char* key : {"error", "message", "detail"})
      if (auto message = json_string(j, key)) return one_line(*message);
    if (const json* detail = json_array(j, "detail")) return one_line(detail->dump());
  }
  std::string text = one_line(body);
  text.erase(0, text.find_first_not_of(' '));
  return text;
}

}  // namespace yantra::teacher
