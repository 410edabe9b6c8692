// Small helpers shared by the unit tests.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

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

}  // namespace yantra::testing
