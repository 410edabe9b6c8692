// `yantra cloud serve`: the crowd aggregation server, until SIGINT or SIGTERM.
#include <signal.h>

#include <iostream>
#include <memory>
#include <thread>

#include "base/base.h"
#include "cli/cli.h"
#include "crowd/crowd.h"

namespace yantra::cli {
namespace {

struct CloudArgs {
  crowd::ServerOptions options;
  std::vector<std::string> tenants;  // NAME=TOKEN
  std::string tokens_file;
  int port = 8090;
};

// The tokens of --tenant and --tokens-file; neither message ever shows a token.
std::map<std::string, std::string> collect_tokens(const CloudArgs& a) {
  std::map<std::string, std::string> tokens;
  if (!a.tokens_file.empty()) tokens = crowd::read_tokens_file(a.tokens_file).take();
  for (const std::string& t : a.tenants) {
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == t.size())
      throw FatalError("--tenant expects NAME=TOKEN (for example --tenant acme=$ACME_TOKEN)");
    tokens[t.substr(eq + 1)] = t.substr(0, eq);
  }
  return tokens;
}

int run_cloud_serve(CloudArgs& a) {
  a.options.tenants = collect_tokens(a);
  a.options.port = a.port;
  // SIGINT and SIGTERM go to sigwait() below, not to whichever server thread gets them;
  // threads started from here inherit the mask.
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
  auto server = crowd::CrowdServer::start(a.options).take();
  std::string host = a.options.host == "0.0.0.0" ? "127.0.0.1" : a.options.host;
  std::cerr << "serving " << a.options.tenants.size() << " token(s), storage "
            << a.options.storage.substr(0, a.options.storage.find(':')) << "\n";
  std::cout << "listening on http://" << host << ":" << server->port() << "/v1\n"
            << "public key: " << server->public_key() << std::endl;
  int sig = 0;
  std::thread stopper([&] {
    sigwait(&stop_signals, &sig);
    server->stop();
  });
  server->wait();
  stopper.join();
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  std::cerr << "stopped by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << "\n";
  return 0;
}

void declare_serve(CLI::App& serve, CloudArgs& a) {
  crowd::ServerOptions& o = a.options;
  serve.add_option("--storage", o.storage,
                   "sqlite:PATH or a postgresql:// URI (default sqlite:.yantra-cloud/crowd.db)")
      ->envname("YANTRA_CLOUD_STORAGE");
  serve.add_option("--host", o.host, "address to listen on (default 127.0.0.1)")
      ->envname("YANTRA_CLOUD_HOST");
  serve.add_option("--port", a.port, "port to listen on; 0 picks a free one (default 8090)")
      ->envname("YANTRA_CLOUD_PORT")
      ->check(CLI::Range(0, 65535));
  serve.add_option("--tenant", a.tenants,
                   "NAME=TOKEN: a tenant and one of its tokens (repeatable; prefer "
                   "--tokens-file, which keeps tokens off the command line); the variable "
                   "takes a comma-separated list")
      ->envname("YANTRA_CLOUD_TENANTS")
      ->delimiter(',');
  serve.add_option("--tokens-file", a.tokens_file,
                   "file of TENANT=TOKEN lines, one token each ('#' comments)")
      ->envname("YANTRA_CLOUD_TOKENS_FILE");
  serve.add_option("--key", o.key_path,
                   "Ed25519 signing key file, created 0600 if missing "
                   "(default .yantra-cloud/signing.key)")
      ->envname("YANTRA_CLOUD_KEY");
  serve.add_option("--initial-model", o.initial_model,
                   "student checkpoint (.pt) or encoded weights published as 1.0.0 for "
                   "tenants without a version")
      ->envname("YANTRA_CLOUD_INITIAL_MODEL");
  serve.add_option("--max-pattern-bytes", o.max_pattern_bytes,
                   "largest pattern batch accepted (default 1 MiB)")
      ->envname("YANTRA_CLOUD_MAX_PATTERN_BYTES")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30));
  serve.add_option("--max-delta-bytes", o.max_delta_bytes,
                   "largest weight delta accepted (default 64 MiB)")
      ->envname("YANTRA_CLOUD_MAX_DELTA_BYTES")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 32));
  serve.add_option("--min-clients", o.min_clients,
                   "aggregate once this many users sent deltas on the latest version (default 2)")
      ->envname("YANTRA_CLOUD_MIN_CLIENTS")
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  serve.add_option("--dp-sigma", o.dp_sigma,
                   "central differential privacy: N(0, sigma^2) added to each average (default 0)")
      ->envname("YANTRA_CLOUD_DP_SIGMA")
      ->check(CLI::Range(0.0, 100.0));
  serve.add_option("--seed", o.seed, "seed of the DP noise")->envname("YANTRA_CLOUD_SEED");
  serve.add_option("--clip-norm", o.clip_norm,
                   "clip each delta to this L2 norm before averaging (default 0: off)")
      ->envname("YANTRA_CLOUD_CLIP_NORM")
      ->check(CLI::Range(0.0, 1e9));
  serve.add_option("--threads", o.threads,
                   "HTTP workers; each connected keep-alive client holds one (default 64)")
      ->envname("YANTRA_CLOUD_THREADS")
      ->check(CLI::Range(size_t{1}, size_t{4096}));
}

}  // namespace

Handler declare_cloud(CLI::App& app) {
  auto a = std::make_shared<CloudArgs>();
  app.require_subcommand(1);
  CLI::App* serve = app.add_subcommand(
      "serve", "run the crowd aggregation server: patterns, deltas, signed model versions");
  declare_serve(*serve, *a);
  return [a] { return run_cloud_serve(*a); };
}

}  // namespace yantra::cli
