#include "cli/cli.h"

#include <sqlite3.h>

#include <cstdio>
#include <iostream>

#include "base/base.h"

namespace yantra::cli {
namespace {

int print_version() {
  std::cout << "yantra 0.1.0\n";
  return 0;
}

Handler declare_version(CLI::App&) {
  return print_version;
}

int print_help() {
  std::cout << "yantra: a local, self-improving code generator.\n\n"
               "usage: yantra COMMAND [OPTIONS]\n\ncommands:\n";
  size_t width = 0;
  for (const Command& c : commands()) width = std::max(width, c.name.size());
  for (const Command& c : commands())
    std::cout << "  " << c.name << std::string(width - c.name.size() + 2, ' ') << c.help << "\n";
  std::cout << "\n`yantra COMMAND --help` describes a command's options; each option can also be\n"
               "set by the YANTRA_* environment variable its help names.\n";
  return 0;
}

Handler declare_help(CLI::App&) {
  return print_help;
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"generate", "write a function and the tests it passes: student first, then teachers",
       declare_generate},
      {"index", "parse a Python repository into its code graph (.yantra/graph.db)", declare_index},
      {"graph", "query the code graph: stats | show | callers | callees | tests", declare_graph},
      {"validate", "run a candidate against tests in the sandbox: passed, failed, timeout...",
       declare_validate},
      {"train", "train the student network on the code graph (.yantra/student/)", declare_train},
      {"predict", "the student's calls, imports, test kinds and bug kinds for a function",
       declare_predict},
      {"eval", "held-out metrics of the student beside its baselines", declare_eval},
      {"config", "read and change settings: config get | set | list", declare_config},
      {"keys", "store provider API keys encrypted: keys set | list | remove", declare_keys},
      {"stats", "teacher spend, avoided spend and calls per tier, day and month", declare_stats},
      {"replay", "serve recorded LLM answers over an OpenAI-compatible API: replay serve",
       declare_replay},
      {"crowd", "opt-in crowd learning: crowd join | leave | status | push | update | rollback",
       declare_crowd},
      {"cloud", "the crowd's aggregation server: cloud serve", declare_cloud},
      {"bench",
       "benchmarks beside their peers: bench index | validate | cascade | generalize | student | "
       "crowd",
       declare_bench},
      {"demo", "index Debian's CPython standard library and print its graph summary", declare_demo},
      {"help", "print this list", declare_help},
      {"version", "print the version", declare_version},
  };
  return table;
}

namespace {

// --quiet on `app` and every subcommand below it (`yantra bench cascade --quiet`). Not by
// fallthrough: that would hand a subcommand's unexpected arguments to its parent, whose
// error echoes them (a key typed as an argument must be refused without being printed).
void add_quiet(CLI::App& app, bool& quiet) {
  app.add_flag("--quiet", quiet, "no progress on stderr (bars, lines, bench rounds)")
      ->envname("YANTRA_QUIET");
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) add_quiet(*sub, quiet);
}

}  // namespace

int run(int argc, char** argv) {
  // SQLite's allocation statistics take a process-wide mutex on every allocation and
  // nothing here reads them (a cold index makes millions of allocations on its writer).
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  std::vector<std::string> names;
  for (const Command& c : commands()) names.emplace_back(c.name);
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")
    return print_help();
  std::string_view first = argv[1];
  if (first == "--version") return print_version();
  if (!first.starts_with("-") && std::find(names.begin(), names.end(), first) == names.end()) {
    std::cerr << "yantra: unknown command '" << first << "'";
    if (auto near = closest_match(first, names)) std::cerr << "; did you mean '" << *near << "'?";
    std::cerr << "\nrun `yantra help` for the list of commands\n";
    return 2;
  }

  CLI::App app{"yantra: a local, self-improving code generator", "yantra"};
  app.require_subcommand(1);
  app.set_help_all_flag("", "");
  Handler handler;
  for (const Command& c : commands()) {
    CLI::App* sub = app.add_subcommand(std::string(c.name), std::string(c.help));
    Handler h = c.declare(*sub);
    sub->callback([&handler, h] { handler = h; });
  }
  bool quiet = false;
  add_quiet(app, quiet);  // `yantra --quiet index .` as well as `yantra index . --quiet`
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  Progress::set_quiet(quiet);
  try {
    return handler ? handler() : print_help();
  } catch (const FatalError& e) {
    std::cerr << "yantra: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "yantra: unexpected error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace yantra::cli
