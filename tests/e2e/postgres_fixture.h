// The crowd tests' storage backends: a SQLite file in a temporary directory, or a fresh
// database in one real PostgreSQL server per test process (Debian's `postgresql`, started
// in a temporary directory, stopped at exit). Missing binaries fail the test, never skip it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "crowd/temp_postgres.h"

namespace yantra::testing {

inline crowd::TempPostgres* shared_postgres(std::string* why) {
  static std::string error;
  static std::unique_ptr<crowd::TempPostgres> pg = [] {
    auto started = crowd::TempPostgres::start();
    if (!started) {
      error = started.error().message;
      return std::unique_ptr<crowd::TempPostgres>();
    }
    return std::move(started).value();
  }();
  *why = error;
  return pg.get();
}

// A temporary directory removed when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "yantra-crowd-XXXXXX").string();
    if (::mkdtemp(pattern.data())) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "sqlite:DIR/crowd.db", or the URI of a new, empty PostgreSQL database. Empty, with a
// test failure that says to run scripts/setup.sh, when PostgreSQL cannot be started.
inline std::string fresh_storage(const std::string& backend, const TempDir& dir) {
  if (backend == "sqlite") return "sqlite:" + dir.path() + "/crowd.db";
  std::string why;
  crowd::TempPostgres* pg = shared_postgres(&why);
  if (!pg) {
    ADD_FAILURE() << "PostgreSQL is needed for this test and could not be started: " << why
                  << "\n(run scripts/setup.sh to install Debian's postgresql)";
    return "";
  }
  static std::atomic<int> next{0};
  auto uri = pg->create_database("crowd_" + std::to_string(::getpid()) + "_" +
                                 std::to_string(next++));
  if (!uri) {
    ADD_FAILURE() << uri.error().message;
    return "";
  }
  return *uri;
}

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace yantra::testing
