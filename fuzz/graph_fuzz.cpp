// libFuzzer target: arbitrary bytes through the per-file graph pipeline, the way
// `yantra index` runs it on a file it finds:
//
//   decode_source -> extract_facts -> encode_facts / decode_facts -> resolve_graph
//
// resolved together with a fixed second file that imports, calls and subclasses the fuzzed
// module. Every invariant the rest of Yantra relies on is checked; a violation executes
// __builtin_trap(), which libFuzzer reports as a crash with the input that caused it.
//
// The same bytes are also decoded as stored blobs (a store file can be damaged): behind a
// valid format header, spliced into the fixed file's real blob, and a real blob with one
// byte changed. Whatever decode_facts accepts, the resolver must survive.
//
// Built by fuzz/CMakeLists.txt (clang, -fsanitize=fuzzer,address,undefined); also compiled
// into the unit tests by tests/unit/fuzz_smoke_test.cpp, so it must stay warning-free
// under g++ and must not define main().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graph/extract_internal.h"
#include "graph/facts.h"
#include "graph/resolve.h"

namespace yantra::graph {
namespace {

// A macro, not a function: the trap's location is the violated line.
#define YANTRA_FUZZ_REQUIRE(condition) ((condition) ? (void)0 : __builtin_trap())

constexpr std::string_view kFuzzedPath = "pkg/fuzzed.py";  // module pkg.fuzzed
constexpr std::string_view kFixedPath = "pkg/test_fixed.py";
constexpr std::string_view kFixedSource =
    "\"\"\"A fixed neighbour of the fuzzed module.\"\"\"\n"
    "import unittest\n"
    "import pkg.fuzzed as fz\n"
    "from pkg.fuzzed import *\n"
    "from pkg import fuzzed\n"
    "from .fuzzed import helper as h, Base\n"
    "alias = fz.f\n"
    "made = fuzzed.Base()\n"
    "class TestFixed(Base, fz.Mixin, unittest.TestCase):\n"
    "    def setUp(self):\n"
    "        super().setUp()\n"
    "    def test_calls(self):\n"
    "        fz.f(); h(); fuzzed.g.h(); self.check(); run(); alias(); made.method()\n"
    "    def check(self):\n"
    "        return Base().method() or fz.Base.method(self)\n"
    "def test_module_level():\n"
    "    return f() + g() + helper() + fz.f.__name__.upper()\n";

FileFacts extract(std::string_view text, std::string_view rel_path) {
  return extract_facts(text, module_name_for(rel_path, ""), is_test_path(rel_path));
}

// What decode_facts() promises about any blob it accepts (the resolver indexes with these).
void check_indices(const FileFacts& f) {
  const size_t n = f.scopes.size();
  YANTRA_FUZZ_REQUIRE(n >= 1);
  YANTRA_FUZZ_REQUIRE(f.scopes[0].kind == ScopeKind::kModule && f.scopes[0].parent == -1);
  for (size_t i = 0; i < n; ++i) {
    const ScopeFacts& s = f.scopes[i];
    if (i > 0) YANTRA_FUZZ_REQUIRE(s.parent >= 0 && static_cast<size_t>(s.parent) < i);
    for (const BindingFact& b : s.bindings)
      if (b.kind == BindingFact::Kind::kDef)
        YANTRA_FUZZ_REQUIRE(b.def_scope > i && b.def_scope < n);
    for (const auto& base : s.bases) YANTRA_FUZZ_REQUIRE(!base.empty());
  }
  for (const CallFact& c : f.calls) YANTRA_FUZZ_REQUIRE(c.scope < n && !c.parts.empty());
  for (const ImportFact& i : f.imports) YANTRA_FUZZ_REQUIRE(i.scope < n);
}

// What extract_facts() itself guarantees, beyond the indices.
void check_extracted(const FileFacts& f, std::string_view text) {
  check_indices(f);
  YANTRA_FUZZ_REQUIRE(f.n_lines == count_lines(text));
  YANTRA_FUZZ_REQUIRE(f.first_errors.size() <= f.syntax_errors && f.first_errors.size() <= 3);
  for (const SyntaxIssue& e : f.first_errors) YANTRA_FUZZ_REQUIRE(e.line >= 1 && e.col >= 1);
  for (size_t i = 0; i < f.scopes.size(); ++i) {
    const ScopeFacts& s = f.scopes[i];
    if (i > 0) {
      YANTRA_FUZZ_REQUIRE(s.kind != ScopeKind::kModule);
      YANTRA_FUZZ_REQUIRE(s.line >= 1 && s.col >= 1 && s.line <= s.end_line);
      YANTRA_FUZZ_REQUIRE(s.end_line <= f.n_lines + 1);
    }
    YANTRA_FUZZ_REQUIRE(std::is_sorted(s.locals.begin(), s.locals.end()));
    YANTRA_FUZZ_REQUIRE(std::adjacent_find(s.locals.begin(), s.locals.end()) == s.locals.end());
    YANTRA_FUZZ_REQUIRE(i == 0 || s.stars.empty());  // `import *` only at module level
    if (s.kind == ScopeKind::kFunction)
      YANTRA_FUZZ_REQUIRE(s.complexity >= 1);
    else
      YANTRA_FUZZ_REQUIRE(s.complexity == 1 && s.flags == 0);
    if (!s.has_docstring) YANTRA_FUZZ_REQUIRE(s.docstring.empty());
  }
  for (const CallFact& c : f.calls) {
    if (c.kind != CalleeKind::kDotted) YANTRA_FUZZ_REQUIRE(c.parts.size() == 1);
    YANTRA_FUZZ_REQUIRE(c.line >= 1 && c.line <= f.n_lines + 1);
  }
}

// encode(decode(encode(f))) == encode(f); returns the decoded copy.
FileFacts round_trip(const FileFacts& f) {
  std::string blob = encode_facts(f);
  FileFacts back;
  YANTRA_FUZZ_REQUIRE(decode_facts(blob, back));
  YANTRA_FUZZ_REQUIRE(encode_facts(back) == blob);
  // A blob cut short is never accepted (every field is length- or count-prefixed).
  FileFacts cut;
  YANTRA_FUZZ_REQUIRE(!decode_facts(std::string_view(blob).substr(0, blob.size() - 1), cut));
  return back;
}

bool edge_less(const EdgeRecord& a, const EdgeRecord& b) {
  if (a.src != b.src) return a.src < b.src;
  if (a.kind != b.kind) return a.kind < b.kind;
  return a.dst < b.dst;
}

// The graph's shape, as resolve.h and the store writer rely on it. `extracted`: the facts
// come from extract_facts (a decoded blob may also nest a module scope in another scope).
void check_graph(const ResolvedGraph& g, const std::vector<const FileFacts*>& files,
                 bool extracted) {
  size_t scopes = 0, calls = 0;
  for (const FileFacts* f : files) scopes += f->scopes.size(), calls += f->calls.size();
  const size_t n = g.nodes.size();
  YANTRA_FUZZ_REQUIRE(n >= scopes);
  for (size_t i = 0; i < n; ++i) {
    const NodeRecord& node = g.nodes[i];
    bool corpus = i < scopes;  // corpus nodes first, one per scope, then externals
    YANTRA_FUZZ_REQUIRE(corpus == (node.kind != NodeKind::kExternal));
    YANTRA_FUZZ_REQUIRE(corpus ? node.file >= 0 && static_cast<size_t>(node.file) < files.size()
                               : node.file == -1);
    if (!corpus && i > scopes) YANTRA_FUZZ_REQUIRE(g.nodes[i - 1].qname < node.qname);
  }
  size_t contains = 0;
  for (size_t k = 0; k < g.edges.size(); ++k) {
    const EdgeRecord& e = g.edges[k];
    YANTRA_FUZZ_REQUIRE(e.src < n && e.dst < n);
    if (k > 0) YANTRA_FUZZ_REQUIRE(edge_less(g.edges[k - 1], e));  // sorted, no duplicates
    const NodeRecord& src = g.nodes[e.src];
    const NodeRecord& dst = g.nodes[e.dst];
    YANTRA_FUZZ_REQUIRE(src.kind != NodeKind::kExternal);
    switch (e.kind) {
      case EdgeKind::kContains:
        ++contains;
        YANTRA_FUZZ_REQUIRE(dst.kind != NodeKind::kExternal);
        YANTRA_FUZZ_REQUIRE(!extracted || dst.kind != NodeKind::kModule);
        break;
      case EdgeKind::kCalls:
        YANTRA_FUZZ_REQUIRE(e.n >= 1 && e.resolved == (dst.kind != NodeKind::kExternal));
        break;
      case EdgeKind::kImports:
        YANTRA_FUZZ_REQUIRE(src.kind == NodeKind::kModule);
        break;
      case EdgeKind::kInherits:
        YANTRA_FUZZ_REQUIRE(src.kind == NodeKind::kClass);
        break;
      case EdgeKind::kTests:
        YANTRA_FUZZ_REQUIRE(src.kind == NodeKind::kTest);
        YANTRA_FUZZ_REQUIRE(dst.kind == NodeKind::kFunction || dst.kind == NodeKind::kMethod);
        break;
    }
  }
  YANTRA_FUZZ_REQUIRE(contains == scopes - files.size());  // every scope but the modules
  YANTRA_FUZZ_REQUIRE(g.call_sites == calls && g.call_sites_resolved <= g.call_sites);
}

// Same facts, same graph: resolve_graph must be deterministic.
bool same_graph(const ResolvedGraph& a, const ResolvedGraph& b) {
  if (a.nodes.size() != b.nodes.size() || a.edges.size() != b.edges.size()) return false;
  for (size_t i = 0; i < a.nodes.size(); ++i)
    if (a.nodes[i].qname != b.nodes[i].qname || a.nodes[i].kind != b.nodes[i].kind) return false;
  for (size_t i = 0; i < a.edges.size(); ++i) {
    const EdgeRecord &x = a.edges[i], &y = b.edges[i];
    if (x.src != y.src || x.dst != y.dst || x.kind != y.kind || x.n != y.n || x.line != y.line ||
        x.resolved != y.resolved || x.toplevel != y.toplevel)
      return false;
  }
  return true;
}

const FileFacts& fixed_file() {
  static const FileFacts facts = extract(kFixedSource, kFixedPath);
  return facts;
}

void resolve_and_check(const FileFacts& facts) {
  std::vector<const FileFacts*> files = {&facts, &fixed_file()};
  ResolvedGraph graph = resolve_graph(files);
  check_graph(graph, files, /*extracted=*/false);
  YANTRA_FUZZ_REQUIRE(same_graph(graph, resolve_graph(files)));
}

// Whatever decode_facts accepts must keep its promises, re-encode stably and resolve.
void check_accepted_blob(std::string_view blob) {
  FileFacts facts;
  if (!decode_facts(blob, facts)) return;
  check_indices(facts);
  FileFacts again = round_trip(facts);
  resolve_and_check(again);
}

// The varint a blob starts with: the codec's format version.
std::string format_header() {
  std::string blob = encode_facts(extract("", kFuzzedPath));
  size_t length = 0;
  while (length < blob.size() && (static_cast<unsigned char>(blob[length]) & 0x80)) ++length;
  return blob.substr(0, length + 1);
}

}  // namespace
}  // namespace yantra::graph

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yantra::graph;
  std::string bytes(reinterpret_cast<const char*>(data), size);

  DecodedSource decoded = decode_source(bytes);
  if (!decoded.error.empty()) {
    // "LINE:COL: what", and no text to go with it.
    YANTRA_FUZZ_REQUIRE(decoded.text.empty());
    size_t colon = decoded.error.find(':');
    YANTRA_FUZZ_REQUIRE(colon != std::string::npos && colon > 0);
    YANTRA_FUZZ_REQUIRE(std::all_of(decoded.error.begin(), decoded.error.begin() + colon,
                                    [](char c) { return c >= '0' && c <= '9'; }));
  } else {
    FileFacts facts = extract(decoded.text, kFuzzedPath);
    check_extracted(facts, decoded.text);
    FileFacts stored = round_trip(facts);
    // The indexer resolves fresh facts on a cold run and decoded ones afterwards: the
    // graph must not depend on which.
    std::vector<const FileFacts*> cold = {&facts, &fixed_file()};
    std::vector<const FileFacts*> warm = {&stored, &fixed_file()};
    ResolvedGraph graph = resolve_graph(cold);
    check_graph(graph, cold, /*extracted=*/true);
    YANTRA_FUZZ_REQUIRE(same_graph(graph, resolve_graph(warm)));

    // A damaged copy of that real blob (one byte changed where the input says).
    std::string blob = encode_facts(facts);
    if (!blob.empty() && size > 0) {
      blob[(size * 7919u + data[0]) % blob.size()] ^= static_cast<char>(data[size - 1] | 1);
      check_accepted_blob(blob);
    }
  }

  // The raw bytes as the body of a stored blob, and in place of a few bytes of a real one
  // (where the first two bytes say), so that any field can take any encoding.
  static const std::string header = format_header();
  check_accepted_blob(header + bytes);
  static const std::string fixed_blob = encode_facts(fixed_file());
  if (size >= 2) {
    std::string spliced = fixed_blob;
    spliced.replace((data[0] * 256u + data[1]) % fixed_blob.size(), data[1] % 8, bytes.substr(2));
    check_accepted_blob(spliced);
  }
  return 0;
}
