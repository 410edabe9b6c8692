// Running a program and capturing what it prints: posix_spawn with an argument vector
// (paths may hold any byte, so never a shell), stdin from /dev/null, stdout and stderr
// read together so a full pipe never deadlocks, wall time, CPU time and peak RSS from wait4.
//
//   auto run = run_program({"/usr/bin/python3", "-I", "-m", "pyflakes", "./a.py"},
//                          {.cwd = repo});
//   if (!run) return run.error();            // could not start at all
//   if (run->exit_code != 0) report(run->err);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/base.h"

namespace yantra {

struct ProgramOptions {
  std::string cwd;                // empty: the caller's
  bool search_path = false;       // look argv[0] up in PATH when it has no '/'
  size_t stderr_kept = SIZE_MAX;  // keep only the last bytes of stderr (a chatty child)
};

struct ProgramRun {
  int exit_code = 0;  // 128 + signal when killed
  bool signaled = false;
  std::string out, err;  // all of stdout; stderr, or its tail (ProgramOptions::stderr_kept)
  double seconds = 0;    // wall time from spawn to exit
  // User plus system time of the program and of every descendant it waited for: on a
  // machine with N cores, no schedule runs the same work in under cpu_seconds / N.
  double cpu_seconds = 0;
  uint64_t peak_rss_bytes = 0;
};

// Runs argv to completion. An Error means it could not start (no such program, a bad cwd).
Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                               const ProgramOptions& options = {});

}  // namespace yantra
