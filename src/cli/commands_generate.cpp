// `yantra generate "REQUEST"`: code and the tests it passed, from the cheapest source that
// can answer (the student's library, then the configured teachers), through the router.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "config/config.h"
#include "ledger/ledger.h"
#include "library/library.h"
#include "router/router.h"
#include "student/student.h"
#include "validator/validator.h"

namespace yantra::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct GenerateArgs {
  std::string request, signature, file, repo = ".";
  bool json_out = false, dry_run = false, no_learn = false;
  int workers = 0;
};

// Premium consent on a terminal: the estimated cost, then y/N. No terminal: no.
bool ask_on_terminal(const router::TeacherInfo& t, double estimated_usd) {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDERR_FILENO)) return false;
  std::cerr << "Ask the premium teacher " << t.provider << "/" << t.model << " (about $"
            << format_fixed(estimated_usd, 4) << ")? [y/N] " << std::flush;
  std::string line;
  std::getline(std::cin, line);
  return !line.empty() && (line[0] == 'y' || line[0] == 'Y');
}

Json to_json(const router::Answer& a) {
  Json route = Json::array();
  for (const router::Decision& d : a.route)
    route.push_back({{"step", d.step}, {"action", d.action}, {"reason", d.reason}, {"ms", d.ms}});
  // Where the ladder stood after each teacher: what it had cost and how sure its best was.
  Json ladder = Json::array();
  for (const router::LadderStep& s : a.ladder)
    ladder.push_back({{"step", s.step},
                      {"cost_usd", s.cost_usd},
                      {"answer", s.has_best},
                      {"confidence", s.confidence}});
  Json suspects = Json::array();
  for (const router::SuspectExample& x : a.suspect_examples)
    suspects.push_back({{"example", x.example}, {"consensus", x.consensus}, {"models", x.models}});
  return {{"answered", a.answered},
          {"entry_point", a.entry_point},
          {"code", a.code},
          {"tests", a.tests},
          {"tier", a.tier},
          {"provider", a.provider},
          {"model", a.model},
          {"confidence", a.confidence},
          {"score", a.score},
          {"score_kind", a.score_kind},
          {"cost_usd", a.cost_usd},
          {"teacher_calls", a.teacher_calls},
          {"learned", a.learned},
          {"library_id", a.library_id},
          {"request_id", a.request_id},
          {"suspect_examples", suspects},
          {"ladder", ladder},
          {"route", route}};
}

void print_text(const router::Answer& a, bool dry_run) {
  if (!dry_run) {
    if (!a.code.empty()) std::cout << a.code << (a.code.ends_with('\n') ? "" : "\n");
    if (!a.tests.empty()) {
      std::cout << "\n# tests it passed\n";
      for (const std::string& t : a.tests) std::cout << t << "\n";
    }
    std::cout << "\n";
  }
  std::cerr << (dry_run ? "route:\n" : "route taken:\n");
  for (const router::Decision& d : a.route)
    std::cerr << "  " << d.step << ": " << d.action << (d.reason.empty() ? "" : " - ") << d.reason
              << (dry_run ? "" : " [" + format_fixed(d.ms, 1) + " ms]") << "\n";
  for (const router::SuspectExample& x : a.suspect_examples) {
    std::cerr << "suspect example: " << x.example << "\n  ";
    for (size_t i = 0; i < x.models.size(); ++i) std::cerr << (i ? ", " : "") << x.models[i];
    std::cerr << " agree on every probe and "
              << (x.consensus.empty() ? "fail it" : "return " + x.consensus + " for it")
              << "; the answer does not pass it. Check the example.\n";
  }
  if (!dry_run)
    std::cerr << (a.answered ? "answered by " + a.tier + " (" + a.provider + "/" + a.model + ")"
                             : std::string("no answer passed its tests"))
              << ", confidence " << format_fixed(a.confidence, 2) << ", cost $"
              << format_fixed(a.cost_usd, 4) << (a.learned ? ", learned" : "") << "\n";
}

int run_generate(GenerateArgs& a) {
  if (!a.file.empty()) {
    auto text = read_file(a.file);
    if (!text) throw FatalError(text.error());
    a.request = std::move(text).value();
  }
  if (a.request.empty())
    throw FatalError(
        "generate: say what to write, e.g. yantra generate \"return the n-th "
        "Fibonacci number\" --signature 'def fib(n: int) -> int:'");
  std::error_code ec;
  if (!fs::is_directory(a.repo, ec)) throw FatalError("--repo " + a.repo + ": no such directory");
  config::Settings settings = config::load_settings(a.repo).take();
  router::Teachers teachers = router::Teachers::from_settings(settings).take();
  fs::create_directories(fs::path(a.repo) / ".yantra", ec);
  ledger::Ledger ledger = ledger::Ledger::open(a.repo).take();
  library::Library library = library::Library::open(a.repo, student::kTextEmbeddingDim).take();

  router::RouterOptions options;
  if (auto embedder = router::repository_embedder(a.repo))
    options.embedder = std::move(embedder).value();
  else  // a build without its base encoder still answers, with the untrained view
    std::cerr << "yantra: warning: " << embedder.error().message
              << "; requests are compared by the request view alone\n";
  if (size_t n = library.use_embedder(options.embedder).take(); n > 0)
    std::cerr << "yantra: re-embedded the library's " << n
              << " entries with the student's current encoder\n";
  options.settings = settings.router;
  options.learn = !a.no_learn;
  options.consent = ask_on_terminal;
  fs::create_directories(fs::path(a.repo) / ".yantra/student", ec);
  // One generation per process: the head is saved after it rather than every 100 steps.
  student::OnlineLearner pass_head =
      student::OnlineLearner::open((fs::path(a.repo) / ".yantra/student/pass_head.pt").string(), {})
          .take();
  if (!a.dry_run) options.pass_head = &pass_head;
  std::unique_ptr<validator::Validator> pool;  // a dry run runs no code
  if (!a.dry_run) pool = validator::Validator::start({.workers = a.workers}).take();
  router::Router router(pool.get(), &teachers, &library, &ledger, options);
  router::Request request{.text = a.request, .signature = a.signature};
  router::Answer answer = (a.dry_run ? router.dry_run(request) : router.generate(request)).take();
  if (!answer.forecasts.empty())
    if (auto saved = pass_head.save(); !saved)
      std::cerr << "yantra: warning: " << saved.error().message << "\n";
  // Online: every 100 newly learned requests, the encoder learns from them.
  if (answer.learned) {
    auto retrained = router::retrain_encoder_if_due(a.repo, library);
    if (!retrained)
      std::cerr << "yantra: warning: the encoder did not retrain: " << retrained.error().message
                << "\n";
    else if (*retrained)
      std::cerr << "yantra: the request encoder learned from " << (*retrained)->requests
                << " requests (version " << (*retrained)->version << ")\n";
  }
  if (a.json_out)
    std::cout << to_json(answer).dump(2) << "\n";
  else
    print_text(answer, a.dry_run);
  return a.dry_run || answer.answered ? 0 : 1;
}

}  // namespace

Handler declare_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  app.add_option("request", a->request, "what the function should do (or a whole prompt)");
  app.add_option("--signature", a->signature,
                 "the function's signature, e.g. 'def fib(n: int) -> int:'")
      ->envname("YANTRA_SIGNATURE");
  app.add_option("--file", a->file, "read the request from this file (e.g. a docstring prompt)");
  app.add_option("--repo", a->repo, "repository whose library, ledger and config to use")
      ->envname("YANTRA_REPO");
  app.add_option("--workers", a->workers, "sandboxes (default: one per core)")
      ->envname("YANTRA_WORKERS");
  app.add_flag("--dry-run", a->dry_run, "show the route without calling anyone or running code");
  app.add_flag("--no-learn", a->no_learn, "do not add the answer to the library");
  app.add_flag("--json", a->json_out, "print the answer as JSON");
  return [a] { return run_generate(*a); };
}

}  // namespace yantra::cli
