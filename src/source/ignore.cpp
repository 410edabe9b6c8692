// IgnoreRules: gitignore pattern parsing and matching.
//
// Glob segments go to fnmatch(3) (flags 0: like git, `*` matches a leading '.', and
// backslash escapes work); `**` spanning directories is handled here, because fnmatch
// has no notion of it.
#include <fnmatch.h>

#include <cstring>
#include <string>
#include <string_view>

#include "source/source.h"

namespace yantra {
namespace {

// Characters that make fnmatch do more than compare ("]" ends a bracket expression).
bool is_special(char c) {
  return c == '*' || c == '?' || c == '[' || c == ']' || c == '\\';
}

// fnmatch wants NUL-terminated strings; path components are views into a longer path, so
// they are copied to the stack (no allocation) unless unusually long.
bool segment_matches(std::string_view glob, std::string_view name) {
  size_t literal_head = 0;
  while (literal_head < glob.size() && !is_special(glob[literal_head])) ++literal_head;
  if (literal_head == glob.size()) return glob == name;  // most patterns are literal names
  // The literal text before the first and after the last special character must begin and
  // end the name: a cheap rejection for nearly every name ("*.pyc" against "os.py").
  size_t literal_tail = glob.size();
  while (!is_special(glob[literal_tail - 1])) --literal_tail;
  if (!name.starts_with(glob.substr(0, literal_head))) return false;
  if (!name.ends_with(glob.substr(literal_tail))) return false;
  char glob_buf[256];
  char name_buf[256];
  if (glob.size() < sizeof glob_buf && name.size() < sizeof name_buf) {
    std::memcpy(glob_buf, glob.data(), glob.size());
    glob_buf[glob.size()] = '\0';
    std::memcpy(name_buf, name.data(), name.size());
    name_buf[name.size()] = '\0';
    return ::fnmatch(glob_buf, name_buf, 0) == 0;
  }
  return ::fnmatch(std::string(glob).c_str(), std::string(name).c_str(), 0) == 0;
}

// Splits "a/b/c" into "a" and "b/c"; the rest is empty when there is no '/'.
std::string_view take_first_segment(std::string_view& s) {
  size_t slash = s.find('/');
  std::string_view first = s.substr(0, slash);
  s = slash == std::string_view::npos ? std::string_view() : s.substr(slash + 1);
  return first;
}

// Matches '/'-separated glob segments against path components. A `**` segment spans zero
// or more components, except at the end, where "dir/**" means everything inside dir (so
// at least one component).
bool segments_match(std::string_view glob, std::string_view path) {
  while (!glob.empty()) {
    std::string_view segment = take_first_segment(glob);
    if (segment == "**") {
      if (glob.empty()) return !path.empty();
      for (std::string_view rest = path;;) {
        if (segments_match(glob, rest)) return true;
        if (rest.empty()) return false;
        take_first_segment(rest);
      }
    }
    if (path.empty()) return false;
    if (!segment_matches(segment, take_first_segment(path))) return false;
  }
  return path.empty();
}

// Drops trailing spaces unless the last one is escaped ("foo\ " keeps its space).
std::string_view trim_trailing_spaces(std::string_view line) {
  while (!line.empty() && line.back() == ' ') {
    if (line.size() >= 2 && line[line.size() - 2] == '\\') break;
    line.remove_suffix(1);
  }
  return line;
}

}  // namespace

void IgnoreRules::add(std::string_view dir_rel, std::string_view file_text) {
  std::string base(dir_rel);
  if (!base.empty() && base.back() != '/') base += '/';
  while (!file_text.empty()) {
    size_t newline = file_text.find('\n');
    std::string_view line = file_text.substr(0, newline);
    file_text =
        newline == std::string_view::npos ? std::string_view() : file_text.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    line = trim_trailing_spaces(line);
    if (line.empty() || line.front() == '#') continue;  // "\#" is a literal '#' for fnmatch
    Pattern pattern;
    pattern.base = base;
    if (line.front() == '!') {  // "\!" stays escaped and reaches fnmatch as a literal '!'
      pattern.negate = true;
      line.remove_prefix(1);
    }
    if (!line.empty() && line.back() == '/') {
      pattern.dir_only = true;
      line.remove_suffix(1);
    }
    if (!line.empty() && line.front() == '/') {
      pattern.anchored = true;
      line.remove_prefix(1);
    }
    if (line.empty()) continue;
    if (line.find('/') != std::string_view::npos) pattern.anchored = true;
    pattern.glob = std::string(line);
    patterns_.push_back(std::move(pattern));
  }
}

namespace {

// Whether `pattern` matches exactly `rel_path` (not considering its parent directories).
// `name` is the last component of `rel_path`, found once for all patterns. (Templates,
// because IgnoreRules::Pattern is private and these helpers are not members.)
template <class PatternT>
bool pattern_matches(const PatternT& pattern, std::string_view rel_path, std::string_view name,
                     bool is_dir) {
  if (pattern.dir_only && !is_dir) return false;
  // Patterns apply only strictly below the directory holding their ignore file.
  if (rel_path.size() <= pattern.base.size() || !rel_path.starts_with(pattern.base)) return false;
  std::string_view below = rel_path.substr(pattern.base.size());
  if (pattern.anchored) return segments_match(pattern.glob, below);
  return segment_matches(pattern.glob, name);
}

// The last matching pattern decides; no match means "not ignored".
template <class PatternsT>
bool last_match_ignores(const PatternsT& patterns, std::string_view rel_path, bool is_dir) {
  size_t slash = rel_path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? rel_path : rel_path.substr(slash + 1);
  for (auto it = patterns.rbegin(); it != patterns.rend(); ++it) {
    if (pattern_matches(*it, rel_path, name, is_dir)) return !it->negate;
  }
  return false;
}

}  // namespace

bool IgnoreRules::ignored(std::string_view rel_path, bool is_dir) const {
  if (patterns_.empty()) return false;
  // As in git, nothing inside an ignored directory can be re-included, so every parent
  // directory is checked first.
  for (size_t slash = rel_path.find('/'); slash != std::string_view::npos;
       slash = rel_path.find('/', slash + 1)) {
    if (last_match_ignores(patterns_, rel_path.substr(0, slash), true)) return true;
  }
  return last_match_ignores(patterns_, rel_path, is_dir);
}

}  // namespace yantra
