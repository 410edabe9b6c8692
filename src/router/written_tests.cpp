// Tests a teacher wrote for a request (router.teacher_tests), as the router runs them: plain
// assert statements, each parsed with tree-sitter, none trusted. What weight each earns is
// decided later by which candidates pass it (select.cpp).
#include <algorithm>

#include "router/internal.h"
#include "router/router.h"

namespace yantra::router {
namespace {

// More tests than this add sandbox time and little evidence.
constexpr size_t kMaxWrittenTests = 10;

}  // namespace

std::vector<validator::TestCase> written_test_cases(const std::vector<std::string>& asserts,
                                                    const ParsedRequest& request,
                                                    const std::string& step) {
  std::string source;
  for (const std::string& a : asserts) source += a + "\n";
  // Only top-level assert statements stay test cases; anything else the reply held (an
  // import, a helper, a half statement) would land in the suite's setup, which is dropped.
  validator::TestSuite suite = validator::TestSuite::asserts_file(source);
  std::vector<std::string> examples;
  for (const validator::TestCase& e : request.examples) examples.push_back(example_as_assert(e));
  std::vector<validator::TestCase> out;
  for (validator::TestCase& c : suite.cases) {
    if (out.size() == kMaxWrittenTests) break;
    if (std::find(examples.begin(), examples.end(), c.code) != examples.end()) continue;
    c.name = "written " + std::to_string(out.size() + 1);
    c.origin = step + ":" + c.origin;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace yantra::router
