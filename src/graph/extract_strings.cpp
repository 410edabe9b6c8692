// Text helpers of the extractor: module names, source decoding (PEP 263), Python string
// literals and docstrings, and the name-based pattern flags.
#include <iconv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>

#include "graph/extract_internal.h"
#include "graph/facts.h"

namespace yantra::embedded {
extern const std::pair<std::string_view, std::string_view> kFiles[];
extern const int kFileCount;
}  // namespace yantra::embedded

namespace yantra {

std::string_view embedded_file(std::string_view name) {
  for (int i = 0; i < embedded::kFileCount; ++i)
    if (embedded::kFiles[i].first == name) return embedded::kFiles[i].second;
  return {};
}

}  // namespace yantra

namespace yantra::graph {

std::string parent_of(std::string_view dotted) {
  size_t dot = dotted.rfind('.');
  return dot == dotted.npos ? std::string() : std::string(dotted.substr(0, dot));
}

std::string last_part(std::string_view dotted) {
  size_t dot = dotted.rfind('.');
  return std::string(dot == dotted.npos ? dotted : dotted.substr(dot + 1));
}

std::string first_part(std::string_view dotted) {
  return std::string(dotted.substr(0, dotted.find('.')));
}

std::string resolve_relative(std::string_view package, std::string_view module, uint32_t level) {
  if (level == 0) return std::string(module);
  std::vector<std::string_view> parts;
  for (size_t start = 0; !package.empty() && start <= package.size();) {
    size_t dot = package.find('.', start);
    if (dot == package.npos) dot = package.size();
    parts.push_back(package.substr(start, dot - start));
    start = dot + 1;
  }
  size_t drop = level - 1;
  parts.resize(parts.size() >= drop ? parts.size() - drop : 0);
  std::string out;
  for (auto p : parts) out.append(out.empty() ? "" : ".").append(p);
  if (!module.empty()) out.append(out.empty() ? "" : ".").append(module);
  return out;
}

uint32_t count_lines(std::string_view text) {
  auto n = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n'));
  return n + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

ModuleName module_name_for(std::string_view rel_path, std::string_view prefix) {
  std::string_view stem = rel_path.substr(0, rel_path.size() - (rel_path.ends_with(".py") ? 3 : 0));
  ModuleName m;
  std::string q(prefix);
  size_t start = 0;
  while (start <= stem.size()) {
    size_t slash = stem.find('/', start);
    if (slash == stem.npos) slash = stem.size();
    std::string_view part = stem.substr(start, slash - start);
    if (slash == stem.size() && part == "__init__") {
      m.is_package = true;
    } else {
      q.append(q.empty() ? "" : ".").append(part);
    }
    start = slash + 1;
  }
  m.qname = q.empty() ? "__init__" : q;
  return m;
}

bool is_test_path(std::string_view rel) {
  size_t slash = rel.rfind('/');
  std::string_view base = slash == rel.npos ? rel : rel.substr(slash + 1);
  std::string_view dirs = slash == rel.npos ? std::string_view() : rel.substr(0, slash);
  for (size_t start = 0; start < dirs.size();) {
    size_t next = dirs.find('/', start);
    if (next == dirs.npos) next = dirs.size();
    std::string_view d = dirs.substr(start, next - start);
    if (d == "test" || d == "tests") return true;
    start = next + 1;
  }
  return base.starts_with("test_") || base.ends_with("_test.py") || base == "tests.py" ||
         base == "conftest.py";
}

namespace {

// Offset of the first byte that is not valid UTF-8, or npos.
size_t first_invalid_utf8(std::string_view s) {
  // As Python decodes: no overlong forms, no surrogates, nothing above U+10FFFF.
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return i;
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range depends on the first
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (c1 < lo || c1 > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    i += len;
  }
  return std::string_view::npos;
}

// PEP 263: `coding[:=]\s*([-\w.]+)` in a comment on line 1 or 2.
std::string coding_cookie(std::string_view s) {
  size_t line_start = 0;
  for (int line = 0; line < 2 && line_start < s.size(); ++line) {
    size_t end = s.find('\n', line_start);
    if (end == s.npos) end = s.size();
    std::string_view l = s.substr(line_start, end - line_start);
    size_t hash = l.find('#');
    size_t at = hash == l.npos ? l.npos : l.find("coding", hash);
    if (at != l.npos && at + 6 < l.size() && (l[at + 6] == ':' || l[at + 6] == '=')) {
      size_t i = at + 7;
      while (i < l.size() && (l[i] == ' ' || l[i] == '\t')) ++i;
      std::string name;
      while (i < l.size() && (std::isalnum(static_cast<unsigned char>(l[i])) || l[i] == '-' ||
                              l[i] == '_' || l[i] == '.'))
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(l[i++])));
      if (!name.empty()) return name;
    }
    if (hash == l.npos && l.find_first_not_of(" \t\r\f") != l.npos) break;  // code, not comment
    line_start = end + 1;
  }
  return "";
}

// Python's codec names, as glibc's iconv knows them ("latin-1" -> "ISO-8859-1").
std::string iconv_name(std::string python_name) {
  for (char& c : python_name) c = c == '_' ? '-' : c;
  if (python_name == "latin-1" || python_name == "latin1" || python_name == "l1" ||
      python_name == "iso-8859-1" || python_name == "iso8859-1" || python_name == "8859" ||
      python_name == "cp819")
    return "ISO-8859-1";
  if (python_name.starts_with("iso8859-")) python_name = std::string("iso-").append(python_name, 3);
  for (char& c : python_name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return python_name;
}

bool is_utf8_name(std::string enc) {
  for (char& c : enc) c = c == '_' ? '-' : c;
  return enc == "utf-8" || enc == "utf8" || enc.starts_with("utf-8-") || enc == "ascii" ||
         enc == "us-ascii";
}

std::string line_col(std::string_view s, size_t offset) {
  size_t line = 1 + static_cast<size_t>(std::count(s.begin(), s.begin() + offset, '\n'));
  size_t nl = s.rfind('\n', offset == 0 ? 0 : offset - 1);
  size_t col = nl == s.npos || offset == 0 ? offset + 1 : offset - nl;
  return std::to_string(line) + ":" + std::to_string(col);
}

bool convert_to_utf8(const std::string& encoding, std::string_view in, std::string& out) {
  iconv_t cd = iconv_open("UTF-8", iconv_name(encoding).c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out.assign(in.size() * 4 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1)) return false;
  out.resize(out.size() - dst_left);
  return true;
}

}  // namespace

DecodedSource decode_source(std::string bytes) {
  DecodedSource out;
  size_t nul = bytes.find('\0');
  if (nul != bytes.npos) {
    out.error = line_col(bytes, nul) +
                ": binary file (NUL byte); not Python source, add it to .yantraignore";
    return out;
  }
  std::string_view view = bytes;
  if (view.starts_with("\xEF\xBB\xBF")) view.remove_prefix(3);  // UTF-8 BOM
  std::string cookie = coding_cookie(view);
  if (!cookie.empty() && !is_utf8_name(cookie)) {
    if (!convert_to_utf8(cookie, view, out.text)) {
      out.error = "1:1: cannot decode as declared coding '" + cookie +
                  "'; fix the coding comment or save the file as UTF-8";
      out.text.clear();
    }
    return out;
  }
  size_t bad = first_invalid_utf8(view);
  if (bad != view.npos) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(view[bad]));
    out.error = line_col(view, bad) + ": not valid UTF-8 (byte " + hex +
                "); save the file as UTF-8 or declare its encoding (# -*- coding: latin-1 -*-)";
    return out;
  }
  out.text = view.size() == bytes.size() ? std::move(bytes) : std::string(view);
  return out;
}

std::string fold_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space && !(c == ')' || c == ']' || c == ',') && out.back() != '(' && out.back() != '[')
      out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Code points below 0x800 (what \x and octal escapes can spell) as UTF-8.
static void append_code_point(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string python_string_value(std::string_view lit) {
  size_t q = lit.find_first_of("'\"");
  if (q == lit.npos) return std::string(lit);
  bool raw = false;
  for (char c : lit.substr(0, q)) raw |= (c == 'r' || c == 'R');
  lit.remove_prefix(q);
  size_t quote_len =
      (lit.size() >= 6 && (lit.starts_with("\"\"\"") || lit.starts_with("'''"))) ? 3 : 1;
  if (lit.size() < 2 * quote_len) return "";
  lit = lit.substr(quote_len, lit.size() - 2 * quote_len);
  if (raw) return std::string(lit);
  std::string out;
  out.reserve(lit.size());
  for (size_t i = 0; i < lit.size(); ++i) {
    if (lit[i] != '\\' || i + 1 == lit.size()) {
      out += lit[i];
      continue;
    }
    char e = lit[++i];
    switch (e) {
      case '\n':
        break;  // line continuation
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x':
        if (i + 2 < lit.size() && std::isxdigit(static_cast<unsigned char>(lit[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(lit[i + 2]))) {
          append_code_point(out, std::stoul(std::string(lit.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          out += "\\x";
        }
        break;
      default:
        if (e >= '0' && e <= '7') {  // up to three octal digits
          unsigned value = 0;
          size_t digits = 0;
          while (digits < 3 && i + digits < lit.size() && lit[i + digits] >= '0' &&
                 lit[i + digits] <= '7')
            value = value * 8 + static_cast<unsigned>(lit[i + digits++] - '0');
          append_code_point(out, value);
          i += digits - 1;
        } else {
          out += '\\', out += e;  // \u...., \N{...} and unknown escapes kept as written
        }
        break;
    }
  }
  return out;
}

std::string clean_docstring(std::string_view text) {
  // inspect.cleandoc: expand tabs; strip the first line's leading blanks and the common
  // indentation of the others; drop empty lines at both ends. Trailing blanks stay.
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == text.npos) nl = text.size();
    std::string line;
    for (char c : text.substr(start, nl - start)) {
      if (c == '\t') line.append(8 - line.size() % 8, ' ');
      else line += c;
    }
    lines.push_back(std::move(line));
    start = nl + 1;
  }
  auto is_space = [](char c) { return c == ' ' || c == '\r' || c == '\f' || c == '\v'; };
  auto indent_of = [&](const std::string& l) {
    size_t i = 0;
    while (i < l.size() && is_space(l[i])) ++i;
    return i;
  };
  size_t margin = SIZE_MAX;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t indent = indent_of(lines[i]);
    if (indent < lines[i].size()) margin = std::min(margin, indent);
  }
  if (!lines.empty()) lines[0].erase(0, indent_of(lines[0]));
  if (margin != SIZE_MAX)
    for (size_t i = 1; i < lines.size(); ++i) lines[i].erase(0, std::min(margin, lines[i].size()));
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  size_t first = 0;
  while (first < lines.size() && lines[first].empty()) ++first;
  std::string out;
  for (size_t i = first; i < lines.size(); ++i) out.append(i == first ? "" : "\n").append(lines[i]);
  return out;
}

namespace {

template <size_t N>
bool contains(const std::array<std::string_view, N>& set, std::string_view word) {
  return std::find(set.begin(), set.end(), word) != set.end();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr std::array<std::string_view, 9> kDbMethods = {"execute",  "executemany", "executescript",
                                                        "cursor",   "commit",      "rollback",
                                                        "fetchone", "fetchall",    "fetchmany"};
constexpr std::array<std::string_view, 8> kDbModules = {
    "sqlite3", "psycopg2", "psycopg", "sqlalchemy", "pymysql", "dbm", "shelve", "peewee"};
constexpr std::array<std::string_view, 8> kHttpModules = {
    "requests", "urllib", "http", "httpx", "aiohttp", "urllib3", "httplib", "xmlrpc"};
constexpr std::array<std::string_view, 4> kHttpCalls = {"urlopen", "getresponse", "urlretrieve",
                                                        "HTTPConnection"};
constexpr std::array<std::string_view, 10> kIoCalls = {
    "open",       "read",      "write",      "readline",   "readlines",
    "writelines", "read_text", "write_text", "read_bytes", "write_bytes"};
constexpr std::array<std::string_view, 5> kIoModules = {"io", "shutil", "pathlib", "tempfile",
                                                        "gzip"};
constexpr std::array<std::string_view, 6> kAuthModules = {"hmac",  "hashlib", "secrets",
                                                          "crypt", "jwt",     "bcrypt"};
constexpr std::array<std::string_view, 8> kAuthWords = {"password", "passwd",     "token",  "auth",
                                                        "login",    "credential", "secret", "jwt"};
constexpr std::array<std::string_view, 4> kValidationCalls = {"isinstance", "issubclass",
                                                              "validate", "check"};

}  // namespace

uint32_t call_flags(const std::vector<std::string>& parts) {
  if (parts.empty()) return 0;
  const std::string& head = parts.front();
  const std::string& tail = parts.back();
  uint32_t f = 0;
  if (contains(kDbMethods, tail) || contains(kDbModules, head)) f |= kFlagDb;
  if (contains(kHttpModules, head) || contains(kHttpCalls, tail)) f |= kFlagHttp;
  if (contains(kIoCalls, tail) || contains(kIoModules, head)) f |= kFlagIo;
  if (contains(kAuthModules, head)) f |= kFlagAuth;
  if (contains(kValidationCalls, tail)) f |= kFlagValidation;
  return f;
}

uint32_t name_flags(std::string_view name, const std::vector<std::string>& params) {
  auto has_auth_word = [](std::string_view s) {
    std::string l = lower(s);
    for (auto w : kAuthWords)
      if (l.find(w) != std::string::npos) return true;
    return false;
  };
  if (has_auth_word(name)) return kFlagAuth;
  for (const auto& p : params)
    if (has_auth_word(p)) return kFlagAuth;
  return 0;
}

std::string pattern_flags_text(uint32_t flags) {
  constexpr std::pair<uint32_t, const char*> kNames[] = {
      {kFlagRaises, "raises"}, {kFlagValidation, "validation"},
      {kFlagDb, "db"},         {kFlagHttp, "http"},
      {kFlagIo, "io"},         {kFlagAuth, "auth"}};
  std::string out;
  for (auto [bit, name] : kNames)
    if (flags & bit) out.append(out.empty() ? "" : ",").append(name);
  return out;
}

}  // namespace yantra::graph
