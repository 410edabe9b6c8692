// FileFacts <-> a compact binary blob (varints and length-prefixed strings), stored per
// file so an incremental index reloads unchanged files without parsing them. The blob
// starts with a format version and ends with an XXH3 checksum of what precedes it; a blob
// of another version or a damaged one is refused and the file is parsed again.
#include <cstring>

#include <climits>

#include "base/base.h"
#include "graph/facts.h"

namespace yantra::graph {
namespace {

constexpr uint32_t kFormat = 0x59460003;  // 'YF' + version 3

class Writer {
 public:
  void u(uint64_t v) {
    while (v >= 0x80) out_ += static_cast<char>((v & 0x7F) | 0x80), v >>= 7;
    out_ += static_cast<char>(v);
  }
  void s(std::string_view v) {
    u(v.size());
    out_.append(v);
  }
  void strings(const std::vector<std::string>& v) {
    u(v.size());
    for (const auto& x : v) s(x);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  uint64_t u() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail();
      auto b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail();
  }
  uint32_t u32() { return static_cast<uint32_t>(u()); }
  std::string s() {
    uint64_t n = u();
    if (!ok_ || n > in_.size() - pos_) return fail(), std::string();
    std::string v(in_.substr(pos_, n));
    pos_ += n;
    return v;
  }
  void strings(std::vector<std::string>& v) {
    uint64_t n = count();
    v.resize(n);
    for (auto& x : v) x = s();
  }
  // A element count, refused if it could not fit in what remains (damaged blob).
  uint64_t count() {
    uint64_t n = u();
    if (n > in_.size() - pos_) return fail();
    return n;
  }
  bool at_end() const { return pos_ == in_.size(); }
  void fail_now() { fail(); }

 private:
  uint64_t fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void write_scope(Writer& w, const ScopeFacts& s) {
  w.u(static_cast<uint8_t>(s.kind));
  w.u(static_cast<uint64_t>(s.parent + 1));
  w.s(s.name);
  w.u(s.line), w.u(s.end_line), w.u(s.col);
  w.u((s.is_async ? 1 : 0) | (s.is_static ? 2 : 0) | (s.has_docstring ? 4 : 0));
  w.strings(s.params);
  w.s(s.self_param);
  w.s(s.signature);
  w.strings(s.decorators);
  w.u(s.complexity), w.u(s.flags);
  w.u(s.bases.size());
  for (const auto& b : s.bases) w.strings(b);
  w.s(s.docstring);
  w.u(s.bindings.size());
  for (const auto& b : s.bindings) {
    w.u(static_cast<uint8_t>(b.kind));
    w.s(b.name);
    w.s(b.target);
    w.u(b.def_scope);
  }
  w.strings(s.locals);
  w.strings(s.globals);
  w.strings(s.stars);
}

void read_scope(Reader& r, ScopeFacts& s) {
  s.kind = static_cast<ScopeKind>(r.u() % 3);
  uint64_t parent = r.u();  // stored +1 so the module's -1 is 0
  if (parent > static_cast<uint64_t>(INT32_MAX)) r.fail_now();
  s.parent = static_cast<int32_t>(parent) - 1;
  s.name = r.s();
  s.line = r.u32(), s.end_line = r.u32(), s.col = r.u32();
  uint64_t bits = r.u();
  s.is_async = bits & 1, s.is_static = bits & 2, s.has_docstring = bits & 4;
  r.strings(s.params);
  s.self_param = r.s();
  s.signature = r.s();
  r.strings(s.decorators);
  s.complexity = r.u32(), s.flags = r.u32();
  s.bases.resize(r.count());
  for (auto& b : s.bases) r.strings(b);
  s.docstring = r.s();
  s.bindings.resize(r.count());
  for (auto& b : s.bindings) {
    b.kind = static_cast<BindingFact::Kind>(r.u() % 5);
    b.name = r.s();
    b.target = r.s();
    b.def_scope = r.u32();
  }
  r.strings(s.locals);
  r.strings(s.globals);
  r.strings(s.stars);
}

}  // namespace

std::string encode_facts(const FileFacts& f) {
  Writer w;
  w.u(kFormat);
  w.s(f.module_qname);
  w.u((f.is_package ? 1 : 0) | (f.is_test_file ? 2 : 0));
  w.u(f.n_lines), w.u(f.syntax_errors), w.u(f.unnamed_calls);
  w.u(f.first_errors.size());
  for (const auto& e : f.first_errors) w.u(e.line), w.u(e.col), w.s(e.what);
  w.u(f.scopes.size());
  for (const auto& s : f.scopes) write_scope(w, s);
  w.u(f.calls.size());
  for (const auto& c : f.calls) {
    w.u(c.scope), w.u(c.line), w.u(static_cast<uint8_t>(c.kind));
    w.strings(c.parts);
  }
  w.u(f.imports.size());
  for (const auto& i : f.imports) w.u(i.scope), w.u(i.is_from ? 1 : 0), w.s(i.module), w.s(i.full);
  std::string blob = w.take();
  uint64_t sum = hash64(blob);
  blob.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  return blob;
}

bool decode_facts(std::string_view blob, FileFacts& f) {
  uint64_t sum = 0;
  if (blob.size() < sizeof sum) return false;
  std::memcpy(&sum, blob.data() + blob.size() - sizeof sum, sizeof sum);
  blob.remove_suffix(sizeof sum);
  if (hash64(blob) != sum) return false;
  Reader r(blob);
  if (r.u() != kFormat || !r.ok()) return false;
  f = FileFacts{};
  f.module_qname = r.s();
  uint64_t bits = r.u();
  f.is_package = bits & 1, f.is_test_file = bits & 2;
  f.n_lines = r.u32(), f.syntax_errors = r.u32(), f.unnamed_calls = r.u32();
  f.first_errors.resize(r.count());
  for (auto& e : f.first_errors) e.line = r.u32(), e.col = r.u32(), e.what = r.s();
  f.scopes.resize(r.count());
  for (auto& s : f.scopes) read_scope(r, s);
  f.calls.resize(r.count());
  for (auto& c : f.calls) {
    c.scope = r.u32(), c.line = r.u32(), c.kind = static_cast<CalleeKind>(r.u() % 3);
    r.strings(c.parts);
  }
  f.imports.resize(r.count());
  for (auto& i : f.imports)
    i.scope = r.u32(), i.is_from = r.u() != 0, i.module = r.s(), i.full = r.s();
  if (!r.ok() || !r.at_end() || f.scopes.empty()) return false;
  // Indices must stay inside the file: a damaged blob must not crash the resolver.
  auto n = f.scopes.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& s = f.scopes[i];
    if (i > 0 && (s.parent < 0 || static_cast<size_t>(s.parent) >= i)) return false;
    for (const auto& b : s.bindings)
      if (b.kind == BindingFact::Kind::kDef && (b.def_scope <= i || b.def_scope >= n)) return false;
    for (const auto& b : s.bases)
      if (b.empty()) return false;
  }
  if (f.scopes[0].parent != -1 || f.scopes[0].kind != ScopeKind::kModule) return false;
  for (const auto& c : f.calls)
    if (c.scope >= n || c.parts.empty()) return false;
  for (const auto& i : f.imports)
    if (i.scope >= n) return false;
  return true;
}

}  // namespace yantra::graph
