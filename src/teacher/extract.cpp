// Code out of an LLM reply: fenced blocks, or bare code between prose.
#include <algorithm>
#include <regex>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

struct Block {
  std::string lang;  // first word of the info string, lower case
  std::string code;
};

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

size_t indent_of(const std::string& line) {
  size_t n = line.find_first_not_of(" \t");
  return n == std::string::npos ? line.size() : n;
}

// The fence a line opens ("```" or "~~~~", ...), or "" when it opens none.
std::string fence_of(const std::string& line) {
  size_t at = indent_of(line);
  if (at >= line.size() || (line[at] != '`' && line[at] != '~')) return "";
  size_t run = line.find_first_not_of(line[at], at);
  if (run == std::string::npos) run = line.size();
  return run - at >= 3 ? line.substr(at, run - at) : "";
}

bool closes(const std::string& line, const std::string& fence) {
  std::string f = fence_of(line);
  if (f.empty() || f[0] != fence[0] || f.size() < fence.size()) return false;
  return line.find_first_not_of(" \t", indent_of(line) + f.size()) == std::string::npos;
}

std::string lower_first_word(std::string_view info) {
  std::string word;
  for (char c : info) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '{' || c == ',') {
      if (word.empty()) continue;
      break;
    }
    word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return word;
}

// Every fenced block; an unterminated one (a reply cut by the token limit) runs to the end.
std::vector<Block> fenced_blocks(const std::vector<std::string>& lines) {
  std::vector<Block> blocks;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string fence = fence_of(lines[i]);
    if (fence.empty()) continue;
    size_t indent = indent_of(lines[i]);
    Block block{lower_first_word(std::string_view(lines[i]).substr(indent + fence.size())), ""};
    size_t j = i + 1;
    for (; j < lines.size() && !closes(lines[j], fence); ++j) {
      // A fence indented inside a list item indents its content as much: undo that.
      size_t drop = std::min(indent, indent_of(lines[j]));
      block.code += lines[j].substr(drop) + "\n";
    }
    blocks.push_back(std::move(block));
    i = j;
  }
  return blocks;
}

std::string without_think(std::string_view text) {
  std::string out(text);
  for (size_t open = out.find("<think>"); open != std::string::npos; open = out.find("<think>")) {
    size_t close = out.find("</think>", open);
    out.erase(open, close == std::string::npos ? std::string::npos : close + 8 - open);
  }
  return out;
}

bool is_python(const std::string& lang) {
  return lang.empty() || lang == "python" || lang == "py" || lang == "python3";
}

bool defines(const std::string& code, std::string_view name) {
  if (!is_identifier(name)) return false;
  std::regex pattern("(^|\\n)[ \\t]*((async[ \\t]+)?def|class)[ \\t]+" + std::string(name) +
                     "\\b|(^|\\n)" + std::string(name) + "[ \\t]*=[^=]");
  return std::regex_search(code, pattern);
}

// A column-0 line that reads as Python rather than prose.
bool looks_like_code(const std::string& line) {
  static const std::regex kCode(
      R"(^((async\s+)?def\s|class\s|import\s|from\s+[\w.]+\s+import\b|@\w|#|if\s|elif\s|else\s*:)"
      R"(|for\s|while\s|try\s*:|except\b|finally\s*:|with\s|return\b|raise\b|assert\b|pass\b)"
      R"(|[\w.]+\s*(=[^=]|\+=|-=|\(|\[)|[)\]}]|"""|'''))");
  return std::regex_search(line, kCode);
}

bool starts_code(const std::string& line) {
  static const std::regex kStart(
      R"(^((async\s+)?def\s|class\s|import\s+\w|from\s+[\w.]+\s+import\b|@\w))");
  return std::regex_search(line, kStart);
}

// Bare code: from the first def/class/import line to the last line before prose resumes.
std::string bare_code(const std::vector<std::string>& lines) {
  size_t start = 0;
  while (start < lines.size() && !starts_code(lines[start])) ++start;
  if (start == lines.size()) return "";
  size_t end = start + 1;
  for (; end < lines.size(); ++end) {
    const std::string& line = lines[end];
    bool blank = indent_of(line) == line.size();
    if (!blank && indent_of(line) == 0 && !looks_like_code(line)) break;
  }
  std::string code;
  for (size_t i = start; i < end; ++i) code += lines[i] + "\n";
  return code;
}

std::string tidy(std::string code) {
  while (!code.empty() && std::isspace(static_cast<unsigned char>(code.back()))) code.pop_back();
  size_t first = 0;
  while (first < code.size() && code[first] == '\n') ++first;
  code.erase(0, first);
  return code.empty() ? code : code + "\n";
}

// Tracks brackets and strings across lines, so a statement's continuation lines can be
// told from the next statement.
class LineScanner {
 public:
  // Feeds one line; true when the statement goes on to the next line.
  bool continues(const std::string& line) {
    bool backslash = false;
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      backslash = false;
      if (quote_) {
        if (c == '\\') {
          ++i;
          backslash = i >= line.size();
        } else if (line.compare(i, quote_len_, std::string(quote_len_, quote_)) == 0) {
          i += quote_len_ - 1;
          quote_ = 0;
        }
      } else if (c == '#') {
        break;
      } else if (c == '"' || c == '\'') {
        quote_ = c;
        quote_len_ = line.compare(i, 3, std::string(3, c)) == 0 ? 3 : 1;
        i += quote_len_ - 1;
      } else if (c == '(' || c == '[' || c == '{') {
        ++depth_;
      } else if (c == ')' || c == ']' || c == '}') {
        depth_ = depth_ > 0 ? depth_ - 1 : 0;
      } else if (c == '\\' && i + 1 == line.size()) {
        backslash = true;
      }
    }
    if (quote_ && quote_len_ == 1) quote_ = 0;  // an unterminated one-line string ends here
    return depth_ > 0 || quote_ || backslash;
  }

 private:
  int depth_ = 0;
  char quote_ = 0;
  size_t quote_len_ = 1;
};

// `text` with the identifier `from` renamed to `to` (whole words only).
std::string rename_word(const std::string& text, const std::string& from, const std::string& to) {
  return std::regex_replace(text, std::regex("\\b" + from + "\\b"), to);
}

bool mentions(const std::string& text, std::string_view name) {
  return std::regex_search(text, std::regex("\\b" + std::string(name) + "\\b"));
}

bool starts_assert(const std::string& line) {
  size_t at = indent_of(line);
  return line.compare(at, 6, "assert") == 0 && at + 6 < line.size() &&
         (line[at + 6] == ' ' || line[at + 6] == '(' || line[at + 6] == '\t');
}

}  // namespace

std::string extract_code(std::string_view reply_text, std::string_view entry_point) {
  std::vector<std::string> lines = split_lines(without_think(reply_text));
  std::vector<Block> blocks = fenced_blocks(lines);
  if (blocks.empty()) return tidy(bare_code(lines));
  const Block* chosen = nullptr;
  for (const Block& b : blocks)  // the last defining block, a Python one if there is one
    if (defines(b.code, entry_point) && (!chosen || is_python(b.lang) || !is_python(chosen->lang)))
      chosen = &b;
  for (size_t i = 0; !chosen && i < blocks.size(); ++i)
    if (is_python(blocks[i].lang) && !tidy(blocks[i].code).empty()) chosen = &blocks[i];
  if (!chosen) chosen = &blocks.front();
  return tidy(chosen->code);
}

std::optional<std::pair<size_t, size_t>> find_json_object(std::string_view text) {
  constexpr int kMaxStarts = 64;  // replies are short; bound the quadratic worst case
  int starts = 0;
  for (size_t open = text.find('{'); open != std::string_view::npos && starts < kMaxStarts;
       open = text.find('{', open + 1), ++starts) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = open; i < text.size(); ++i) {
      char c = text[i];
      if (in_string) {
        if (escaped)
          escaped = false;
        else if (c == '\\')
          escaped = true;
        else if (c == '"')
          in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        auto j = nlohmann::json::parse(text.substr(open, i + 1 - open), nullptr, false);
        if (!j.is_discarded() && j.is_object()) return std::make_pair(open, i + 1 - open);
        break;
      }
    }
  }
  return std::nullopt;
}

std::vector<std::string> extract_asserts(std::string_view reply_text,
                                         std::string_view entry_point) {
  if (!is_identifier(entry_point)) return {};
  std::vector<std::string> lines = split_lines(without_think(reply_text));
  std::vector<Block> blocks = fenced_blocks(lines);
  if (!blocks.empty()) {  // asserts may be spread over several blocks: read them all
    std::string code;
    for (const Block& b : blocks)
      if (is_python(b.lang)) code += b.code;
    lines = split_lines(code);
  }
  std::vector<std::string> asserts;
  const std::string name(entry_point);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!starts_assert(lines[i])) continue;
    LineScanner scanner;
    std::string statement = lines[i].substr(indent_of(lines[i]));
    bool more = scanner.continues(lines[i]);
    while (more && i + 1 < lines.size()) {
      statement += "\n" + lines[++i];
      more = scanner.continues(lines[i]);
    }
    if (more) continue;  // cut off mid-statement (token limit): not a statement
    // check(candidate)-style answers test a parameter, not the function's name.
    if (!mentions(statement, name) && mentions(statement, "candidate"))
      statement = rename_word(statement, "candidate", name);
    if (!mentions(statement, name)) continue;
    if (std::find(asserts.begin(), asserts.end(), statement) == asserts.end())
      asserts.push_back(std::move(statement));
  }
  return asserts;
}

}  // namespace yantra::teacher
