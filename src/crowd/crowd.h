// crowd: opt-in crowd learning. Anonymous patterns and model deltas go up, signed model
// versions come down; an aggregation server averages deltas (FedAvg) per tenant.
//
//   // client side: what one validated generation tells, and sending it
//   Pattern p = extract_pattern(entry, {.embedding_noise = 0.1}).take();
//   CrowdClient client(server_url, tenant, token);
//   client.push_patterns(pattern_batch(batch_id, user_id(secret, tenant), {p})).take();
//
//   // a weight delta against the installed master, clipped, weighted by examples
//   LocalDelta d = local_delta(local_models, installed, graph, 1.0).take();
//   client.push_delta(batch_id, user, installed.manifest.version, d.examples, d.delta).take();
//
//   // server side: FedAvg of the deltas on the latest version, signed and published
//   Weights next = add(master, fed_avg(contributions).take()).take();
//   SignedManifest v = sign(make_manifest(tenant, encode(next), {1, 1, 0}, "1.0.0", n, c, {}), key);
//
//   // client side again: verified against the pinned key before anything is installed
//   verify(v, client.weights(v.manifest.version).take(), pinned_public_key).take();
//
// Weights are plain named float tensors (no LibTorch here): the student converts its
// checkpoints to and from them (student::read_parameters / write_parameters).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "library/library.h"
#include "student/student.h"

namespace yantra::crowd {

// ---- Weights: named tensors, deltas, clipping, FedAvg (weights.cpp) ----

// The student's checkpoint parameters by name (student::read_parameters).
using Tensor = student::ParameterTensor;
using Weights = student::Parameters;

// A self-describing little-endian binary form ("YWTS", version, then name, shape, values
// per tensor). decode() checks every length against the buffer: a truncated or foreign
// file is an error naming `what`, never a crash.
std::string encode(const Weights& weights);
Result<Weights> decode(std::string_view bytes, std::string_view what);

// Element-wise, matched by name; a name or shape present on one side only is an error.
Result<Weights> subtract(const Weights& a, const Weights& b);  // a - b
Result<Weights> add(const Weights& a, const Weights& b);       // a + b
double l2_norm(const Weights& w);
// Scales w so that its global L2 norm is at most max_norm (a no-op when it already is).
Weights clip_l2(Weights w, double max_norm);

struct Contribution {
  Weights delta;
  uint64_t examples = 0;  // training examples behind the delta: its FedAvg weight
};
// sum_i(n_i * delta_i) / sum_i(n_i). Every delta must carry the same names and shapes;
// zero total examples is an error.
Result<Weights> fed_avg(const std::vector<Contribution>& contributions);
// Central differential privacy: adds N(0, sigma^2) to every value, seeded.
void add_gaussian_noise(Weights& w, double sigma, uint64_t seed);

// ---- Signed model registry (registry.cpp) ----

// A semantic version "MAJOR.MINOR.PATCH".
struct Version {
  int major = 0, minor = 0, patch = 0;
  static Result<Version> parse(std::string_view text);
  std::string str() const;
  Version next_minor() const { return {major, minor + 1, 0}; }
  auto operator<=>(const Version&) const = default;
};

struct Manifest {
  std::string tenant;
  std::string version;        // semantic version of this master
  std::string parent;         // the version it was averaged from; empty for the first
  std::string weights_sha256; // hex, of encode(weights)
  uint64_t weights_bytes = 0;
  uint64_t examples = 0;      // training examples behind all deltas averaged in
  uint64_t contributors = 0;  // distinct users whose deltas were averaged
  std::map<std::string, double> metrics;
  std::string created_at;     // ISO 8601 UTC
  nlohmann::json to_json() const;
  static Result<Manifest> from_json(const nlohmann::json& j);
  // The exact bytes that are signed: compact JSON with sorted keys.
  std::string canonical() const;
};

struct SignedManifest {
  Manifest manifest;
  std::string signature_hex;  // Ed25519 over manifest.canonical()
  nlohmann::json to_json() const;  // {"manifest": {...}, "signature": "hex"}
  static Result<SignedManifest> from_json(const nlohmann::json& j);
};

struct SigningKey {
  std::string public_hex;  // 32 bytes
  std::string secret_hex;  // 64 bytes (libsodium's seed + public key)
  static SigningKey generate();
  // A key file written 0600 by save(); created on first use by the server.
  static Result<SigningKey> load_or_create(const std::string& path);
};

std::string sha256_hex(std::string_view bytes);
Manifest make_manifest(std::string tenant, const std::string& weights_bytes, Version version,
                       std::string parent, uint64_t examples, uint64_t contributors,
                       std::map<std::string, double> metrics);
SignedManifest sign(const Manifest& manifest, const SigningKey& key);
// Checks the signature against the pinned public key and the weights against the signed
// hash and size. Every mismatch is an error saying which check failed.
Result<void> verify(const SignedManifest& signed_manifest, std::string_view weights_bytes,
                    std::string_view public_hex);

// ---- The wire protocol (server.cpp, client.cpp) ----
//
// Every request carries `Authorization: Bearer TOKEN`; a token belongs to one tenant and
// reaches only that tenant's paths (another tenant's path: 403, no or unknown token: 401).
//
//   POST /v1/t/{tenant}/patterns   JSON {"batch": ID, "user": HMAC, "patterns": [...]}
//                                  -> 200 {"stored": n, "duplicate": false}; a batch ID
//                                  seen before stores nothing -> {"stored": 0, "duplicate": true}
//   POST /v1/t/{tenant}/deltas?batch=ID&user=HMAC&base=VERSION&examples=N
//                                  body: encode(delta) -> 200 {"stored": 1, "duplicate": ..}
//                                  409 if base is not the tenant's latest version
//   POST /v1/t/{tenant}/aggregate  -> 200 signed manifest of the new version, or 409 when
//                                  no delta waits (the server also aggregates by itself
//                                  once --min-clients users have sent deltas on a version)
//   GET  /v1/t/{tenant}/models/latest          -> signed manifest JSON (404 if none)
//   GET  /v1/t/{tenant}/models/{version}       -> signed manifest JSON
//   GET  /v1/t/{tenant}/models/{version}/weights -> encode(weights)
//   GET  /v1/key                   -> {"public_key": hex} (clients pin it when they join)
//   GET  /v1/health                -> {"ok": true}
// Errors are JSON {"error": "message"} with 400 (malformed, names the field), 401, 403,
// 404, 409 or 413 (over the size limit, which the message states).

constexpr int kProtocolVersion = 1;

// ---- Patterns and the anonymous user id (patterns.cpp) ----
//
// A pattern describes one validated generation by counts, flags, numbers and fixed words
// only: no identifier, literal, comment or path of the user's code can be in it. Every
// string of a payload comes from pattern_vocabulary() or is a hex id made here.

// The code's graph, counted: node kinds as graph::NodeKind names them, edge kinds likewise.
struct PatternCounts {
  std::map<std::string, uint32_t> nodes;  // module, class, function, method, test, external
  std::map<std::string, uint32_t> edges;  // calls, contains, imports, inherits, tests
};

struct Pattern {
  PatternCounts counts;
  uint32_t complexity = 1;  // cyclomatic complexity of the entry point (else the largest)
  uint32_t lines = 0, params = 0;
  bool is_async = false;
  std::map<std::string, bool> flags;  // raises, validation, db, http, io, auth
  std::vector<float> embedding;       // kTextEmbeddingDim values, clipped to norm 1, + noise
  double embedding_noise = 0;         // the sigma that was added
  int tests_passed = 0, tests_failed = 0;
  std::optional<int> bugs_found;  // pyflakes findings; absent when not measured
  std::string tier;               // one of library::kTiers
  double confidence_before = 0;   // the router's, when the entry was learned
  double confidence_after = 0;    // updated by how its reuses went (the router's Beta prior)
};

struct PatternOptions {
  // Per-component N(0, sigma^2) added to the (unit-norm) embedding; 0 sends it as is.
  double embedding_noise = 0;
  // Mixed with the entry id to seed each pattern's noise; derive it from the user secret
  // (noise_seed()) so the server cannot regenerate and subtract the noise.
  uint64_t noise_seed = 0;
  std::optional<int> bugs_found;  // from pyflakes_findings()
};

constexpr double kMaxEmbeddingNoise = 2.0;
// A pattern with its embedding is ~2.5 KB: 256 of them stay under the server's default
// 1 MiB request limit.
constexpr size_t kMaxPatternsPerBatch = 256;

// Only validated generations: an avoid, pending or invalidated entry is an error, as is
// code the Python grammar cannot parse.
Result<Pattern> extract_pattern(const library::Entry& entry, const PatternOptions& options = {});
// Whether extract_pattern accepts the entry (valid, not avoid, not pending).
bool is_shareable(const library::Entry& entry);
nlohmann::json to_json(const Pattern& pattern);
// {"v": kProtocolVersion, "batch": ID, "user": HMAC, "patterns": [...]}
nlohmann::json pattern_batch(const std::string& batch_id, const std::string& user_id,
                             const std::vector<Pattern>& patterns);
// The strict allow-list: exactly these keys, these types, ranges and words; the embedding
// exactly kTextEmbeddingDim finite values. The error names the field (never its value).
Result<void> validate_pattern(const nlohmann::json& pattern);
// The batch envelope (batch: 32 hex, user: 64 hex, 1..kMaxPatternsPerBatch patterns) and
// every pattern in it.
Result<void> validate_pattern_batch(const nlohmann::json& batch);
// Every word (key or enum value) a valid pattern batch may contain.
const std::vector<std::string>& pattern_vocabulary();
// The embedding noise as a Gaussian-mechanism epsilon at delta (unit vectors: L2
// sensitivity 2); infinity for sigma 0.
double embedding_epsilon(double sigma, double delta = 1e-5);

// Pyflakes findings per code (Debian's pyflakes, one process for all: it only parses, never
// runs the code). An error when pyflakes is not installed.
Result<std::vector<int>> pyflakes_findings(const std::vector<std::string>& codes);

// A 32-byte random secret, created once (0600, atomically; a concurrent creator's file
// wins) at `path`; typically user_secret_path() = CONFIG_DIR/crowd.secret.
Result<std::string> load_or_create_user_secret(const std::string& path);
Result<std::string> user_secret_path();
// hex HMAC-SHA256(key = secret, message = tenant): one user, one id per tenant, unlinkable
// across tenants.
std::string user_id(std::string_view secret, std::string_view tenant);
// hex HMAC-SHA256(secret, purpose) cut to 32 digits: batch ids that repeat when the same
// thing is sent again (the server then stores it once) and tell nothing else.
std::string derived_id(std::string_view secret, std::string_view purpose);
uint64_t noise_seed(std::string_view secret);
// Tenant names: 1-64 letters, digits, '-' and '_'.
bool valid_tenant(std::string_view tenant);

// ---- Client (client.cpp, local_models.cpp) ----
//
//   CrowdClient client("https://crowd.example.org", "acme", token);
//   auto latest = client.latest().take();            // nullopt: nothing published yet
//   std::string bytes = client.weights(latest->manifest.version).take();
//   verify(*latest, bytes, pinned_public_key).take();
//   LocalModels local("REPO/.yantra");
//   Acceptance a = local.stage(*latest, decode(bytes, "weights").take(), graph, 0.01).take();
//   if (a.accepted) local.install(*latest).take();   // local.rollback() undoes it

// Talks the wire protocol above. Connection failures and 5xx answers are retried (the same
// request, so the same batch id: the server stores an upload once); 4xx are not. Errors
// name the server and the request and carry the server's {"error"} message, never the
// token.
class CrowdClient {
 public:
  CrowdClient(std::string server_url, std::string tenant, std::string token,
              double timeout_s = 30, int attempts = 3);

  Result<nlohmann::json> push_patterns(const nlohmann::json& batch);
  Result<nlohmann::json> push_delta(const std::string& batch_id, const std::string& user_id,
                                    const std::string& base_version, uint64_t examples,
                                    const Weights& delta);
  Result<std::optional<SignedManifest>> latest();  // nullopt: the tenant has no version yet
  Result<SignedManifest> manifest(const std::string& version);
  Result<std::string> weights(const std::string& version);  // encode()d bytes, unverified
  Result<std::string> public_key();                         // hex
  Result<SignedManifest> aggregate();

  struct Response {
    int status = 0;
    std::string body;
  };

 private:
  Result<Response> send(const std::string& method, const std::string& path,
                        const std::string& body, const std::string& content_type);
  Result<Response> call(const std::string& method, const std::string& path,
                        const std::string& body, const std::string& content_type);
  Error status_error(const std::string& method, const std::string& path, const Response& r) const;
  Result<std::string> expect_ok(const std::string& method, const std::string& path,
                                const std::string& body = "",
                                const std::string& content_type = "application/json");
  std::string tenant_path(std::string_view rest) const;

  std::string server_, tenant_, token_;
  double timeout_s_;
  int attempts_;
};

// What `yantra crowd` keeps in REPO/.yantra/crowd/state.json.
struct CrowdState {
  std::string installed_version;  // empty: the local model
  std::vector<int64_t> sent;      // library entry ids whose pattern the server acknowledged
  uint64_t patterns_sent = 0, deltas_sent = 0;
  nlohmann::json to_json() const;
  static Result<CrowdState> from_json(const nlohmann::json& j, std::string_view what);
};

// Held-out next-call MRR of the current and the candidate checkpoint on the user's graph.
struct Acceptance {
  double current_mrr = 0, candidate_mrr = 0, tolerance = 0;
  bool accepted = false;
  std::string describe() const;  // both numbers and the verdict
};

// The student's checkpoint and the crowd's files under a store directory (REPO/.yantra):
//   student/model.pt         the checkpoint the student answers with
//   crowd/state.json         CrowdState
//   crowd/installed.json     the signed manifest of the installed master
//   crowd/master.pt          that master as a checkpoint: `yantra train --init-from` it
//   crowd/candidate.pt       a verified master staged for its acceptance check
//   crowd/previous/          what install() replaced, for rollback()
class LocalModels {
 public:
  explicit LocalModels(std::string store_dir);
  std::string checkpoint() const;  // student/model.pt
  std::string crowd_dir() const;
  std::string master_checkpoint() const;
  std::string candidate_checkpoint() const;

  Result<CrowdState> state() const;  // an absent file: the empty state
  Result<void> save_state(const CrowdState& state) const;
  Result<std::optional<SignedManifest>> installed() const;

  // Writes `weights` into a copy of the current checkpoint (same options and split) as the
  // candidate, then compares both on the graph: refused if the candidate's MRR is below
  // the current one's minus `tolerance`. Nothing the student uses is touched.
  Result<Acceptance> stage(const SignedManifest& manifest, const Weights& weights,
                           const student::GraphData& graph, double tolerance,
                           uint64_t seed = 0) const;
  // Moves the staged candidate into place (rename), keeping what it replaces in previous/.
  Result<void> install(const SignedManifest& manifest) const;
  // Puts previous/ back, byte for byte; returns the version now installed ("" = local).
  Result<std::string> rollback() const;
  bool can_roll_back() const;

 private:
  std::string store_, crowd_;
};

// The weight delta of a checkpoint trained (`yantra train --init-from`) from the installed
// master, clipped to max_norm; an error saying what to run when the checkpoint was not
// trained from it.
struct LocalDelta {
  Weights delta;
  double norm_before_clip = 0;
  uint64_t examples = 0;
};
Result<LocalDelta> local_delta(const LocalModels& local, const SignedManifest& installed,
                               const student::GraphData& graph, double max_norm);

// ---- Server (server.cpp; storage behind store.h: SQLite and PostgreSQL) ----
//
//   ServerOptions o;
//   o.storage = "postgresql:///crowd?host=/run/postgresql";  // or "sqlite:PATH"
//   o.tenants = {{token, "acme"}};
//   o.initial_model = "student.pt";  // published as 1.0.0 for a tenant that has none
//   auto server = CrowdServer::start(o).take();
//   server->port();  // the bound port (o.port = 0 picks a free one)
//   server->wait();  // until stop()

struct ServerOptions {
  std::string storage = "sqlite:.yantra-cloud/crowd.db";  // or postgresql://...
  std::string host = "127.0.0.1";
  int port = 0;  // 0: a free port
  std::map<std::string, std::string> tenants;  // token -> tenant name
  std::string key_path = ".yantra-cloud/signing.key";  // created 0600 on first start
  // A student checkpoint (.pt) or an encoded weights file ("YWTS"); empty: none, and a
  // tenant without a version refuses deltas until one is published.
  std::string initial_model;
  size_t max_pattern_bytes = size_t{1} << 20;
  size_t max_delta_bytes = size_t{64} << 20;
  size_t min_clients = 2;  // distinct users with deltas on the latest version: aggregate
  double dp_sigma = 0;     // central DP noise on the average (0: off)
  uint64_t seed = 0;       // of the DP noise; each version mixes its own in
  double clip_norm = 0;    // each delta clipped again before averaging (0: off)
  size_t threads = 64;     // HTTP workers: a keep-alive client holds one while connected
};

class CrowdServer {
 public:
  // Opens the storage, loads or creates the signing key, publishes the initial model for
  // tenants that have none and starts listening. Errors name the option to change.
  static Result<std::unique_ptr<CrowdServer>> start(const ServerOptions& options);
  ~CrowdServer();
  CrowdServer(const CrowdServer&) = delete;
  CrowdServer& operator=(const CrowdServer&) = delete;

  int port() const;
  std::string public_key() const;  // hex, what GET /v1/key answers
  void stop();                     // finishes requests in flight; idempotent
  void wait();                     // blocks until stop() (from another thread)

  struct Impl;

 private:
  explicit CrowdServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A tokens file: one "TENANT=TOKEN" per line; blank lines and lines starting with '#'
// are skipped. Returns token -> tenant. Errors name the file and line, never the token.
Result<std::map<std::string, std::string>> read_tokens_file(const std::string& path);

}  // namespace yantra::crowd
