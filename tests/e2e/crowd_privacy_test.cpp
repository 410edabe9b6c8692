// The crowd privacy proof on a real repository: part of Debian's CPython standard library is
// indexed, its real documented functions become validated library entries (code = the
// function's source, request = its docstring, tests from its doctests), and every payload
// `yantra crowd push` would send is (a) accepted by the schema allow-list and (b) free of
// every identifier, string-literal word, comment word and path of that repository, as
// Python's own tokenizer reads them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "crowd/crowd.h"
#include "graph/graph.h"
#include "library/library.h"
#include "source/source.h"

namespace fs = std::filesystem;
using nlohmann::json;
namespace crowd = yantra::crowd;
namespace library = yantra::library;
namespace student = yantra::student;

namespace {

const char* kStdlib = "/usr/lib/python3.11";
// Packages and modules of many kinds: parsing, networking, e-mail, text, files.
const char* kModules[] = {"json", "email", "http", "urllib", "textwrap.py", "csv.py",
                          "shlex.py", "fnmatch.py", "argparse.py", "ftplib.py", "smtplib.py"};

// Every NAME token, the words of every string literal and comment, and every path and
// path component, by Python's tokenize (the ground truth of what the code contains).
const char* kTokenizer = R"PY(
import io, json, os, re, sys, tokenize
root = sys.argv[1]
out = {"identifiers": set(), "string_words": set(), "comment_words": set(), "paths": set()}
word = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if not x.startswith(".")]
    for f in files:
        if not f.endswith(".py"):
            continue
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        out["paths"].update([p, rel] + rel.split(os.sep) + [f[:-3]])
        with open(p, "rb") as fh:
            try:
                for t in tokenize.tokenize(fh.readline):
                    if t.type == tokenize.NAME:
                        out["identifiers"].add(t.string)
                    elif t.type == tokenize.STRING:
                        out["string_words"].update(word.findall(t.string))
                    elif t.type == tokenize.COMMENT:
                        out["comment_words"].update(word.findall(t.string))
            except (tokenize.TokenError, SyntaxError):
                pass
json.dump({k: sorted(v) for k, v in out.items()}, sys.stdout)
)PY";

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  pclose(p);
  return out;
}

std::vector<std::string> read_lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Lines first..last of a file, with their common indentation removed.
std::string function_source(const fs::path& file, uint32_t first, uint32_t last) {
  std::vector<std::string> lines = read_lines(file);
  size_t indent = std::string::npos;
  for (uint32_t i = first; i <= last && i <= lines.size(); ++i)
    if (lines[i - 1].find_first_not_of(" \t") != std::string::npos)
      indent = std::min(indent, lines[i - 1].find_first_not_of(" \t"));
  std::string code;
  for (uint32_t i = first; i <= last && i <= lines.size(); ++i)
    code.append(lines[i - 1].size() >= indent ? lines[i - 1].substr(indent) : "").append("\n");
  return code;
}

// The docstring's doctest statements, else a test that only names the function.
std::vector<std::string> tests_from(const std::string& docstring, const std::string& name) {
  std::vector<std::string> tests;
  std::istringstream in(docstring);
  for (std::string line; std::getline(in, line);) {
    size_t at = line.find(">>> ");
    if (at != std::string::npos) tests.push_back(line.substr(at + 4));
  }
  if (tests.empty()) tests.push_back("assert callable(" + name + ")");
  return tests;
}

std::vector<std::string> params_of(const std::string& signature) {
  std::vector<std::string> out;
  static const std::regex name(R"([A-Za-z_][A-Za-z0-9_]*)");
  for (std::sregex_iterator it(signature.begin(), signature.end(), name), end; it != end; ++it)
    out.push_back(it->str());
  return out;
}

struct Corpus {
  fs::path dir;
  std::vector<library::Entry> entries;  // as stored and read back
  std::set<std::string> identifiers, string_words, comment_words, paths;
  std::string error;
  ~Corpus() { fs::remove_all(dir); }
};

void add_entries(Corpus& c, library::Library& lib) {
  auto db = (c.dir / "repo" / ".yantra" / "graph.db").string();
  student::GraphData g = student::load_graph(db).take();
  yantra::graph::GraphReader reader = yantra::graph::GraphReader::open(db).take();
  size_t n = 0;
  for (size_t i = 0; i < g.size() && n < 800; ++i) {
    if ((g.kind[i] != student::Kind::kFunction && g.kind[i] != student::Kind::kMethod) ||
        g.docstring[i].size() < 20)
      continue;
    ++n;
    auto node = reader.find_one(g.qname[i]);
    if (!node || node->file.empty()) continue;
    library::Entry e;
    e.request = g.docstring[i];
    e.entry_point = g.name[i];
    e.signature = "def " + g.name[i] + g.signature[i] + ":";
    e.code = function_source(c.dir / "repo" / node->file, node->line, node->end_line);
    e.tests = tests_from(g.docstring[i], g.name[i]);
    e.embedding = student::text_embedding(e.entry_point, params_of(g.signature[i]), e.request);
    e.tier = std::string(library::kTiers[i % 4]);
    e.model = "recorded";
    e.tests_passed = int(e.tests.size());
    e.confidence = 0.5 + double(i % 50) / 100;
    e.avoid = i % 17 == 0;  // some failed candidates, which must never be shared
    lib.add(e).take();
  }
  c.entries = lib.all_entries().take();
}

const Corpus& corpus() {
  static Corpus c = [] {
    Corpus c;
    c.dir = fs::temp_directory_path() / ("yantra-crowd-privacy-" + std::to_string(getpid()));
    fs::remove_all(c.dir);
    for (const char* m : kModules) {
      fs::path from = fs::path(kStdlib) / m;
      if (!fs::exists(from)) {
        c.error = from.string() + " is missing: install Debian's python3.11";
        return c;
      }
      fs::create_directories(c.dir / "repo");
      fs::copy(from, c.dir / "repo" / m, fs::copy_options::recursive);
    }
    yantra::graph::IndexOptions o;
    o.root = (c.dir / "repo").string(), o.progress = false;
    auto report = yantra::graph::index_repository(yantra::real_file_system(), o);
    if (!report) {
      c.error = report.error().message;
      return c;
    }
    auto lib = library::Library::open((c.dir / "repo").string(), student::kTextEmbeddingDim).take();
    add_entries(c, lib);
    std::ofstream(c.dir / "tokens.py") << kTokenizer;
    auto words = json::parse(run("/usr/bin/python3 " + (c.dir / "tokens.py").string() + " " +
                                 (c.dir / "repo").string()),
                             nullptr, false);
    if (!words.is_object()) {
      c.error = "the Python tokenizer did not run";
      return c;
    }
    for (auto [key, set] : {std::pair{"identifiers", &c.identifiers},
                            std::pair{"string_words", &c.string_words},
                            std::pair{"comment_words", &c.comment_words},
                            std::pair{"paths", &c.paths}})
      for (const auto& w : words[key]) set->insert(w.get<std::string>());
    c.paths.insert((c.dir / "repo").string());
    return c;
  }();
  return c;
}

// Words of >= 4 characters that a payload's text contains, less the schema's own words and
// JSON's true, false and null.
std::set<std::string> payload_words(const std::string& text) {
  std::vector<std::string> allowed = crowd::pattern_vocabulary();
  allowed.insert(allowed.end(), {"true", "false", "null"});
  auto letter = [](char ch) { return std::isalpha(static_cast<unsigned char>(ch)) || ch == '_'; };
  auto word_char = [&](char ch) { return letter(ch) || std::isdigit(static_cast<unsigned char>(ch)); };
  std::set<std::string> out;
  for (size_t i = 0; i < text.size();) {
    if (!letter(text[i]) || (i > 0 && word_char(text[i - 1]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && word_char(text[end])) ++end;
    std::string w = text.substr(i, end - i);
    if (w.size() >= 4 && std::find(allowed.begin(), allowed.end(), w) == allowed.end()) out.insert(w);
    i = end;
  }
  return out;
}

// What of the repository a payload's text gives away.
std::vector<std::string> leaks(const Corpus& c, const std::string& text) {
  std::vector<std::string> found;
  for (const std::string& w : payload_words(text)) {
    if (c.identifiers.contains(w)) found.push_back("identifier " + w);
    if (c.string_words.contains(w)) found.push_back("string literal word " + w);
    if (c.comment_words.contains(w)) found.push_back("comment word " + w);
  }
  for (const std::string& p : c.paths)
    if (p.size() >= 4 && (p.find('/') != std::string::npos || p.ends_with(".py")) &&
        text.find(p) != std::string::npos)
      found.push_back("path " + p);
  return found;
}

// Every string in a JSON value, keys included.
void strings_of(const json& j, std::set<std::string>& out) {
  if (j.is_string()) out.insert(j.get<std::string>());
  if (j.is_object())
    for (const auto& [k, v] : j.items()) out.insert(k), strings_of(v, out);
  if (j.is_array())
    for (const auto& v : j) strings_of(v, out);
}

TEST(CrowdPrivacy, PayloadsOfARealRepositoryPassTheSchemaAndLeakNothing) {
  const Corpus& c = corpus();
  ASSERT_TRUE(c.error.empty()) << c.error;
  ASSERT_GE(c.entries.size(), 150u);
  ASSERT_GT(c.identifiers.size(), 3000u);
  ASSERT_GT(c.comment_words.size(), 1000u);
  std::vector<library::Entry> shareable;
  for (const auto& e : c.entries) {
    if (crowd::is_shareable(e))
      shareable.push_back(e);
    else
      EXPECT_FALSE(crowd::extract_pattern(e).ok()) << "entry " << e.id << " is a failed candidate";
  }
  ASSERT_LT(shareable.size(), c.entries.size());
  std::vector<std::string> codes;
  for (const auto& e : shareable) codes.push_back(e.code);
  std::vector<int> bugs = crowd::pyflakes_findings(codes).take();
  std::string secret(32, '\x5a');
  std::string user = crowd::user_id(secret, "acme");
  std::vector<crowd::Pattern> patterns;
  for (size_t i = 0; i < shareable.size(); ++i) {
    crowd::PatternOptions o{i % 2 ? 0.05 : 0.0, crowd::noise_seed(secret), bugs[i]};
    auto p = crowd::extract_pattern(shareable[i], o);
    ASSERT_TRUE(p.ok()) << p.error().message << "\n" << shareable[i].code;
    patterns.push_back(std::move(*p));
  }
  size_t batches = 0, bytes = 0;
  std::set<std::string> all_strings;
  for (size_t at = 0; at < patterns.size(); at += 50) {
    std::vector<crowd::Pattern> chunk(patterns.begin() + long(at),
                                      patterns.begin() + long(std::min(patterns.size(), at + 50)));
    std::string batch_id = crowd::derived_id(secret, "patterns/" + std::to_string(at));
    json payload = crowd::pattern_batch(batch_id, user, chunk);
    auto valid = crowd::validate_pattern_batch(payload);  // (a) the allow-list
    ASSERT_TRUE(valid.ok()) << valid.error().message;
    for (const auto& p : payload["patterns"]) ASSERT_TRUE(crowd::validate_pattern(p).ok());
    std::string text = payload.dump();
    std::vector<std::string> found = leaks(c, text);  // (b) the scan
    EXPECT_TRUE(found.empty()) << "batch " << at / 50 << " leaks " << found.size() << ", e.g. "
                               << found.front();
    strings_of(payload, all_strings);
    all_strings.erase(batch_id);
    ++batches, bytes += text.size();
  }
  // The only strings in any payload: schema words and the user's HMAC id.
  all_strings.erase(user);
  const auto& vocab = crowd::pattern_vocabulary();
  for (const auto& s : all_strings)
    EXPECT_NE(std::find(vocab.begin(), vocab.end(), s), vocab.end()) << "string '" << s << "'";
  std::cout << "[ privacy ] " << shareable.size() << " patterns of real stdlib functions in "
            << batches << " batches (" << bytes / 1024 << " KiB) checked against "
            << c.identifiers.size() << " identifiers, " << c.string_words.size()
            << " literal words, " << c.comment_words.size() << " comment words, "
            << c.paths.size() << " paths\n";
}

TEST(CrowdPrivacy, TheScanCatchesALeakAndTheSchemaRefusesIt) {
  const Corpus& c = corpus();
  ASSERT_TRUE(c.error.empty()) << c.error;
  const library::Entry* e = nullptr;
  for (const auto& x : c.entries)
    if (crowd::is_shareable(x) && x.entry_point.size() >= 6) e = &x;
  ASSERT_NE(e, nullptr);
  json p = crowd::to_json(crowd::extract_pattern(*e).take());
  ASSERT_TRUE(leaks(c, p.dump()).empty());
  // A hand-made pattern carrying the function's name, as an extra key or as a value.
  json extra = p;
  extra["entry_point"] = e->entry_point;
  EXPECT_FALSE(leaks(c, extra.dump()).empty());  // the scan sees it
  EXPECT_FALSE(crowd::validate_pattern(extra).ok());
  json as_enum = p;
  as_enum["tier"] = e->entry_point;
  EXPECT_FALSE(crowd::validate_pattern(as_enum).ok());
  json as_key = p;
  as_key["nodes"][e->entry_point] = 1;
  EXPECT_FALSE(crowd::validate_pattern(as_key).ok());
  json as_path = p;
  as_path["language"] = *c.paths.begin();
  EXPECT_FALSE(crowd::validate_pattern(as_path).ok());
}

}  // namespace
