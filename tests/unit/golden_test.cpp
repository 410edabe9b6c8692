// Golden-file tests of the indexer: each tests/golden/*.txt is a small repository
//
//   === pkg/mod.py
//   <python source>
//   === pkg/other.py
//   ...
//   ---
//   <the expected graph, one sorted line per node and edge>
//
// The test writes the files to a temp directory, indexes it with the real indexer and
// compares the graph read back from graph.db. YANTRA_UPDATE_GOLDEN=1 rewrites the expected
// part after a deliberate change (review the diff).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/base.h"
#include "graph/graph.h"
#include "graph_dump.h"

namespace fs = std::filesystem;

namespace {

const fs::path kGoldenDir = fs::path(YANTRA_SOURCE_DIR) / "tests/golden";

struct GoldenCase {
  std::vector<std::pair<std::string, std::string>> files;  // path, source
  std::string expected;
  std::string head;  // everything before the expected graph, kept verbatim on update
};

GoldenCase read_case(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  GoldenCase c;
  size_t sep = text.find("\n---\n");
  c.head = text.substr(0, sep == std::string::npos ? text.size() : sep + 1);
  c.expected = sep == std::string::npos ? "" : text.substr(sep + 5);
  std::istringstream lines(c.head);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("=== ")) {
      c.files.emplace_back(line.substr(4), "");
    } else if (!c.files.empty()) {
      c.files.back().second += line + "\n";
    }
  }
  return c;
}

class Golden : public testing::TestWithParam<std::string> {};

TEST_P(Golden, GraphMatchesExpected) {
  fs::path case_path = kGoldenDir / GetParam();
  GoldenCase c = read_case(case_path);
  ASSERT_FALSE(c.files.empty()) << case_path << " has no '=== path' sections";
  fs::path dir = fs::temp_directory_path() /
                 ("yantra-golden-" + std::to_string(::getpid()) + "-" + case_path.stem().string());
  fs::remove_all(dir);
  for (const auto& [path, source] : c.files) {
    fs::create_directories((dir / "repo" / path).parent_path());
    std::ofstream(dir / "repo" / path, std::ios::binary) << source;
  }
  yantra::graph::IndexOptions options;
  options.root = (dir / "repo").string();
  options.store_dir = (dir / "store").string();
  options.progress = false;
  auto report = yantra::graph::index_repository(yantra::real_file_system(), options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  std::string actual = yantra::testing::dump_graph(report->db_path);
  fs::remove_all(dir);

  const char* update = std::getenv("YANTRA_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    // Through a temp file and rename: an interrupted update never leaves half a golden file.
    auto written = yantra::write_file_atomic(case_path.string(), c.head + "---\n" + actual);
    ASSERT_TRUE(written.ok()) << written.error().message;
    std::cerr << "updated " << case_path << "; review the diff and run again without the flag\n";
    return;
  }
  EXPECT_EQ(actual, c.expected) << "graph of " << case_path << " changed; if that is intended, "
                                << "run with YANTRA_UPDATE_GOLDEN=1 and review the diff";
}

std::vector<std::string> golden_cases() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kGoldenDir))
    if (e.path().extension() == ".txt") out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, testing::ValuesIn(golden_cases()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(GoldenCases, EveryNodeAndEdgeKindIsCovered) {
  std::string all;
  for (const auto& name : golden_cases()) all += read_case(kGoldenDir / name).expected;
  for (const char* kind : {"node module ", "node class ", "node function ", "node method ",
                           "node test ", "node external ", "edge contains ", "edge imports ",
                           "edge calls ", "edge inherits ", "edge tests "})
    EXPECT_NE(all.find(kind), std::string::npos) << "no golden case shows '" << kind << "'";
}

}  // namespace
