// config: settings from two TOML files, and provider API keys encrypted at rest.
//
//   auto settings = load_settings(".");   // ~/.config/yantra/config.toml, then .yantra/config.toml
//   if (!settings) return settings.error();  // "REPO/.yantra/config.toml:3:11: router.samples
//                                            //  must be an integer from 1 to 20 (e.g. 3), not a
//                                            //  string"
//   settings->router.student_confidence;     // 0.7 unless a file says otherwise
//   const ProviderSettings* p = settings->find_provider("deepseek");
//   auto key = lookup_key(*p);               // $DEEPSEEK_API_KEY, else the encrypted store
//   if (!key) return key.error();            // e.g. keys.enc is not 0600
//   if (*key) client.set_key(**key);         // never print it, never put it in an error
//
//   ConfigPaths paths = config_paths(".").take();
//   set_value(paths.repo_file, "router.samples", "5");  // typed by the schema, comments kept
//   KeyStore(paths.dir).put("deepseek", key_text);      // crypto_secretbox, 0600 files
//
// Files: the global directory is $YANTRA_CONFIG_HOME/yantra, else $XDG_CONFIG_HOME/yantra,
// else ~/.config/yantra; it holds config.toml, keys.enc and secret.key. The repository's
// REPO/.yantra/config.toml wins over the global file key by key.
//
// Providers: a [providers.NAME] table enables NAME. Built-in presets (openai, anthropic,
// gemini, deepseek, ollama) fill in whatever such a table leaves out; a preset is never
// enabled on its own, so an empty configuration has no providers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/base.h"

namespace yantra::config {

enum class ProviderKind { openai, anthropic, gemini };  // openai: any OpenAI-compatible server
enum class Tier { open_local, open_cloud, premium };
enum class Consent { ask, always, never };
enum class Origin { builtin, global, repo };  // builtin prints as "default"

std::string_view to_string(ProviderKind kind);
std::string_view to_string(Tier tier);
std::string_view to_string(Consent consent);
std::string_view to_string(Origin origin);
std::optional<ProviderKind> kind_from_string(std::string_view text);
std::optional<Tier> tier_from_string(std::string_view text);
std::optional<Consent> consent_from_string(std::string_view text);

struct ProviderSettings {
  std::string name;
  ProviderKind kind = ProviderKind::openai;
  std::string base_url;
  Tier tier = Tier::open_cloud;
  std::vector<std::string> models;
  double price_in_per_1k = 0;              // USD per 1K input tokens
  double price_out_per_1k = 0;             // USD per 1K output tokens
  std::optional<double> budget_month_usd;  // absent: no budget
  std::string key_env;                     // the variable that overrides the stored key
  double timeout_s = 120;
};

struct RouterSettings {
  double student_confidence = 0.7;  // the student answers at or above this
  double premium_confidence = 0.5;  // premium teachers are asked below this
  Consent premium_consent = Consent::ask;
  int samples = 3;
  bool security_escalation = true;
  // The cheapest teacher asked also writes tests for the request, run on every candidate
  // and weighed by how many models pass them (CodeT's dual agreement).
  bool teacher_tests = true;
};

// Crowd learning (`yantra crowd join` writes these; the tenant's token is a secret and
// lives in the key store as "crowd-TENANT" or in $YANTRA_CROWD_TOKEN, never here).
struct CrowdSettings {
  std::string server;          // the aggregation server's URL
  std::string tenant;          // letters, digits, '-' and '_'
  std::string public_key;      // the server's Ed25519 key pinned at join, 64 hex digits
  double embedding_noise = 0;  // sigma of the Gaussian noise on shared embeddings
};

struct Settings {
  std::vector<ProviderSettings> providers;  // the configured ones, sorted by name
  RouterSettings router;
  bool crowd_enabled = false;
  CrowdSettings crowd;
  // Dotted key -> the file its value came from; a key not listed has its default.
  std::map<std::string, Origin> origins;
  std::string global_file, repo_file;  // where they were looked for

  const ProviderSettings* find_provider(std::string_view name) const;
  Origin origin(std::string_view key) const;
};

struct ConfigPaths {
  std::string dir;          // the global directory (config.toml, keys.enc, secret.key)
  std::string global_file;  // dir/config.toml
  std::string repo_file;    // REPO/.yantra/config.toml
};

// The global directory from the environment (see above); an error if HOME is needed and unset.
Result<std::string> config_dir();
Result<ConfigPaths> config_paths(const std::string& repo_dir);

// Both files, merged over the defaults. Either may be absent. Errors name the file, the
// line and column where toml++ knows them, the key and what it expects.
Result<Settings> load_settings(const std::string& repo_dir);
Result<Settings> load_settings(const ConfigPaths& paths);

// The presets a [providers.NAME] table of the same name starts from.
const std::vector<ProviderSettings>& provider_presets();
// NAME_API_KEY in capitals (DEEPSEEK_API_KEY), with '-' as '_'.
std::string default_key_env(std::string_view provider_name);

// A setting's typed value; monostate for an optional one that is absent.
using Value =
    std::variant<std::monostate, bool, int64_t, double, std::string, std::vector<std::string>>;
struct Effective {
  std::string key;  // dotted: "providers.deepseek.tier"
  Value value;
  Origin origin;
};

// Every effective setting, in a stable order (router, crowd, then providers by name).
std::vector<Effective> effective_values(const Settings& settings);
// One of them; an unknown key is an error with a did-you-mean.
Result<Effective> get_value(const Settings& settings, std::string_view key);
// As `config get` prints it: strings bare, numbers shortest, lists as TOML arrays.
std::string to_text(const Value& value);

struct SetReport {
  bool created_file = false;
  bool kept_layout = true;  // false: toml++ had to rewrite the file, and comments were lost
};

// Sets dotted `key` to `text` in the TOML file `path` (created with its directory if
// needed), typed by the schema: "0.5", "true", "premium", "a,b" or '["a", "b"]'. The rest of
// the file is kept as written. Written atomically. Errors never repeat `text`.
Result<SetReport> set_value(const std::string& path, std::string_view key, std::string_view text);

// Every key `set_value` accepts, provider keys under providers.NAME (for help and tests).
std::vector<std::string> known_keys(std::string_view provider_name = "NAME");

// --- API keys ---------------------------------------------------------------------------

// keys.enc (JSON: per provider a random nonce and crypto_secretbox ciphertext, base64) and
// secret.key (32 random bytes), both 0600 in `dir`. A file with group or other permission
// bits is refused, never read.
class KeyStore {
 public:
  explicit KeyStore(std::string dir);

  Result<void> put(std::string_view provider, std::string_view key) const;
  Result<std::optional<std::string>> get(std::string_view provider) const;
  Result<bool> remove(std::string_view provider) const;  // false: there was none
  Result<std::vector<std::string>> providers() const;    // names with a stored key

  const std::string& keys_path() const { return keys_path_; }
  const std::string& secret_path() const { return secret_path_; }

 private:
  std::string dir_, keys_path_, secret_path_;
};

enum class KeySource { none, env, store };
std::string_view to_string(KeySource source);

// The environment variable (provider.key_env) wins, then the store in config_dir().
Result<std::optional<std::string>> lookup_key(const ProviderSettings& provider);
Result<std::optional<std::string>> lookup_key(const ProviderSettings& provider,
                                              const KeyStore& store);
// Where lookup_key would find the key, without returning it.
Result<KeySource> key_source(const ProviderSettings& provider, const KeyStore& store);

// One line from stdin: prompted with echo off on a terminal, read as is from a pipe.
// Surrounding whitespace is trimmed; an empty line or control characters are errors.
Result<std::string> read_key_from_stdin(std::string_view provider);

}  // namespace yantra::config
