// Internal to the crowd client: the pattern vocabulary, shared by extraction
// (patterns.cpp) and the schema check (pattern_schema.cpp).
#pragma once

#include <span>
#include <string>
#include <vector>

namespace yantra::crowd::detail {

std::span<const char* const> pattern_keys();
std::span<const char* const> outcome_keys();
std::span<const char* const> batch_keys();
std::vector<std::string> node_kinds();
std::vector<std::string> edge_kinds();
std::vector<std::string> flag_names();

}  // namespace yantra::crowd::detail
