// The anonymous user id: an HMAC of the tenant's name under a local random secret. The
// server can count distinct users of a tenant; it cannot tell who they are, and two
// tenants' servers cannot link one user's ids (different messages under a key they lack).
#include <sodium.h>

#include <cstring>
#include <filesystem>

#include "config/config.h"
#include "config/internal.h"
#include "crowd/crowd.h"

namespace yantra::crowd {
namespace {

constexpr size_t kSecretBytes = crypto_auth_hmacsha256_KEYBYTES;  // 32

std::string hmac_hex(std::string_view secret, std::string_view message) {
  unsigned char key[kSecretBytes] = {};
  std::memcpy(key, secret.data(), std::min(secret.size(), kSecretBytes));
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(message.data()),
                         message.size(), key);
  sodium_memzero(key, sizeof key);
  char hex[2 * sizeof mac + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return hex;
}

Result<std::string> parse_secret(const std::string& text, const std::string& path) {
  std::string hex = text;
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.pop_back();
  std::string bin(kSecretBytes, '\0');
  size_t got = 0;
  if (hex.size() != 2 * kSecretBytes ||
      sodium_hex2bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), hex.data(),
                     hex.size(), nullptr, &got, nullptr) != 0 ||
      got != kSecretBytes)
    return Error::in(path, "not a crowd secret (64 hex digits); delete it to make a new one "
                           "(the server will then count you as a new user)");
  return bin;
}

}  // namespace

Result<std::string> user_secret_path() {
  auto dir = config::config_dir();
  if (!dir) return dir.error();
  return (std::filesystem::path(*dir) / "crowd.secret").string();
}

Result<std::string> load_or_create_user_secret(const std::string& path) {
  if (sodium_init() < 0) return Error{"libsodium failed to initialise"};
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto text = config::internal::read_private_file(path);
    if (!text) return text.error();
    if (*text) return parse_secret(**text, path);
    auto dir = std::filesystem::path(path).parent_path().string();
    if (auto made = config::internal::make_dirs(dir, 0700); !made) return made.error();
    unsigned char raw[kSecretBytes];
    randombytes_buf(raw, sizeof raw);
    char hex[2 * kSecretBytes + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    // link(2) into place: of two first runs at once, one file wins and both read it.
    auto placed = config::internal::write_private_file(path, std::string(hex) + "\n", true);
    sodium_memzero(hex, sizeof hex);
    if (!placed) return placed.error();
  }
  return Error::in(path, "could not be created and read back");
}

std::string user_id(std::string_view secret, std::string_view tenant) {
  // The message is the bare tenant name; derived ids' messages contain '/', which tenant
  // names cannot, so the two never coincide.
  return hmac_hex(secret, tenant);
}

std::string derived_id(std::string_view secret, std::string_view purpose) {
  return hmac_hex(secret, std::string("yantra-crowd-id/").append(purpose)).substr(0, 32);
}

uint64_t noise_seed(std::string_view secret) {
  return std::stoull(hmac_hex(secret, "yantra-crowd-noise").substr(0, 16), nullptr, 16);
}

}  // namespace yantra::crowd
