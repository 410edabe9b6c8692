// Loading: both TOML files checked against the schema, merged over the defaults and presets.
#include <toml++/toml.h>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "config/internal.h"

namespace yantra::config {
namespace {

namespace fs = std::filesystem;
using internal::KeySpec;
using internal::Section;
using internal::ValueType;

// One file's values, each already checked against the schema.
struct Layer {
  Origin origin;
  std::string path;
  std::map<std::string, Value> values;           // dotted key -> value
  std::map<std::string, std::string> providers;  // provider name -> its file
};

std::string_view toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    default:
      return "date or time";
  }
}

std::string a_or_an(std::string_view noun) {
  bool vowel = !noun.empty() && std::string_view("aeiou").find(noun[0]) != std::string_view::npos;
  return std::string(vowel ? "an " : "a ").append(noun);
}

// The node as the spec's type; monostate when it is another type.
Value to_value(const toml::node& node, const KeySpec& spec) {
  switch (spec.type) {
    case ValueType::boolean:
      if (auto b = node.value_exact<bool>()) return *b;
      break;
    case ValueType::integer:
      if (auto i = node.value_exact<int64_t>()) return *i;
      break;
    case ValueType::number:
      if (auto d = node.value_exact<double>()) return *d;
      if (auto i = node.value_exact<int64_t>()) return static_cast<double>(*i);
      break;
    case ValueType::string:
      if (auto s = node.value_exact<std::string>()) return *s;
      break;
    case ValueType::string_list: {
      const toml::array* arr = node.as_array();
      if (!arr) break;
      std::vector<std::string> items;
      for (const toml::node& item : *arr) {
        auto s = item.value_exact<std::string>();
        if (!s) return std::monostate{};
        items.push_back(*s);
      }
      return items;
    }
  }
  return std::monostate{};
}

Error error_at(const std::string& path, const toml::source_region& where, std::string_view what) {
  return Error::at(path, where.begin.line, where.begin.column, what);
}

Result<void> walk_section(const toml::table& table, Section section, const std::string& prefix,
                          Layer& layer) {
  for (auto&& [key, node] : table) {
    std::string dotted = prefix + std::string(key.str());
    const KeySpec* spec = internal::find_spec(section, key.str());
    if (!spec) {
      std::string msg = std::string("unknown key '").append(dotted).append("'");
      if (auto near = internal::suggest_key(section, key.str()))
        msg.append("; did you mean '").append(prefix + *near).append("'?");
      else
        msg.append("; `yantra config list` shows the keys there are");
      return error_at(layer.path, key.source(), msg);
    }
    Value value = to_value(node, *spec);
    if (auto why = internal::check_value(*spec, value)) {
      std::string msg = dotted + " must be " + *why;
      if (std::holds_alternative<std::monostate>(value))
        msg.append(", not ").append(a_or_an(toml_type_name(node)));
      return error_at(layer.path, node.source(), msg);
    }
    layer.values[dotted] = std::move(value);
  }
  return {};
}

Result<void> walk_providers(const toml::table& providers, Layer& layer) {
  for (auto&& [key, node] : providers) {
    std::string name(key.str());
    if (!internal::valid_provider_name(name)) {
      return error_at(
          layer.path, key.source(),
          "provider names are letters, digits, '-' and '_' (e.g. [providers.deepseek])");
    }
    const toml::table* table = node.as_table();
    if (!table) {
      return error_at(layer.path, node.source(),
                      "providers." + name + " must be a table ([providers." + name + "])");
    }
    layer.providers[name] = layer.path;
    auto walked = walk_section(*table, Section::provider, "providers." + name + ".", layer);
    if (!walked) return walked.error();
  }
  return {};
}

Result<void> walk_root(const toml::table& root, Layer& layer) {
  for (auto&& [key, node] : root) {
    std::string name(key.str());
    const toml::table* table = node.as_table();
    if (name != "router" && name != "crowd" && name != "providers") {
      std::string msg = "unknown table '" + name + "'";
      if (auto near = closest_match(name, {"router", "crowd", "providers"}))
        msg.append("; did you mean '").append(*near).append("'?");
      else
        msg.append("; the tables are [providers.NAME], [router] and [crowd]");
      return error_at(layer.path, key.source(), msg);
    }
    if (!table)
      return error_at(layer.path, node.source(), name + " must be a table ([" + name + "])");
    auto walked = name == "providers"
                      ? walk_providers(*table, layer)
                      : walk_section(*table, name == "router" ? Section::router : Section::crowd,
                                     name + ".", layer);
    if (!walked) return walked.error();
  }
  return {};
}

Result<Layer> load_layer(const std::string& path, Origin origin) {
  Layer layer{origin, path, {}, {}};
  std::error_code ec;
  if (!fs::exists(path, ec)) return layer;
  auto text = read_file(path);
  if (!text) return text.error();
  try {
    toml::table root = toml::parse(std::string_view(*text), std::string_view(path));
    auto walked = walk_root(root, layer);
    if (!walked) return walked.error();
  } catch (const toml::parse_error& e) {
    return error_at(path, e.source(), e.description());
  }
  return layer;
}

bool is_local_url(std::string_view url) {
  size_t start = url.find("://");
  if (start == std::string_view::npos) return false;
  std::string_view host = url.substr(start + 3);
  return host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
}

void apply_provider_field(ProviderSettings& p, std::string_view field, const Value& v) {
  if (field == "kind")
    p.kind = *kind_from_string(std::get<std::string>(v));
  else if (field == "base_url")
    p.base_url = std::get<std::string>(v);
  else if (field == "tier")
    p.tier = *tier_from_string(std::get<std::string>(v));
  else if (field == "models")
    p.models = std::get<std::vector<std::string>>(v);
  else if (field == "price_in_per_1k")
    p.price_in_per_1k = std::get<double>(v);
  else if (field == "price_out_per_1k")
    p.price_out_per_1k = std::get<double>(v);
  else if (field == "budget_month_usd")
    p.budget_month_usd = std::get<double>(v);
  else if (field == "key_env")
    p.key_env = std::get<std::string>(v);
  else if (field == "timeout_s")
    p.timeout_s = std::get<double>(v);
}

void apply_router_field(RouterSettings& r, std::string_view field, const Value& v) {
  if (field == "student_confidence")
    r.student_confidence = std::get<double>(v);
  else if (field == "premium_confidence")
    r.premium_confidence = std::get<double>(v);
  else if (field == "premium_consent")
    r.premium_consent = *consent_from_string(std::get<std::string>(v));
  else if (field == "samples")
    r.samples = static_cast<int>(std::get<int64_t>(v));
  else if (field == "security_escalation")
    r.security_escalation = std::get<bool>(v);
  else if (field == "teacher_tests")
    r.teacher_tests = std::get<bool>(v);
}

void apply_crowd_field(Settings& s, std::string_view field, const Value& v) {
  if (field == "enabled")
    s.crowd_enabled = std::get<bool>(v);
  else if (field == "server")
    s.crowd.server = std::get<std::string>(v);
  else if (field == "tenant")
    s.crowd.tenant = std::get<std::string>(v);
  else if (field == "public_key")
    s.crowd.public_key = std::get<std::string>(v);
  else if (field == "embedding_noise")
    s.crowd.embedding_noise = std::get<double>(v);
}

const ProviderSettings* find_preset(std::string_view name) {
  for (const auto& p : provider_presets())
    if (p.name == name) return &p;
  return nullptr;
}

// A provider no preset describes: what its own fields leave out, derived or demanded.
Result<void> complete_custom(ProviderSettings& p, const Settings& s, const std::string& where) {
  std::string prefix = "providers." + p.name + ".";
  if (!s.origins.contains(prefix + "base_url")) {
    if (p.kind == ProviderKind::openai) {
      return Error::in(where,
                       prefix +
                           "base_url is missing: an OpenAI-compatible provider needs "
                           "its server's URL (e.g. base_url = \"http://localhost:8000/v1\")");
    }
    p.base_url = find_preset(to_string(p.kind))->base_url;
  }
  if (!s.origins.contains(prefix + "tier")) {
    p.tier = p.kind != ProviderKind::openai ? Tier::premium
             : is_local_url(p.base_url)     ? Tier::open_local
                                            : Tier::open_cloud;
  }
  if (!s.origins.contains(prefix + "models")) {
    return Error::in(where, prefix +
                                "models is missing: name at least one model (e.g. models = "
                                "[\"deepseek-coder\"])");
  }
  return {};
}

Result<Settings> merge(const std::vector<Layer>& layers, const ConfigPaths& paths) {
  Settings s;
  s.global_file = paths.global_file;
  s.repo_file = paths.repo_file;
  std::map<std::string, Value> values;
  std::map<std::string, std::string> providers;
  for (const Layer& layer : layers) {
    for (const auto& [key, value] : layer.values) {
      values[key] = value;
      s.origins[key] = layer.origin;
    }
    for (const auto& [name, where] : layer.providers) providers[name] = where;
  }
  for (const auto& [key, value] : values) {
    if (key.starts_with("router.")) apply_router_field(s.router, key.substr(7), value);
    if (key.starts_with("crowd.")) apply_crowd_field(s, key.substr(6), value);
  }
  for (const auto& [name, where] : providers) {
    const ProviderSettings* preset = find_preset(name);
    ProviderSettings p = preset ? *preset : ProviderSettings{};
    p.name = name;
    if (!preset) p.key_env = default_key_env(name);
    std::string prefix = "providers." + name + ".";
    for (auto it = values.lower_bound(prefix); it != values.end() && it->first.starts_with(prefix);
         ++it)
      apply_provider_field(p, std::string_view(it->first).substr(prefix.size()), it->second);
    if (!preset) {
      auto completed = complete_custom(p, s, where);
      if (!completed) return completed.error();
    }
    s.providers.push_back(std::move(p));
  }
  return s;
}

}  // namespace

const ProviderSettings* Settings::find_provider(std::string_view name) const {
  for (const auto& p : providers)
    if (p.name == name) return &p;
  return nullptr;
}

Origin Settings::origin(std::string_view key) const {
  auto it = origins.find(std::string(key));
  return it == origins.end() ? Origin::builtin : it->second;
}

Result<std::string> config_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (std::string dir = env("YANTRA_CONFIG_HOME"); !dir.empty())
    return (fs::path(dir) / "yantra").string();
  // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
  if (std::string dir = env("XDG_CONFIG_HOME"); !dir.empty() && dir.front() == '/')
    return (fs::path(dir) / "yantra").string();
  if (std::string home = env("HOME"); !home.empty())
    return (fs::path(home) / ".config" / "yantra").string();
  return Error{
      "cannot find the configuration directory: set HOME, XDG_CONFIG_HOME or "
      "YANTRA_CONFIG_HOME"};
}

Result<ConfigPaths> config_paths(const std::string& repo_dir) {
  auto dir = config_dir();
  if (!dir) return dir.error();
  std::error_code ec;
  if (!fs::is_directory(repo_dir, ec))
    return Error::in(repo_dir, "not a directory; give the repository with --repo DIR");
  fs::path repo = fs::absolute(repo_dir, ec).lexically_normal();
  if (!repo.has_filename()) repo = repo.parent_path();  // "/r/." normalises to "/r/"
  return ConfigPaths{*dir, (fs::path(*dir) / "config.toml").string(),
                     (repo / ".yantra" / "config.toml").string()};
}

Result<Settings> load_settings(const std::string& repo_dir) {
  auto paths = config_paths(repo_dir);
  if (!paths) return paths.error();
  return load_settings(*paths);
}

Result<Settings> load_settings(const ConfigPaths& paths) {
  std::vector<Layer> layers;
  for (auto [path, origin] :
       {std::pair{paths.global_file, Origin::global}, std::pair{paths.repo_file, Origin::repo}}) {
    auto layer = load_layer(path, origin);
    if (!layer) return layer.error();
    layers.push_back(std::move(*layer));
  }
  return merge(layers, paths);
}

}  // namespace yantra::config
