// graph internals, one function at a time: source decoding (PEP 263), Python string literals
// and docstrings, module names, the facts extract_facts() finds in small snippets, and the
// per-file facts codec. Expected values are what Python itself computes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "graph/extract_internal.h"
#include "graph/facts.h"

namespace yantra::graph {
namespace {

using Strings = std::vector<std::string>;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool has(const Strings& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

FileFacts facts_of(std::string_view source, std::string_view rel_path = "pkg/snip.py") {
  return extract_facts(source, module_name_for(rel_path, ""), is_test_path(rel_path));
}

// The first scope called `name`; fails the test if there is none.
const ScopeFacts& scope_named(const FileFacts& facts, std::string_view name) {
  for (const ScopeFacts& s : facts.scopes)
    if (s.name == name) return s;
  ADD_FAILURE() << "no scope named " << name;
  static const ScopeFacts kNone;
  return kNone;
}

// One line per fact, so that a failure shows the whole picture at once.
std::string describe(const FileFacts& f, const ScopeFacts& s) {
  const char* kinds[] = {"module", "class", "def"};
  std::string parent = s.parent < 0 ? "-" : f.scopes[static_cast<size_t>(s.parent)].name;
  return std::string(kinds[static_cast<int>(s.kind)]) + " " + s.name + " in " + parent + " " +
         std::to_string(s.line) + "-" + std::to_string(s.end_line) + ":" + std::to_string(s.col);
}

std::string describe(const FileFacts& f, const CallFact& c) {
  std::string out = f.scopes[c.scope].name + ":" + std::to_string(c.line) + " ";
  if (c.kind == CalleeKind::kSuper) out += "super().";
  if (c.kind == CalleeKind::kOther) out += "?.";
  for (size_t i = 0; i < c.parts.size(); ++i) out += (i ? "." : "") + c.parts[i];
  return out;
}

std::string describe(const FileFacts& f, const ImportFact& i) {
  return f.scopes[i.scope].name + ": " +
         (i.is_from ? "from " + i.module + " import " + i.full : "import " + i.module);
}

// ---- decode_source --------------------------------------------------------------------------

TEST(DecodeSourceTest, Utf8PassesThroughAndByteOrderMarkIsDropped) {
  std::string source = "s = 'caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\x8D'\n";
  DecodedSource d = decode_source(source);
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.text, source);
  d = decode_source("\xEF\xBB\xBFx = 1\n");
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.text, "x = 1\n");
}

// PEP 263's own spelling is "latin-1" (and Yantra's error message suggests it); Python
// accepts all of these as ISO-8859-1.
TEST(DecodeSourceTest, Latin1CodingCookieIsConvertedToUtf8) {
  for (std::string cookie : {"# -*- coding: latin-1 -*-", "# -*- coding: iso-8859-1 -*-",
                             "#!/usr/bin/env python\n# vim: set fileencoding=latin1 :"}) {
    SCOPED_TRACE(cookie);
    DecodedSource d = decode_source(cookie + "\ns = 'caf\xE9'\n");
    EXPECT_EQ(d.error, "");
    EXPECT_EQ(d.text, cookie + "\ns = 'caf\xC3\xA9'\n");  // é as UTF-8: C3 A9
  }
}

TEST(DecodeSourceTest, InvalidUtf8WithoutCookieNamesLineColumnAndByte) {
  DecodedSource d = decode_source("a = 1\nb = 'x\xE9y'\n");
  EXPECT_TRUE(d.text.empty());
  EXPECT_TRUE(d.error.starts_with("2:7: ")) << d.error;
  EXPECT_TRUE(contains(d.error, "not valid UTF-8")) << d.error;
  EXPECT_TRUE(contains(d.error, "0xE9")) << d.error;
  EXPECT_TRUE(contains(d.error, "coding")) << "should say how to declare an encoding: " << d.error;
}

// Python's UTF-8 codec refuses encoded surrogates, overlong forms and code points above
// U+10FFFF. Accepted, they reach the store, and `yantra graph show NAME --json` then fails
// ("[json.exception.type_error.316] invalid UTF-8 byte").
TEST(DecodeSourceTest, SurrogatesOverlongFormsAndOutOfRangeAreNotUtf8) {
  for (std::string bad : {"\xED\xA0\x80", "\xE0\x80\x80", "\xF0\x80\x80\x80", "\xF4\x90\x80\x80"}) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    DecodedSource d = decode_source("x = '" + bad + "'\n");
    EXPECT_TRUE(d.error.starts_with("1:6: ")) << d.error;
    EXPECT_TRUE(contains(d.error, "not valid UTF-8")) << d.error;
  }
}

TEST(DecodeSourceTest, NulByteMeansBinaryFileAndUnknownCodingIsNamed) {
  DecodedSource d = decode_source(std::string("ab\ncd\0ef", 8));
  EXPECT_TRUE(d.text.empty());
  EXPECT_TRUE(d.error.starts_with("2:3: ")) << d.error;
  EXPECT_TRUE(contains(d.error, "binary file")) << d.error;
  d = decode_source("# -*- coding: klingon-8 -*-\nx = 1\n");
  EXPECT_TRUE(d.text.empty());
  EXPECT_TRUE(contains(d.error, "'klingon-8'")) << d.error;
}

// ---- string literals and docstrings -----------------------------------------------------------

// Expected values: eval(literal) in /usr/bin/python3 (3.11.7).
TEST(PythonStringValueTest, PrefixesQuotesAndEscapes) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"'a\\tb'", "a\tb"},
      {"\"x\\ny\"", "x\ny"},
      {"'it\\'s'", "it's"},
      {"'back\\\\slash'", "back\\slash"},
      {"u'uni'", "uni"},
      {"'cont\\\nnued'", "contnued"},  // a line continuation
      {"r'a\\tb'", "a\\tb"},
      {"R\"raw\\\"\"", "raw\\\""},
      {"''", ""},
      {"\"\"\"\"\"\"", ""},
      {"r'''\\d+'''", "\\d+"},
      {"'''one\ntwo'''", "one\ntwo"},
      {"'nul\\0'", std::string("nul\0", 4)},
      {"\"\"\"tri\\nple \"quoted\" \"\"\"", "tri\nple \"quoted\" "},
  };
  for (const auto& [literal, value] : cases)
    EXPECT_EQ(python_string_value(literal), value) << literal;
}

// Escapes the extractor does not decode (\x.., \u....) are kept as written; an octal escape
// must be decoded ('\012' is a newline) or kept whole, not cut into a NUL and "12".
TEST(PythonStringValueTest, OctalEscapeIsDecodedOrKeptWhole) {
  std::string v = python_string_value("'\\012'");
  EXPECT_TRUE(v == "\n" || v == "\\012") << "got " << v.size() << " bytes, first 0x" << std::hex
                                         << (v.empty() ? 0 : static_cast<int>(v[0]));
}

// Expected values: inspect.cleandoc(text) in /usr/bin/python3 (3.11.7).
TEST(CleanDocstringTest, MatchesInspectCleandoc) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"One line", "One line"},
      {"  Summary.\n\n    Body line\n      indented\n    ", "Summary.\n\nBody line\n  indented"},
      {"\n\n   First\n\tTabbed\n        eight\n\n", "First\n     Tabbed\n     eight"},
      {"  \n  x\n\ty\n", "x\n      y"},
      {"x\n  \n    y\n", "x\n\ny"},
      {"\n    Only body.\n    ", "Only body."},
      {"", ""},
  };
  for (const auto& [text, cleaned] : cases)
    EXPECT_EQ(clean_docstring(text), cleaned) << ::testing::PrintToString(text);
}

// inspect.cleandoc removes the first line's leading blanks and the common margin, nothing
// else: trailing blanks stay. python3 -c 'import inspect; print(repr(inspect.cleandoc(T)))'
TEST(CleanDocstringTest, KeepsTrailingBlanksLikeInspectCleandoc) {
  EXPECT_EQ(clean_docstring("   Padded first.   "), "Padded first.   ");
  EXPECT_EQ(clean_docstring("a  \n    b  \n      c\n   \n"), "a  \nb  \n  c");
  EXPECT_EQ(clean_docstring("x\n      \n    y"), "x\n  \ny");
}

// ---- module names, test paths, relative imports -----------------------------------------------

TEST(ModuleNameTest, PathsBecomeDottedNames) {
  ModuleName init = module_name_for("pkg/__init__.py", "");
  EXPECT_EQ(init.qname, "pkg");
  EXPECT_TRUE(init.is_package);
  ModuleName mod = module_name_for("a/b.py", "");
  EXPECT_EQ(mod.qname, "a.b");
  EXPECT_FALSE(mod.is_package);
  EXPECT_EQ(module_name_for("m.py", "").qname, "m");
  EXPECT_EQ(module_name_for("a/b.py", "root").qname, "root.a.b");  // the root is a package
  EXPECT_EQ(module_name_for("__init__.py", "root").qname, "root");
  EXPECT_TRUE(module_name_for("__init__.py", "root").is_package);
  EXPECT_EQ(module_name_for("a/sub/__init__.py", "root").qname, "root.a.sub");
}

TEST(ModuleNameTest, TestPathsFollowPytestConventions) {
  for (const char* yes :
       {"test/x.py", "tests/x.py", "pkg/tests/deep/x.py", "test_x.py", "pkg/test_x.py", "x_test.py",
        "conftest.py", "pkg/conftest.py", "tests.py"})
    EXPECT_TRUE(is_test_path(yes)) << yes;
  for (const char* no : {"testing/x.py", "contest.py", "pkg/latest.py", "attest/x.py",
                         "mytests/x.py", "test.py", "pkg/testx.py", "x_tests.py"})
    EXPECT_FALSE(is_test_path(no)) << no;
}

TEST(ModuleNameTest, RelativeImportsFollowPythonsRule) {
  EXPECT_EQ(resolve_relative("pkg.sub", "mod", 0), "mod");
  EXPECT_EQ(resolve_relative("pkg.sub", "mod", 1), "pkg.sub.mod");
  EXPECT_EQ(resolve_relative("pkg.sub", "", 1), "pkg.sub");
  EXPECT_EQ(resolve_relative("pkg.sub", "mod", 2), "pkg.mod");
  EXPECT_EQ(resolve_relative("pkg.sub", "a.b", 2), "pkg.a.b");
  EXPECT_EQ(resolve_relative("pkg.sub", "", 2), "pkg");
  // Beyond the top package Python raises ImportError; Yantra keeps what is named.
  EXPECT_EQ(resolve_relative("pkg", "mod", 3), "mod");
  EXPECT_EQ(resolve_relative("", "mod", 1), "mod");
  EXPECT_EQ(resolve_relative("pkg", "", 5), "");
}

// ---- extract_facts ----------------------------------------------------------------------------

TEST(ExtractFactsTest, ScopesHaveParentsLinesAndColumns) {
  FileFacts f = facts_of(
      "class Outer:\n    class Inner:\n        def method(self):\n            def local():\n"
      "                pass\n    def other(self):\n        pass\n\n"
      "@decorator\nasync def top():\n    pass\n");
  EXPECT_EQ(f.module_qname, "pkg.snip");
  EXPECT_EQ(f.n_lines, 11u);
  Strings scopes;
  for (const ScopeFacts& s : f.scopes) scopes.push_back(describe(f, s));
  EXPECT_EQ(scopes, (Strings{"module snip in - 1-11:1", "class Outer in snip 1-7:1",
                             "class Inner in Outer 2-5:5", "def method in Inner 3-5:9",
                             "def local in method 4-5:13", "def other in Outer 6-7:5",
                             "def top in snip 10-11:1"}));  // a decorated def starts at `def`
  EXPECT_TRUE(f.scopes[6].is_async);
  EXPECT_FALSE(f.scopes[3].is_async);
  // Each def is bound, in source order, in the scope that contains it.
  Strings bound;
  for (const BindingFact& b : f.scopes[1].bindings)
    bound.push_back(b.name + "=" + std::to_string(b.def_scope));
  EXPECT_EQ(bound, (Strings{"Inner=2", "other=5"}));
}

TEST(ExtractFactsTest, ParametersSelfStaticAndSignature) {
  FileFacts f = facts_of(
      "class C:\n"
      "    def m(self, a, b=1, *args, c, d=2, **kw): pass\n"
      "    @staticmethod\n"
      "    def s(x, y): pass\n"
      "    def kwonly(*, k): pass\n"
      "    def star(*rest): pass\n"
      "def typed(a: int = 1, /, b: str = \"\") -> int: pass\n");
  const ScopeFacts& m = scope_named(f, "m");
  EXPECT_EQ(m.params, (Strings{"self", "a", "b", "args", "c", "d", "kw"}));
  EXPECT_EQ(m.self_param, "self");
  EXPECT_FALSE(m.is_static);
  EXPECT_EQ(m.signature, "(self, a, b=1, *args, c, d=2, **kw)");
  for (const char* p : {"self", "a", "b", "args", "c", "d", "kw"}) EXPECT_TRUE(has(m.locals, p));
  EXPECT_TRUE(scope_named(f, "s").is_static);
  EXPECT_EQ(scope_named(f, "s").self_param, "x");  // the first positional parameter, always
  EXPECT_EQ(scope_named(f, "kwonly").params, Strings{"k"});
  EXPECT_EQ(scope_named(f, "kwonly").self_param, "");
  EXPECT_EQ(scope_named(f, "star").self_param, "");
  const ScopeFacts& typed = scope_named(f, "typed");
  EXPECT_EQ(typed.params, (Strings{"a", "b"}));
  EXPECT_EQ(typed.self_param, "a");
  EXPECT_EQ(typed.signature, "(a: int = 1, /, b: str = \"\") -> int");
}

// `*args` is local to the def that declares it, like every other parameter; bound in the
// module, `def f(*list)` would make every `list(...)` call of the module unresolvable.
TEST(ExtractFactsTest, StarParameterIsNotALocalOfTheEnclosingScope) {
  FileFacts f = facts_of("def f(*list):\n    pass\nclass C:\n    def m(self, *args): pass\n");
  EXPECT_FALSE(has(f.scopes[0].locals, "list"));
  EXPECT_FALSE(has(scope_named(f, "C").locals, "args"));
  EXPECT_TRUE(has(scope_named(f, "m").locals, "args"));
}

TEST(ExtractFactsTest, DecoratorsAreKeptAsWritten) {
  FileFacts f = facts_of("@property\n@app.route(\"/x\",\n   methods=[\"GET\"])\ndef h(): pass\n");
  EXPECT_EQ(scope_named(f, "h").decorators,
            (Strings{"property", "app.route(\"/x\", methods=[\"GET\"])"}));
}

TEST(ExtractFactsTest, DocstringsAreFirstPlainStringStatements) {
  FileFacts f = facts_of(
      "# a comment may come first\n"
      "\"\"\"Summary line.\n\n    Indented body.\n    \"\"\"\n"
      "def concat():\n    \"Con\" 'cat'\n"
      "def fstring():\n    f\"no {x}\"\n"
      "def raw_bytes():\n    b\"bytes\"\n"
      "def later():\n    x = 1\n    \"not first\"\n"
      "class K:\n    # comment\n    u'''  Class doc.'''\n");
  EXPECT_TRUE(f.scopes[0].has_docstring);
  EXPECT_EQ(f.scopes[0].docstring, "Summary line.\n\nIndented body.");
  EXPECT_EQ(scope_named(f, "concat").docstring, "Concat");
  EXPECT_EQ(scope_named(f, "K").docstring, "Class doc.");
  for (const char* none : {"fstring", "raw_bytes", "later"}) {
    EXPECT_FALSE(scope_named(f, none).has_docstring) << none;
    EXPECT_EQ(scope_named(f, none).docstring, "") << none;
  }
}

TEST(ExtractFactsTest, CallsAreDecodedAndBelongToTheScopeThatEvaluatesThem) {
  FileFacts f = facts_of(
      "@register(make())\n"                           // 1: decorators run in the module
      "class C(Base):\n"                              // 2
      "    def m(self, a=default(), b=lambda: 0):\n"  // 3: defaults run in the class body
      "        super().m()\n"                         // 4
      "        self.items.append(a)\n"                // 5
      "        run(lambda y: inner(y))\n"             // 6: a lambda's calls belong to m
      "        [conv(v) for v in a if keep(v)]\n"     // 7: so do a comprehension's
      "        get()[0].strip()\n"                    // 8: an unnamed receiver
      "        (pkg.mod).fn()\n"                      // 9: parentheses are looked through
      "        f()()\n"                               // 10: a call of a call
      "        x[0]()\n");                            // 11: no name at all
  Strings calls;
  for (const CallFact& c : f.calls) calls.push_back(describe(f, c));
  EXPECT_EQ(calls,
            (Strings{"snip:1 register", "snip:1 make", "C:3 default", "m:4 super().m", "m:4 super",
                     "m:5 self.items.append", "m:6 run", "m:6 inner", "m:7 conv", "m:7 keep",
                     "m:8 ?.strip", "m:8 get", "m:9 pkg.mod.fn", "m:10 f"}));
  EXPECT_EQ(f.unnamed_calls, 2u);  // f()() and x[0]()
}

TEST(ExtractFactsTest, ImportsAreAbsoluteAndBound) {
  FileFacts f = facts_of(
      "from __future__ import annotations\nimport os\nimport os.path as osp, xml.dom\n"
      "from json import dumps, loads as ld\nfrom . import sibling\nfrom ..up import thing\n"
      "from .rel import *\ndef late():\n    import csv\n",
      "pkg/sub/mod.py");
  Strings imports;
  for (const ImportFact& i : f.imports) imports.push_back(describe(f, i));
  EXPECT_EQ(
      imports,
      (Strings{"mod: from __future__ import __future__.annotations", "mod: import os",
               "mod: import os.path", "mod: import xml.dom", "mod: from json import json.dumps",
               "mod: from json import json.loads", "mod: from pkg.sub import pkg.sub.sibling",
               "mod: from pkg.up import pkg.up.thing", "mod: import pkg.sub.rel",
               "late: import csv"}));
  Strings bound;
  for (const BindingFact& b : f.scopes[0].bindings)
    if (b.kind == BindingFact::Kind::kImport) bound.push_back(b.name + "=" + b.target);
  EXPECT_EQ(bound, (Strings{"annotations=__future__.annotations", "os=os", "osp=os.path", "xml=xml",
                            "dumps=json.dumps", "ld=json.loads", "sibling=pkg.sub.sibling",
                            "thing=pkg.up.thing"}));
  EXPECT_EQ(f.scopes[0].stars, Strings{"pkg.sub.rel"});
  ASSERT_EQ(scope_named(f, "late").bindings.size(), 1u);  // bound where it is imported
  EXPECT_EQ(scope_named(f, "late").bindings[0].name, "csv");
}

TEST(ExtractFactsTest, LocalsAndGlobals) {
  FileFacts f = facts_of(
      "COUNT = 0\n"
      "def f(p):\n"
      "    global COUNT\n"
      "    (a, b), c = 1, 2\n"
      "    first, *rest = [1, 2]\n"
      "    for i in range(3): pass\n"
      "    with open(p) as fh: pass\n"
      "    try: pass\n"
      "    except ValueError as err: pass\n"
      "    if (n := len(p)): pass\n"
      "    total = [sq for sq in p]\n"
      "    COUNT += 1\n"
      "    def g():\n"
      "        nonlocal total\n");
  EXPECT_EQ(scope_named(f, "f").locals, (Strings{"COUNT", "a", "b", "c", "err", "fh", "first", "i",
                                                 "n", "p", "rest", "sq", "total"}));
  EXPECT_EQ(scope_named(f, "f").globals, Strings{"COUNT"});
  EXPECT_EQ(scope_named(f, "g").globals, Strings{"total"});
  EXPECT_EQ(f.scopes[0].locals, Strings{"COUNT"});
}

TEST(ExtractFactsTest, ComplexityCountsDecisionPoints) {
  std::vector<std::pair<std::string, uint32_t>> cases = {
      {"pass", 1},
      {"if a: pass", 2},
      {"if a: pass\n    elif b: pass\n    elif c: pass\n    else: pass", 4},
      {"for i in a: pass", 2},
      {"while a: pass", 2},
      {"try: pass\n    except A: pass\n    except B: pass\n    finally: pass", 3},
      {"return a and b", 2},
      {"return a or b or c", 3},
      {"return x if a else y", 2},
      {"return [v for v in a]", 2},
      {"return [v for v in a if v]", 3},
      {"assert a", 2},
  };
  for (const auto& [body, complexity] : cases) {
    FileFacts f = facts_of("def f(a, b, c, x, y):\n    " + body + "\n");
    EXPECT_EQ(scope_named(f, "f").complexity, complexity) << body;
    EXPECT_EQ(f.scopes[0].complexity, 1u) << "metrics describe functions only";
  }
}

TEST(ExtractFactsTest, PatternFlags) {
  std::vector<std::pair<std::string, uint32_t>> cases = {
      {"def plain(x):\n    return x + 1", 0},
      {"def r(x):\n    raise KeyError(x)", kFlagRaises},
      {"def v(x):\n    raise ValueError(x)", kFlagRaises | kFlagValidation},
      {"def a(x):\n    assert x", kFlagValidation},
      {"def i(x):\n    return isinstance(x, int)", kFlagValidation},
      {"def o(p):\n    return open(p)", kFlagIo},
      {"def d(c):\n    c.execute('select 1')", kFlagDb},
      {"def h(u):\n    return requests.get(u)", kFlagHttp},
      {"def u(x):\n    return urllib.request.urlopen(x)", kFlagHttp},
      {"def who(name, password):\n    pass", kFlagAuth},
  };
  for (const auto& [def, flags] : cases) {
    FileFacts f = facts_of(def + "\n");
    ASSERT_EQ(f.scopes.size(), 2u) << def;
    EXPECT_EQ(pattern_flags_text(f.scopes[1].flags), pattern_flags_text(flags)) << def;
  }
}

TEST(ExtractFactsTest, SyntaxErrorsAreCountedAndTheRestIsStillExtracted) {
  FileFacts f = facts_of(
      "def good(a):\n    return helper(a)\n\n"
      "class K:\n    def m(self):\n        pass\n\n"
      "def broken(:\n    x = 1\n\n"  // line 8
      "def after():\n    return 2\n");
  EXPECT_GE(f.syntax_errors, 1u);
  ASSERT_FALSE(f.first_errors.empty());
  EXPECT_EQ(f.first_errors[0].line, 8u);
  EXPECT_GE(f.first_errors[0].col, 1u);
  EXPECT_FALSE(f.first_errors[0].what.empty());
  for (const char* name : {"good", "K", "m", "after"}) EXPECT_EQ(scope_named(f, name).name, name);
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(f.calls[0].parts, Strings{"helper"});
  EXPECT_EQ(facts_of("def ok():\n    pass\n").syntax_errors, 0u);
}

// 70,000 unclosed brackets (a truncated generated table) must give syntax errors, not take
// the process down: that would abort a whole `yantra index` run. Run in a child process.
TEST(ExtractFactsTest, DeeplyNestedUnclosedBracketsDoNotCrash) {
  std::string source = "x = " + std::string(70000, '[') + "\n";
  EXPECT_EXIT(std::exit(facts_of(source).syntax_errors > 0 ? 0 : 3), ::testing::ExitedWithCode(0),
              "");
}

// ---- encode_facts / decode_facts ----------------------------------------------------------------

const char* const kRealisticFile =
    "\"\"\"Orders.\"\"\"\n"
    "import os\nfrom .db import connect as c\nfrom .util import *\n"
    "class Order(Base, mod.Mixin):\n"
    "    '''An order.'''\n"
    "    @staticmethod\n"
    "    def load(path, *, strict=False):\n"
    "        with open(path) as fh:\n"
    "            return [Order.parse(l) for l in fh if l]\n"
    "    async def save(self, password):\n"
    "        global CACHE\n"
    "        c().execute('x')\n"
    "        super().save()\n"
    "        f()()\n"
    "def broken(:\n";

// A varint as the codec writes them, and the one a blob starts with (its format version).
std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) out += static_cast<char>((v & 0x7F) | 0x80), v >>= 7;
  return out + static_cast<char>(v);
}
uint64_t leading_varint(std::string_view blob, size_t& length) {
  uint64_t v = 0;
  for (length = 0; length < blob.size() && length < 10; ++length) {
    v |= static_cast<uint64_t>(blob[length] & 0x7F) << (7 * length);
    if (!(blob[length] & 0x80)) return ++length, v;
  }
  return v;
}

TEST(FactsCodecTest, RoundTripIsExact) {
  FileFacts f = facts_of(kRealisticFile, "shop/orders.py");
  ASSERT_GT(f.scopes.size(), 3u);
  ASSERT_GT(f.syntax_errors, 0u);
  std::string blob = encode_facts(f);
  FileFacts back;
  ASSERT_TRUE(decode_facts(blob, back));
  EXPECT_EQ(encode_facts(back), blob);
  EXPECT_EQ(back.module_qname, "shop.orders");
  EXPECT_EQ(back.calls.size(), f.calls.size());
  EXPECT_EQ(back.unnamed_calls, 1u);
  EXPECT_TRUE(scope_named(back, "load").is_static);
  EXPECT_TRUE(scope_named(back, "save").is_async);
  EXPECT_EQ(scope_named(back, "Order").docstring, "An order.");
  EXPECT_EQ(scope_named(back, "Order").bases, (std::vector<Strings>{{"Base"}, {"mod", "Mixin"}}));
}

TEST(FactsCodecTest, TruncatedBlobsAndOtherVersionsAreRefused) {
  std::string blob = encode_facts(facts_of(kRealisticFile));
  FileFacts out;
  for (size_t n = 0; n < blob.size(); ++n)
    EXPECT_FALSE(decode_facts(std::string_view(blob).substr(0, n), out)) << "prefix of " << n;
  size_t length = 0;
  uint64_t version = leading_varint(blob, length);
  std::string rest = blob.substr(length);
  EXPECT_FALSE(decode_facts(varint(version + 1) + rest, out));
  EXPECT_FALSE(decode_facts(varint(version - 1) + rest, out));
  EXPECT_FALSE(decode_facts(varint(0) + rest, out));
  EXPECT_TRUE(decode_facts(varint(version) + rest, out));
}

// The codec's promise (facts_codec.cpp): "a damaged [blob] is refused and the file is parsed
// again". One flipped byte is damage; decoding it into other facts silently changes the graph.
TEST(FactsCodecTest, BlobWithAFlippedByteInTheMiddleIsRefused) {
  std::string blob = encode_facts(facts_of(kRealisticFile));
  std::string damaged = blob;
  damaged[damaged.size() / 2] ^= 0x01;
  FileFacts out;
  bool accepted = decode_facts(damaged, out);
  EXPECT_FALSE(accepted) << "accepted a damaged blob"
                         << (accepted && encode_facts(out) != blob ? " as different facts" : "");
}

// Indices that would send the resolver out of bounds are refused, whatever else is valid.
TEST(FactsCodecTest, OutOfRangeIndicesAreRefused) {
  FileFacts good = facts_of("def f():\n    g()\nimport os\n");
  FileFacts out;
  ASSERT_TRUE(decode_facts(encode_facts(good), out));
  FileFacts bad = good;
  bad.calls[0].scope = 99;
  EXPECT_FALSE(decode_facts(encode_facts(bad), out)) << "call scope";
  bad = good, bad.imports[0].scope = 2;
  EXPECT_FALSE(decode_facts(encode_facts(bad), out)) << "import scope";
  bad = good, bad.scopes[1].parent = 1;
  EXPECT_FALSE(decode_facts(encode_facts(bad), out)) << "a scope its own parent";
  bad = good, bad.scopes[0].bindings[0].def_scope = 7;
  EXPECT_FALSE(decode_facts(encode_facts(bad), out)) << "def binding";
  bad = good, bad.scopes.clear(), bad.calls.clear(), bad.imports.clear();
  EXPECT_FALSE(decode_facts(encode_facts(bad), out)) << "no module scope";
}

}  // namespace
}  // namespace yantra::graph
