// The signed model registry: semantic versions, manifests, Ed25519 signatures (libsodium).
// A client trusts a master only if the pinned key signed its manifest and the weights it
// downloaded hash to what the manifest says.
#include <sodium.h>

#include <charconv>

#include "config/internal.h"
#include "crowd/crowd.h"

namespace yantra::crowd {
namespace {

void ensure_sodium() {
  // sodium_init is idempotent and thread-safe; failing means no usable RNG, which would
  // make every key and signature meaningless, so it aborts the command.
  if (sodium_init() < 0) throw FatalError("libsodium failed to initialise");
}

std::string to_hex(const unsigned char* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

// Exactly `size` bytes from hex, or nothing.
std::optional<std::vector<unsigned char>> from_hex(std::string_view hex, size_t size) {
  if (hex.size() != size * 2) return std::nullopt;
  std::vector<unsigned char> out(size);
  size_t got = 0;
  if (sodium_hex2bin(out.data(), size, hex.data(), hex.size(), nullptr, &got, nullptr) != 0 ||
      got != size)
    return std::nullopt;
  return out;
}

bool parse_part(std::string_view text, int& out) {
  if (text.empty() || text.size() > 6 || (text.size() > 1 && text[0] == '0')) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;  // from_chars alone would take "-1"
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<Version> Version::parse(std::string_view text) {
  Version v;
  size_t a = text.find('.'), b = a == text.npos ? a : text.find('.', a + 1);
  if (b == text.npos || !parse_part(text.substr(0, a), v.major) ||
      !parse_part(text.substr(a + 1, b - a - 1), v.minor) || !parse_part(text.substr(b + 1), v.patch))
    return Error{std::string("'").append(text).append("' is not a version MAJOR.MINOR.PATCH")};
  return v;
}

std::string Version::str() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

nlohmann::json Manifest::to_json() const {
  return {{"tenant", tenant},           {"version", version},
          {"parent", parent},           {"weights_sha256", weights_sha256},
          {"weights_bytes", weights_bytes}, {"examples", examples},
          {"contributors", contributors},   {"metrics", metrics},
          {"created_at", created_at},   {"protocol", kProtocolVersion}};
}

Result<Manifest> Manifest::from_json(const nlohmann::json& j) {
  Manifest m;
  try {
    m.tenant = j.at("tenant").get<std::string>();
    m.version = j.at("version").get<std::string>();
    m.parent = j.at("parent").get<std::string>();
    m.weights_sha256 = j.at("weights_sha256").get<std::string>();
    m.weights_bytes = j.at("weights_bytes").get<uint64_t>();
    m.examples = j.at("examples").get<uint64_t>();
    m.contributors = j.at("contributors").get<uint64_t>();
    m.metrics = j.at("metrics").get<std::map<std::string, double>>();
    m.created_at = j.at("created_at").get<std::string>();
    if (j.at("protocol").get<int>() != kProtocolVersion)
      return Error{"manifest of protocol " + j.at("protocol").dump() + "; update yantra"};
  } catch (const std::exception& e) {
    return Error{std::string("malformed manifest: ") + e.what()};
  }
  if (auto v = Version::parse(m.version); !v) return Error{"manifest: " + v.error().message};
  if (!from_hex(m.weights_sha256, crypto_hash_sha256_BYTES))
    return Error{"manifest: weights_sha256 is not a SHA-256 in hex"};
  return m;
}

// nlohmann::json keeps object keys sorted, so dump() is already canonical.
std::string Manifest::canonical() const { return to_json().dump(); }

nlohmann::json SignedManifest::to_json() const {
  return {{"manifest", manifest.to_json()}, {"signature", signature_hex}};
}

Result<SignedManifest> SignedManifest::from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("manifest") || !j.contains("signature") ||
      !j["signature"].is_string())
    return Error{"not a signed manifest: expected {\"manifest\": {...}, \"signature\": \"hex\"}"};
  auto m = Manifest::from_json(j["manifest"]);
  if (!m) return m.error();
  return SignedManifest{std::move(*m), j["signature"].get<std::string>()};
}

SigningKey SigningKey::generate() {
  ensure_sodium();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  SigningKey key{to_hex(pk, sizeof pk), to_hex(sk, sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return key;
}

Result<SigningKey> SigningKey::load_or_create(const std::string& path) {
  auto text = config::internal::read_private_file(path);
  if (!text) return text.error();
  if (!*text) {
    SigningKey fresh = generate();
    nlohmann::json j{{"public_key", fresh.public_hex}, {"secret_key", fresh.secret_hex}};
    auto written = config::internal::write_private_file(path, j.dump(2) + "\n", true);
    if (!written) return written.error();
    if (*written) return fresh;
    text = config::internal::read_private_file(path);  // another process created it first
    if (!text) return text.error();
    if (!*text) return Error::in(path, "the signing key vanished while it was being created");
  }
  auto j = nlohmann::json::parse(**text, nullptr, false);
  SigningKey key;
  if (j.is_object() && j.contains("public_key") && j.contains("secret_key") &&
      j["public_key"].is_string() && j["secret_key"].is_string())
    key = {j["public_key"].get<std::string>(), j["secret_key"].get<std::string>()};
  auto sk = from_hex(key.secret_hex, crypto_sign_SECRETKEYBYTES);
  if (!sk || !from_hex(key.public_hex, crypto_sign_PUBLICKEYBYTES))
    return Error::in(path, "not a Yantra signing key; move it away to have a new one created");
  // libsodium's secret key ends with the public key: a mismatch means a spliced file.
  if (to_hex(sk->data() + crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES) != key.public_hex)
    return Error::in(path, "the public key does not belong to the secret key in this file");
  sodium_memzero(sk->data(), sk->size());
  return key;
}

std::string sha256_hex(std::string_view bytes) {
  ensure_sodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return to_hex(digest, sizeof digest);
}

Manifest make_manifest(std::string tenant, const std::string& weights_bytes, Version version,
                       std::string parent, uint64_t examples, uint64_t contributors,
                       std::map<std::string, double> metrics) {
  Manifest m;
  m.tenant = std::move(tenant);
  m.version = version.str();
  m.parent = std::move(parent);
  m.weights_sha256 = sha256_hex(weights_bytes);
  m.weights_bytes = weights_bytes.size();
  m.examples = examples;
  m.contributors = contributors;
  m.metrics = std::move(metrics);
  m.created_at = utc_now_iso();
  return m;
}

SignedManifest sign(const Manifest& manifest, const SigningKey& key) {
  ensure_sodium();
  auto sk = from_hex(key.secret_hex, crypto_sign_SECRETKEYBYTES);
  if (!sk) throw FatalError("the signing key is malformed");  // load_or_create checked it
  const std::string message = manifest.canonical();
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk->data());
  sodium_memzero(sk->data(), sk->size());
  return {manifest, to_hex(sig, sizeof sig)};
}

Result<void> verify(const SignedManifest& s, std::string_view weights_bytes,
                    std::string_view public_hex) {
  ensure_sodium();
  const std::string label = "model " + s.manifest.version;
  auto pk = from_hex(public_hex, crypto_sign_PUBLICKEYBYTES);
  if (!pk) return Error::in(label, "the pinned public key is not 64 hex digits; run `yantra crowd join` again");
  auto sig = from_hex(s.signature_hex, crypto_sign_BYTES);
  const std::string message = s.manifest.canonical();
  if (!sig || crypto_sign_verify_detached(sig->data(),
                                          reinterpret_cast<const unsigned char*>(message.data()),
                                          message.size(), pk->data()) != 0)
    return Error::in(label, "the manifest's signature does not verify with the pinned key: "
                            "refusing it (a tampered manifest, or another server's)");
  if (weights_bytes.size() != s.manifest.weights_bytes)
    return Error::in(label, "the weights are " + std::to_string(weights_bytes.size()) +
                                " bytes, the signed manifest says " +
                                std::to_string(s.manifest.weights_bytes) + ": refusing them");
  if (sha256_hex(weights_bytes) != s.manifest.weights_sha256)
    return Error::in(label, "the weights do not hash to the signed SHA-256: refusing them "
                            "(a tampered or damaged download)");
  return {};
}

}  // namespace yantra::crowd
