// Requests written by the public: every function of a code graph that has a docstring is a
// request (its signature and docstring, the way a HumanEval prompt is written) for that
// function. Debian's CPython standard library gives thousands of them.
#include <set>

#include "student/student.h"

namespace yantra::student {

std::vector<RequestPair> docstring_pairs(const GraphData& graph, size_t min_docstring) {
  std::vector<RequestPair> pairs;
  std::set<std::string> seen;  // one request per text: overloads and copies say it once
  for (size_t i = 0; i < graph.size(); ++i) {
    if (graph.kind[i] != Kind::kFunction && graph.kind[i] != Kind::kMethod) continue;
    const std::string& doc = graph.docstring[i];
    if (doc.size() < min_docstring || graph.name[i].starts_with("__")) continue;
    std::string request = "def " + graph.name[i] + graph.signature[i] + ":\n    \"\"\"";
    for (size_t start = 0; start < doc.size();) {
      size_t end = std::min(doc.find('\n', start), doc.size());
      if (start > 0) request += "\n    ";
      request.append(doc, start, end - start);
      start = end + 1;
    }
    request += "\n    \"\"\"\n";
    if (!seen.insert(request).second) continue;
    pairs.push_back({std::move(request), graph.name[i], graph.qname[i]});
  }
  return pairs;
}

}  // namespace yantra::student
