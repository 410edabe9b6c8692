// cli: the `yantra` command line, one table of subcommands.
//
//   int main(int argc, char** argv) { return yantra::cli::run(argc, argv); }
//
//   $ yantra help                 # the table: name and one line each
//   $ yantra index ~/src/project  # each option also reads a YANTRA_* variable
//   $ yantra indx                 # yantra: unknown command 'indx'; did you mean 'index'?
//
// A command declares its options on its CLI11 sub-app and returns the handler to run once
// they are parsed. Handlers return an exit code; FatalError and other exceptions are
// caught once, in run(), and printed as "yantra: message".
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string_view>
#include <vector>

namespace yantra::cli {

using Handler = std::function<int()>;

struct Command {
  std::string_view name;
  std::string_view help;
  Handler (*declare)(CLI::App& app);
};

// Every subcommand, in the order `yantra help` lists them.
const std::vector<Command>& commands();

int run(int argc, char** argv);

// Handlers of the table (one translation unit per area).
Handler declare_index(CLI::App& app);
Handler declare_graph(CLI::App& app);
Handler declare_demo(CLI::App& app);
Handler declare_bench(CLI::App& app);
Handler declare_validate(CLI::App& app);
Handler declare_train(CLI::App& app);    // commands_student.cpp
Handler declare_predict(CLI::App& app);  // commands_student.cpp
Handler declare_eval(CLI::App& app);     // commands_student.cpp
Handler declare_config(CLI::App& app);   // commands_config.cpp
Handler declare_keys(CLI::App& app);     // commands_config.cpp
Handler declare_stats(CLI::App& app);    // commands_teacher.cpp
Handler declare_replay(CLI::App& app);   // commands_teacher.cpp
Handler declare_generate(CLI::App& app); // commands_generate.cpp
Handler declare_crowd(CLI::App& app);    // commands_crowd.cpp
Handler declare_cloud(CLI::App& app);    // commands_cloud.cpp

// `yantra train --encoder` (commands_encoder.cpp).
struct EncoderArgs {
  std::string repo = ".";
  std::string base_corpus;  // set: train the base encoder from this corpus's docstrings
  std::string out;          // default: the base encoder's place, or REPO/.yantra/student/
  int steps = 0;            // 0: the default for the kind of training
  int views = 2;            // augmented views per request
  uint64_t seed = 1;
  bool json_out = false;
};
int run_train_encoder(const EncoderArgs& a);

}  // namespace yantra::cli
