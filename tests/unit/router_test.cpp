// The router's pure parts: reading a request, the student's embedding of it, and how
// candidates are scored against each other (hand-computed confidences).
#include <gtest/gtest.h>

#include <cmath>

#include "router/internal.h"
#include "router/router.h"
#include "student/student.h"

namespace {

using yantra::router::Candidate;
using yantra::router::parse_request;
using yantra::router::score_candidates;

TEST(RouterRequest, TakesTheLastFunctionOfAPromptAndItsExamples) {
  const std::string prompt =
      "def encode_shift(s: str):\n    return s\n\n\n"
      "def decode_shift(s: str, k: int = 5) -> str:\n"
      "    \"\"\"Undo encode_shift.\n    >>> decode_shift('abc')\n    'abc'\n    \"\"\"\n";
  auto r = parse_request({.text = prompt});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->entry_point, "decode_shift");
  EXPECT_EQ(r->signature, "def decode_shift(s: str, k: int = 5) -> str:");
  EXPECT_EQ(r->params, (std::vector<std::string>{"s", "k"}));
  ASSERT_EQ(r->examples.size(), 1u);
  EXPECT_FALSE(r->security);
  auto named = parse_request({.text = prompt, .entry_point = "encode_shift"});
  ASSERT_TRUE(named);
  EXPECT_EQ(named->entry_point, "encode_shift");
}

TEST(RouterRequest, ExamplesInCommentsCountAndTheCodeUnderThemIsNotTheirOutput) {
  // ReCode's doc2comments: the docstring as comments, the start of a body under it.
  const std::string prompt =
      "def gcd(a: int, b: int) -> int:\n"
      "    # Return a greatest common divisor of two integers a and b\n"
      "    # >>> gcd(3, 5)\n    # 1\n    # >>> gcd(25, 15)\n    # 5\n"
      "    while b:\n";
  auto r = parse_request({.text = prompt});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->examples.size(), 2u);
  EXPECT_EQ(r->examples[0].want, "1") << r->examples[0].code;
  EXPECT_EQ(r->examples[1].want, "5") << r->examples[1].code;
}

TEST(RouterRequest, PutsAGivenSignatureOnTopOfFreeText) {
  auto r = parse_request({.text = "Return the sum of xs. For example total([1, 2]) == 3",
                          .signature = "def total(xs):"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->entry_point, "total");
  EXPECT_TRUE(r->text.starts_with("def total(xs):\n")) << r->text;
  EXPECT_EQ(r->examples.size(), 1u);
}

TEST(RouterRequest, SaysHowToNameTheFunction) {
  auto none = parse_request({.text = "sort the list"});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("--signature"), std::string::npos) << none.error().message;
  auto wrong = parse_request({.text = "def f(x):\n  pass\n", .entry_point = "g"});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("`def g(...)`"), std::string::npos) << wrong.error().message;
}

TEST(RouterRequest, FlagsSecurityCriticalRequests) {
  auto r = parse_request({.text = "Check the user's password against the stored hash.",
                          .signature = "def check_password(user, password):"});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->security);
  EXPECT_NE(r->security_reason.find("password"), std::string::npos) << r->security_reason;
}

float cosine(const std::vector<float>& a, const std::vector<float>& b) {
  float dot = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += a[i] * b[i];
  return dot;  // both are unit vectors
}

TEST(RouterRequest, EqualRequestsEmbedEquallyAndRelatedOnesNearby) {
  auto a = parse_request({.text = "Return the sum of xs.", .signature = "def total(xs):"});
  auto b = parse_request({.text = "Return the sum of xs.", .signature = "def total(xs):"});
  auto c =
      parse_request({.text = "Return the sum of the numbers.", .signature = "def add_all(xs):"});
  auto d = parse_request({.text = "Parse an ISO date string.", .signature = "def parse_date(s):"});
  ASSERT_TRUE(a && b && c && d);
  auto ea = yantra::router::request_embedding(*a), eb = yantra::router::request_embedding(*b);
  auto ec = yantra::router::request_embedding(*c), ed = yantra::router::request_embedding(*d);
  ASSERT_EQ(ea.size(), size_t(yantra::student::kTextEmbeddingDim));
  EXPECT_NEAR(cosine(ea, ea), 1.0f, 1e-5);
  EXPECT_EQ(ea, eb);
  EXPECT_GT(cosine(ea, ec), cosine(ea, ed));
  EXPECT_LT(cosine(ea, ec), 0.9f);
}

Candidate candidate(std::string tier, std::string model, int passed, int total,
                    std::vector<std::string> outputs) {
  Candidate c;
  c.tier = std::move(tier);
  c.provider = model;
  c.model = std::move(model);
  c.loaded = true;
  c.examples_passed = passed;
  c.examples_total = total;
  c.outputs = std::move(outputs);
  // Distinct code per model and behaviour, as real candidates have.
  c.code = "def f(x):  # " + c.model;
  for (const std::string& o : c.outputs) c.code += " " + o;
  return c;
}

TEST(RouterScore, LoneCandidateIsACoinToss) {
  std::vector<Candidate> c = {candidate("open_local", "codellama", 2, 2, {"1", "2"})};
  auto best = score_candidates(c);
  ASSERT_TRUE(best);
  EXPECT_DOUBLE_EQ(c[0].confidence, 0.5);
}

TEST(RouterScore, AnotherModelAgreeingRemovesMostDoubt) {
  std::vector<Candidate> c = {candidate("premium", "gpt-4", 2, 2, {"1", "2"}),
                              candidate("open_local", "codellama", 2, 2, {"1", "2"}),
                              candidate("open_local", "codellama", 2, 2, {"1", "3"})};
  auto best = score_candidates(c);
  ASSERT_EQ(best, 0u);
  // premium prior doubt 0.3, codellama agrees fully: 1 - 0.3 * (1 - 0.6); but one of the
  // two codellama samples behaves differently: contested by half, times (1 - 0.3 * 0.5)
  EXPECT_NEAR(c[0].confidence, (1 - 0.3 * 0.4) * (1 - 0.3 * 0.5), 1e-12);
  EXPECT_TRUE(c[0].corroborated);
  // codellama #1: gpt-4 agrees fully, its own other sample half (weight 0.15); of the
  // others, its own dissenting sample weighs 0.5 against gpt-4's 1: contested 0.5 / 1.5
  EXPECT_NEAR(c[1].confidence, (1 - 0.5 * 0.4 * (1 - 0.6 * 0.15 * 0.5)) * (1 - 0.3 * 0.5 / 1.5),
              1e-12);
  // codellama #2 agrees with nobody fully.
  EXPECT_FALSE(c[2].corroborated);
}

TEST(RouterScore, OnlyAnotherModelAgreeingOnEveryProbeCorroborates) {
  std::vector<Candidate> c = {candidate("premium", "gpt-4", 2, 2, {"1", "2", "3"}),
                              candidate("premium", "gpt-4", 2, 2, {"1", "2", "3"}),
                              candidate("premium", "gpt-3.5", 2, 2, {"1", "2", "4"})};
  c[1].code += " # another sample, same behaviour";
  ASSERT_TRUE(score_candidates(c));
  // Its own model's twin does not count, and gpt-3.5 differs on one probe in three.
  EXPECT_FALSE(c[0].corroborated);
  EXPECT_FALSE(c[2].corroborated);
  c[2].outputs = {"1", "2", "3"};
  ASSERT_TRUE(score_candidates(c));
  EXPECT_TRUE(c[0].corroborated);
  EXPECT_TRUE(c[2].corroborated);
}

TEST(RouterScore, CandidatesThatPassTheExamplesButDisagreeLowerConfidence) {
  // Two models pass the same examples, yet split on the probes: an ambiguous request.
  std::vector<Candidate> split = {candidate("premium", "gpt-4", 2, 2, {"1", "2"}),
                                  candidate("premium", "gpt-3.5", 2, 2, {"1", "9"})};
  std::vector<Candidate> alone = {split[0]};
  ASSERT_TRUE(score_candidates(split));
  ASSERT_TRUE(score_candidates(alone));
  // gpt-3.5 agrees on half: doubt 0.3 * (1 - 0.6 * 0.5); fully contested: times 0.7.
  EXPECT_NEAR(split[0].confidence, (1 - 0.3 * 0.7) * 0.7, 1e-12);
  EXPECT_LT(split[0].confidence, alone[0].confidence);
  // A dissenter that fails the examples is no evidence against anyone.
  split[1].examples_passed = 1;
  ASSERT_TRUE(score_candidates(split));
  EXPECT_NEAR(split[0].confidence, 1 - 0.3 * 0.7, 1e-12);
}

TEST(RouterScore, FailingAnExampleMeansNoConfidence) {
  std::vector<Candidate> c = {candidate("premium", "gpt-4", 1, 2, {"1"}),
                              candidate("premium", "gpt-3.5", 1, 2, {"1"})};
  EXPECT_FALSE(score_candidates(c));
  EXPECT_EQ(c[0].confidence, 0.0);
  Candidate broken = candidate("premium", "gpt-4", 0, 0, {});
  broken.loaded = false;
  std::vector<Candidate> d = {broken};
  EXPECT_FALSE(score_candidates(d));
}

TEST(RouterScore, WithoutExamplesAgreementIsDiscounted) {
  std::vector<Candidate> c = {candidate("premium", "gpt-4", 0, 0, {"[]", "[1]"}),
                              candidate("premium", "gpt-3.5", 0, 0, {"[]", "[1]"})};
  ASSERT_TRUE(score_candidates(c));
  EXPECT_NEAR(c[0].confidence, 0.75 * (1 - 0.3 * 0.4), 1e-12);
}

TEST(RouterScore, WrittenTestsWeighByHowManyModelsPassThem) {
  // Two models pass the examples and split on one probe. Of the teacher's three tests,
  // gpt-3.5 alone passes the first (weight 1/2), both the second (weight 1), and no one
  // the third (weight 0: dropped).
  std::vector<Candidate> c = {candidate("premium", "gpt-4", 2, 2, {"1", "2"}),
                              candidate("premium", "gpt-3.5", 2, 2, {"1", "9"})};
  ASSERT_EQ(score_candidates(c), 0u);  // no tests: a tie, the first wins
  const double untested = c[0].score;
  EXPECT_DOUBLE_EQ(c[1].score, untested);
  c[0].written_passed = {false, true, false};
  c[1].written_passed = {true, true, false};
  ASSERT_EQ(score_candidates(c), 1u);
  // gpt-4 keeps (1 + 1) / (1 + 1.5) of its score; gpt-3.5 passes every weighted test.
  EXPECT_NEAR(c[0].score, untested * 2.0 / 2.5, 1e-12);
  EXPECT_NEAR(c[1].score, untested, 1e-12);
  // The test no candidate passed changes nothing when it is left out.
  std::vector<Candidate> without = c;
  for (Candidate& x : without) x.written_passed.pop_back();
  ASSERT_EQ(score_candidates(without), 1u);
  EXPECT_DOUBLE_EQ(without[0].score, c[0].score);
  // A candidate that fails the examples earns a test no weight: only gpt-4 is left.
  c[1].examples_passed = 1;
  ASSERT_EQ(score_candidates(c), 0u);
  EXPECT_NEAR(c[0].score, untested / 0.7 * 1.0, 1e-9);  // nothing contests it; passes t2
}

TEST(WrittenTests, OnlyTopLevelAssertsParsedByTreeSitterStay) {
  auto req = parse_request(
      {.text = "Add one. For example add_one(1) == 2", .signature = "def add_one(x):"});
  ASSERT_TRUE(req) << req.error().message;
  ASSERT_EQ(req->examples.size(), 1u);
  std::vector<std::string> asserts = {
      "assert add_one(0) == 1",
      yantra::router::example_as_assert(req->examples[0]),  // a copy of the example
      "import os",                                          // not a test
      "assert add_one(-1) == 0",
  };
  auto cases = yantra::router::written_test_cases(asserts, *req, "local/coder");
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].code, "assert add_one(0) == 1");
  EXPECT_EQ(cases[1].code, "assert add_one(-1) == 0");
  EXPECT_EQ(cases[0].name, "written 1");
  EXPECT_EQ(cases[0].origin.rfind("local/coder:", 0), 0u) << cases[0].origin;
  // At most ten.
  std::vector<std::string> many;
  for (int i = 0; i < 14; ++i)
    many.push_back("assert add_one(" + std::to_string(i) + ") == " + std::to_string(i + 1));
  EXPECT_EQ(yantra::router::written_test_cases(many, *req, "x").size(), 10u);
}

}  // namespace
