// Small helpers shared by the unit tests.
#pragma once

#include <zlib.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace yantra::testing {

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The file's bytes, or "" if it cannot be read (the assertion that follows will say so).
inline std::string read_bytes(const std::filesystem::path& path) {
  auto bytes = read_file(path.string());
  return bytes ? std::move(bytes).value() : std::string();
}

// `relative` under the first ancestor of the source checkout that has it (shared/ sits
// beside the checkout, wherever the checkout was cloned); "" if none has it.
inline std::string shared_path(const std::string& relative) {
  std::error_code ec;
  for (auto dir = std::filesystem::weakly_canonical(YANTRA_SOURCE_DIR, ec); !dir.empty();
       dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / relative, ec)) return (dir / relative).string();
    if (dir == dir.root_path()) break;
  }
  // A clone made elsewhere: the shared directory CMake found beside its origin.
  std::filesystem::path configured = std::filesystem::path(YANTRA_SHARED_DIR).parent_path();
  if (std::filesystem::exists(configured / relative, ec)) return (configured / relative).string();
  return "";
}

// Every JSON line of a gzip file (the shared data files), read with zlib directly so
// tests do not depend on the loaders they check; empty if the file cannot be read.
inline std::vector<nlohmann::json> read_gz_lines(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::string text;
  char buf[1 << 16];
  for (int n; f && (n = gzread(f, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  if (f) gzclose(f);
  std::vector<nlohmann::json> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    if (nl > start) out.push_back(nlohmann::json::parse(text.substr(start, nl - start)));
  if (start < text.size()) out.push_back(nlohmann::json::parse(text.substr(start)));
  return out;
}

// A shell command's stdout (stderr too when the command says 2>&1) and exit status.
inline std::string run_capture(const std::string& cmd, int* exit_status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    *exit_status = -1;
    return out;
  }
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = pclose(p);
  *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace yantra::testing
