// Shared by the model tests: a temp directory, a toy repository with a clear call rule,
// and indexing it into a graph the student loads.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "graph/graph.h"
#include "student/student.h"

namespace yantra::student {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/yantra-student-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A toy repository with a clear rule: every `handle_*` function calls the `check_*` and
// `store_*` helper of its own topic, in its own module.
inline void write_toy_repo(const fs::path& root) {
  for (int m = 0; m < 12; ++m) {
    std::ofstream out(root / ("topic" + std::to_string(m) + ".py"));
    for (int t = 0; t < 4; ++t) {
      std::string s = std::to_string(m) + "_" + std::to_string(t);
      out << "def check_" << s << "(x):\n    return x is not None\n\n"
          << "def store_" << s << "(x):\n    return [x]\n\n";
      for (int h = 0; h < 3; ++h)
        out << "def handle_" << s << "_" << h << "(x):\n    if check_" << s
            << "(x):\n        return store_" << s << "(x)\n\n";
    }
  }
}

inline GraphData index_and_load(const fs::path& repo, const fs::path& store) {
  graph::IndexOptions o;
  o.root = repo.string(), o.store_dir = store.string(), o.progress = false;
  auto report = graph::index_repository(real_file_system(), o);
  EXPECT_TRUE(report.ok()) << (report ? "" : report.error().message);
  return load_graph(report->db_path).take();
}

}  // namespace yantra::student
