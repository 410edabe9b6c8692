// The fuzz target itself, compiled into the unit tests (tests/CMakeLists.txt globs only
// tests/unit, so the target's source is included here rather than listed), run on 3,000
// deterministic inputs under g++: random bytes, and mutations of real Python snippets that
// go where parsers break (unbalanced brackets, stray colons and quotes, odd indentation, NUL
// and 0xFF bytes, coding cookies). A trap on a broken invariant or a crash fails this test
// and names the input; the clang libFuzzer build (fuzz/CMakeLists.txt) goes further.
#include "../../fuzz/graph_fuzz.cpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

// The libFuzzer contract, as the fuzzing engine sees it.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr size_t kInputs = 3000;
constexpr uint64_t kSeed = 0x59414e54;  // fixed: every run tries the same inputs

const std::vector<std::string>& snippets() {
  static const std::vector<std::string> kSnippets = {
      // classes, methods, decorators, docstrings, comprehensions
      "\"\"\"Inventory.\"\"\"\nimport os\nfrom . import db\n\nclass Item(Base):\n"
      "    \"\"\"One item.\"\"\"\n    count = 0\n\n"
      "    def __init__(self, name, *args, **kw):\n        super().__init__(*args)\n"
      "        self.name = name\n\n    @property\n    def label(self):\n"
      "        return f\"{self.name}!\"\n\n    @staticmethod\n    def load(path):\n"
      "        with open(path) as fh:\n            return [Item(l) for l in fh if l.strip()]\n",
      // control flow and pattern flags
      "def check(user, password):\n    if not isinstance(user, str) or not user:\n"
      "        raise ValueError('user')\n    try:\n        conn.execute('select 1')\n"
      "    except (KeyError, OSError) as e:\n        return None\n"
      "    while (n := next(it, None)) is not None:\n        yield n if n else -n\n"
      "    assert password, 'empty'\n",
      // imports, globals, aliases, lambdas, async
      "from __future__ import annotations\nimport json as j, sys\nfrom ..pkg.mod import *\n"
      "X = 1\nalias = j.dumps\n\nasync def main(*, timeout=lambda: 3):\n    global X\n"
      "    async with session() as s:\n        await s.get(url)\n    X += 1\n"
      "    return alias(X)\n",
      // a test module using the fuzzed module's names
      "import unittest\nfrom pkg.fuzzed import helper\n\n"
      "class TestHelper(unittest.TestCase):\n    def setUp(self):\n        self.x = helper()\n\n"
      "    def test_it(self):\n        self.assertEqual(helper(), 1)\n\n"
      "def test_plain():\n    assert helper()\n",
      // nested defs, positional-only parameters, nonlocal, match
      "@app.route('/x', methods=['GET'])\ndef view(request):\n    def inner(a, /, b=2):\n"
      "        nonlocal request\n        return a + b\n    match request:\n"
      "        case {'a': 1}:\n            return inner(1)\n        case _:\n"
      "            return None\n",
  };
  return kSnippets;
}

// What a mutation may insert: the tokens that unbalance, re-indent or re-encode a file.
const std::vector<std::string>& tokens() {
  // clang-format off
  static const std::vector<std::string> kTokens = {
      "(", ")", "[", "{", ":", "\"\"\"", "'''", "'", "    ", "\t", "\n", "\\\n", "\r\n",
      std::string(1, '\0'), "\xFF", "\xC3\xA9", "\xEF\xBB\xBF", "@", "def ", "class ",
      "lambda ", "f\"{", "*", "**"};
  // clang-format on
  return kTokens;
}

// PEP 263 cookies: the brief's latin-1, and one that turns any bytes into other text.
const std::vector<std::string>& cookies() {
  static const std::vector<std::string> kCookies = {
      "# -*- coding: latin-1 -*-\n", "# coding: iso-8859-1\n",
      "#!/usr/bin/env python\n# vim: set fileencoding=utf-16 :\n"};
  return kCookies;
}

class InputMaker {
 public:
  explicit InputMaker(uint64_t seed) : rng_(seed) {}

  // A number below `n` (0 when n is 0); the engine's raw output, so the sequence is the
  // same with every standard library.
  size_t below(size_t n) { return n ? static_cast<size_t>(rng_() % n) : 0; }

  std::string random_bytes() {
    std::string out(below(300), '\0');
    for (char& c : out) c = static_cast<char>(rng_() & 0xFF);
    return out;
  }

  std::string mutated() {
    const auto& seeds = snippets();
    std::string s = seeds[below(seeds.size())];
    for (size_t n = 1 + below(4); n > 0; --n) mutate(s);
    return s;
  }

 private:
  void mutate(std::string& s) {
    size_t at = below(s.size() + 1);
    switch (below(8)) {
      case 0:  // one bit flipped
        if (!s.empty()) s[below(s.size())] ^= static_cast<char>(1u << below(8));
        break;
      case 1:  // one byte replaced
        if (!s.empty()) s[below(s.size())] = static_cast<char>(rng_() & 0xFF);
        break;
      case 2:  // truncated
        s.resize(at);
        break;
      case 3: {  // spliced with another snippet
        const std::string& other = snippets()[below(snippets().size())];
        s = s.substr(0, at) + other.substr(below(other.size() + 1));
        break;
      }
      case 4:  // a token inserted
        s.insert(at, tokens()[below(tokens().size())]);
        break;
      case 5:  // a range deleted
        s.erase(at, below(40));
        break;
      case 6:  // a range duplicated
        s.insert(at, s.substr(below(s.size() + 1), below(60)));
        break;
      case 7:  // a coding cookie on top
        s.insert(0, cookies()[below(cookies().size())]);
        break;
    }
  }

  std::mt19937_64 rng_;
};

// The snippets as they are, then every tenth input random bytes and the rest mutations.
std::vector<std::string> make_inputs() {
  InputMaker maker(kSeed);
  std::vector<std::string> inputs = snippets();
  while (inputs.size() < kInputs)
    inputs.push_back(inputs.size() % 10 == 0 ? maker.random_bytes() : maker.mutated());
  return inputs;
}

std::string escaped(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      const char* hex = "0123456789abcdef";
      out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

TEST(FuzzSmokeTest, InputsAreDeterministicAndReachTheParser) {
  std::vector<std::string> inputs = make_inputs();
  ASSERT_EQ(inputs.size(), kInputs);
  EXPECT_EQ(inputs, make_inputs()) << "the same seed must give the same inputs";
  size_t decodable = 0, with_cookie = 0, with_nul = 0;
  for (const std::string& in : inputs) {
    decodable += yantra::graph::decode_source(in).error.empty();
    with_cookie += in.find("coding") != std::string::npos;
    with_nul += in.find('\0') != std::string::npos;
  }
  // Mostly text the extractor and resolver get to see, with every kind of mutation present.
  EXPECT_GE(decodable, kInputs / 2);
  EXPECT_GE(with_cookie, 50u);
  EXPECT_GE(with_nul, 50u);
}

// Runs every input in a child process, which records the index of the input it is on in
// shared memory: a trap or a crash fails the test with that input instead of killing the
// whole unit-test binary.
TEST(FuzzSmokeTest, ThreeThousandSeededInputsRunCleanly) {
  std::vector<std::string> inputs = make_inputs();
  void* shared =
      ::mmap(nullptr, sizeof(size_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  auto* current = static_cast<volatile size_t*>(shared);
  *current = SIZE_MAX;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      *current = i;
      const std::string& in = inputs[i];
      if (LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(in.data()), in.size()) != 0)
        ::_exit(2);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  size_t failed_at = *current;
  ::munmap(shared, sizeof(size_t));
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!clean && failed_at < inputs.size()) {
    ADD_FAILURE() << "input #" << failed_at << " ("
                  << (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                          : "exit " + std::to_string(WEXITSTATUS(status)))
                  << "): \"" << escaped(inputs[failed_at]) << "\"";
  } else {
    EXPECT_TRUE(clean) << "the child did not finish: status " << status;
    EXPECT_EQ(failed_at, inputs.size() - 1) << "not every input was run";
  }
}

}  // namespace
