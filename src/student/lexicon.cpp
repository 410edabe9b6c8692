// The lexicon behind the request view: Snowball's English stemmer for inflections and
// WordNet's synonym sets (read from Debian's wordnet-base data files) for synonyms.
#include <libstemmer.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "student/student.h"

namespace yantra::student {
namespace {

// WordNet's four parts of speech, each with its index and exception files.
struct PartOfSpeech {
  char tag;
  const char* name;
};
constexpr PartOfSpeech kParts[] = {{'n', "noun"}, {'v', "verb"}, {'a', "adj"}, {'r', "adv"}};

// WordNet's own detachment rules (morphy(7WN)): an inflected form minus the suffix plus the
// ending is a base form to look up.
struct Detachment {
  char pos;
  std::string_view suffix, ending;
};
constexpr Detachment kDetachments[] = {
    {'n', "s", ""},      {'n', "ses", "s"},   {'n', "xes", "x"},   {'n', "zes", "z"},
    {'n', "ches", "ch"}, {'n', "shes", "sh"}, {'n', "men", "man"}, {'n', "ies", "y"},
    {'v', "s", ""},      {'v', "ies", "y"},   {'v', "es", "e"},    {'v', "es", ""},
    {'v', "ed", "e"},    {'v', "ed", ""},     {'v', "ing", "e"},   {'v', "ing", ""},
    {'a', "er", ""},     {'a', "est", ""},    {'a', "er", "e"},    {'a', "est", "e"},
};

uint32_t synset_id(char pos, uint32_t offset) {
  // Offsets are byte positions in one part of speech's data file (< 2^28): the part of
  // speech goes in the top bits so ids of different files never meet.
  uint32_t p = static_cast<uint32_t>(std::string_view("nvar").find(pos));
  return (p << 28) | (offset & 0x0fffffffu);
}

std::string wordnet_dir() {
  const char* env = std::getenv("YANTRA_WORDNET_DIR");
  return env && *env ? env : "/usr/share/wordnet";
}

}  // namespace

Lexicon::Lexicon() = default;
Lexicon::~Lexicon() = default;

Result<std::unique_ptr<Lexicon>> Lexicon::load(const std::string& dir) {
  auto lexicon = std::unique_ptr<Lexicon>(new Lexicon());
  for (const PartOfSpeech& part : kParts) {
    std::string path = dir + "/index." + part.name;
    std::ifstream in(path);
    if (!in)
      return Error{path +
                   ": cannot read WordNet's index: install Debian's wordnet-base "
                   "(scripts/setup.sh does) or point YANTRA_WORDNET_DIR at its files"};
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line[0] == ' ') continue;  // the licence at the top
      std::istringstream fields(line);
      std::string lemma, pos;
      int synset_count = 0, pointer_count = 0;
      fields >> lemma >> pos >> synset_count >> pointer_count;
      if (!fields || synset_count <= 0)
        return Error{path + ":" + std::to_string(line_no) +
                     ":1: not a WordNet index line (lemma pos synset_cnt p_cnt ...)"};
      std::string skip;
      for (int i = 0; i < pointer_count; ++i) fields >> skip;
      int sense_count = 0, tagged = 0;
      fields >> sense_count >> tagged;
      std::vector<uint32_t>& senses = lexicon->senses_[lemma];
      for (int i = 0; i < synset_count; ++i) {
        uint32_t offset = 0;
        if (!(fields >> offset)) break;
        senses.push_back(synset_id(part.tag, offset));
        lexicon->lemmas_[senses.back()].push_back(lemma);
      }
    }
    std::ifstream exc(dir + "/" + part.name + ".exc");
    while (std::getline(exc, line)) {
      std::istringstream fields(line);
      std::string inflected, base;
      if (fields >> inflected >> base) lexicon->exceptions_.emplace(inflected, base);
    }
  }
  if (lexicon->senses_.empty()) return Error{dir + ": WordNet's index files hold no words"};
  return lexicon;
}

const Lexicon& Lexicon::shared() {
  static std::once_flag once;
  static std::unique_ptr<Lexicon> lexicon;
  std::call_once(once, [] {
    auto loaded = Lexicon::load(wordnet_dir());
    // The request view cannot be computed without it: a broken install aborts the command
    // with the message saying how to fix it.
    if (!loaded) throw std::runtime_error(loaded.error().message);
    lexicon = std::move(loaded).value();
  });
  return *lexicon;
}

std::string Lexicon::base_form(std::string_view word) const {
  std::string w(word);
  if (senses_.contains(w)) return w;
  if (auto e = exceptions_.find(w); e != exceptions_.end() && senses_.contains(e->second))
    return e->second;
  for (const Detachment& d : kDetachments) {
    if (w.size() <= d.suffix.size() + 1 || !w.ends_with(d.suffix)) continue;
    std::string base = w.substr(0, w.size() - d.suffix.size()) + std::string(d.ending);
    if (senses_.contains(base)) return base;
  }
  return {};
}

std::span<const uint32_t> Lexicon::synsets(std::string_view word) const {
  auto it = senses_.find(base_form(word));
  if (it == senses_.end()) return {};
  return it->second;
}

std::span<const std::string> Lexicon::lemmas(uint32_t synset) const {
  auto it = lemmas_.find(synset);
  if (it == lemmas_.end()) return {};
  return it->second;
}

bool Lexicon::known(std::string_view word) const {
  return !base_form(word).empty();
}

std::string stem(std::string_view word) {
  // A stemmer is not thread-safe; one per thread costs a few kilobytes.
  struct Stemmer {
    sb_stemmer* s = sb_stemmer_new("english", "UTF_8");
    ~Stemmer() { sb_stemmer_delete(s); }
  };
  thread_local Stemmer stemmer;
  if (!stemmer.s) return std::string(word);
  const sb_symbol* out = sb_stemmer_stem(stemmer.s, reinterpret_cast<const sb_symbol*>(word.data()),
                                         static_cast<int>(word.size()));
  if (!out) return std::string(word);
  return std::string(reinterpret_cast<const char*>(out),
                     static_cast<size_t>(sb_stemmer_length(stemmer.s)));
}

}  // namespace yantra::student
