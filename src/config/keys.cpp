// The key store: one crypto_secretbox per provider (random nonce each time a key is stored)
// in keys.enc, under a random 32-byte secret.key beside it. Both 0600. The sealed plaintext
// is "provider\0key", so an entry copied under another provider's name is detected.
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "config/internal.h"

namespace yantra::config {
namespace {

using nlohmann::json;
constexpr std::string_view kFormat = "yantra-keys";
constexpr int kVersion = 1;

struct SecretKey {
  unsigned char bytes[crypto_secretbox_KEYBYTES];
  SecretKey() = default;
  SecretKey(const SecretKey&) = delete;
  ~SecretKey() { sodium_memzero(bytes, sizeof bytes); }
};

Result<void> ensure_sodium() {
  if (sodium_init() < 0) return Error{"libsodium failed to initialise"};
  return {};
}

std::string to_base64(const unsigned char* data, size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::vector<unsigned char>> from_base64(const std::string& text) {
  std::vector<unsigned char> out(text.size());
  size_t size = 0;
  if (sodium_base642bin(out.data(), out.size(), text.c_str(), text.size(), nullptr, &size, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(size);
  return out;
}

std::string damaged(const std::string& what) {
  return what + "; move the file away and store the keys again (yantra keys set PROVIDER)";
}

// keys.enc's entries, or an empty object if there is no file yet.
Result<json> load_entries(const std::string& path) {
  auto bytes = internal::read_private_file(path);
  if (!bytes) return bytes.error();
  if (!*bytes) return json::object();
  json doc = json::parse(**bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kFormat ||
      !doc.contains("entries") || !doc["entries"].is_object())
    return Error::in(path, damaged("not a yantra key store"));
  if (doc.value("version", 0) != kVersion)
    return Error::in(path, "written by another version of yantra (format version " +
                               doc["version"].dump() + "); this one reads version 1");
  return doc["entries"];
}

// Loads secret.key into `key`; false if there is none and `create` is off.
Result<bool> load_secret(const std::string& path, bool create, SecretKey& key) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto bytes = internal::read_private_file(path);
    if (!bytes) return bytes.error();
    if (*bytes) {
      std::string& b = **bytes;
      bool ok = b.size() == sizeof key.bytes;
      if (ok) std::memcpy(key.bytes, b.data(), sizeof key.bytes);
      sodium_memzero(b.data(), b.size());
      if (!ok) {
        return Error::in(path, "damaged: a secret key is " + std::to_string(sizeof key.bytes) +
                                   " bytes; without it keys.enc cannot be read, so move both "
                                   "away and store the keys again");
      }
      return true;
    }
    if (!create) return false;
    randombytes_buf(key.bytes, sizeof key.bytes);
    auto placed = internal::write_private_file(
        path, std::string_view(reinterpret_cast<char*>(key.bytes), sizeof key.bytes), true);
    if (!placed) return placed.error();
    if (*placed) return true;
    // Another process created it first: use theirs (the loop reads it).
  }
  return Error::in(path, "cannot create the secret key");
}

Result<std::string> open_entry(const json& entry, std::string_view provider, const SecretKey& key,
                               const std::string& path) {
  std::string who = "the entry for provider '" + std::string(provider) + "'";
  if (!entry.is_object() || !entry.contains("nonce") || !entry["nonce"].is_string() ||
      !entry.contains("box") || !entry["box"].is_string())
    return Error::in(path, damaged(who + " is malformed"));
  auto nonce = from_base64(entry["nonce"].get<std::string>());
  auto box = from_base64(entry["box"].get<std::string>());
  if (!nonce || !box || nonce->size() != crypto_secretbox_NONCEBYTES ||
      box->size() < crypto_secretbox_MACBYTES)
    return Error::in(path, damaged(who + " is malformed"));
  std::vector<unsigned char> plain(box->size() - crypto_secretbox_MACBYTES);
  if (crypto_secretbox_open_easy(plain.data(), box->data(), box->size(), nonce->data(),
                                 key.bytes) != 0) {
    return Error::in(path, damaged(who + " does not decrypt: the file was changed, or secret.key "
                                         "is not the one it was written with"));
  }
  std::string text(plain.begin(), plain.end());
  sodium_memzero(plain.data(), plain.size());
  std::string prefix = std::string(provider) + '\0';
  if (!text.starts_with(prefix)) {
    sodium_memzero(text.data(), text.size());
    return Error::in(path, damaged(who + " was sealed for another provider"));
  }
  std::string secret = text.substr(prefix.size());
  sodium_memzero(text.data(), text.size());
  return secret;
}

json seal_entry(std::string_view provider, std::string_view secret, const SecretKey& key) {
  std::string plain = std::string(provider) + '\0' + std::string(secret);
  unsigned char nonce[crypto_secretbox_NONCEBYTES];
  randombytes_buf(nonce, sizeof nonce);
  std::vector<unsigned char> box(plain.size() + crypto_secretbox_MACBYTES);
  crypto_secretbox_easy(box.data(), reinterpret_cast<const unsigned char*>(plain.data()),
                        plain.size(), nonce, key.bytes);
  sodium_memzero(plain.data(), plain.size());
  return {{"nonce", to_base64(nonce, sizeof nonce)}, {"box", to_base64(box.data(), box.size())}};
}

Result<void> save_entries(const std::string& path, json entries) {
  json doc = {{"format", kFormat},
              {"version", kVersion},
              {"cipher", "crypto_secretbox_xsalsa20poly1305"},
              {"entries", std::move(entries)}};
  auto written = internal::write_private_file(path, doc.dump(2) + "\n");
  if (!written) return written.error();
  return {};
}

Result<void> check_name(std::string_view provider) {
  if (internal::valid_provider_name(provider)) return {};
  return Error{
      "provider names are letters, digits, '-' and '_' (e.g. deepseek); the key itself "
      "is read from stdin, never from the command line"};
}

}  // namespace

KeyStore::KeyStore(std::string dir)
    : dir_(std::move(dir)),
      keys_path_((std::filesystem::path(dir_) / "keys.enc").string()),
      secret_path_((std::filesystem::path(dir_) / "secret.key").string()) {}

Result<void> KeyStore::put(std::string_view provider, std::string_view key) const {
  if (auto ok = check_name(provider); !ok) return ok;
  if (key.empty()) return Error{"an empty key cannot be stored"};
  if (auto ok = ensure_sodium(); !ok) return ok;
  if (auto made = internal::make_dirs(dir_, 0700); !made) return made;
  auto lock = FileLock::try_acquire(dir_ + "/keys.lock", "yantra keys command");
  if (!lock) return lock.error();
  auto entries = load_entries(keys_path_);
  if (!entries) return entries.error();
  SecretKey secret;
  // A new secret key would orphan the entries already sealed under the old one.
  auto have = load_secret(secret_path_, entries->empty(), secret);
  if (!have) return have.error();
  if (!*have) {
    return Error::in(secret_path_, "missing, so the keys in " + keys_path_ +
                                       " cannot be read; move keys.enc away and store the keys "
                                       "again");
  }
  (*entries)[std::string(provider)] = seal_entry(provider, key, secret);
  return save_entries(keys_path_, std::move(*entries));
}

Result<std::optional<std::string>> KeyStore::get(std::string_view provider) const {
  if (auto ok = check_name(provider); !ok) return ok.error();
  if (auto ok = ensure_sodium(); !ok) return ok.error();
  auto entries = load_entries(keys_path_);
  if (!entries) return entries.error();
  auto it = entries->find(std::string(provider));
  if (it == entries->end()) return std::optional<std::string>();
  SecretKey secret;
  auto have = load_secret(secret_path_, false, secret);
  if (!have) return have.error();
  if (!*have) {
    return Error::in(secret_path_, "missing, so " + keys_path_ +
                                       " cannot be read; move keys.enc away and store the keys "
                                       "again");
  }
  auto key = open_entry(*it, provider, secret, keys_path_);
  if (!key) return key.error();
  return std::optional<std::string>(std::move(*key));
}

Result<bool> KeyStore::remove(std::string_view provider) const {
  if (auto ok = check_name(provider); !ok) return ok.error();
  std::error_code ec;
  if (!std::filesystem::exists(keys_path_, ec)) return false;
  auto lock = FileLock::try_acquire(dir_ + "/keys.lock", "yantra keys command");
  if (!lock) return lock.error();
  auto entries = load_entries(keys_path_);
  if (!entries) return entries.error();
  if (entries->erase(std::string(provider)) == 0) return false;
  auto saved = save_entries(keys_path_, std::move(*entries));
  if (!saved) return saved.error();
  return true;
}

Result<std::vector<std::string>> KeyStore::providers() const {
  auto entries = load_entries(keys_path_);
  if (!entries) return entries.error();
  std::vector<std::string> names;
  for (auto it = entries->begin(); it != entries->end(); ++it) names.push_back(it.key());
  return names;
}

std::string_view to_string(KeySource source) {
  switch (source) {
    case KeySource::none:
      return "none";
    case KeySource::env:
      return "env";
    case KeySource::store:
      return "store";
  }
  return "";
}

Result<std::optional<std::string>> lookup_key(const ProviderSettings& provider,
                                              const KeyStore& store) {
  if (!provider.key_env.empty()) {
    const char* env = std::getenv(provider.key_env.c_str());
    if (env && *env) return std::optional<std::string>(env);
  }
  return store.get(provider.name);
}

Result<std::optional<std::string>> lookup_key(const ProviderSettings& provider) {
  auto dir = config_dir();
  if (!dir) return dir.error();
  return lookup_key(provider, KeyStore(*dir));
}

Result<KeySource> key_source(const ProviderSettings& provider, const KeyStore& store) {
  if (!provider.key_env.empty()) {
    const char* env = std::getenv(provider.key_env.c_str());
    if (env && *env) return KeySource::env;
  }
  auto key = store.get(provider.name);
  if (!key) return key.error();
  if (!*key) return KeySource::none;
  sodium_memzero(key->value().data(), key->value().size());
  return KeySource::store;
}

}  // namespace yantra::config
