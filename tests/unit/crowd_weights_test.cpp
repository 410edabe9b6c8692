// Crowd weights and the signed registry: the binary form survives every truncation as an
// error, FedAvg equals the weighted mean computed here independently, and a manifest or
// weights file changed by one byte, or signed by another key, is refused.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "crowd/crowd.h"

namespace yantra::crowd {
namespace {

namespace fs = std::filesystem;

Weights random_weights(uint64_t seed, float scale = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  Weights w;
  for (auto [name, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"conv0.weight", {4, 3}}, {"conv0.bias", {4}}, {"link_out.weight", {1, 4}}}) {
    Tensor t{shape, {}};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    for (int64_t i = 0; i < n; ++i) t.values.push_back(u(rng));
    w.emplace(name, std::move(t));
  }
  return w;
}

TEST(CrowdWeights, EncodeDecodeRoundTripsExactly) {
  Weights w = random_weights(1);
  std::string bytes = encode(w);
  Weights back = decode(bytes, "w.ywts").take();
  ASSERT_EQ(back.size(), w.size());
  for (const auto& [name, t] : w) {
    EXPECT_EQ(back.at(name).shape, t.shape) << name;
    EXPECT_EQ(back.at(name).values, t.values) << name;
  }
}

TEST(CrowdWeights, EveryTruncationAndForeignBytesAreErrorsNamingTheInput) {
  std::string bytes = encode(random_weights(2));
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode(std::string_view(bytes).substr(0, n), "cut.ywts");
    ASSERT_FALSE(r.ok()) << "a file cut at " << n << " bytes decoded";
    EXPECT_NE(r.error().message.find("cut.ywts"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(decode(bytes + "x", "long.ywts").ok());
  EXPECT_FALSE(decode("PK\x03\x04 not weights", "zip.ywts").ok());
  // A header that claims a huge tensor is refused without allocating it.
  std::string huge = encode({{"w", Tensor{{1}, {1.f}}}});
  int64_t big = int64_t(1) << 40;
  std::memcpy(huge.data() + 4 + 4 + 4 + 4 + 1 + 4, &big, sizeof big);
  EXPECT_FALSE(decode(huge, "huge.ywts").ok());
  Weights nan{{"w", Tensor{{2}, {1.f, std::nanf("")}}}};
  auto r = decode(encode(nan), "nan.ywts");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("NaN"), std::string::npos);
}

TEST(CrowdWeights, DeltasMatchByNameAndShape) {
  Weights a = random_weights(3), b = random_weights(4);
  Weights d = subtract(a, b).take();
  Weights back = add(b, d).take();
  for (const auto& [name, t] : a)
    for (size_t i = 0; i < t.values.size(); ++i)
      EXPECT_NEAR(back.at(name).values[i], t.values[i], 1e-6) << name;
  Weights renamed = b;
  renamed["extra.weight"] = Tensor{{1}, {0.f}};
  auto r = subtract(a, renamed);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("extra.weight"), std::string::npos);
  Weights reshaped = b;
  reshaped["conv0.weight"].shape = {3, 4};
  r = add(a, reshaped);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("[4,3]"), std::string::npos) << r.error().message;
}

TEST(CrowdWeights, ClippingBoundsTheNormAndKeepsTheDirection) {
  Weights w = random_weights(5, 10.f);
  double norm = l2_norm(w);
  ASSERT_GT(norm, 1.0);
  Weights clipped = clip_l2(w, 1.0);
  EXPECT_NEAR(l2_norm(clipped), 1.0, 1e-5);
  for (const auto& [name, t] : w)
    for (size_t i = 0; i < t.values.size(); ++i)
      EXPECT_NEAR(clipped.at(name).values[i], t.values[i] / norm, 1e-6);
  Weights small = clip_l2(w, norm * 2);  // already within: unchanged
  EXPECT_EQ(small.at("conv0.weight").values, w.at("conv0.weight").values);
}

TEST(CrowdWeights, FedAvgEqualsTheWeightedMeanComputedIndependently) {
  const std::vector<uint64_t> examples{3, 1, 6};
  std::vector<Contribution> cs;
  for (size_t k = 0; k < examples.size(); ++k) cs.push_back({random_weights(10 + k), examples[k]});
  Weights avg = fed_avg(cs).take();
  // The mean written out by hand: (3 a + 1 b + 6 c) / 10, value by value.
  for (const auto& [name, t] : cs[0].delta) {
    for (size_t i = 0; i < t.values.size(); ++i) {
      double want = (3.0 * cs[0].delta.at(name).values[i] + 1.0 * cs[1].delta.at(name).values[i] +
                     6.0 * cs[2].delta.at(name).values[i]) / 10.0;
      EXPECT_NEAR(avg.at(name).values[i], want, 1e-6) << name << "[" << i << "]";
    }
  }
  EXPECT_FALSE(fed_avg({}).ok());
  EXPECT_FALSE(fed_avg({{random_weights(1), 0}}).ok());
  Weights odd = random_weights(1);
  odd.erase("conv0.bias");
  auto r = fed_avg({{random_weights(1), 2}, {odd, 2}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("conv0.bias"), std::string::npos) << r.error().message;
}

TEST(CrowdWeights, GaussianNoiseIsSeededAndHasTheAskedSpread) {
  Weights zero{{"w", Tensor{{20000}, std::vector<float>(20000, 0.f)}}};
  Weights a = zero, b = zero, c = zero;
  add_gaussian_noise(a, 0.5, 7);
  add_gaussian_noise(b, 0.5, 7);
  add_gaussian_noise(c, 0.5, 8);
  EXPECT_EQ(a.at("w").values, b.at("w").values);
  EXPECT_NE(a.at("w").values, c.at("w").values);
  double sum = 0, sq = 0;
  for (float v : a.at("w").values) sum += v, sq += double(v) * v;
  double mean = sum / 20000, sd = std::sqrt(sq / 20000 - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(sd, 0.5, 0.02);
  add_gaussian_noise(zero, 0.0, 1);  // sigma 0: off
  EXPECT_EQ(zero.at("w").values, std::vector<float>(20000, 0.f));
}

TEST(CrowdRegistry, VersionsParseCompareAndStep) {
  Version v = Version::parse("1.9.3").take();
  EXPECT_EQ(v.str(), "1.9.3");
  EXPECT_EQ(v.next_minor().str(), "1.10.0");
  EXPECT_LT(Version::parse("1.9.3").take(), Version::parse("1.10.0").take());
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "a.b.c", "01.2.3", "1..3", "-1.2.3", "1.2.3x"})
    EXPECT_FALSE(Version::parse(bad).ok()) << bad;
}

struct Published {
  SigningKey key = SigningKey::generate();
  std::string weights = encode(random_weights(21));
  SignedManifest signed_manifest =
      sign(make_manifest("acme", weights, {1, 1, 0}, "1.0.0", 120, 2, {{"mrr", 0.42}}), key);
};

TEST(CrowdRegistry, AGenuineManifestVerifiesAfterAJsonRoundTrip) {
  Published p;
  auto wire = nlohmann::json::parse(p.signed_manifest.to_json().dump());
  SignedManifest back = SignedManifest::from_json(wire).take();
  EXPECT_TRUE(verify(back, p.weights, p.key.public_hex).ok());
  EXPECT_EQ(back.manifest.parent, "1.0.0");
  EXPECT_EQ(back.manifest.examples, 120u);
  EXPECT_EQ(back.manifest.weights_sha256, sha256_hex(p.weights));
}

TEST(CrowdRegistry, TamperedWeightsManifestOrSignerAreRefused) {
  Published p;
  std::string flipped = p.weights;
  flipped[flipped.size() / 2] ^= 0x01;
  auto r = verify(p.signed_manifest, flipped, p.key.public_hex);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("hash"), std::string::npos) << r.error().message;
  EXPECT_FALSE(verify(p.signed_manifest, p.weights + "x", p.key.public_hex).ok());

  SignedManifest edited = p.signed_manifest;
  edited.manifest.examples += 1;
  r = verify(edited, p.weights, p.key.public_hex);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("signature"), std::string::npos) << r.error().message;
  edited = p.signed_manifest;
  edited.manifest.weights_sha256 = sha256_hex(flipped);  // a matching hash for other weights
  EXPECT_FALSE(verify(edited, flipped, p.key.public_hex).ok());

  SigningKey other = SigningKey::generate();
  SignedManifest forged = sign(p.signed_manifest.manifest, other);
  EXPECT_TRUE(verify(forged, p.weights, other.public_hex).ok());
  EXPECT_FALSE(verify(forged, p.weights, p.key.public_hex).ok());
  EXPECT_FALSE(verify(p.signed_manifest, p.weights, "not-a-key").ok());
}

TEST(CrowdRegistry, SigningKeyFileIsCreatedPrivateOnceAndCheckedOnLoad) {
  fs::path dir = fs::temp_directory_path() / ("yantra-key-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "signing.key").string();
  SigningKey a = SigningKey::load_or_create(path).take();
  SigningKey b = SigningKey::load_or_create(path).take();
  EXPECT_EQ(a.public_hex, b.public_hex);
  EXPECT_EQ(a.secret_hex, b.secret_hex);
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A file whose public half belongs to another key is refused, not used.
  SigningKey other = SigningKey::generate();
  nlohmann::json spliced{{"public_key", other.public_hex}, {"secret_key", a.secret_hex}};
  std::ofstream(path, std::ios::trunc) << spliced.dump();
  auto r = SigningKey::load_or_create(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("signing.key"), std::string::npos) << r.error().message;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace yantra::crowd
