// `yantra crowd join | leave | status | push | update | rollback`: opt-in crowd learning.
//
// Off by default: nothing is sent until `join` has shown a real payload and the user said
// yes. The tenant's token is read from $YANTRA_CROWD_TOKEN or stdin (never an argument)
// and kept in the encrypted key store as "crowd-TENANT".
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "cli/cli.h"
#include "config/config.h"
#include "crowd/crowd.h"
#include "library/library.h"

namespace yantra::cli {
namespace {

namespace fs = std::filesystem;
namespace cfg = yantra::config;
using nlohmann::json;

constexpr const char* kTokenEnv = "YANTRA_CROWD_TOKEN";

struct CrowdArgs {
  std::string repo = ".", store;
  std::string server, tenant, public_key;
  double noise = 0, tolerance = 0.01, clip = 1.0, timeout_s = 30;
  uint64_t seed = 0;
  bool yes = false, global = false, delta = false, json_out = false;

  std::string store_dir() const { return store.empty() ? repo + "/.yantra" : store; }
};

// Everything a subcommand needs about where it works and what was configured.
struct Session {
  cfg::Settings settings;
  cfg::ConfigPaths paths;
  crowd::LocalModels local;
  std::string store;
};

Session open_session(const CrowdArgs& a) {
  std::error_code ec;
  if (!fs::is_directory(a.repo, ec)) throw FatalError("--repo " + a.repo + ": no such directory");
  cfg::ConfigPaths paths = cfg::config_paths(a.repo).take();
  return Session{cfg::load_settings(paths).take(), paths, crowd::LocalModels(a.store_dir()),
                 a.store_dir()};
}

std::string token_key_name(const std::string& tenant) { return "crowd-" + tenant; }

// $YANTRA_CROWD_TOKEN, else the key store; never printed.
std::optional<std::string> find_token(const std::string& tenant) {
  if (const char* env = std::getenv(kTokenEnv); env && *env) return std::string(env);
  return cfg::KeyStore(cfg::config_dir().take()).get(token_key_name(tenant)).take();
}

const cfg::CrowdSettings& joined(const Session& s) {
  const cfg::CrowdSettings& c = s.settings.crowd;
  if (!s.settings.crowd_enabled || c.server.empty() || c.tenant.empty())
    throw FatalError("crowd learning is off here: `yantra crowd join --server URL --tenant NAME` "
                     "turns it on (it shows what would be sent and asks first)");
  if (c.public_key.empty())
    throw FatalError("no server key is pinned (crowd.public_key): run `yantra crowd join` again");
  return c;
}

crowd::CrowdClient make_client(const cfg::CrowdSettings& c, const CrowdArgs& a) {
  auto token = find_token(c.tenant);
  if (!token)
    throw FatalError("no token for tenant " + c.tenant + ": set $" + kTokenEnv +
                     " or run `yantra crowd join` again to store one");
  return crowd::CrowdClient(c.server, c.tenant, *token, a.timeout_s);
}

// The key's first 32 hex digits in groups: comparable at a glance with the whole key that
// `yantra cloud serve` prints.
std::string fingerprint(const std::string& public_hex) {
  std::string out;
  for (size_t i = 0; i < 32 && i < public_hex.size(); i += 4)
    out.append(i ? ":" : "").append(public_hex.substr(i, 4));
  return out;
}

bool is_hex_key(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// y/N on a terminal; no terminal answers no (scripts pass --yes).
bool consent(const CrowdArgs& a, const std::string& question) {
  if (a.yes) return true;
  if (!::isatty(STDIN_FILENO) || !::isatty(STDERR_FILENO)) return false;
  std::cerr << question << " [y/N] " << std::flush;
  std::string line;
  std::getline(std::cin, line);
  return !line.empty() && (line[0] == 'y' || line[0] == 'Y');
}

std::optional<library::Library> open_library(const std::string& store) {
  std::string path = store + "/library.db";
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  return library::Library::open_db(path, student::kTextEmbeddingDim).take();
}

std::string secret_or_create() {
  return crowd::load_or_create_user_secret(crowd::user_secret_path().take()).take();
}

// Validated entries not yet acknowledged by the server.
std::vector<library::Entry> unsent_entries(const Session& s) {
  auto lib = open_library(s.store);
  if (!lib) return {};
  crowd::CrowdState state = s.local.state().take();
  std::set<int64_t> sent(state.sent.begin(), state.sent.end());
  std::vector<library::Entry> out;
  for (library::Entry& e : lib->all_entries().take())
    if (crowd::is_shareable(e) && !sent.contains(e.id)) out.push_back(std::move(e));
  return out;
}

// Patterns of `entries`, bug counts from pyflakes where it runs; an entry that cannot be
// described is named on stderr and left unsent.
std::vector<std::pair<int64_t, crowd::Pattern>> extract_all(
    const std::vector<library::Entry>& entries, double noise, uint64_t seed) {
  std::vector<std::string> codes;
  for (const auto& e : entries) codes.push_back(e.code);
  auto bugs = crowd::pyflakes_findings(codes);
  if (!bugs) std::cerr << "note: bug counts left out: " << bugs.error().message << "\n";
  std::vector<std::pair<int64_t, crowd::Pattern>> out;
  for (size_t i = 0; i < entries.size(); ++i) {
    crowd::PatternOptions o{noise, seed, bugs ? std::optional<int>((*bugs)[i]) : std::nullopt};
    auto p = crowd::extract_pattern(entries[i], o);
    if (p)
      out.emplace_back(entries[i].id, std::move(*p));
    else
      std::cerr << "not sent: " << p.error().message << "\n";
  }
  return out;
}

// JSON as sent, indented, with each embedding on one line.
std::string show_payload(json batch) {
  std::vector<std::string> embeddings;
  for (auto& p : batch["patterns"]) {
    embeddings.push_back(p["embedding"].dump());
    p["embedding"] = "@" + std::to_string(embeddings.size() - 1) + "@";
  }
  std::string text = batch.dump(2);
  for (size_t i = 0; i < embeddings.size(); ++i) {
    std::string mark = "\"@" + std::to_string(i) + "@\"";
    text.replace(text.find(mark), mark.size(), embeddings[i]);
  }
  return text;
}

// A real pattern of this repository's library, else of an example function.
json sample_payload(const Session& s, const std::string& secret, const std::string& user,
                    double noise, uint64_t seed,
                    bool* from_library) {
  auto entries = unsent_entries(s);
  *from_library = !entries.empty();
  if (entries.empty()) {
    library::Entry e;
    e.entry_point = "clamp";
    e.code = "def clamp(x, lo, hi):\n    if lo > hi:\n        raise ValueError(lo)\n"
             "    return max(lo, min(x, hi))\n";
    e.request = "def clamp(x, lo, hi):\n    \"\"\"Clamp x into [lo, hi].\"\"\"\n";
    e.embedding = student::view_embedding(student::view_request(e.request, e.entry_point));
    e.tier = "open_local", e.tests_passed = 3, e.confidence = 0.8;
    entries.push_back(e);
  }
  entries.resize(1);
  auto patterns = extract_all(entries, noise, seed);
  if (patterns.empty()) throw FatalError("join: could not build a sample pattern");
  return crowd::pattern_batch(crowd::derived_id(secret, "sample"), user, {patterns[0].second});
}

// $YANTRA_CROWD_TOKEN, else one stored by an earlier join, else stdin (a prompt with echo
// off, or a pipe). *store: whether it came from stdin and should be stored.
std::string read_join_token(const std::string& tenant, bool* store) {
  *store = false;
  if (auto known = find_token(tenant)) return *known;
  if (::isatty(STDIN_FILENO)) std::cerr << "token of tenant " << tenant << " (input hidden)\n";
  auto typed = cfg::read_key_from_stdin(token_key_name(tenant));
  if (!typed)
    throw FatalError("join: no token for tenant " + tenant + ": set $" + kTokenEnv +
                     ", or pipe it: printf '%s\\n' \"$TOKEN\" | yantra crowd join ...");
  *store = true;
  return *typed;
}

std::string pinned_key(const CrowdArgs& a, crowd::CrowdClient& client) {
  auto served = client.public_key();
  if (a.public_key.empty()) {
    if (!served) throw FatalError("cannot fetch the server's key to pin: " + served.error().message +
                                  " (or give it with --public-key HEX)");
    return *served;
  }
  std::string given = a.public_key;
  for (char& c : given) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (!is_hex_key(given)) throw FatalError("--public-key must be 64 hex digits (an Ed25519 key)");
  if (served && *served != given)
    throw FatalError("the server at " + a.server + " signs with key " + fingerprint(*served) +
                     ", not the --public-key given (" + fingerprint(given) + "); not joined");
  return given;
}

int crowd_join(const CrowdArgs& a) {
  Session s = open_session(a);
  if (!a.server.starts_with("http://") && !a.server.starts_with("https://"))
    throw FatalError("--server must be an http:// or https:// URL");
  if (!crowd::valid_tenant(a.tenant))
    throw FatalError("--tenant must be 1-64 letters, digits, '-' and '_'");
  if (!(a.noise >= 0 && a.noise <= crowd::kMaxEmbeddingNoise))
    throw FatalError("--noise must be from 0 to 2 (the sigma of the embedding noise)");
  bool store_token = false;
  std::string token = read_join_token(a.tenant, &store_token);
  crowd::CrowdClient client(a.server, a.tenant, token, a.timeout_s);
  std::string key = pinned_key(a, client);
  std::string secret = secret_or_create();
  std::string user = crowd::user_id(secret, a.tenant);
  bool from_library = false;
  json sample = sample_payload(s, secret, user, a.noise, crowd::noise_seed(secret), &from_library);
  std::cout << "Crowd learning: tenant " << a.tenant << " at " << a.server << "\n"
            << "server key (pinned): " << key << " (" << fingerprint(key) << ")\n"
            << "your id there: " << user.substr(0, 12) << "... (HMAC of the tenant under "
            << crowd::user_secret_path().take() << "; other tenants see another)\n"
            << "embedding noise: sigma " << format_fixed(a.noise, 3);
  if (a.noise > 0)
    std::cout << " (Gaussian mechanism: epsilon " << format_fixed(crowd::embedding_epsilon(a.noise), 2)
              << " at delta 1e-5)";
  std::cout << "\n\nWhat `yantra crowd push` sends per validated generation ("
            << (from_library ? "a real one from this repository's library"
                             : "this library has none yet: an example function")
            << "): counts, flags and numbers only, every word from a fixed vocabulary; no code, "
               "name, string, comment or path:\n"
            << show_payload(sample) << "\n"
            << "With --delta it also sends your model's weight change against the installed "
               "master (clipped), with the number of training examples.\n";
  if (!consent(a, "Join and send such patterns?")) {
    std::cout << "not joined" << (a.yes ? "" : " (no terminal to ask: pass --yes in scripts)") << "\n";
    return 1;
  }
  const std::string& file = a.global ? s.paths.global_file : s.paths.repo_file;
  for (auto [k, v] : {std::pair{"crowd.server", a.server}, std::pair{"crowd.tenant", a.tenant},
                      std::pair{"crowd.public_key", key},
                      std::pair{"crowd.embedding_noise", format_fixed(a.noise, 6)},
                      std::pair{"crowd.enabled", std::string("true")}})
    cfg::set_value(file, k, v).take();
  if (store_token) cfg::KeyStore(s.paths.dir).put(token_key_name(a.tenant), token).take();
  sodium_memzero(token.data(), token.size());
  std::cout << "joined: settings in " << file << "; the token is "
            << (store_token ? "stored encrypted as " + token_key_name(a.tenant)
                            : std::string("the one from $") + kTokenEnv + " or stored before")
            << "\n";
  return 0;
}

int crowd_leave(const CrowdArgs& a) {
  Session s = open_session(a);
  if (!s.settings.crowd_enabled) {
    std::cout << "not joined: nothing to leave\n";
    return 0;
  }
  cfg::Origin origin = s.settings.origin("crowd.enabled");
  const std::string& file = origin == cfg::Origin::global ? s.paths.global_file : s.paths.repo_file;
  cfg::set_value(file, "crowd.enabled", "false").take();
  bool removed = false;
  if (!s.settings.crowd.tenant.empty())
    removed = cfg::KeyStore(s.paths.dir).remove(token_key_name(s.settings.crowd.tenant)).take();
  std::cout << "left tenant " << s.settings.crowd.tenant << ": nothing more is sent ("
            << file << ")" << (removed ? "; its stored token was deleted" : "") << "\n"
            << "an installed master stays; `yantra crowd rollback` restores the model before it\n";
  return 0;
}

int crowd_status(const CrowdArgs& a) {
  Session s = open_session(a);
  const cfg::CrowdSettings& c = s.settings.crowd;
  crowd::CrowdState state = s.local.state().take();
  auto installed = s.local.installed().take();
  size_t pending = s.settings.crowd_enabled ? unsent_entries(s).size() : 0;
  std::string user;
  if (s.settings.crowd_enabled && !c.tenant.empty()) {
    auto secret = crowd::load_or_create_user_secret(crowd::user_secret_path().take());
    if (secret) user = crowd::user_id(*secret, c.tenant).substr(0, 12);
  }
  nlohmann::ordered_json j = {{"joined", s.settings.crowd_enabled},
            {"server", c.server},
            {"tenant", c.tenant},
            {"public_key_fingerprint", c.public_key.empty() ? "" : fingerprint(c.public_key)},
            {"user", user},
            {"embedding_noise", c.embedding_noise},
            {"installed_version", installed ? installed->manifest.version : ""},
            {"can_roll_back", s.local.can_roll_back()},
            {"patterns_sent", state.sent.size()},
            {"patterns_pending", pending},
            {"deltas_sent", state.deltas_sent}};
  if (a.json_out) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  Table t({"CROWD", "VALUE"});
  auto text = [](const auto& v) { return v.is_string() ? v.template get<std::string>() : v.dump(); };
  for (auto& [k, v] : j.items()) t.add({k, text(v).empty() ? "-" : text(v)});
  std::cout << t.render();
  return 0;
}

int push_patterns(const Session& s, const cfg::CrowdSettings& c, crowd::CrowdClient& client,
                  const std::string& secret) {
  auto entries = unsent_entries(s);
  if (entries.empty()) {
    std::cout << "patterns: nothing new to send\n";
    return 0;
  }
  auto patterns = extract_all(entries, c.embedding_noise, crowd::noise_seed(secret));
  std::string user = crowd::user_id(secret, c.tenant);
  for (size_t at = 0; at < patterns.size(); at += crowd::kMaxPatternsPerBatch) {
    size_t end = std::min(patterns.size(), at + crowd::kMaxPatternsPerBatch);
    std::vector<crowd::Pattern> chunk;
    std::string ids = c.tenant;  // the batch id repeats when the same entries are sent again
    for (size_t i = at; i < end; ++i)
      chunk.push_back(patterns[i].second), ids.append("/").append(std::to_string(patterns[i].first));
    std::string batch = crowd::derived_id(secret, "patterns/" + ids);
    json reply = client.push_patterns(crowd::pattern_batch(batch, user, chunk)).take();
    crowd::CrowdState state = s.local.state().take();
    for (size_t i = at; i < end; ++i) state.sent.push_back(patterns[i].first);
    state.patterns_sent += end - at;
    s.local.save_state(state).take();
    std::cout << "patterns: sent " << (end - at) << " (batch " << batch.substr(0, 8) << ", "
              << (reply.value("duplicate", false) ? "already stored" : "stored") << ")\n";
  }
  return 0;
}

int push_delta(const CrowdArgs& a, const Session& s, const cfg::CrowdSettings& c,
               crowd::CrowdClient& client, const std::string& secret) {
  auto installed = s.local.installed().take();
  if (!installed) throw FatalError("no crowd master installed: run `yantra crowd update` first");
  student::GraphData graph = student::load_graph(s.store + "/graph.db").take();
  crowd::LocalDelta d = crowd::local_delta(s.local, *installed, graph, a.clip).take();
  const std::string& version = installed->manifest.version;
  std::string batch = crowd::derived_id(
      secret, "delta/" + c.tenant + "/" + version + "/" + crowd::sha256_hex(crowd::encode(d.delta)));
  json reply = client.push_delta(batch, crowd::user_id(secret, c.tenant), version, d.examples,
                                 d.delta).take();
  crowd::CrowdState state = s.local.state().take();
  state.deltas_sent += 1;
  s.local.save_state(state).take();
  std::cout << "delta: sent against " << version << ", " << d.examples << " training examples, "
            << "norm " << format_fixed(d.norm_before_clip, 4)
            << (d.norm_before_clip > a.clip ? " clipped to " + format_fixed(a.clip, 4) : "") << " ("
            << (reply.value("duplicate", false) ? "already stored" : "stored") << ")\n";
  return 0;
}

int crowd_push(const CrowdArgs& a) {
  Session s = open_session(a);
  const cfg::CrowdSettings& c = joined(s);
  crowd::CrowdClient client = make_client(c, a);
  std::string secret = secret_or_create();
  int rc = push_patterns(s, c, client, secret);
  if (a.delta) rc |= push_delta(a, s, c, client, secret);
  return rc;
}

void print_manifest(const crowd::Manifest& m) {
  std::cout << "master " << m.version << " of tenant " << m.tenant
            << (m.parent.empty() ? "" : ", from " + m.parent) << ": " << m.examples
            << " examples from " << m.contributors << " contributors, "
            << human_bytes(m.weights_bytes) << ", sha256 " << m.weights_sha256.substr(0, 16)
            << "..., " << m.created_at << "\n";
  for (const auto& [name, value] : m.metrics) std::cout << "  " << name << " " << format_fixed(value, 4) << "\n";
}

int crowd_update(const CrowdArgs& a) {
  Session s = open_session(a);
  const cfg::CrowdSettings& c = joined(s);
  crowd::CrowdClient client = make_client(c, a);
  auto latest = client.latest().take();
  if (!latest) {
    std::cout << "no master published for tenant " << c.tenant << " yet\n";
    return 0;
  }
  const std::string& version = latest->manifest.version;
  auto installed = s.local.installed().take();
  if (installed && installed->manifest.version == version) {
    std::cout << "up to date: " << version << " is installed\n";
    return 0;
  }
  std::string bytes = client.weights(version).take();
  if (auto ok = crowd::verify(*latest, bytes, c.public_key); !ok)
    throw FatalError("refused master " + version + ", nothing installed: " + ok.error().message);
  if (latest->manifest.tenant != c.tenant)
    throw FatalError("refused master " + version + ": signed for another tenant");
  crowd::Weights weights = crowd::decode(bytes, "master " + version).take();
  std::cout << "verified (signature by the pinned key " << fingerprint(c.public_key)
            << ", weights hash): ";
  print_manifest(latest->manifest);
  if (!consent(a, "Check it on this repository and install it if it is not worse?")) {
    std::cout << "not installed" << (a.yes ? "" : " (no terminal to ask: pass --yes in scripts)") << "\n";
    return 1;
  }
  student::GraphData graph = student::load_graph(s.store + "/graph.db").take();
  crowd::Acceptance acc = s.local.stage(*latest, weights, graph, a.tolerance, a.seed).take();
  std::cout << acc.describe() << "\n";
  if (!acc.accepted) {
    std::cout << "not installed: the new master is worse on your own held-out calls\n";
    return 1;
  }
  s.local.install(*latest).take();
  std::cout << "installed " << version << " into " << s.local.checkpoint()
            << " (`yantra crowd rollback` restores the model before it)\n"
            << "to contribute: yantra train --init-from " << s.local.master_checkpoint()
            << ", then yantra crowd push --delta\n";
  return 0;
}

int crowd_rollback(const CrowdArgs& a) {
  Session s = open_session(a);
  auto before = s.local.installed().take();
  std::string now = s.local.rollback().take();
  std::cout << "rolled back" << (before ? " " + before->manifest.version : std::string()) << ": "
            << s.local.checkpoint() << " is "
            << (now.empty() ? std::string("your own model again") : "master " + now + " again") << "\n";
  return 0;
}

}  // namespace

Handler declare_crowd(CLI::App& app) {
  auto a = std::make_shared<CrowdArgs>();
  app.require_subcommand(1);
  app.add_option("--repo", a->repo, "the repository (default: the current directory)")
      ->envname("YANTRA_REPO");
  app.add_option("--store", a->store, "its store directory (default: REPO/.yantra)")
      ->envname("YANTRA_STORE");
  app.add_flag("--yes", a->yes, "consent without asking (scripts); without a terminal, "
                                "no --yes means no")
      ->envname("YANTRA_CROWD_YES");
  app.add_option("--timeout", a->timeout_s, "seconds per HTTP request (default 30)")
      ->envname("YANTRA_CROWD_TIMEOUT");
  CLI::App* join = app.add_subcommand("join", "opt in: show what would be sent, pin the "
                                              "server's key, ask, then save the settings");
  join->add_option("--server", a->server, "the aggregation server's URL")
      ->envname("YANTRA_CROWD_SERVER")->required();
  join->add_option("--tenant", a->tenant, "your organisation's tenant on it")
      ->envname("YANTRA_CROWD_TENANT")->required();
  join->add_option("--public-key", a->public_key,
                   "the server's Ed25519 key in hex, from its operator (default: fetched from "
                   "GET /v1/key, shown as a fingerprint)")
      ->envname("YANTRA_CROWD_PUBLIC_KEY");
  join->add_option("--noise", a->noise, "sigma of Gaussian noise on shared embeddings (0 to 2)")
      ->envname("YANTRA_CROWD_NOISE");
  join->add_flag("--global", a->global, "save the settings in the global config file, not the "
                                        "repository's")
      ->envname("YANTRA_CROWD_GLOBAL");
  app.add_subcommand("leave", "opt out: nothing more is sent; the stored token is deleted");
  CLI::App* status = app.add_subcommand("status", "joined or not, server, tenant, your short "
                                                  "id, installed version, patterns sent and pending");
  status->add_flag("--json", a->json_out, "print JSON")->envname("YANTRA_CROWD_JSON");
  CLI::App* push = app.add_subcommand("push", "send the patterns of validated generations not "
                                              "sent yet");
  push->add_flag("--delta", a->delta, "also send the weight delta of a model trained with "
                                      "`yantra train --init-from` the installed master")
      ->envname("YANTRA_CROWD_DELTA");
  push->add_option("--clip", a->clip, "the delta's largest L2 norm (default 1.0)")
      ->envname("YANTRA_CROWD_CLIP");
  CLI::App* update = app.add_subcommand("update", "fetch the latest master, verify it against "
                                                  "the pinned key, check it locally, install it");
  update->add_option("--tolerance", a->tolerance, "how much lower the new model's held-out MRR "
                                                  "may be (default 0.01)")
      ->envname("YANTRA_CROWD_TOLERANCE");
  update->add_option("--seed", a->seed, "seed of the held-out evaluation")->envname("YANTRA_SEED");
  app.add_subcommand("rollback", "restore the model the last install replaced, byte for byte");
  for (CLI::App* sub : app.get_subcommands({})) sub->fallthrough();
  CLI::App* self = &app;
  return [a, self] {
    std::string which = self->get_subcommands().front()->get_name();
    if (which == "join") return crowd_join(*a);
    if (which == "leave") return crowd_leave(*a);
    if (which == "status") return crowd_status(*a);
    if (which == "push") return crowd_push(*a);
    if (which == "update") return crowd_update(*a);
    return crowd_rollback(*a);
  };
}

}  // namespace yantra::cli
