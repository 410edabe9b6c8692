// queries/python.scm compiled once, with its capture names mapped to the extractor's
// meanings, and the grammar's field ids.
#include <cassert>
#include <cstdlib>
#include <cstring>

#include "base/base.h"
#include "graph/extractor.h"

namespace yantra::graph {
namespace {

constexpr std::pair<const char*, Cap> kCaptureNames[] = {
    {"function", Cap::kFunction},
    {"function.name", Cap::kFunctionName},
    {"function.parameters", Cap::kFunctionParameters},
    {"function.body", Cap::kFunctionBody},
    {"class", Cap::kClass},
    {"class.name", Cap::kClassName},
    {"class.body", Cap::kClassBody},
    {"decorated", Cap::kDecorated},
    {"import", Cap::kImport},
    {"import.from", Cap::kImportFrom},
    {"import.future", Cap::kImportFuture},
    {"call.function", Cap::kCallFunction},
    {"bind", Cap::kBind},
    {"global", Cap::kGlobal},
    {"assign.target", Cap::kAliasTarget},
    {"assign.value", Cap::kAliasValue},
    {"branch", Cap::kBranch},
    {"raise", Cap::kRaise},
    {"assert", Cap::kAssert},
    {"syntax_error", Cap::kSyntaxError},
};

}  // namespace

const PythonQuery& python_query() {
  static const PythonQuery query = [] {
    PythonQuery q;
    std::string_view text = embedded_file("python.scm");
    uint32_t error_offset = 0;
    TSQueryError error_type = TSQueryErrorNone;
    q.query = ts_query_new(tree_sitter_python(), text.data(), static_cast<uint32_t>(text.size()),
                           &error_offset, &error_type);
    // The query is compiled into the binary; a broken one is a bug, caught by every test.
    assert(q.query && "queries/python.scm does not compile");
    if (!q.query) std::abort();
    uint32_t n = ts_query_capture_count(q.query);
    q.capture_kind.assign(n, static_cast<uint8_t>(Cap::kUnknown));
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t len = 0;
      const char* name = ts_query_capture_name_for_id(q.query, i, &len);
      for (auto& [cap_name, cap] : kCaptureNames)
        if (std::string_view(name, len) == cap_name) q.capture_kind[i] = static_cast<uint8_t>(cap);
    }
    return q;
  }();
  return query;
}

const Fields& fields() {
  static const Fields f;
  return f;
}

}  // namespace yantra::graph
