// The key store on real files in a fresh temporary directory: round trip, fresh nonces,
// permissions, tampering, the environment's precedence, and reading a key from stdin.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
namespace cfg = yantra::config;
using nlohmann::json;
using yantra::testing::contains;
using yantra::testing::read_bytes;

constexpr const char* kKey = "sk-unitTEST-7f3a9c2e41b8d6057e19aa3c";

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "yantra-keys-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = (root_ / "yantra").string();
    ::unsetenv("YANTRA_UNIT_TEST_KEY");
  }
  void TearDown() override {
    ::unsetenv("YANTRA_UNIT_TEST_KEY");
    fs::remove_all(root_);
  }

  static mode_t mode_of(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
  }
  json read_store(const cfg::KeyStore& store) { return json::parse(read_bytes(store.keys_path())); }
  void write_store(const cfg::KeyStore& store, const json& doc) {
    std::ofstream(store.keys_path()) << doc.dump();
  }
  // The error of reading `provider`, which the test expects, checked never to hold the key.
  std::string get_error(const cfg::KeyStore& store, const std::string& provider) {
    auto got = store.get(provider);
    EXPECT_FALSE(got.ok()) << "read, but an error was expected";
    if (got) return "";
    EXPECT_FALSE(contains(got.error().message, kKey)) << got.error().message;
    return got.error().message;
  }
  static cfg::ProviderSettings provider(std::string name) {
    cfg::ProviderSettings p;
    p.name = std::move(name);
    p.key_env = "YANTRA_UNIT_TEST_KEY";
    return p;
  }

  fs::path root_;
  std::string dir_;
};

TEST_F(KeysTest, RoundTripWithPrivateFilesAndNoPlaintext) {
  cfg::KeyStore store(dir_);
  EXPECT_FALSE(store.get("deepseek")->has_value()) << "an empty store has no key";
  ASSERT_TRUE(store.put("deepseek", kKey).ok());
  ASSERT_TRUE(store.put("openai", "sk-other").ok());
  auto got = store.get("deepseek");
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, kKey);
  EXPECT_EQ(**store.get("openai"), "sk-other");
  EXPECT_EQ(*store.providers(), (std::vector<std::string>{"deepseek", "openai"}));
  EXPECT_EQ(mode_of(store.keys_path()), 0600u);
  EXPECT_EQ(mode_of(store.secret_path()), 0600u);
  EXPECT_EQ(fs::file_size(store.secret_path()), 32u);
  EXPECT_FALSE(contains(read_bytes(store.keys_path()), "unitTEST"));

  EXPECT_TRUE(*store.remove("deepseek"));
  EXPECT_FALSE(*store.remove("deepseek"));
  EXPECT_FALSE(store.get("deepseek")->has_value());
  EXPECT_EQ(**store.get("openai"), "sk-other");
}

TEST_F(KeysTest, EveryStoreUsesAFreshNonce) {
  cfg::KeyStore store(dir_);
  ASSERT_TRUE(store.put("deepseek", kKey).ok());
  json first = read_store(store)["entries"]["deepseek"];
  ASSERT_TRUE(store.put("deepseek", kKey).ok());
  json second = read_store(store)["entries"]["deepseek"];
  EXPECT_NE(first["nonce"], second["nonce"]);
  EXPECT_NE(first["box"], second["box"]) << "the same key stored twice must not look the same";
  EXPECT_EQ(**store.get("deepseek"), kKey);
}

TEST_F(KeysTest, FilesOthersCanReadAreRefusedWithTheFix) {
  cfg::KeyStore store(dir_);
  ASSERT_TRUE(store.put("deepseek", kKey).ok());
  for (const std::string& path : {store.keys_path(), store.secret_path()}) {
    ::chmod(path.c_str(), 0644);
    std::string err = get_error(store, "deepseek");
    EXPECT_TRUE(contains(err, path)) << err;
    EXPECT_TRUE(contains(err, "chmod 600 " + path)) << err;
    EXPECT_FALSE(store.put("deepseek", kKey).ok()) << path;
    ::chmod(path.c_str(), 0640);
    EXPECT_FALSE(store.get("deepseek").ok()) << "group read is refused too";
    ::chmod(path.c_str(), 0600);
  }
  EXPECT_EQ(**store.get("deepseek"), kKey);
}

TEST_F(KeysTest, TamperedCiphertextIsRefused) {
  cfg::KeyStore store(dir_);
  ASSERT_TRUE(store.put("deepseek", kKey).ok());
  json doc = read_store(store);
  std::string box = doc["entries"]["deepseek"]["box"];
  box[5] = box[5] == 'A' ? 'B' : 'A';  // still valid base64, one byte changed
  doc["entries"]["deepseek"]["box"] = box;
  write_store(store, doc);
  std::string err = get_error(store, "deepseek");
  EXPECT_TRUE(contains(err, store.keys_path())) << err;
  EXPECT_TRUE(contains(err, "does not decrypt")) << err;

  doc["entries"]["deepseek"]["box"] = "not base64!";
  write_store(store, doc);
  EXPECT_TRUE(contains(get_error(store, "deepseek"), "malformed"));
  std::ofstream(store.keys_path()) << "{ truncated";
  EXPECT_TRUE(contains(get_error(store, "deepseek"), "not a yantra key store"));
}

TEST_F(KeysTest, AnEntryMovedToAnotherProviderIsRefused) {
  cfg::KeyStore store(dir_);
  ASSERT_TRUE(store.put("deepseek", kKey).ok());
  json doc = read_store(store);
  doc["entries"]["openai"] = doc["entries"]["deepseek"];
  write_store(store, doc);
  EXPECT_TRUE(contains(get_error(store, "openai"), "sealed for another provider"));
  EXPECT_EQ(**store.get("deepseek"), kKey);
}

TEST_F(KeysTest, AMissingSecretKeyIsNeverSilentlyReplaced) {
  cfg::KeyStore store(dir_);
  ASSERT_TRUE(store.put("deepseek", kKey).ok());
  fs::remove(store.secret_path());
  EXPECT_TRUE(contains(get_error(store, "deepseek"), "missing"));
  EXPECT_FALSE(store.put("openai", "sk-other").ok());
  EXPECT_FALSE(fs::exists(store.secret_path()));
}

TEST_F(KeysTest, TheEnvironmentVariableWinsOverTheStore) {
  cfg::KeyStore store(dir_);
  cfg::ProviderSettings p = provider("deepseek");
  EXPECT_EQ(*cfg::key_source(p, store), cfg::KeySource::none);
  EXPECT_FALSE(cfg::lookup_key(p, store)->has_value());
  ASSERT_TRUE(store.put("deepseek", kKey).ok());
  EXPECT_EQ(**cfg::lookup_key(p, store), kKey);
  EXPECT_EQ(*cfg::key_source(p, store), cfg::KeySource::store);
  ::setenv("YANTRA_UNIT_TEST_KEY", "sk-from-env", 1);
  EXPECT_EQ(**cfg::lookup_key(p, store), "sk-from-env");
  EXPECT_EQ(*cfg::key_source(p, store), cfg::KeySource::env);
  ::setenv("YANTRA_UNIT_TEST_KEY", "", 1);  // empty counts as unset
  EXPECT_EQ(**cfg::lookup_key(p, store), kKey);
}

TEST_F(KeysTest, LookupUsesTheConfiguredDirectory) {
  const char* old = std::getenv("YANTRA_CONFIG_HOME");
  std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("YANTRA_CONFIG_HOME", root_.c_str(), 1);
  ASSERT_TRUE(cfg::KeyStore(dir_).put("deepseek", kKey).ok());
  auto got = cfg::lookup_key(provider("deepseek"));
  if (saved)
    ::setenv("YANTRA_CONFIG_HOME", saved->c_str(), 1);
  else
    ::unsetenv("YANTRA_CONFIG_HOME");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(**got, kKey);
}

TEST_F(KeysTest, BadProviderNamesAreRefusedWithoutRepeatingThem) {
  cfg::KeyStore store(dir_);
  auto r = store.put("sk-with space", kKey);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(contains(r.error().message, "sk-with")) << r.error().message;
  EXPECT_FALSE(store.put("deepseek", "").ok());
}

// Reads with stdin replaced by a pipe holding `input`.
yantra::Result<std::string> read_from_pipe(const std::string& input) {
  int fds[2];
  if (::pipe(fds) != 0) return yantra::Error{"pipe failed"};
  (void)!::write(fds[1], input.data(), input.size());
  ::close(fds[1]);
  int saved = ::dup(STDIN_FILENO);
  ::dup2(fds[0], STDIN_FILENO);
  ::close(fds[0]);
  auto key = cfg::read_key_from_stdin("deepseek");
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  return key;
}

TEST_F(KeysTest, ReadsOneTrimmedLineFromAPipe) {
  auto key = read_from_pipe("  sk-abc123 \r\nsecond line\n");
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(*key, "sk-abc123");
  EXPECT_EQ(*read_from_pipe("sk-no-newline"), "sk-no-newline");
  auto empty = read_from_pipe("\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(contains(empty.error().message, "pipe it")) << empty.error().message;
  auto spaced = read_from_pipe("sk-abc def\n");
  ASSERT_FALSE(spaced.ok());
  EXPECT_FALSE(contains(spaced.error().message, "sk-abc")) << spaced.error().message;
}

}  // namespace
