// Internal to the graph part: helpers shared by the extractor and the resolver.
#pragma once

#include <tree_sitter/api.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace yantra::graph {

struct PythonQuery {
  TSQuery* query = nullptr;
  std::vector<uint8_t> capture_kind;  // capture id -> extract.cpp's Cap
};
// queries/python.scm, compiled once (thread-safe); the TSQuery is shared read-only.
const PythonQuery& python_query();

// "a.b.c" -> "a.b"; "a" -> "".
std::string parent_of(std::string_view dotted);
// "a.b.c" -> "c"; "a.b.c" -> "a".
std::string last_part(std::string_view dotted);
std::string first_part(std::string_view dotted);
// Python's rule for `from ..x import y` inside package `package`.
std::string resolve_relative(std::string_view package, std::string_view module, uint32_t level);
uint32_t count_lines(std::string_view text);

// Pattern flags suggested by what a function calls, and by its own name and parameters.
uint32_t call_flags(const std::vector<std::string>& callee_parts);
uint32_t name_flags(std::string_view name, const std::vector<std::string>& params);

}  // namespace yantra::graph
