// Behavioural retrieval through the real router: a real library file, the real request
// view (WordNet, Snowball) and the real warm sandbox, no teachers. The student answers a
// reworded, renamed request from the entry that passes its examples; an entry that passes
// no example never answers; two entries that pass the examples but behave differently
// escalate; without examples only a near-identical request is answered.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "../unit/test_support.h"
#include "library/library.h"
#include "router/router.h"
#include "validator/validator.h"

namespace {

namespace fs = std::filesystem;
using namespace yantra;
using yantra::testing::contains;

const char* kPalindromeRequest = R"py(def is_palindrome(text: str) -> bool:
    """ Checks if given string is a palindrome
    >>> is_palindrome('')
    True
    >>> is_palindrome('aba')
    True
    >>> is_palindrome('zbcd')
    False
    """
)py";
const char* kPalindromeCode =
    "def is_palindrome(text: str) -> bool:\n    return text == text[::-1]\n";

// The same task reworded (back-translated), renamed and moved into comments.
const char* kPalindromeReworded = R"py(def checkPalindrome(word: str) -> bool:
    # Tests whether the supplied string reads the same backwards
    # >>> checkPalindrome('')
    # True
    # >>> checkPalindrome('aba')
    # True
    # >>> checkPalindrome('zbcd')
    # False
)py";

const char* kSumRequest = R"py(def sum_digits(n: int) -> int:
    """ Return the sum of the decimal digits of n.
    >>> sum_digits(123)
    6
    >>> sum_digits(45)
    9
    """
)py";
const char* kSumCode = "def sum_digits(n: int) -> int:\n    return sum(int(c) for c in str(n))\n";

// The real pool, counting the runs the router asks of it.
class CountingValidator : public validator::Validator {
 public:
  explicit CountingValidator(validator::Validator& real) : real_(real) {}
  validator::RunResult run(const validator::Job& job) override {
    ++jobs;
    return real_.run(job);
  }
  std::vector<validator::RunResult> run_all(
      std::span<const validator::Job> batch,
      const std::function<void(size_t, const validator::RunResult&)>& on_done) override {
    jobs += batch.size();
    return real_.run_all(batch, on_done);
  }
  int workers() const override { return real_.workers(); }
  void reset() override { real_.reset(); }
  size_t jobs = 0;

 private:
  validator::Validator& real_;
};

class StudentRetrieval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (auto why = validator::sandbox_unavailable()) GTEST_FAIL() << *why;
    auto pool = validator::Validator::start({.workers = 2});
    ASSERT_TRUE(pool.ok()) << pool.error().message;
    pool_ = std::move(pool).value().release();
  }
  static void TearDownTestSuite() {
    delete pool_;
    pool_ = nullptr;
  }
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "yantra-retrieval-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto lib = library::Library::open(dir_.string(), student::kTextEmbeddingDim);
    ASSERT_TRUE(lib.ok()) << lib.error().message;
    library_.emplace(std::move(lib).value());
    ASSERT_TRUE(library_->use_embedder(router::library_embedder()).ok());
  }
  void TearDown() override {
    library_.reset();
    fs::remove_all(dir_);
  }

  int64_t learn(const std::string& request, const std::string& entry_point,
                const std::string& code) {
    library::Entry e;
    e.request = request;
    e.entry_point = entry_point;
    e.signature = code.substr(0, code.find('\n'));
    e.code = code;
    e.tests = {"assert True"};
    auto parsed = router::parse_request({request, "", entry_point});
    EXPECT_TRUE(parsed.ok());
    e.embedding = router::request_embedding(*parsed);
    e.tier = "premium";
    e.model = "gpt-4";
    e.tests_passed = 3;
    e.confidence = 0.99;
    auto id = library_->add(e);
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : 0;
  }

  router::Answer ask(const std::string& request, validator::Validator* validator = nullptr) {
    router::RouterOptions options;
    options.learn = false;
    router::Router router(validator ? validator : pool_, nullptr, &*library_, nullptr, options);
    auto answer = router.generate({request, "", ""});
    EXPECT_TRUE(answer.ok()) << answer.error().message;
    return answer.ok() ? *answer : router::Answer{};
  }

  static std::string route_text(const router::Answer& a) {
    std::string out;
    for (const router::Decision& d : a.route)
      out += d.step + " " + d.action + ": " + d.reason + "\n";
    return out;
  }

  static validator::Validator* pool_;
  fs::path dir_;
  std::optional<library::Library> library_;
};

validator::Validator* StudentRetrieval::pool_ = nullptr;

TEST_F(StudentRetrieval, AnswersARewordedRenamedRequestFromTheEntryThatPassesItsExamples) {
  learn(kSumRequest, "sum_digits", kSumCode);
  int64_t id = learn(kPalindromeRequest, "is_palindrome", kPalindromeCode);
  router::Answer a = ask(kPalindromeReworded);
  ASSERT_TRUE(a.answered) << route_text(a);
  EXPECT_EQ(a.tier, "student");
  EXPECT_EQ(a.library_id, id);
  EXPECT_TRUE(contains(a.code, "def checkPalindrome(word")) << a.code;
  EXPECT_TRUE(contains(a.code, "word == word[::-1]")) << a.code;
  // The route says which entry, how similar, and which examples it passed.
  std::string route = route_text(a);
  EXPECT_TRUE(contains(route, "student answer: entry #" + std::to_string(id) + " `is_palindrome`"))
      << route;
  EXPECT_TRUE(contains(route, "passed 3/3 examples")) << route;
  EXPECT_TRUE(contains(route, " similar")) << route;
}

TEST_F(StudentRetrieval, AWrongEntryThatPassesNoExampleNeverAnswers) {
  // Worded exactly like the request, but it does something else.
  int64_t id = learn(kPalindromeRequest, "is_palindrome",
                     "def is_palindrome(text: str) -> bool:\n    return len(text) > 100\n");
  router::Answer a = ask(kPalindromeReworded);
  EXPECT_FALSE(a.answered) << route_text(a);
  EXPECT_NE(a.tier, "student");
  std::string route = route_text(a);
  EXPECT_TRUE(contains(route, "student escalate: none of the 1 nearest library entries passes"))
      << route;
  EXPECT_TRUE(contains(route, "entry #" + std::to_string(id) + " `is_palindrome`")) << route;
  EXPECT_TRUE(contains(route, "fails example: checkPalindrome('')")) << route;
}

TEST_F(StudentRetrieval, TwoEntriesThatPassTheExamplesButDisagreeEscalate) {
  learn(kPalindromeRequest, "is_palindrome", kPalindromeCode);
  // Passes the three examples, but not on longer inputs ('Hello World', 'zbcdzbcd').
  learn(kPalindromeRequest + std::string("# or long\n"), "is_palindrome",
        "def is_palindrome(text: str) -> bool:\n    return len(text) > 6 or text == text[::-1]\n");
  CountingValidator counting(*pool_);
  router::Answer a = ask(kPalindromeReworded, &counting);
  std::string route = route_text(a);
  // Not sure from the nearest entry alone: the probe inputs were computed and both entries
  // ran on them (the nearest, the probe inputs, then both).
  EXPECT_EQ(counting.jobs, 4u) << route;
  // Two readings of the request and nothing to tell which is meant: the student does not
  // answer on its own (without teachers, the router still returns its best try, unsure).
  EXPECT_FALSE(contains(route, "student answer:")) << route;
  EXPECT_TRUE(contains(route, "student escalate:")) << route;
  EXPECT_TRUE(contains(route, "passes the examples but scores")) << route;
  EXPECT_LT(a.confidence, 0.7) << route;
}

TEST_F(StudentRetrieval, WithoutExamplesOnlyANearIdenticalRequestIsAnswered) {
  learn(kSumRequest, "sum_digits", kSumCode);
  // Reworded and without examples: nothing can show the entry is right.
  router::Answer reworded =
      ask("def digit_total(value: int) -> int:\n    \"\"\"Add up the digits of a number.\"\"\"\n");
  EXPECT_FALSE(reworded.answered) << route_text(reworded);
  EXPECT_TRUE(contains(route_text(reworded), "the request has no examples"))
      << route_text(reworded);
  // The same words as the learned request, examples left out: near-identical.
  std::string same = kSumRequest;
  same = same.substr(0, same.find("    >>>")) + "    \"\"\"\n";
  router::Answer near = ask(same);
  ASSERT_TRUE(near.answered) << route_text(near);
  EXPECT_EQ(near.tier, "student");
  EXPECT_TRUE(contains(route_text(near), "no examples (the request has none")) << route_text(near);
}

TEST_F(StudentRetrieval, ASureAnswerCostsOneSandboxRunAndNoProbeInputs) {
  int64_t id = learn(kSumRequest, "sum_digits", kSumCode);
  // The same request under another name: the nearest entry is sure from its examples.
  std::string renamed = kSumRequest;
  for (size_t at; (at = renamed.find("sum_digits")) != std::string::npos;)
    renamed.replace(at, 10, "digit_sum");
  CountingValidator counting(*pool_);
  router::Answer a = ask(renamed, &counting);
  ASSERT_TRUE(a.answered) << route_text(a);
  EXPECT_EQ(a.tier, "student");
  EXPECT_EQ(a.library_id, id);
  EXPECT_GE(a.confidence, router::RouterOptions{}.student_alone_confidence) << route_text(a);
  EXPECT_EQ(counting.jobs, 1u) << "the nearest entry on the examples, nothing else";
  EXPECT_TRUE(contains(a.code, "def digit_sum(n: int)")) << a.code;
  // Each decision says when it was taken: in order, and within the request.
  ASSERT_FALSE(a.route.empty());
  for (size_t i = 1; i < a.route.size(); ++i) EXPECT_GE(a.route[i].ms, a.route[i - 1].ms);
  EXPECT_GT(a.route.back().ms, 0.0);
}

}  // namespace
