// `config set`: changes one value in a TOML file by editing its text where toml++ says the
// value (or its table) sits, so comments and layout stay. toml++ itself drops comments when
// it writes, so its serializer is only the fallback, used when the text edit does not parse
// back to exactly the intended table (dotted or inline tables).
#include <sys/stat.h>

#include <toml++/toml.h>
#include <filesystem>
#include <sstream>

#include "config/internal.h"

namespace yantra::config {
namespace {

namespace fs = std::filesystem;

// Byte offsets of a text's lines, to turn toml++'s line:column (columns in code points)
// into positions in the text.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) : text_(text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') starts_.push_back(i + 1);
  }

  std::optional<size_t> offset(const toml::source_position& p) const {
    if (p.line == 0 || p.line > starts_.size() || p.column == 0) return std::nullopt;
    size_t pos = starts_[p.line - 1];
    for (uint32_t col = 1; col < p.column; ++col) {
      if (pos >= text_.size()) return std::nullopt;
      ++pos;  // past the lead byte, then past any UTF-8 continuation bytes
      while (pos < text_.size() && (static_cast<unsigned char>(text_[pos]) & 0xC0) == 0x80) ++pos;
    }
    return pos;
  }

  // Where the line after `line` (1-based) starts; the text's end if it is the last.
  size_t after_line(uint32_t line) const {
    return line < starts_.size() ? starts_[line] : text_.size();
  }

 private:
  std::string_view text_;
  std::vector<size_t> starts_;
};

const toml::node* find_node(const toml::table& root, const std::vector<std::string>& segments,
                            size_t count) {
  const toml::node* node = &root;
  for (size_t i = 0; i < count && node; ++i) {
    const toml::table* table = node->as_table();
    node = table ? table->get(segments[i]) : nullptr;
  }
  return node;
}

void assign(toml::table& table, const std::string& key, const Value& value) {
  if (auto* b = std::get_if<bool>(&value))
    table.insert_or_assign(key, *b);
  else if (auto* i = std::get_if<int64_t>(&value))
    table.insert_or_assign(key, *i);
  else if (auto* d = std::get_if<double>(&value))
    table.insert_or_assign(key, *d);
  else if (auto* s = std::get_if<std::string>(&value))
    table.insert_or_assign(key, *s);
  else if (auto* list = std::get_if<std::vector<std::string>>(&value)) {
    toml::array arr;
    for (const auto& item : *list) arr.push_back(item);
    table.insert_or_assign(key, std::move(arr));
  }
}

// `root` with the value set, building missing tables on the way.
Result<void> set_in(toml::table& root, const internal::KeyPath& key, const Value& value,
                    const std::string& path) {
  toml::table* table = &root;
  for (size_t i = 0; i + 1 < key.segments.size(); ++i) {
    toml::node* node = table->get(key.segments[i]);
    if (!node) node = table->insert(key.segments[i], toml::table{}).first->second.as_table();
    if (!node->is_table()) {
      const auto& where = node->source().begin;
      return Error::at(path, where.line, where.column,
                       key.segments[i] + " is not a table here; fix it by hand first");
    }
    table = node->as_table();
  }
  assign(*table, key.segments.back(), value);
  return {};
}

// The text with the value replaced or inserted, or nullopt where the layout makes that unsafe.
std::optional<std::string> edit_text(const std::string& text, const toml::table& root,
                                     const internal::KeyPath& key, const std::string& literal) {
  LineIndex lines(text);
  const size_t n = key.segments.size();
  if (const toml::node* old = find_node(root, key.segments, n)) {
    auto begin = lines.offset(old->source().begin), end = lines.offset(old->source().end);
    if (!begin || !end || *end < *begin || old->is_table()) return std::nullopt;
    return std::string(text, 0, *begin).append(literal).append(text, *end);
  }
  std::string line = key.segments.back() + " = " + literal + "\n";
  const toml::node* parent = find_node(root, key.segments, n - 1);
  if (!parent) {
    std::string header;
    for (size_t i = 0; i + 1 < n; ++i) header.append(i ? "." : "[").append(key.segments[i]);
    std::string out = text;
    if (!out.empty()) out.append(out.ends_with('\n') ? "\n" : "\n\n");
    return out.append(header).append("]\n").append(line);
  }
  const toml::table* table = parent->as_table();
  if (!table || table->is_inline()) return std::nullopt;
  uint32_t last = table->source().begin.line;  // the [header] line, then its last value's
  for (auto&& [k, child] : *table) last = std::max(last, child.source().end.line);
  size_t at = lines.after_line(last);
  std::string out = text.substr(0, at);
  if (!out.empty() && !out.ends_with('\n')) out.push_back('\n');
  return out.append(line).append(text, at);
}

bool parses_to(const std::string& text, const toml::table& expected) {
  try {
    return toml::parse(std::string_view(text)) == expected;
  } catch (const toml::parse_error&) {
    return false;
  }
}

Result<void> write_keeping_mode(const std::string& path, const std::string& text) {
  struct stat before {};
  bool existed = ::stat(path.c_str(), &before) == 0;
  auto dir = internal::make_dirs(fs::path(path).parent_path().string(), 0700);
  if (!dir) return dir.error();
  auto written = write_file_atomic(path, text);
  if (!written) return written;
  // write_file_atomic creates 0644; a file the user had narrowed stays narrowed.
  if (existed && (before.st_mode & 07777) != 0644) ::chmod(path.c_str(), before.st_mode & 07777);
  return {};
}

}  // namespace

Result<SetReport> set_value(const std::string& path, std::string_view key, std::string_view text) {
  auto key_path = internal::resolve_key(key);
  if (!key_path) return key_path.error();
  auto value = internal::parse_text(*key_path->spec, key, text);
  if (!value) return value.error();

  SetReport report;
  std::error_code ec;
  std::string original;
  if (fs::exists(path, ec)) {
    auto read = read_file(path);
    if (!read) return read.error();
    original = std::move(*read);
  } else {
    report.created_file = true;
  }
  toml::table root;
  try {
    root = toml::parse(std::string_view(original), std::string_view(path));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Error::at(path, where.line, where.column,
                     std::string(e.description()).append("; fix the file before changing it"));
  }
  toml::table expected = root;
  auto set = set_in(expected, *key_path, *value, path);
  if (!set) return set.error();

  auto edited = edit_text(original, root, *key_path, internal::toml_literal(*value));
  std::string out;
  if (edited && parses_to(*edited, expected)) {
    out = std::move(*edited);
  } else {
    std::ostringstream os;
    os << expected << "\n";
    out = os.str();
    report.kept_layout = false;
  }
  auto written = write_keeping_mode(path, out);
  if (!written) return written.error();
  return report;
}

}  // namespace yantra::config
