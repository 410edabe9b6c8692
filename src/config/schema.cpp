// The settings schema: which keys exist, their types and ranges, and the provider presets.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "config/internal.h"

namespace yantra::config {
namespace internal {
namespace {

using VT = ValueType;

std::vector<std::string> split_dots(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      parts.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<Value> parse_list(std::string_view dotted, std::string_view text) {
  text = trim(text);
  if (text.starts_with('[')) {
    if (!text.ends_with(']'))
      return Error{std::string(dotted).append(": a list starts with '[' and ends with ']'")};
    text = trim(text.substr(1, text.size() - 2));
  }
  std::vector<std::string> items;
  if (text.empty()) return Value(std::move(items));
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') continue;
    std::string_view item = trim(text.substr(start, i - start));
    start = i + 1;
    if (item.size() >= 2 && (item.front() == '"' || item.front() == '\'') &&
        item.back() == item.front())
      item = item.substr(1, item.size() - 2);
    if (item.empty() && i == text.size() && !items.empty()) break;  // a trailing comma
    items.emplace_back(item);
  }
  return Value(std::move(items));
}

}  // namespace

const std::vector<KeySpec>& section_keys(Section section) {
  // clang-format off
  static const std::vector<KeySpec> router = {
      {"student_confidence", VT::number, "a number from 0 to 1 (e.g. 0.7)", 0, 1, {}},
      {"premium_confidence", VT::number, "a number from 0 to 1 (e.g. 0.5)", 0, 1, {}},
      {"premium_consent", VT::string, "one of ask, always, never", 1, 0,
       {"ask", "always", "never"}},
      {"samples", VT::integer, "an integer from 1 to 20 (e.g. 3)", 1, 20, {}},
      {"security_escalation", VT::boolean, "true or false", 1, 0, {}},
      {"teacher_tests", VT::boolean, "true or false", 1, 0, {}},
  };
  static const std::vector<KeySpec> crowd = {
      {"enabled", VT::boolean, "true or false", 1, 0, {}},
      {"server", VT::string, "an http:// or https:// URL", 1, 0, {}},
      {"tenant", VT::string, "a tenant name: 1-64 letters, digits, '-' and '_'", 1, 0, {}},
      {"public_key", VT::string, "the server's Ed25519 public key, 64 hex digits", 1, 0, {}},
      {"embedding_noise", VT::number, "a number from 0 to 2 (e.g. 0.1)", 0, 2, {}},
  };
  static const std::vector<KeySpec> provider = {
      {"kind", VT::string, "one of openai, anthropic, gemini", 1, 0,
       {"openai", "anthropic", "gemini"}},
      {"base_url", VT::string, "an http:// or https:// URL", 1, 0, {}},
      {"tier", VT::string, "one of open_local, open_cloud, premium", 1, 0,
       {"open_local", "open_cloud", "premium"}},
      {"models", VT::string_list, "a non-empty list of model names (e.g. [\"deepseek-coder\"])",
       1, 0, {}},
      {"price_in_per_1k", VT::number, "USD per 1K input tokens, from 0 to 1000", 0, 1000, {}},
      {"price_out_per_1k", VT::number, "USD per 1K output tokens, from 0 to 1000", 0, 1000, {}},
      {"budget_month_usd", VT::number, "USD per month, 0 or more (e.g. 10.0)", 0, 1e9, {}},
      {"key_env", VT::string, "an environment variable name (e.g. \"DEEPSEEK_API_KEY\")", 1, 0,
       {}},
      {"timeout_s", VT::number, "seconds, from 1 to 3600 (e.g. 120)", 1, 3600, {}},
  };
  // clang-format on
  switch (section) {
    case Section::router:
      return router;
    case Section::crowd:
      return crowd;
    case Section::provider:
      return provider;
  }
  return router;
}

const KeySpec* find_spec(Section section, std::string_view name) {
  for (const KeySpec& k : section_keys(section))
    if (k.name == name) return &k;
  return nullptr;
}

std::optional<std::string> suggest_key(Section section, std::string_view name) {
  std::vector<std::string> names;
  std::optional<std::string> prefixed;
  int prefix_matches = 0;
  for (const KeySpec& k : section_keys(section)) {
    names.emplace_back(k.name);
    if (!name.empty() && (k.name.starts_with(name) || name.starts_with(k.name)))
      prefixed = names.back(), ++prefix_matches;
  }
  if (prefix_matches == 1) return prefixed;
  return closest_match(name, names);
}

bool valid_provider_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Result<KeyPath> resolve_key(std::string_view dotted) {
  std::vector<std::string> seg = split_dots(dotted);
  KeyPath path{Section::router, "", nullptr, seg};
  if (seg.size() == 2 && seg[0] == "router") {
    path.spec = find_spec(Section::router, seg[1]);
  } else if (seg.size() == 2 && seg[0] == "crowd") {
    path.section = Section::crowd;
    path.spec = find_spec(Section::crowd, seg[1]);
  } else if (seg.size() == 3 && seg[0] == "providers") {
    if (!valid_provider_name(seg[1])) {
      return Error{std::string("provider names are letters, digits, '-' and '_' (e.g. ")
                       .append("providers.deepseek.tier)")};
    }
    path.section = Section::provider;
    path.provider = seg[1];
    path.spec = find_spec(Section::provider, seg[2]);
  }
  if (path.spec) return path;
  // Named back only when it starts like a settings key: an API key pasted here by mistake
  // must not be printed.
  bool named = !seg.empty() && (seg[0] == "router" || seg[0] == "crowd" || seg[0] == "providers");
  std::string msg = named ? std::string("unknown key '").append(dotted).append("'")
                          : std::string(
                                "unknown key (keys are router.*, crowd.* and "
                                "providers.NAME.*)");
  std::string name = seg.size() == 3 && valid_provider_name(seg[1]) ? seg[1] : "NAME";
  if (seg.size() == 2 && seg[0] == "providers" && valid_provider_name(seg[1])) {
    return Error{msg.append(": it is a table; name one of its keys, e.g. providers.")
                     .append(seg[1])
                     .append(".base_url")};
  }
  std::optional<std::string> near;
  std::string prefix = seg.empty() ? "" : seg[0] + ".";
  if (seg.size() == 2 && seg[0] == "router")
    near = suggest_key(Section::router, seg[1]);
  else if (seg.size() == 2 && seg[0] == "crowd")
    near = suggest_key(Section::crowd, seg[1]);
  else if (seg.size() == 3 && seg[0] == "providers") {
    near = suggest_key(Section::provider, seg[2]);
    prefix.append(seg[1]).append(".");
  } else if (auto full = closest_match(dotted, known_keys(name))) {
    near = full, prefix.clear();
  }
  if (near) return Error{msg.append("; did you mean '").append(prefix + *near).append("'?")};
  return Error{msg.append("; `yantra config list` shows the keys there are")};
}

std::optional<std::string> check_value(const KeySpec& spec, const Value& value) {
  std::string want = std::string(spec.expect);
  if (spec.type == VT::number || spec.type == VT::integer) {
    double x = 0;
    if (auto* i = std::get_if<int64_t>(&value))
      x = static_cast<double>(*i);
    else if (auto* d = std::get_if<double>(&value); d && spec.type == VT::number)
      x = *d;
    else
      return want;
    if (!std::isfinite(x) || (spec.min <= spec.max && (x < spec.min || x > spec.max))) return want;
    return std::nullopt;
  }
  if (spec.type == VT::boolean) {
    return std::holds_alternative<bool>(value) ? std::nullopt : std::optional(want);
  }
  if (spec.type == VT::string_list) {
    auto* list = std::get_if<std::vector<std::string>>(&value);
    if (!list || list->empty()) return want;
    for (const auto& item : *list)
      if (item.empty()) return want.append(" (an empty name is not a model)");
    return std::nullopt;
  }
  auto* s = std::get_if<std::string>(&value);
  if (!s) return want;
  if (!spec.choices.empty()) {
    if (std::find(spec.choices.begin(), spec.choices.end(), *s) != spec.choices.end())
      return std::nullopt;
    std::vector<std::string> choices(spec.choices.begin(), spec.choices.end());
    if (auto near = closest_match(*s, choices)) want.append("; did you mean '" + *near + "'?");
    return want;
  }
  if ((spec.name == "base_url" || spec.name == "server") && !s->starts_with("http://") &&
      !s->starts_with("https://"))
    return want;
  if (spec.name == "tenant" && !valid_provider_name(*s)) return want;  // the same alphabet
  if (spec.name == "public_key" &&
      (s->size() != 64 || s->find_first_not_of("0123456789abcdefABCDEF") != std::string::npos))
    return want;
  if (spec.name == "key_env" && !valid_env_name(*s)) return want;
  return std::nullopt;
}

Result<Value> parse_text(const KeySpec& spec, std::string_view dotted, std::string_view text) {
  Value value;
  std::string_view t = trim(text);
  const char* end = t.data() + t.size();
  switch (spec.type) {
    case VT::boolean:
      if (t == "true" || t == "false") value = (t == "true");
      break;
    case VT::integer: {
      int64_t i = 0;
      auto r = std::from_chars(t.data(), end, i);
      if (!t.empty() && r.ec == std::errc() && r.ptr == end) value = i;
      break;
    }
    case VT::number: {
      double d = 0;
      auto r = std::from_chars(t.data(), end, d);
      if (!t.empty() && r.ec == std::errc() && r.ptr == end) value = d;
      break;
    }
    case VT::string:
      value = std::string(text);
      break;
    case VT::string_list: {
      auto list = parse_list(dotted, text);
      if (!list) return list.error();
      value = std::move(*list);
      break;
    }
  }
  if (auto why = check_value(spec, value))
    return Error{std::string(dotted).append(" must be ").append(*why)};
  return value;
}

std::string toml_literal(const Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "\"\""; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      std::string s = to_text(Value(d));
      if (s.find_first_of(".eEn") == std::string::npos) s.append(".0");  // TOML: a float
      return s;
    }
    std::string operator()(const std::string& s) const {
      std::string out = "\"";
      for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
          out.push_back('\\');
          out.push_back(static_cast<char>(c));
        } else if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out.append(buf);
        } else {
          out.push_back(static_cast<char>(c));
        }
      }
      return out.append("\"");
    }
    std::string operator()(const std::vector<std::string>& list) const {
      std::string out = "[";
      for (size_t i = 0; i < list.size(); ++i) out.append(i ? ", " : "").append((*this)(list[i]));
      return out.append("]");
    }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace internal

using internal::Section;

namespace {

// Names in enumerator order.
constexpr std::string_view kKindNames[] = {"openai", "anthropic", "gemini"};
constexpr std::string_view kTierNames[] = {"open_local", "open_cloud", "premium"};
constexpr std::string_view kConsentNames[] = {"ask", "always", "never"};
constexpr std::string_view kOriginNames[] = {"default", "global", "repo"};

template <class Enum, size_t N>
std::optional<Enum> from_name(const std::string_view (&names)[N], std::string_view text) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == text) return static_cast<Enum>(i);
  return std::nullopt;
}

}  // namespace

std::string_view to_string(ProviderKind kind) {
  return kKindNames[static_cast<size_t>(kind)];
}
std::string_view to_string(Tier tier) {
  return kTierNames[static_cast<size_t>(tier)];
}
std::string_view to_string(Consent consent) {
  return kConsentNames[static_cast<size_t>(consent)];
}
std::string_view to_string(Origin origin) {
  return kOriginNames[static_cast<size_t>(origin)];
}

std::optional<ProviderKind> kind_from_string(std::string_view text) {
  return from_name<ProviderKind>(kKindNames, text);
}
std::optional<Tier> tier_from_string(std::string_view text) {
  return from_name<Tier>(kTierNames, text);
}
std::optional<Consent> consent_from_string(std::string_view text) {
  return from_name<Consent>(kConsentNames, text);
}

std::string default_key_env(std::string_view provider_name) {
  std::string env;
  for (char c : provider_name) {
    if (c >= 'a' && c <= 'z')
      env.push_back(static_cast<char>(c - 'a' + 'A'));
    else if (c == '-')
      env.push_back('_');
    else
      env.push_back(c);
  }
  return env.append("_API_KEY");
}

const std::vector<ProviderSettings>& provider_presets() {
  // Prices are list prices when written; a [providers.NAME] table overrides any of them.
  static const std::vector<ProviderSettings> presets = [] {
    auto make = [](std::string name, ProviderKind kind, std::string url, Tier tier,
                   std::string model, double in, double out) {
      ProviderSettings p;
      p.key_env = default_key_env(name);
      p.name = std::move(name);
      p.kind = kind;
      p.base_url = std::move(url);
      p.tier = tier;
      p.models = {std::move(model)};
      p.price_in_per_1k = in;
      p.price_out_per_1k = out;
      return p;
    };
    using K = ProviderKind;
    return std::vector<ProviderSettings>{
        make("anthropic", K::anthropic, "https://api.anthropic.com", Tier::premium,
             "claude-3-5-sonnet-latest", 0.003, 0.015),
        make("deepseek", K::openai, "https://api.deepseek.com/v1", Tier::open_cloud,
             "deepseek-coder", 0.00014, 0.00028),
        make("gemini", K::gemini, "https://generativelanguage.googleapis.com", Tier::premium,
             "gemini-1.5-pro", 0.00125, 0.005),
        make("ollama", K::openai, "http://localhost:11434/v1", Tier::open_local,
             "deepseek-coder:6.7b", 0, 0),
        make("openai", K::openai, "https://api.openai.com/v1", Tier::premium, "gpt-4o", 0.0025,
             0.01),
    };
  }();
  return presets;
}

std::vector<std::string> known_keys(std::string_view provider_name) {
  std::vector<std::string> keys;
  for (const auto& k : internal::section_keys(Section::router))
    keys.push_back(std::string("router.").append(k.name));
  for (const auto& k : internal::section_keys(Section::crowd))
    keys.push_back(std::string("crowd.").append(k.name));
  for (const auto& k : internal::section_keys(Section::provider))
    keys.push_back(std::string("providers.").append(provider_name).append(".").append(k.name));
  return keys;
}

std::string to_text(const Value& value) {
  if (auto* d = std::get_if<double>(&value)) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, *d);  // shortest form that reads back exactly
    return std::string(buf, r.ptr);
  }
  if (auto* s = std::get_if<std::string>(&value)) return *s;
  if (std::holds_alternative<std::monostate>(value)) return "";
  return internal::toml_literal(value);
}

}  // namespace yantra::config
