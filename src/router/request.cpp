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

// The comments of the text alone, each `#` (and the space after it) taken out and every
// other line left blank (line numbers stay): examples written in comments (a docstring
// turned into `#` lines) read like a docstring's, and the code under them is not taken for
// their expected output. The text is only read for examples; it never runs.
std::string comments_alone(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    size_t b = line.find_first_not_of(" \t");
    if (b != std::string_view::npos && line[b] == '#') {
      size_t rest = b + 1 + (b + 1 < line.size() && line[b + 1] == ' ');
      out.append(line.substr(0, b)).append(line.substr(rest));
    }
    if (end < text.size()) out.push_back('\n');
    start = end + 1;
  }
  return out;
}

}  // namespace

Result<ParsedRequest> parse_request(const Request& request) {
  ParsedRequest parsed;
  parsed.text = request.text;
  std::string_view source = request.signature.empty() ? std::string_view(request.text)
                                                      : std::string_view(request.signature);
  student::RequestView view = student::view_request(source, request.entry_point);
  if (!view.has_def) {
    if (!request.entry_point.empty() && request.signature.empty() && !view.defines_any)
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
  parsed.entry_point = view.name;
  parsed.signature = view.signature;
  parsed.params = view.params;
  if (!request.signature.empty() && request.text.find(parsed.signature) == std::string::npos)
    parsed.text = parsed.signature + "\n    \"\"\"" + request.text + "\"\"\"\n";
  parsed.examples = validator::extract_request_tests(parsed.text, parsed.entry_point);
  for (validator::TestCase& t :
       validator::extract_request_tests(comments_alone(parsed.text), parsed.entry_point)) {
    bool seen = std::any_of(parsed.examples.begin(), parsed.examples.end(),
                            [&](const auto& e) { return e.code == t.code && e.want == t.want; });
    if (!seen) parsed.examples.push_back(std::move(t));
  }

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
  return student::view_embedding(student::view_request(request.text, request.entry_point));
}

library::Embedder library_embedder() {
  return {std::string(kEmbedderName), [](const library::Entry& e) {
            return student::view_embedding(student::view_request(e.request, e.entry_point));
          }};
}

library::Embedder encoder_embedder(std::shared_ptr<const student::RequestEncoder> encoder) {
  std::string name = "encoder-" + encoder->version();
  return {std::move(name), [encoder = std::move(encoder)](const library::Entry& e) {
            return encoder->encode(student::view_request(e.request, e.entry_point));
          }};
}

library::Embedder hashed_embedder() {
  return {"hashed-bag-1", [](const library::Entry& e) {
            auto parsed = parse_request({e.request, "", e.entry_point});
            return student::text_embedding(
                e.entry_point, parsed ? parsed->params : std::vector<std::string>{}, e.request);
          }};
}

std::vector<float> embed_request(const library::Embedder& embedder, const ParsedRequest& request) {
  library::Entry e;
  e.request = request.text;
  e.entry_point = request.entry_point;
  return embedder.embed(e);
}

}  // namespace yantra::router
