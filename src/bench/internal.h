// Pieces the benchmarks share: measured child processes, the peers' directory, numbers.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "bench/bench.h"

namespace yantra::bench {

// "yantra bench: LINE" on stderr.
void progress(const std::string& line);

struct ProcessRun {
  Measured measured;
  std::string out;       // all of stdout
  std::string err_tail;  // the last 64 KiB of stderr
};
// Runs argv to completion, timing it (wall and CPU) and recording its peak RSS.
Result<ProcessRun> run_measured(std::string name, const std::vector<std::string>& argv);

std::string last_lines(std::string_view text, size_t count);

// The peers' directory: `requested`, else $YANTRA_PEERS, else shared/peers beside an
// ancestor of `binary` or of this executable; empty if none is found.
std::string find_peers_dir(const std::string& requested, const std::string& binary);

// Every line of a gzip JSON-lines file as a JSON object; errors name the file and line.
Result<std::vector<nlohmann::json>> read_jsonl_gz(const std::string& path);
// 3300 -> "3,300".
std::string with_commas(uint64_t v);

}  // namespace yantra::bench
