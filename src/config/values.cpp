// The effective settings as (dotted key, typed value, origin): `config list` and `config get`.
#include <algorithm>

#include "config/internal.h"

namespace yantra::config {
namespace {

using internal::Section;

Value router_value(const Settings& s, std::string_view field) {
  const RouterSettings& r = s.router;
  if (field == "student_confidence") return r.student_confidence;
  if (field == "premium_confidence") return r.premium_confidence;
  if (field == "premium_consent") return std::string(to_string(r.premium_consent));
  if (field == "samples") return static_cast<int64_t>(r.samples);
  if (field == "security_escalation") return r.security_escalation;
  if (field == "teacher_tests") return r.teacher_tests;
  return std::monostate{};
}

Value crowd_value(const Settings& s, std::string_view field) {
  if (field == "enabled") return s.crowd_enabled;
  if (field == "server") return s.crowd.server;
  if (field == "tenant") return s.crowd.tenant;
  if (field == "public_key") return s.crowd.public_key;
  if (field == "embedding_noise") return s.crowd.embedding_noise;
  return std::monostate{};
}

Value provider_value(const ProviderSettings& p, std::string_view field) {
  if (field == "kind") return std::string(to_string(p.kind));
  if (field == "base_url") return p.base_url;
  if (field == "tier") return std::string(to_string(p.tier));
  if (field == "models") return p.models;
  if (field == "price_in_per_1k") return p.price_in_per_1k;
  if (field == "price_out_per_1k") return p.price_out_per_1k;
  if (field == "budget_month_usd") {
    if (p.budget_month_usd) return *p.budget_month_usd;
    return std::monostate{};
  }
  if (field == "key_env") return p.key_env;
  if (field == "timeout_s") return p.timeout_s;
  return std::monostate{};
}

Effective make(const Settings& s, std::string key, Value value) {
  Origin origin = s.origin(key);
  return Effective{std::move(key), std::move(value), origin};
}

std::string configured_names(const Settings& s) {
  std::string names;
  for (const auto& p : s.providers) names.append(names.empty() ? "" : ", ").append(p.name);
  return names.empty() ? "none" : names;
}

std::string preset_names() {
  std::string names;
  for (const auto& p : provider_presets()) names.append(names.empty() ? "" : ", ").append(p.name);
  return names;
}

}  // namespace

std::vector<Effective> effective_values(const Settings& s) {
  std::vector<Effective> out;
  for (const auto& k : internal::section_keys(Section::router)) {
    std::string key = std::string("router.").append(k.name);
    out.push_back(make(s, key, router_value(s, k.name)));
  }
  for (const auto& k : internal::section_keys(Section::crowd)) {
    std::string key = std::string("crowd.").append(k.name);
    out.push_back(make(s, key, crowd_value(s, k.name)));
  }
  for (const auto& p : s.providers) {
    for (const auto& k : internal::section_keys(Section::provider)) {
      std::string key = std::string("providers.").append(p.name).append(".").append(k.name);
      out.push_back(make(s, key, provider_value(p, k.name)));
    }
  }
  return out;
}

Result<Effective> get_value(const Settings& s, std::string_view key) {
  auto path = internal::resolve_key(key);
  if (!path) return path.error();
  if (path->section == Section::provider) {
    const ProviderSettings* p = s.find_provider(path->provider);
    if (!p) {
      return Error{std::string("provider '")
                       .append(path->provider)
                       .append("' is not configured (configured: ")
                       .append(configured_names(s))
                       .append("); a [providers.")
                       .append(path->provider)
                       .append("] table enables it; presets: ")
                       .append(preset_names())};
    }
    return make(s, std::string(key), provider_value(*p, path->spec->name));
  }
  if (path->section == Section::crowd)
    return make(s, std::string(key), crowd_value(s, path->spec->name));
  return make(s, std::string(key), router_value(s, path->spec->name));
}

}  // namespace yantra::config
