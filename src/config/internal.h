// config internals: the schema every file, `config get` and `config set` are checked against,
// and the 0600 file helpers the key store uses.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace yantra::config::internal {

enum class ValueType { boolean, integer, number, string, string_list };

// One key of a table: its type, what it accepts, and how to say so in an error.
struct KeySpec {
  std::string_view name;  // within its table: "samples"
  ValueType type;
  std::string_view expect;                // "an integer from 1 to 20 (e.g. 3)"
  double min = 0, max = 0;                // numbers: inclusive range, unless min > max
  std::vector<std::string_view> choices;  // strings: the allowed values, if closed
};

enum class Section { router, crowd, provider };

const std::vector<KeySpec>& section_keys(Section section);
const KeySpec* find_spec(Section section, std::string_view name);
// The key of `section` a mistyped `name` most likely meant: the only one it begins (or that
// begins it), else the closest by edit distance.
std::optional<std::string> suggest_key(Section section, std::string_view name);

// A dotted key split against the schema: "providers.deepseek.tier" -> provider "deepseek".
struct KeyPath {
  Section section;
  std::string provider;  // for Section::provider
  const KeySpec* spec;
  std::vector<std::string> segments;  // the TOML path: {"providers", "deepseek", "tier"}
};
// An unknown key is an error with a did-you-mean; the message names the key only.
Result<KeyPath> resolve_key(std::string_view dotted);

// Why `value` does not fit `spec` (no mention of the value itself), or nullopt if it does.
std::optional<std::string> check_value(const KeySpec& spec, const Value& value);
// What `config set` received, typed by the spec; errors do not repeat `text`.
Result<Value> parse_text(const KeySpec& spec, std::string_view dotted, std::string_view text);
// The value as a TOML literal: "premium" quoted, 0.5, true, ["a", "b"].
std::string toml_literal(const Value& value);

bool valid_provider_name(std::string_view name);
bool valid_env_name(std::string_view name);

// A file only its owner may read: nullopt if missing; an error naming the file and the fix
// (`chmod 600 FILE`) if group or others have any permission on it.
Result<std::optional<std::string>> read_private_file(const std::string& path);
// Temp file created 0600 in the same directory, fsync, then rename (or link, when
// `must_not_exist`, so a concurrent writer's file is never replaced). Returns false (no
// error) if `must_not_exist` and the file appeared meanwhile.
Result<bool> write_private_file(const std::string& path, std::string_view bytes,
                                bool must_not_exist = false);
// mkdir -p with `mode` for the directories it creates.
Result<void> make_dirs(const std::string& dir, unsigned mode);

}  // namespace yantra::config::internal
