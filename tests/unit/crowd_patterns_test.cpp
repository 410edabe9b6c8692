// Crowd patterns: counts of the code's graph, the strict schema, the anonymous user id.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "crowd/crowd.h"
#include "library/library.h"

namespace yantra::crowd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

library::Entry entry(std::string code, std::string entry_point) {
  library::Entry e;
  e.id = 7;
  e.entry_point = std::move(entry_point);
  e.code = std::move(code);
  e.embedding = student::text_embedding(e.entry_point, {"path"}, "read a config file");
  e.tier = "open_cloud";
  e.tests_passed = 4, e.tests_failed = 1, e.confidence = 0.8, e.uses = 2, e.use_passes = 1;
  return e;
}

const char* kCode =
    "import json\n"
    "from os import path as osp\n\n"
    "class Loader(Base):\n"
    "    def load(self, name):\n"
    "        return json.loads(open(name).read())\n\n"
    "def read_config(path, strict=False):\n"
    "    if not osp.exists(path):\n"
    "        raise FileNotFoundError(path)\n"
    "    for attempt in range(3):\n"
    "        if strict and attempt:\n"
    "            break\n"
    "    return Loader().load(path)\n";

TEST(CrowdPatterns, CountsTheCodesGraph) {
  Pattern p = extract_pattern(entry(kCode, "read_config")).take();
  EXPECT_EQ(p.counts.nodes.at("module"), 1u);
  EXPECT_EQ(p.counts.nodes.at("class"), 1u);
  EXPECT_EQ(p.counts.nodes.at("method"), 1u);
  EXPECT_EQ(p.counts.nodes.at("function"), 1u);
  EXPECT_EQ(p.counts.nodes.at("test"), 0u);
  EXPECT_EQ(p.counts.edges.at("contains"), 3u);  // class, method, function
  EXPECT_EQ(p.counts.edges.at("imports"), 2u);
  EXPECT_EQ(p.counts.edges.at("inherits"), 1u);
  // load: json.loads, open, .read; read_config: osp.exists, FileNotFoundError, range,
  // Loader, .load
  EXPECT_EQ(p.counts.edges.at("calls"), 8u);
  EXPECT_GE(p.counts.nodes.at("external"), 4u);
  EXPECT_EQ(p.params, 2u);
  EXPECT_EQ(p.complexity, 5u);  // 1 + if + for + if + and
  EXPECT_TRUE(p.flags.at("raises"));
  EXPECT_EQ(p.flags.size(), 6u);
  EXPECT_EQ(p.tier, "open_cloud");
  EXPECT_DOUBLE_EQ(p.confidence_before, 0.8);
  EXPECT_NEAR(p.confidence_after, (1 + 4 * 0.8) / (2 + 4), 1e-3);  // the router's Beta update
  EXPECT_FALSE(p.bugs_found.has_value());
  EXPECT_TRUE(validate_pattern(to_json(p)).ok()) << validate_pattern(to_json(p)).error().message;
}

TEST(CrowdPatterns, OnlyValidatedGenerations) {
  library::Entry e = entry(kCode, "read_config");
  for (auto spoil : {+[](library::Entry& x) { x.avoid = true; },
                     +[](library::Entry& x) { x.pending = true; },
                     +[](library::Entry& x) { x.valid = false; }}) {
    library::Entry bad = e;
    spoil(bad);
    EXPECT_FALSE(is_shareable(bad));
    EXPECT_FALSE(extract_pattern(bad).ok());
  }
  library::Entry broken = entry("def f(:\n  return", "f");
  auto r = extract_pattern(broken);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("does not parse"), std::string::npos);
}

TEST(CrowdPatterns, EmbeddingIsClippedNoisedPerPatternAndSeeded) {
  library::Entry e = entry(kCode, "read_config");
  Pattern plain = extract_pattern(e).take();
  for (size_t i = 0; i < plain.embedding.size(); ++i)
    EXPECT_NEAR(plain.embedding[i], e.embedding[i], 6e-5);
  PatternOptions o{0.1, 42, 3};
  Pattern a = extract_pattern(e, o).take(), b = extract_pattern(e, o).take();
  EXPECT_EQ(a.embedding, b.embedding);  // seeded
  e.id = 8;
  Pattern c = extract_pattern(e, o).take();
  EXPECT_NE(a.embedding, c.embedding);  // per pattern
  double var = 0;
  for (size_t i = 0; i < a.embedding.size(); ++i)
    var += std::pow(a.embedding[i] - plain.embedding[i], 2);
  EXPECT_NEAR(std::sqrt(var / a.embedding.size()), 0.1, 0.02);
  EXPECT_EQ(*a.bugs_found, 3);
  EXPECT_TRUE(validate_pattern(to_json(a)).ok());
  EXPECT_LT(embedding_epsilon(1.0), embedding_epsilon(0.1));
}

TEST(CrowdSchema, RejectsAnythingOutsideTheAllowList) {
  json good = to_json(extract_pattern(entry(kCode, "read_config")).take());
  ASSERT_TRUE(validate_pattern(good).ok());
  // Errors name the field; a value that was sent is never repeated.
  auto rejected = [&](auto spoil, const std::string& field) {
    json p = good;
    spoil(p);
    auto r = validate_pattern(p);
    EXPECT_FALSE(r.ok()) << field;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
      EXPECT_EQ(r.error().message.find("read_config"), std::string::npos) << r.error().message;
    }
  };
  rejected([](json& p) { p["name"] = "read_config"; }, "unknown key 'name'");
  rejected([](json& p) { p["nodes"]["classes"] = 1; }, "nodes' has an unknown key 'classes'");
  rejected([](json& p) { p["outcome"]["stderr"] = "x"; }, "outcome");
  rejected([](json& p) { p.erase("tier"); }, "tier");
  rejected([](json& p) { p["tier"] = "read_config"; }, "tier");
  rejected([](json& p) { p["language"] = "java"; }, "language");
  rejected([](json& p) { p["complexity"] = "read_config"; }, "complexity");
  rejected([](json& p) { p["complexity"] = 2.5; }, "complexity");
  rejected([](json& p) { p["lines"] = -1; }, "lines");
  rejected([](json& p) { p["confidence_after"] = 1.5; }, "confidence_after");
  rejected([](json& p) { p["flags"]["raises"] = "yes"; }, "flags.raises");
  rejected([](json& p) { p["embedding"].push_back(0.0); }, "embedding");
  rejected([](json& p) { p["embedding"][3] = "read_config"; }, "embedding");
  rejected([](json& p) { p["outcome"]["bugs_found"] = "read_config"; }, "bugs_found");
  rejected([](json& p) { p["v"] = 2; }, "'v'");
  rejected([](json& p) { p = json::array(); }, "pattern");
  json null_bugs = good;
  null_bugs["outcome"]["bugs_found"] = nullptr;
  EXPECT_TRUE(validate_pattern(null_bugs).ok());
}

TEST(CrowdSchema, BatchEnvelope) {
  Pattern p = extract_pattern(entry(kCode, "read_config")).take();
  std::string secret(32, 's');
  json batch = pattern_batch(derived_id(secret, "b"), user_id(secret, "acme"), {p});
  EXPECT_TRUE(validate_pattern_batch(batch).ok()) << validate_pattern_batch(batch).error().message;
  json extra = batch;
  extra["repo"] = "/home/me/src";
  EXPECT_FALSE(validate_pattern_batch(extra).ok());
  json bad_user = batch;
  bad_user["user"] = "me@example.org";
  EXPECT_FALSE(validate_pattern_batch(bad_user).ok());
  json empty = batch;
  empty["patterns"] = json::array();
  EXPECT_FALSE(validate_pattern_batch(empty).ok());
  json bad_pattern = batch;
  bad_pattern["patterns"][0]["tier"] = "gpt-4";
  auto r = validate_pattern_batch(bad_pattern);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("patterns[0]"), std::string::npos);
}

TEST(CrowdUserId, IsHmacSha256OfTheTenant) {
  // RFC 4231 test case 2 (HMAC pads short keys with zeros, as user_id does).
  EXPECT_EQ(user_id("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  std::string secret(32, '\x11');
  EXPECT_NE(user_id(secret, "acme"), user_id(secret, "globex"));
  EXPECT_NE(user_id(secret, "acme"), user_id(std::string(32, '\x12'), "acme"));
  EXPECT_EQ(derived_id(secret, "x"), derived_id(secret, "x"));
  EXPECT_EQ(derived_id(secret, "x").size(), 32u);
  EXPECT_NE(derived_id(secret, "x"), derived_id(secret, "y"));
}

TEST(CrowdUserId, SecretIsCreatedOncePrivately) {
  fs::path dir = fs::temp_directory_path() / ("yantra-crowd-secret-" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::string path = (dir / "sub" / "crowd.secret").string();
  std::string a = load_or_create_user_secret(path).take();
  EXPECT_EQ(a.size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(load_or_create_user_secret(path).take(), a);
  chmod(path.c_str(), 0644);
  auto refused = load_or_create_user_secret(path);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("chmod 600"), std::string::npos);
  fs::remove_all(dir);
}

TEST(CrowdPyflakes, CountsFindingsPerCode) {
  auto counts = pyflakes_findings({"import os\ndef f():\n    return undefined_name\n",
                                   "def g(x):\n    return x + 1\n", "def h(:\n"});
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  EXPECT_EQ((*counts)[0], 2);  // unused import, undefined name
  EXPECT_EQ((*counts)[1], 0);
  EXPECT_GE((*counts)[2], 1);  // the syntax error
}

}  // namespace
}  // namespace yantra::crowd
