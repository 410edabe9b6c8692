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

}  // namespace yantra::testing
