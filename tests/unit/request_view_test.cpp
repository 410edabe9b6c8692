// The request view on real resources: Debian's WordNet files and Snowball's stemmer, and
// prompts in the forms ReCode rewrites them into (comments, typos, renames, synonyms).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "student/student.h"

namespace {

using yantra::student::Lexicon;
using yantra::student::RequestView;
using yantra::student::view_embedding;
using yantra::student::view_request;

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += double(a[i]) * b[i];
  return dot;  // both are unit vectors
}

const char* kDocstring = R"py(from typing import List


def mean_absolute_deviation(numbers: List[float], centre: float = 0.0) -> float:
    """ For a given list of input numbers, calculate Mean Absolute Deviation
    around the mean of this dataset.
    >>> mean_absolute_deviation([1.0, 2.0, 3.0, 4.0])
    1.0
    """
)py";

const char* kComments = R"py(from typing import List


def mean_absolute_deviation(numbers: List[float], centre: float = 0.0) -> float:
    # For a given list of input numbers, calculate Mean Absolute Deviation
    # around the mean of this dataset.
    # >>> mean_absolute_deviation([1.0, 2.0, 3.0, 4.0])
    # 1.0
    mean = sum(numbers) / len(numbers)
)py";

const char* kOther = R"py(def count_vowels(word: str) -> int:
    """ Count how many vowels a word has.
    >>> count_vowels("banana")
    3
    """
)py";

std::vector<float> embed(std::string_view text, std::string_view name = "") {
  return view_embedding(view_request(text, name));
}

TEST(RequestView, TakesThePartsOfAPromptApart) {
  RequestView v = view_request(kDocstring, "");
  EXPECT_EQ(v.name, "mean_absolute_deviation");
  EXPECT_EQ(v.name_words, (std::vector<std::string>{"mean", "absolute", "deviation"}));
  EXPECT_EQ(v.params, (std::vector<std::string>{"numbers", "centre"}));
  EXPECT_EQ(v.param_types, (std::vector<std::string>{"List[float]", "float"}));
  EXPECT_EQ(v.return_type, "float");
  EXPECT_NE(v.description.find("calculate Mean Absolute Deviation"), std::string::npos);
  EXPECT_EQ(v.description.find(">>>"), std::string::npos) << "examples stay out of the words";
  ASSERT_EQ(v.examples.size(), 2u);
  EXPECT_EQ(v.examples[0], ">>> mean_absolute_deviation([1.0, 2.0, 3.0, 4.0])");
  EXPECT_EQ(v.examples[1], "1.0");
}

TEST(RequestView, CommentsDescribeARequestWithoutADocstring) {
  RequestView doc = view_request(kDocstring, "");
  RequestView com = view_request(kComments, "");
  EXPECT_EQ(com.description, doc.description);
  EXPECT_EQ(com.examples, doc.examples);
  EXPECT_GT(cosine(embed(kDocstring), embed(kComments)), 0.99);
}

TEST(RequestView, FreeTextIsAllDescription) {
  RequestView v = view_request("Sort the words of a sentence by length", "sort_words");
  EXPECT_EQ(v.name_words, (std::vector<std::string>{"sort", "words"}));
  EXPECT_TRUE(v.params.empty());
  EXPECT_NE(v.description.find("Sort the words"), std::string::npos);
}

TEST(RequestView, PicksTheNamedFunctionAmongSeveral) {
  RequestView v =
      view_request("def helper(a):\n    pass\n\ndef main_one(b: int):\n    pass\n", "helper");
  EXPECT_EQ(v.name, "helper");
  EXPECT_EQ(v.params, (std::vector<std::string>{"a"}));
}

TEST(RequestView, SnowballStemsInflections) {
  EXPECT_EQ(yantra::student::stem("sorting"), "sort");
  EXPECT_EQ(yantra::student::stem("sorted"), "sort");
  EXPECT_EQ(yantra::student::stem("numbers"), "number");
}

TEST(RequestView, WordNetKnowsSynonymsAndContentWords) {
  const Lexicon& wn = Lexicon::shared();
  auto calculate = wn.synsets("calculate"), compute = wn.synsets("computes");
  ASSERT_FALSE(calculate.empty());
  ASSERT_FALSE(compute.empty()) << "morphy's detachment rules find 'compute'";
  bool shared = false;
  for (uint32_t a : calculate)
    for (uint32_t b : compute) shared = shared || a == b;
  EXPECT_TRUE(shared) << "calculate and compute share a synonym set in WordNet";
  EXPECT_TRUE(wn.known("deviation"));
  EXPECT_FALSE(wn.known("the")) << "function words are not in WordNet";
  EXPECT_EQ(wn.base_form("children"), "child") << "from noun.exc";
}

TEST(RequestView, ASynonymSwapStaysCloserThanAnotherTask) {
  std::string swapped = kDocstring;
  swapped.replace(swapped.find("calculate"), 9, "compute");
  swapped.replace(swapped.find("given"), 5, "granted");
  double same = cosine(embed(kDocstring), embed(swapped));
  double other = cosine(embed(kDocstring), embed(kOther));
  EXPECT_GT(same, 0.85);
  EXPECT_LT(other, 0.3);
}

TEST(RequestView, TyposKeepMostOfAWord) {
  // ButterFingers: letters swapped for their keyboard neighbours.
  const std::string words = "calculate Mean Absolute Deviation around the mean";
  const std::string typos = "calculate Mean Ausolute Deciation around the mean";
  auto a = embed(words, "f"), b = embed(typos, "f");
  auto c = embed("count the vowels of each word in a sentence", "f");
  EXPECT_GT(cosine(a, b), cosine(a, c) + 0.3);
}

TEST(RequestView, ARenamedFunctionKeepsItsSubWords) {
  std::string renamed = kDocstring;
  for (size_t at; (at = renamed.find("mean_absolute_deviation")) != std::string::npos;)
    renamed.replace(at, 23, "meanAbsoluteDeviation");
  EXPECT_GT(cosine(embed(kDocstring), embed(renamed)), 0.99);
}

TEST(RequestView, AMissingWordNetSaysWhatToInstall) {
  auto dir = std::filesystem::temp_directory_path() / "yantra-no-wordnet";
  std::filesystem::create_directories(dir);
  auto lexicon = Lexicon::load(dir.string());
  ASSERT_FALSE(lexicon.ok());
  EXPECT_NE(lexicon.error().message.find(dir.string() + "/index.noun"), std::string::npos);
  EXPECT_NE(lexicon.error().message.find("wordnet-base"), std::string::npos);
}

TEST(RequestView, ABrokenWordNetIndexLineIsReportedWithItsPlace) {
  auto dir = std::filesystem::temp_directory_path() / "yantra-bad-wordnet";
  std::filesystem::create_directories(dir);
  for (const char* pos : {"noun", "verb", "adj", "adv"})
    std::ofstream(dir / (std::string("index.") + pos)) << "  licence line\nsort n 1 0 1 0 0123\n";
  std::ofstream(dir / "index.verb") << "  licence\nsort v x\n";
  auto lexicon = Lexicon::load(dir.string());
  ASSERT_FALSE(lexicon.ok());
  EXPECT_NE(lexicon.error().message.find("index.verb:2:1:"), std::string::npos)
      << lexicon.error().message;
}

}  // namespace

namespace {

using yantra::student::augment;
using yantra::student::Augmentation;

const char* kTwoSentences = R"py(def sort_by_length(words: list) -> list:
    """ Sort the given words by their length. Words of equal length keep their order.
    >>> sort_by_length(['ccc', 'a', 'bb'])
    ['a', 'bb', 'ccc']
    """
)py";

std::string examples_of(const std::string& text, const std::string& name) {
  std::string out;
  for (const std::string& e : view_request(text, name).examples) out += e + "\n";
  return out;
}

TEST(Augment, RenamingChangesTheNameEverywhereAndNothingElse) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    auto a = augment(kTwoSentences, "sort_by_length", Augmentation::rename, seed);
    EXPECT_NE(a.entry_point, "sort_by_length");
    EXPECT_EQ(a.request.find("sort_by_length"), std::string::npos) << a.request;
    EXPECT_NE(a.request.find("def " + a.entry_point + "(words: list)"), std::string::npos);
    EXPECT_NE(a.request.find(">>> " + a.entry_point + "(['ccc', 'a', 'bb'])"), std::string::npos);
    EXPECT_NE(a.request.find("Sort the given words by their length."), std::string::npos);
  }
}

TEST(Augment, RewordingAndTyposLeaveTheExamplesAlone) {
  for (Augmentation kind : {Augmentation::synonyms, Augmentation::typos}) {
    int changed = 0;
    for (uint64_t seed = 1; seed <= 8; ++seed) {
      auto a = augment(kTwoSentences, "sort_by_length", kind, seed);
      EXPECT_EQ(a.entry_point, "sort_by_length");
      EXPECT_EQ(examples_of(a.request, a.entry_point), examples_of(kTwoSentences, "sort_by_length"))
          << to_string(kind) << "\n"
          << a.request;
      EXPECT_NE(a.request.find("def sort_by_length(words: list) -> list:"), std::string::npos);
      changed += a.request != kTwoSentences;
    }
    EXPECT_GE(changed, 6) << to_string(kind) << " changes the words of most seeds";
  }
}

TEST(Augment, SynonymsComeFromWordNet) {
  const Lexicon& wn = Lexicon::shared();
  auto a = augment(kTwoSentences, "sort_by_length", Augmentation::synonyms, 3);
  RequestView before = view_request(kTwoSentences, "sort_by_length");
  RequestView after = view_request(a.request, a.entry_point);
  auto words = [](const std::string& s) {
    std::vector<std::string> out;
    std::string w;
    for (char c : s + " ")
      if (std::isalpha(static_cast<unsigned char>(c)))
        w += char(std::tolower(c));
      else if (!w.empty())
        out.push_back(w), w.clear();
    return out;
  };
  auto b = words(before.description), c = words(after.description);
  ASSERT_EQ(b.size(), c.size()) << after.description;
  for (size_t i = 0; i < b.size(); ++i) {
    if (b[i] == c[i]) continue;
    bool shares = false;
    for (uint32_t x : wn.synsets(b[i]))
      for (uint32_t y : wn.synsets(c[i])) shares = shares || x == y;
    EXPECT_TRUE(shares) << b[i] << " -> " << c[i];
  }
}

TEST(Augment, CommentsAndReorderingKeepTheWords) {
  auto c = augment(kTwoSentences, "sort_by_length", Augmentation::comments, 1);
  EXPECT_EQ(c.request.find("\"\"\""), std::string::npos) << c.request;
  EXPECT_NE(c.request.find("    # Sort the given words by their length."), std::string::npos)
      << c.request;
  EXPECT_EQ(view_request(c.request, "sort_by_length").description,
            view_request(kTwoSentences, "sort_by_length").description);
  bool reordered = false;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto r = augment(kTwoSentences, "sort_by_length", Augmentation::reorder, seed);
    std::string d = view_request(r.request, "sort_by_length").description;
    EXPECT_NE(d.find("Sort the given words by their length."), std::string::npos) << d;
    EXPECT_NE(d.find("Words of equal length keep their order."), std::string::npos) << d;
    reordered = reordered || d.starts_with("Words of equal");
    EXPECT_EQ(examples_of(r.request, "sort_by_length"),
              examples_of(kTwoSentences, "sort_by_length"));
  }
  EXPECT_TRUE(reordered);
}

TEST(Augment, OneSeedGivesOneView) {
  for (Augmentation kind : yantra::student::kAugmentations) {
    auto a = augment(kTwoSentences, "sort_by_length", kind, 42);
    auto b = augment(kTwoSentences, "sort_by_length", kind, 42);
    EXPECT_EQ(a.request, b.request) << to_string(kind);
    EXPECT_EQ(a.entry_point, b.entry_point);
  }
}

}  // namespace

TEST(RequestView, BareCommentMarksAndOddTextDoNotBreakIt) {
  for (const char* text : {"def f(x):\n    #\n    # add one\n    ##\n", "#", "def f(", "def f(x:",
                           "def f(x) -> :\n  '''", "\"\"\"", "def f(x):\n    r'''open"}) {
    RequestView v = view_request(text, "");
    EXPECT_EQ(view_embedding(v).size(), size_t(yantra::student::kTextEmbeddingDim)) << text;
  }
  EXPECT_EQ(view_request("def f(x):\n    #\n    # add one\n", "").description, "add one");
}
