// What a request asks for: the function's name and parameters, the examples written in
// it, whether it touches security, and the student's embedding of it.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>

#include "router/router.h"
#include "student/student.h"

namespace yantra::router {
namespace {

bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Every `def NAME(` at the start of a line (any indentation), in order.
struct DefSite {
  size_t begin, name_begin, name_end, params_end;  // params_end: the matching ')'
};

std::vector<DefSite> find_defs(std::string_view text) {
  std::vector<DefSite> defs;
  for (size_t i = 0; (i = text.find("def ", i)) != std::string_view::npos; i += 4) {
    size_t line = text.rfind('\n', i == 0 ? 0 : i - 1);
    line = line == std::string_view::npos ? 0 : line + 1;
    bool at_line_start = std::all_of(text.begin() + static_cast<ptrdiff_t>(line),
                                     text.begin() + static_cast<ptrdiff_t>(i),
                                     [](char c) { return c == ' ' || c == '\t'; });
    if (!at_line_start) continue;
    size_t name = i + 4;
    while (name < text.size() && text[name] == ' ') ++name;
    size_t end = name;
    while (end < text.size() && is_ident_char(text[end])) ++end;
    if (end == name || end >= text.size() || text[end] != '(') continue;
    int depth = 0;
    size_t close = end;
    for (; close < text.size(); ++close) {
      if (text[close] == '(' || text[close] == '[') ++depth;
      if ((text[close] == ')' || text[close] == ']') && --depth == 0) break;
    }
    if (close >= text.size()) continue;
    defs.push_back({line, name, end, close});
  }
  return defs;
}

// Parameter names between the parentheses: annotations and defaults dropped, `self`,
// `*`, `/` and bare separators skipped.
std::vector<std::string> parameter_names(std::string_view inside) {
  std::vector<std::string> names;
  int depth = 0;
  size_t start = 0;
  auto take = [&](size_t end) {
    std::string_view part = inside.substr(start, end - start);
    size_t b = part.find_first_not_of(" \t\n*");
    if (b == std::string_view::npos) return;
    size_t e = b;
    while (e < part.size() && is_ident_char(part[e])) ++e;
    std::string name(part.substr(b, e - b));
    if (!name.empty() && name != "self" && name != "cls") names.push_back(name);
  };
  for (size_t i = 0; i < inside.size(); ++i) {
    char c = inside[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) take(i), start = i + 1;
  }
  take(inside.size());
  return names;
}

// Words that make a request security-critical: a wrong answer there costs more than a
// premium call, so such requests skip the student and the open-source tier.
const std::vector<std::pair<std::string, std::string>>& security_words() {
  static const std::vector<std::pair<std::string, std::string>> words = {
      {"password", "passwords"},
      {"authenticat", "authentication"},
      {"authoriz", "authorization"},
      {"login", "login"},
      {"jwt", "tokens"},
      {"oauth", "OAuth"},
      {"encrypt", "encryption"},
      {"decrypt", "encryption"},
      {"cipher", "ciphers"},
      {"hmac", "message authentication"},
      {"signature verif", "signatures"},
      {"private key", "keys"},
      {"secret", "secrets"},
      {"credit card", "payments"},
      {"payment", "payments"},
      {"csrf", "web security"},
      {"sanitiz", "input sanitisation"},
      {"sql injection", "SQL injection"},
      {"permission", "permissions"},
      {"session token", "sessions"},
  };
  return words;
}

}  // namespace

Result<ParsedRequest> parse_request(const Request& request) {
  ParsedRequest parsed;
  parsed.text = request.text;
  std::string_view source = request.signature.empty() ? std::string_view(request.text)
                                                      : std::string_view(request.signature);
  std::vector<DefSite> defs = find_defs(source);
  const DefSite* chosen = nullptr;
  for (const DefSite& d : defs) {
    std::string_view name = source.substr(d.name_begin, d.name_end - d.name_begin);
    if (request.entry_point.empty() || name == request.entry_point) chosen = &d;  // the last
  }
  if (!chosen) {
    if (!request.entry_point.empty() && request.signature.empty() && defs.empty())
      return Error{"the request names `" + request.entry_point + "` but has no `def " +
                   request.entry_point + "(...)` line: give the signature with --signature 'def " +
                   request.entry_point + "(x):'"};
    if (!request.entry_point.empty())
      return Error{"no `def " + request.entry_point + "(...)` in the " +
                   (request.signature.empty() ? "request" : "signature") +
                   ": check the name, or give --signature"};
    return Error{
        "the request does not say which function to write: give its signature, "
        "e.g. --signature 'def parse_date(text: str) -> date:'"};
  }
  parsed.entry_point =
      std::string(source.substr(chosen->name_begin, chosen->name_end - chosen->name_begin));
  size_t colon = source.find(':', chosen->params_end);
  size_t sig_end = colon == std::string_view::npos ? chosen->params_end + 1 : colon + 1;
  parsed.signature = std::string(source.substr(chosen->begin, sig_end - chosen->begin));
  parsed.params = parameter_names(
      source.substr(chosen->name_end + 1, chosen->params_end - chosen->name_end - 1));
  if (!request.signature.empty() && request.text.find(parsed.signature) == std::string::npos)
    parsed.text = parsed.signature + "\n    \"\"\"" + request.text + "\"\"\"\n";
  parsed.examples = validator::extract_request_tests(parsed.text, parsed.entry_point);

  std::string lower = parsed.text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [word, topic] : security_words())
    if (lower.find(word) != std::string::npos) {
      parsed.security = true;
      parsed.security_reason = "mentions " + topic + " (\"" + word + "\")";
      break;
    }
  return parsed;
}

std::vector<float> request_embedding(const ParsedRequest& request) {
  return student::text_embedding(request.entry_point, request.params, request.text);
}

}  // namespace yantra::router
