// The request view: a request taken apart into what it names (function, parameters,
// types), what it says (the description) and what it shows (examples), and hashed into
// the embedding the library indexes requests by.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "base/base.h"
#include "student/student.h"

namespace yantra::student {
namespace {

bool is_ident(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// One `def NAME(...)`: where its parameters and its header end.
struct Def {
  std::string name;
  size_t begin = 0;                         // the start of its line
  size_t params_begin = 0, params_end = 0;  // inside the parentheses
  size_t header_end = 0;                    // just after the ':' ending the header
};

std::vector<Def> find_defs(std::string_view text) {
  std::vector<Def> defs;
  for (size_t i = 0; (i = text.find("def ", i)) != std::string_view::npos; i += 4) {
    size_t line = text.rfind('\n', i == 0 ? 0 : i - 1);
    line = line == std::string_view::npos ? 0 : line + 1;
    if (!trim(text.substr(line, i - line)).empty()) continue;
    size_t name = text.find_first_not_of(' ', i + 4);
    size_t end = name;
    while (end < text.size() && is_ident(text[end])) ++end;
    if (end == name || end >= text.size() || text[end] != '(') continue;
    int depth = 0;
    size_t close = end;
    for (; close < text.size(); ++close) {
      if (text[close] == '(' || text[close] == '[') ++depth;
      if ((text[close] == ')' || text[close] == ']') && --depth == 0) break;
    }
    if (close >= text.size()) continue;
    size_t colon = text.find(':', close);
    defs.push_back({std::string(text.substr(name, end - name)), line, end + 1, close,
                    colon == std::string_view::npos ? close + 1 : colon + 1});
  }
  return defs;
}

// Splits at commas outside brackets.
std::vector<std::string_view> top_level_parts(std::string_view s) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    char c = i < s.size() ? s[i] : ',';
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  return parts;
}

void read_signature(std::string_view text, const Def& def, RequestView& view) {
  for (std::string_view part :
       top_level_parts(text.substr(def.params_begin, def.params_end - def.params_begin))) {
    size_t b = part.find_first_not_of('*');
    if (b == std::string_view::npos) continue;
    size_t e = b;
    while (e < part.size() && is_ident(part[e])) ++e;
    std::string name(part.substr(b, e - b));
    if (name.empty() || name == "self" || name == "cls") continue;
    std::string type;
    if (size_t colon = part.find(':', e); colon != std::string_view::npos) {
      size_t eq = part.find('=', colon);
      type = std::string(trim(part.substr(
          colon + 1, eq == std::string_view::npos ? std::string_view::npos : eq - colon - 1)));
    }
    view.params.push_back(std::move(name));
    view.param_types.push_back(std::move(type));
  }
  std::string_view after = text.substr(def.params_end + 1, def.header_end - def.params_end - 1);
  if (size_t arrow = after.find("->"); arrow != std::string_view::npos) {
    std::string_view ret = trim(after.substr(arrow + 2));
    if (ret.ends_with(':')) ret = trim(ret.substr(0, ret.size() - 1));
    view.return_type = std::string(ret);
  }
}

// The first string literal of the body, when it is triple-quoted: the docstring.
std::string docstring_after(std::string_view text, size_t header_end) {
  size_t b = text.find_first_not_of(" \t\r\n", header_end);
  if (b == std::string_view::npos) return {};
  size_t q = b;
  while (q < text.size() && (text[q] == 'r' || text[q] == 'R' || text[q] == 'u')) ++q;
  for (std::string_view quote : {"\"\"\"", "'''"}) {
    if (text.substr(q, 3) != quote) continue;
    size_t close = text.find(quote, q + 3);
    return std::string(text.substr(
        q + 3, close == std::string_view::npos ? std::string_view::npos : close - q - 3));
  }
  return {};
}

// Every comment's text, in order.
std::string comments_of(std::string_view text) {
  std::string out;
  for (std::string_view line : split_lines(text)) {
    std::string_view t = trim(line);
    size_t text = t.find_first_not_of('#');
    if (!t.starts_with('#') || text == std::string_view::npos) continue;  // "#" alone
    out.append(trim(t.substr(text)));
    out.push_back('\n');
  }
  return out;
}

// A line that shows a call and its result ("f(3) == 5", "f([1, 2]) ➞ 3", "f(x) -> y"),
// or starts with the call: an example. A sentence that only mentions the function is not.
bool shows_a_call(std::string_view line, const std::string& call) {
  size_t at = line.find(call);
  if (call.size() <= 1 || at == std::string_view::npos) return false;
  if (at == 0) return true;
  for (std::string_view arrow : {"==", "\u279e", "=>", "->", " = ", "returns", "should return"})
    if (line.find(arrow, at) != std::string_view::npos) return true;
  return false;
}

// Moves example lines out of the description: `>>> ...` and the output under it, and the
// lines that show a call. What stays is its non-blank lines, trimmed.
void separate_examples(RequestView& view) {
  std::string description;
  bool after_prompt = false;
  const std::string call = view.name + "(";
  for (std::string_view line : split_lines(view.description)) {
    std::string_view t = trim(line);
    bool example = t.starts_with(">>>") || (after_prompt && !t.empty()) || shows_a_call(t, call);
    after_prompt = t.starts_with(">>>");
    if (example) {
      view.examples.emplace_back(t);
    } else if (!t.empty()) {
      if (!description.empty()) description.push_back('\n');
      description.append(t);
    }
  }
  view.description = std::move(description);
}

}  // namespace

RequestView view_request(std::string_view text, std::string_view entry_point) {
  RequestView view;
  std::vector<Def> defs = find_defs(text);
  const Def* chosen = nullptr;
  for (const Def& d : defs)
    if (entry_point.empty() || d.name == entry_point) chosen = &d;  // the last one
  view.defines_any = !defs.empty();
  if (!chosen) {
    view.name = std::string(entry_point);
    view.description = std::string(text);
  } else {
    view.name = chosen->name;
    view.signature = std::string(text.substr(chosen->begin, chosen->header_end - chosen->begin));
    view.has_def = true;
    read_signature(text, *chosen, view);
    view.description = docstring_after(text, chosen->header_end);
    // Comments count with a docstring too: a request may say part of it in each.
    std::string comments = comments_of(text);
    if (!comments.empty()) view.description += "\n" + comments;
  }
  view.name_words = sub_tokens(view.name);
  separate_examples(view);
  return view;
}

namespace {

// Feature weights by role. The name identifies a request best and survives rewording;
// description words count fully when WordNet knows them (content words) or are long, and
// little otherwise ("the", "of"); a word's synonym sets let a synonym swap still meet; its
// character trigrams let a typo still meet most of the word.
constexpr float kName = 2.0f, kNameSynonym = 0.5f, kParam = 0.5f, kType = 0.5f;
constexpr float kWord = 1.0f, kUnknownWord = 0.3f, kSynonym = 0.6f, kTrigram = 0.3f;
constexpr float kPair = 0.3f, kExample = 0.3f;
constexpr size_t kSensesPerWord = 3;
// A word WordNet does not know is a function word ("the", "of", "with") when short, and a
// term of the domain or an identifier ("tarinfo", "mimetype") when long.
constexpr size_t kLongWord = 5;

struct Feature {
  float sum = 0;
  int count = 0;
};
using Features = std::map<std::string, Feature>;

void add(Features& f, std::string_view role, std::string_view token, float weight) {
  std::string key(role);
  key.push_back(':');
  key.append(token);
  Feature& feature = f[key];
  feature.sum += weight;
  ++feature.count;
}

void add_synonyms(Features& f, const Lexicon& lexicon, std::string_view word, float weight) {
  std::span<const uint32_t> senses = lexicon.synsets(word);
  size_t n = std::min(senses.size(), kSensesPerWord);
  for (size_t i = 0; i < n; ++i)
    add(f, "s", std::to_string(senses[i]), weight / std::sqrt(float(n)));
}

void add_trigrams(Features& f, std::string_view word, float weight) {
  if (word.size() < 4) return;
  std::string padded(1, '#');
  padded.append(word).push_back('#');
  for (size_t i = 0; i + 3 <= padded.size(); ++i) add(f, "g", padded.substr(i, 3), weight);
}

// Lower-case alphabetic words and numbers of free text, identifiers split into sub-words.
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_ident(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && is_ident(text[i])) ++i;
    if (i > start)
      for (std::string& t : sub_tokens(text.substr(start, i - start)))
        words.push_back(std::move(t));
  }
  return words;
}

bool is_number(std::string_view w) {
  return std::all_of(w.begin(), w.end(), [](char c) { return std::isdigit(uint8_t(c)); });
}

}  // namespace

std::vector<std::pair<std::string, float>> view_features(const RequestView& view,
                                                         const Lexicon& lexicon) {
  Features f;
  for (const std::string& w : view.name_words) {
    add(f, "n", stem(w), kName);
    add_synonyms(f, lexicon, w, kNameSynonym);
  }
  for (size_t i = 0; i < view.params.size(); ++i) {
    for (const std::string& w : sub_tokens(view.params[i])) add(f, "p", stem(w), kParam);
    for (const std::string& w : words_of(view.param_types[i])) add(f, "t", w, kType);
  }
  for (const std::string& w : words_of(view.return_type)) add(f, "r", w, kType);
  std::vector<std::string> words = words_of(view.description);
  std::string previous;
  for (const std::string& w : words) {
    if (is_number(w)) {
      add(f, "d", w, kUnknownWord);
      continue;
    }
    float weight = lexicon.known(w) || w.size() >= kLongWord ? kWord : kUnknownWord;
    std::string s = stem(w);
    add(f, "w", s, weight);
    add_synonyms(f, lexicon, w, kSynonym * weight);
    add_trigrams(f, w, kTrigram * weight);
    if (!previous.empty()) add(f, "b", previous + " " + s, kPair * weight);
    previous = s;
  }
  for (const std::string& line : view.examples)
    for (const std::string& w : words_of(line))
      if (w != view.name) add(f, "x", w, kExample);

  std::vector<std::pair<std::string, float>> out;
  out.reserve(f.size());
  // Sublinear in repetition: a word said four times counts twice, not four times.
  for (auto& [key, feature] : f)
    out.emplace_back(key, feature.sum / std::sqrt(float(feature.count)));
  return out;
}

std::vector<float> hash_features(const std::vector<std::pair<std::string, float>>& features) {
  std::vector<float> v(kTextEmbeddingDim, 0.0f);
  for (const auto& [key, value] : features) {
    uint64_t h = hash64(key);
    float sign = (h >> 63) ? -1.0f : 1.0f;
    v[h % v.size()] += sign * value;
  }
  to_unit(v);
  return v;
}

std::vector<float> view_embedding(const RequestView& view, const Lexicon& lexicon) {
  return hash_features(view_features(view, lexicon));
}

}  // namespace yantra::student
