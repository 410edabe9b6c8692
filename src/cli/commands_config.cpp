// `yantra config get | set | list` and `yantra keys set | list | remove`.
//
// `keys` never takes an API key as an argument (it would stay in shell history and show in
// `ps`), and none of its messages repeat an argument it does not recognise: a key pasted in
// the wrong place must not be printed back.
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cli/cli.h"
#include "config/config.h"

namespace yantra::cli {
namespace {

namespace cfg = yantra::config;
using nlohmann::json;

struct ConfigArgs {
  std::string repo = ".";
  std::string key, value;
  bool global = false;
  bool json_out = false;
};

std::string preset_names() {
  std::string names;
  for (const auto& p : cfg::provider_presets())
    names.append(names.empty() ? "" : ", ").append(p.name);
  return names;
}

std::string presets_footer() {
  std::string text =
      "Provider presets (enabled only by a [providers.NAME] table, e.g. `yantra config "
      "set providers.deepseek.budget_month_usd 10`):\n";
  for (const auto& p : cfg::provider_presets()) {
    text.append("  ").append(p.name).append(": ").append(cfg::to_string(p.kind)).append(", ");
    text.append(p.base_url).append(", ").append(cfg::to_string(p.tier)).append(", key in $");
    text.append(p.key_env).append(" or `yantra keys set ").append(p.name).append("`\n");
  }
  return text;
}

json value_json(const cfg::Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return nullptr;
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return std::get<std::vector<std::string>>(v);
}

json effective_json(const cfg::Effective& e) {
  return {{"key", e.key}, {"value", value_json(e.value)}, {"origin", cfg::to_string(e.origin)}};
}

std::string file_state(const std::string& path) {
  std::error_code ec;
  return path + (std::filesystem::exists(path, ec) ? "" : " (absent)");
}

int config_get(const ConfigArgs& a) {
  cfg::Settings settings = cfg::load_settings(a.repo).take();
  cfg::Effective e = cfg::get_value(settings, a.key).take();
  if (a.json_out)
    std::cout << effective_json(e).dump() << "\n";
  else
    std::cout << cfg::to_text(e.value) << "\n";
  return 0;
}

int config_set(const ConfigArgs& a) {
  cfg::ConfigPaths paths = cfg::config_paths(a.repo).take();
  const std::string& file = a.global ? paths.global_file : paths.repo_file;
  cfg::SetReport report = cfg::set_value(file, a.key, a.value).take();
  std::cout << (report.created_file ? "created " : "updated ") << file << ": " << a.key << "\n";
  if (!report.kept_layout) {
    std::cerr << "note: " << file << " was rewritten by toml++ (the key sits in an inline or "
              << "dotted table), so its comments were not kept\n";
  }
  if (auto loaded = cfg::load_settings(paths); !loaded)
    std::cerr << "note: the configuration does not load yet: " << loaded.error().message << "\n";
  return 0;
}

int config_list(const ConfigArgs& a) {
  cfg::Settings settings = cfg::load_settings(a.repo).take();
  std::vector<cfg::Effective> values = cfg::effective_values(settings);
  if (a.json_out) {
    json list = json::array();
    for (const auto& e : values) list.push_back(effective_json(e));
    json presets = json::array();
    for (const auto& p : cfg::provider_presets()) presets.push_back(p.name);
    std::cout << json{{"global_file", settings.global_file},
                      {"repo_file", settings.repo_file},
                      {"values", list},
                      {"presets", presets}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "global: " << file_state(settings.global_file) << "\n"
            << "repo:   " << file_state(settings.repo_file) << "\n\n";
  Table table({"KEY", "VALUE", "FROM"});
  for (const auto& e : values) {
    std::string text = cfg::to_text(e.value);
    table.add({e.key, text.empty() ? "(none)" : text, std::string(cfg::to_string(e.origin))});
  }
  std::cout << table.render();
  if (settings.providers.empty())
    std::cout << "\nno providers configured; presets: " << preset_names() << "\n";
  return 0;
}

// --- keys ---------------------------------------------------------------------------------

struct KeysArgs {
  std::string repo = ".";
  std::string provider;
  bool json_out = false;
};

constexpr std::string_view kKeyNotOnCommandLine =
    "the API key is never given on the command line, where it would stay in shell history and "
    "show in `ps`: type it at the prompt of `yantra keys set PROVIDER`, or pipe it: "
    "printf '%s\\n' \"$KEY\" | yantra keys set PROVIDER";

// The settings, or none (with a warning) when the configuration does not load: keys stay
// manageable while a config file is being fixed.
std::optional<cfg::Settings> settings_for_keys(const KeysArgs& a) {
  std::error_code ec;
  // Checked here, without naming the value: a key passed by mistake as --repo is not echoed.
  if (!std::filesystem::is_directory(a.repo, ec))
    throw FatalError("--repo (or YANTRA_REPO) is not a directory");
  auto settings = cfg::load_settings(a.repo);
  if (settings) return std::move(*settings);
  std::cerr << "warning: " << settings.error().message << "\n";
  return std::nullopt;
}

// The provider's settings: configured, else its preset; nullptr for a name neither knows.
const cfg::ProviderSettings* known_provider(const std::optional<cfg::Settings>& s,
                                            std::string_view name) {
  if (s) {
    if (const auto* p = s->find_provider(name)) return p;
  }
  for (const auto& p : cfg::provider_presets())
    if (p.name == name) return &p;
  return nullptr;
}

std::string unknown_provider_message(bool config_loaded) {
  std::string msg = "unknown provider: give the name of a configured provider or a preset (" +
                    preset_names() + "); configure others first with `yantra config set " +
                    "providers.NAME.base_url URL`. ";
  if (!config_loaded) msg.append("(The configuration does not load, so only presets count.) ");
  return msg.append(kKeyNotOnCommandLine);
}

cfg::KeyStore key_store() {
  return cfg::KeyStore(cfg::config_dir().take());
}

int keys_set(const KeysArgs& a) {
  auto settings = settings_for_keys(a);
  const cfg::ProviderSettings* p = known_provider(settings, a.provider);
  if (!p) throw FatalError(unknown_provider_message(settings.has_value()));
  cfg::KeyStore store = key_store();
  std::string key = cfg::read_key_from_stdin(p->name).take();
  auto stored = store.put(p->name, key);
  sodium_memzero(key.data(), key.size());
  std::move(stored).take();
  std::cout << "stored the key for " << p->name << ", encrypted, in " << store.keys_path() << "\n";
  if (const char* env = std::getenv(p->key_env.c_str()); env && *env)
    std::cerr << "note: $" << p->key_env << " is set and wins over the stored key\n";
  return 0;
}

struct KeyRow {
  std::string provider, state, source, env;
  bool configured;
};

// Where `name`'s key comes from; a store that cannot be read is reported on stderr.
KeyRow describe_key(const std::optional<cfg::Settings>& settings, const std::string& name,
                    const cfg::KeyStore& store, int& status) {
  const cfg::ProviderSettings* p = known_provider(settings, name);
  cfg::ProviderSettings bare;
  if (!p) bare.name = name, bare.key_env = cfg::default_key_env(name), p = &bare;
  KeyRow row{name, "set", "", p->key_env, settings && settings->find_provider(name)};
  auto source = cfg::key_source(*p, store);
  if (!source) {
    std::cerr << "yantra: " << source.error().message << "\n";
    row.state = "unreadable", row.source = "store", status = 1;
  } else {
    row.source = cfg::to_string(*source);
    if (*source == cfg::KeySource::none) row.state = "not set";
  }
  return row;
}

void print_key_rows(const std::vector<KeyRow>& rows, const cfg::KeyStore& store, bool as_json) {
  if (as_json) {
    json list = json::array();
    for (const auto& r : rows) {
      list.push_back({{"provider", r.provider},
                      {"key", r.state},
                      {"source", r.source},
                      {"env", r.env},
                      {"configured", r.configured}});
    }
    std::cout << json{{"store", store.keys_path()}, {"providers", list}}.dump() << "\n";
  } else if (rows.empty()) {
    std::cout << "no keys and no providers configured; presets: " << preset_names() << "\n";
  } else {
    Table table({"PROVIDER", "KEY", "FROM", "CONFIGURED"});
    for (const auto& r : rows) {
      std::string from = r.source == "env" ? "env $" + r.env : r.source == "none" ? "-" : r.source;
      table.add({r.provider, r.state, from, r.configured ? "yes" : "no"});
    }
    std::cout << table.render();
  }
}

// Configured providers, stored keys, and presets whose variable is set: never the keys.
int keys_list(const KeysArgs& a) {
  auto settings = settings_for_keys(a);
  cfg::KeyStore store = key_store();
  std::vector<std::string> stored = store.providers().take();
  std::set<std::string> names(stored.begin(), stored.end());
  if (settings)
    for (const auto& p : settings->providers) names.insert(p.name);
  for (const auto& p : cfg::provider_presets())
    if (const char* env = std::getenv(p.key_env.c_str()); env && *env) names.insert(p.name);
  int status = 0;
  std::vector<KeyRow> rows;
  for (const auto& name : names) rows.push_back(describe_key(settings, name, store, status));
  print_key_rows(rows, store, a.json_out);
  return status;
}

int keys_remove(const KeysArgs& a) {
  auto settings = settings_for_keys(a);
  cfg::KeyStore store = key_store();
  std::vector<std::string> stored = store.providers().take();
  bool in_store = std::find(stored.begin(), stored.end(), a.provider) != stored.end();
  const cfg::ProviderSettings* p = known_provider(settings, a.provider);
  if (!in_store && !p) throw FatalError(unknown_provider_message(settings.has_value()));
  bool removed = store.remove(a.provider).take();
  std::string name = p ? p->name : a.provider;
  std::cout << (removed ? "removed the stored key for " : "no key was stored for ") << name << "\n";
  if (p) {
    if (const char* env = std::getenv(p->key_env.c_str()); env && *env)
      std::cerr << "note: $" << p->key_env << " is still set in this environment\n";
  }
  return 0;
}

}  // namespace

Handler declare_config(CLI::App& app) {
  auto a = std::make_shared<ConfigArgs>();
  app.require_subcommand(1);
  app.footer(presets_footer());
  // On `config` itself, with fallthrough, so `config list --repo R` works and an
  // environment variable never beats a flag.
  app.add_option("--repo", a->repo,
                 "the repository whose .yantra/config.toml is read (default: "
                 "the current directory)")
      ->envname("YANTRA_REPO");
  app.add_flag("--json", a->json_out, "print JSON")->envname("YANTRA_CONFIG_JSON");
  app.add_flag("--global", a->global,
               "set: write the global file ($YANTRA_CONFIG_HOME/yantra, $XDG_CONFIG_HOME/yantra "
               "or ~/.config/yantra) instead of the repository's")
      ->envname("YANTRA_CONFIG_GLOBAL");
  CLI::App* get = app.add_subcommand("get", "print one effective setting")->fallthrough();
  get->add_option("key", a->key, "dotted key, e.g. router.student_confidence")->required();
  CLI::App* set = app.add_subcommand("set",
                                     "change a setting in the repository's file (or, "
                                     "with --global, the global one), keeping comments")
                      ->fallthrough();
  set->add_option("key", a->key, "dotted key, e.g. providers.deepseek.price_in_per_1k")->required();
  set->add_option("value", a->value,
                  "the value, typed by the key: 0.5, true, premium, or a list: a,b or '[\"a\"]'")
      ->required();
  app.add_subcommand("list",
                     "every effective setting and where it came from: default, global, "
                     "repo")
      ->fallthrough();
  CLI::App* self = &app;
  return [a, self] {
    std::string which = self->get_subcommands().front()->get_name();
    if (which == "get") return config_get(*a);
    if (which == "set") return config_set(*a);
    return config_list(*a);
  };
}

Handler declare_keys(CLI::App& app) {
  auto a = std::make_shared<KeysArgs>();
  // Extras are kept, not reported by CLI11 (whose message would repeat them), and refused
  // below without naming them.
  app.allow_extras();
  app.footer(std::string(kKeyNotOnCommandLine));
  app.add_option("--repo", a->repo,
                 "the repository whose configured providers are known "
                 "(default: the current directory)")
      ->envname("YANTRA_REPO");
  app.add_flag("--json", a->json_out, "list: print JSON")->envname("YANTRA_KEYS_JSON");
  CLI::App* set = app.add_subcommand("set",
                                     "store PROVIDER's API key, encrypted; the key is "
                                     "read from stdin (prompt with echo off, or a pipe)");
  set->add_option("provider", a->provider, "provider name, e.g. deepseek")->required();
  CLI::App* list = app.add_subcommand("list",
                                      "providers and where each one's key comes from "
                                      "(env or store); never the key");
  CLI::App* remove = app.add_subcommand("remove", "delete PROVIDER's stored key");
  remove->add_option("provider", a->provider, "provider name, e.g. deepseek")->required();
  for (CLI::App* sub : {set, list, remove}) sub->allow_extras()->fallthrough();
  CLI::App* self = &app;
  return [a, self] {
    if (self->remaining_size(true) > 0) {
      throw FatalError("keys: unexpected arguments (not repeated here). " +
                       std::string(kKeyNotOnCommandLine));
    }
    auto subs = self->get_subcommands();
    if (subs.empty()) {
      throw FatalError(
          "keys: say what to do: `yantra keys set PROVIDER`, `yantra keys list` or "
          "`yantra keys remove PROVIDER`");
    }
    std::string which = subs.front()->get_name();
    if (which == "set") return keys_set(*a);
    if (which == "remove") return keys_remove(*a);
    return keys_list(*a);
  };
}

}  // namespace yantra::cli
