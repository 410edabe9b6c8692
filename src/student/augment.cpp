// Augmented views of a request: the same task as another user might ask it. Renamed
// (camelCase, or name words swapped for WordNet synonyms), reworded (description words
// swapped for WordNet synonyms), mistyped (letters hit on a neighbouring key), the
// docstring turned into comments, its sentences reordered. Seeded: one seed, one view.
#include <algorithm>
#include <cctype>
#include <random>

#include "student/student.h"

namespace yantra::student {
namespace {

bool is_ident(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Where a request's docstring text lies (between its quotes), if it has one.
struct Span {
  size_t begin = 0, end = 0;
  bool found() const { return end > begin; }
};

Span docstring_span(std::string_view text, std::string_view entry_point) {
  size_t def = text.rfind("def " + std::string(entry_point) + "(");
  if (def == std::string_view::npos) return {};
  size_t colon = text.find(":\n", def);
  if (colon == std::string_view::npos) return {};
  size_t q = text.find_first_not_of(" \t\r\n", colon + 1);
  if (q == std::string_view::npos) return {};
  while (q < text.size() && (text[q] == 'r' || text[q] == 'u')) ++q;
  for (std::string_view quote : {"\"\"\"", "'''"}) {
    if (text.substr(q, 3) != quote) continue;
    size_t close = text.find(quote, q + 3);
    if (close != std::string_view::npos) return {q + 3, close};
  }
  return {};
}

// The part of the request the words of which may change: the docstring, or all of a
// request that has none (free text).
Span description_span(std::string_view text, std::string_view entry_point) {
  Span s = docstring_span(text, entry_point);
  if (s.found()) return s;
  if (text.find("def ") == std::string_view::npos) return {0, text.size()};
  return {};
}

// Lines that are examples keep their words: changing them would change the task.
bool example_line(std::string_view line, std::string_view entry_point, bool after_prompt) {
  size_t b = line.find_first_not_of(" \t#");
  std::string_view t = b == std::string_view::npos ? std::string_view() : line.substr(b);
  return t.starts_with(">>>") || (after_prompt && !t.empty()) ||
         t.find(std::string(entry_point) + "(") != std::string_view::npos;
}

// Applies `change` to every word of the description outside example lines.
template <class Change>
std::string map_words(std::string_view text, std::string_view entry_point, Change change) {
  Span span = description_span(text, entry_point);
  if (!span.found()) return std::string(text);
  std::string out(text.substr(0, span.begin));
  std::string_view body = text.substr(span.begin, span.end - span.begin);
  bool after_prompt = false;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = std::min(body.find('\n', start), body.size());
    std::string_view line = body.substr(start, end - start);
    bool example = example_line(line, entry_point, after_prompt);
    after_prompt = line.find(">>>") != std::string_view::npos;
    if (example) {
      out.append(line);
    } else {
      for (size_t i = 0; i < line.size();) {
        if (!std::isalpha(static_cast<unsigned char>(line[i]))) {
          out.push_back(line[i++]);
          continue;
        }
        size_t j = i;
        while (j < line.size() && std::isalpha(static_cast<unsigned char>(line[j]))) ++j;
        out.append(change(line.substr(i, j - i)));
        i = j;
      }
    }
    if (end < body.size()) out.push_back('\n');
    start = end + 1;
  }
  out.append(text.substr(span.end));
  return out;
}

// Replaces whole-word occurrences of `from` (the function's name) by `to`.
std::string rename_identifier(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, from.size()) == from && (i == 0 || !is_ident(text[i - 1])) &&
        (i + from.size() >= text.size() || !is_ident(text[i + from.size()]))) {
      out.append(to);
      i += from.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

std::string camel_case(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    if (w.empty()) continue;
    out += out.empty() ? w : std::string(1, char(std::toupper(uint8_t(w[0])))) + w.substr(1);
  }
  return out;
}

// A synonym of `word`: another one-word (letters only) lemma of one of its first two
// senses, or the word itself.
std::string synonym(const Lexicon& lexicon, std::string_view word, std::mt19937_64& rng) {
  std::string lower(word);
  for (char& c : lower) c = char(std::tolower(uint8_t(c)));
  std::vector<std::string_view> options;
  std::span<const uint32_t> senses = lexicon.synsets(lower);
  for (size_t i = 0; i < std::min<size_t>(senses.size(), 2); ++i)
    for (std::string_view lemma : lexicon.lemmas(senses[i]))
      if (lemma != lexicon.base_form(lower) && std::all_of(lemma.begin(), lemma.end(), [](char c) {
            return std::isalpha(static_cast<unsigned char>(c));
          }))
        options.push_back(lemma);
  if (options.empty()) return std::string(word);
  std::string out(options[rng() % options.size()]);
  if (std::isupper(static_cast<unsigned char>(word[0])))
    out[0] = char(std::toupper(uint8_t(out[0])));
  return out;
}

// Keys beside each letter on a QWERTY keyboard, as ButterFingers uses them.
std::string_view neighbours(char c) {
  static constexpr std::string_view kRows[] = {
      "qwas", "wqase", "ewsdr",   "redft",   "trfgy",   "ytghu",   "uyhji",   "iujko",   "oiklp",
      "pol",  "aqwsz", "sawedxz", "dserfcx", "fdrtgvc", "gftyhbv", "hgyujnb", "jhuikmn", "kjiolm",
      "lkop", "zasx",  "xzsdc",   "cxdfv",   "vcfgb",   "bvghn",   "nbhjm",   "mnjk"};
  for (std::string_view row : kRows)
    if (row[0] == c) return row.substr(1);
  return {};
}

std::string with_typos(std::string_view word, double rate, std::mt19937_64& rng) {
  std::string out(word);
  std::uniform_real_distribution<double> u(0, 1);
  for (char& c : out) {
    char lower = char(std::tolower(uint8_t(c)));
    std::string_view near = neighbours(lower);
    if (near.empty() || u(rng) >= rate) continue;
    char typo = near[rng() % near.size()];
    c = std::isupper(uint8_t(c)) ? char(std::toupper(uint8_t(typo))) : typo;
  }
  return out;
}

// The docstring as `#` comment lines at the body's indentation.
std::string docstring_to_comments(std::string_view text, std::string_view entry_point) {
  Span s = docstring_span(text, entry_point);
  if (!s.found()) return std::string(text);
  size_t line_start = text.rfind('\n', s.begin);
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  size_t open = text.find_first_not_of(" \t", line_start);
  std::string indent(text.substr(line_start, open - line_start));
  std::string comments;
  std::string_view body = text.substr(s.begin, s.end - s.begin);
  for (size_t start = 0; start <= body.size();) {
    size_t end = std::min(body.find('\n', start), body.size());
    std::string_view line = body.substr(start, end - start);
    size_t b = line.find_first_not_of(" \t");
    if (b != std::string_view::npos) comments += indent + "# " + std::string(line.substr(b)) + "\n";
    start = end + 1;
  }
  size_t after = s.end + 3;
  if (after < text.size() && text[after] == '\n') ++after;
  return std::string(text.substr(0, line_start)) + comments + std::string(text.substr(after));
}

// The description's sentences (outside example lines) in another order.
std::string reorder_sentences(std::string_view text, std::string_view entry_point,
                              std::mt19937_64& rng) {
  Span s = description_span(text, entry_point);
  if (!s.found()) return std::string(text);
  std::string_view body = text.substr(s.begin, s.end - s.begin);
  size_t examples = body.find(">>>");
  size_t cut = examples == std::string_view::npos ? body.size() : body.rfind('\n', examples);
  if (cut == std::string_view::npos) cut = 0;
  std::string prose(body.substr(0, cut));
  for (char& c : prose)
    if (c == '\n') c = ' ';
  std::vector<std::string> sentences;
  size_t start = 0;
  for (size_t i = 0; i < prose.size(); ++i)
    if (prose[i] == '.' && (i + 1 == prose.size() || prose[i + 1] == ' ')) {
      sentences.emplace_back(prose.substr(start, i + 1 - start));
      start = i + 1;
    }
  if (start < prose.size()) sentences.emplace_back(prose.substr(start));
  std::shuffle(sentences.begin(), sentences.end(), rng);
  std::string joined;
  for (std::string& x : sentences) {
    size_t b = x.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    joined.push_back(' ');
    joined.append(x, b, std::string::npos);
  }
  return std::string(text.substr(0, s.begin)) + joined + std::string(body.substr(cut)) +
         std::string(text.substr(s.end));
}

}  // namespace

std::string_view to_string(Augmentation a) {
  switch (a) {
    case Augmentation::rename:
      return "rename";
    case Augmentation::synonyms:
      return "synonyms";
    case Augmentation::typos:
      return "typos";
    case Augmentation::comments:
      return "comments";
    case Augmentation::reorder:
      return "reorder";
  }
  return "?";
}

AugmentedRequest augment(std::string_view request, std::string_view entry_point, Augmentation kind,
                         uint64_t seed, const Lexicon& lexicon) {
  std::mt19937_64 rng(seed);
  AugmentedRequest out{std::string(request), std::string(entry_point)};
  switch (kind) {
    case Augmentation::rename: {
      std::vector<std::string> words = sub_tokens(entry_point);
      if (rng() % 2)  // a name word swapped for a synonym, else only the case style
        for (std::string& w : words) w = synonym(lexicon, w, rng);
      out.entry_point = camel_case(words);
      if (out.entry_point.empty() || out.entry_point == entry_point) out.entry_point += "Fn";
      out.request = rename_identifier(request, entry_point, out.entry_point);
      break;
    }
    case Augmentation::synonyms: {
      std::uniform_real_distribution<double> u(0, 1);
      out.request = map_words(request, entry_point, [&](std::string_view w) {
        return lexicon.known(w) && u(rng) < 0.5 ? synonym(lexicon, w, rng) : std::string(w);
      });
      break;
    }
    case Augmentation::typos:
      out.request = map_words(request, entry_point,
                              [&](std::string_view w) { return with_typos(w, 0.05, rng); });
      break;
    case Augmentation::comments:
      out.request = docstring_to_comments(request, entry_point);
      break;
    case Augmentation::reorder:
      out.request = reorder_sentences(request, entry_point, rng);
      break;
  }
  return out;
}

}  // namespace yantra::student

namespace yantra::student {

std::vector<EncoderPair> augmented_pairs(const std::vector<RequestPair>& requests, int views,
                                         uint64_t seed, const Lexicon& lexicon) {
  std::vector<EncoderPair> pairs;
  std::mt19937_64 rng(seed);
  for (size_t r = 0; r < requests.size(); ++r) {
    const RequestPair& q = requests[r];
    EncoderInput anchor = encoder_input(view_request(q.request, q.entry_point), lexicon);
    for (int v = 0; v < views; ++v) {
      // Each augmentation with probability one half, at least one, in a fixed order
      // (comments last: the others read the docstring).
      AugmentedRequest a{q.request, q.entry_point};
      uint64_t mask = 0;
      while (mask == 0) mask = rng() & 0x1f;
      for (Augmentation kind : {Augmentation::reorder, Augmentation::synonyms, Augmentation::typos,
                                Augmentation::rename, Augmentation::comments})
        if (mask >> size_t(kind) & 1) a = augment(a.request, a.entry_point, kind, rng(), lexicon);
      pairs.push_back(
          {anchor, encoder_input(view_request(a.request, a.entry_point), lexicon), int64_t(r)});
    }
  }
  return pairs;
}

}  // namespace yantra::student
