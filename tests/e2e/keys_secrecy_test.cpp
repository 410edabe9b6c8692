// The real `yantra` binary, run as a user runs it, with its configuration and home in fresh
// temporary directories: an API key stored through `keys set` must then appear nowhere,
// in any form (plain, hex, base64), in any file under those directories (keys.enc included:
// it holds only ciphertext) or in anything any command printed, errors included.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../unit/test_support.h"
#include "config/config.h"

namespace {

namespace fs = std::filesystem;
using yantra::testing::contains;
using yantra::testing::read_bytes;

constexpr const char* kKey = "sk-e2eSECRET-4b1d9f0c7a2e58d3c6b0a914fe27";

struct Outcome {
  int status = -1;
  std::string out, err;
};

class KeysSecrecyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "yantra-secrecy-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    for (const char* d : {"config", "home", "repo", "io"}) fs::create_directories(root_ / d);
  }
  void TearDown() override { fs::remove_all(root_); }

  // The environment minus YANTRA_* and *_API_KEY variables (the caller's shell must not
  // change the outcome), with the configuration and HOME in the temporary directory.
  std::vector<std::string> environment() const {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string_view v = *e;
      std::string_view name = v.substr(0, v.find('='));
      if (!v.starts_with("YANTRA_") && !name.ends_with("_API_KEY") && !v.starts_with("HOME="))
        env.emplace_back(v);
    }
    env.push_back("YANTRA_CONFIG_HOME=" + (root_ / "config").string());
    env.push_back("HOME=" + (root_ / "home").string());
    return env;
  }

  // Runs the binary in the repository directory, stdin from `input`; every byte it prints is
  // kept for the final scan.
  Outcome run(const std::vector<std::string>& args, const std::string& input = "") {
    fs::path in = root_ / "io" / "stdin", out = root_ / "io" / "stdout",
             err = root_ / "io" / "stderr";
    std::ofstream(in) << input;
    std::vector<std::string> argv_s = {YANTRA_BINARY}, env_s = environment();
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    for (auto& e : env_s) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      int i = ::open(in.c_str(), O_RDONLY),
          o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644),
          e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (i < 0 || o < 0 || e < 0 || ::dup2(i, 0) < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0)
        ::_exit(126);
      if (::chdir((root_ / "repo").c_str()) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    int ws = 0;
    Outcome r;
    if (pid > 0 && ::waitpid(pid, &ws, 0) == pid) r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.out = read_bytes(out);
    r.err = read_bytes(err);
    printed_ += r.out + "\n" + r.err + "\n";
    fs::remove(in);
    return r;
  }

  fs::path root_;
  std::string printed_;  // all stdout and stderr of every run
};

std::string base64(const std::string& bytes, int variant) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// The forms the key could take if it leaked: itself, hex either case, and base64 (standard
// and URL-safe) at each of the three byte alignments it could sit at inside a longer blob.
std::vector<std::string> leak_forms(const std::string& key) {
  std::vector<std::string> forms = {key};
  std::string lower, upper;
  for (unsigned char c : key) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", c);
    lower += buf;
    std::snprintf(buf, sizeof buf, "%02X", c);
    upper += buf;
  }
  forms.push_back(lower);
  forms.push_back(upper);
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_URLSAFE}) {
    for (size_t shift = 0; shift < 3; ++shift) {
      std::string enc = base64(std::string(shift, '\0') + key, variant);
      // Only the 4-character groups made of key bytes alone: not the first (mixed with the
      // shift) nor the last (mixed with the end).
      size_t begin = shift ? 4 : 0;
      forms.push_back(enc.substr(begin, enc.size() - 4 - begin));
    }
  }
  return forms;
}

void expect_no_leak(const std::string& where, const std::string& text) {
  for (const std::string& form : leak_forms(kKey))
    EXPECT_FALSE(contains(text, form)) << "the key leaked into " << where << " as " << form;
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
}

TEST_F(KeysSecrecyTest, AStoredKeyAppearsNowhereElse) {
  ASSERT_EQ(sodium_init() >= 0, true);
  Outcome r = run({"config", "set", "providers.deepseek.budget_month_usd", "5"});
  ASSERT_EQ(r.status, 0) << r.err;

  r = run({"keys", "set", "deepseek"}, std::string(kKey) + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "stored the key for deepseek")) << r.out;

  r = run({"keys", "list"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "deepseek  set  store")) << r.out;
  EXPECT_EQ(run({"keys", "list", "--json"}).status, 0);
  EXPECT_EQ(run({"config", "list"}).status, 0);
  EXPECT_EQ(run({"config", "list", "--json"}).status, 0);
  EXPECT_EQ(run({"config", "get", "providers.deepseek.key_env"}).out, "DEEPSEEK_API_KEY\n");

  // The key as an argument, anywhere: refused, and never printed back.
  r = run({"keys", "set", "deepseek", kKey});
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.err, "pipe it")) << r.err;
  EXPECT_NE(run({"keys", "set", "deepseek", std::string("--key=") + kKey}).status, 0);
  EXPECT_NE(run({"keys", "set", "--key", kKey, "deepseek"}).status, 0);
  EXPECT_NE(run({"keys", "set", kKey}, std::string(kKey) + "\n").status, 0);
  EXPECT_NE(run({"keys", kKey}).status, 0);
  EXPECT_NE(run({"keys", "remove", kKey}).status, 0);
  EXPECT_NE(run({"keys", "list", "--repo", kKey}).status, 0);
  // And in the wrong command.
  EXPECT_NE(run({"config", "set", "providers.deepseek.key_env", kKey}).status, 0);
  EXPECT_NE(run({"config", "set", "providers.deepseek.api_key", kKey}).status, 0);
  EXPECT_NE(run({"config", "get", kKey}).status, 0);
  EXPECT_NE(run({"config", "set", kKey, "1"}).status, 0);
  // A failing read of the store (permissions) says so without the key.
  fs::path keys = root_ / "config" / "yantra" / "keys.enc";
  ::chmod(keys.c_str(), 0644);
  r = run({"keys", "list"});
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(contains(r.err, "chmod 600")) << r.err;
  ::chmod(keys.c_str(), 0600);

  // The key is there, sealed, in 0600 files.
  auto stored = yantra::config::KeyStore((root_ / "config" / "yantra").string()).get("deepseek");
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(stored->value_or(""), kKey);
  EXPECT_EQ(mode_of(keys), 0600u);
  EXPECT_EQ(mode_of(root_ / "config" / "yantra" / "secret.key"), 0600u);
  EXPECT_GT(fs::file_size(keys), 0u);

  size_t scanned = 0;
  for (const char* dir : {"config", "home", "repo"}) {
    for (const auto& e : fs::recursive_directory_iterator(root_ / dir)) {
      if (!e.is_regular_file()) continue;
      expect_no_leak(e.path().string(), read_bytes(e.path()));
      ++scanned;
    }
  }
  EXPECT_GE(scanned, 4u) << "config.toml (repo), keys.enc, secret.key, keys.lock at least";
  expect_no_leak("the output of the commands", printed_);
}

// On a terminal, the prompt turns echo off: what is typed is not shown.
TEST_F(KeysSecrecyTest, ThePromptDoesNotEchoTheKey) {
  int master = -1, slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  fs::path err = root_ / "io" / "stderr";
  std::vector<std::string> argv_s = {YANTRA_BINARY, "keys", "set", "deepseek"};
  std::vector<std::string> env_s = environment();
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  for (auto& e : env_s) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (e < 0 || ::dup2(slave, 0) < 0 || ::dup2(slave, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(126);
    ::close(master);
    if (::chdir((root_ / "repo").c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(slave);
  // Type only once the prompt is up (echo is already off by then).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!contains(read_bytes(err), "API key for deepseek: ") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::string typed = std::string(kKey) + "\n";
  ASSERT_EQ(::write(master, typed.data(), typed.size()), static_cast<ssize_t>(typed.size()));
  int ws = 0;
  ASSERT_EQ(::waitpid(pid, &ws, 0), pid);
  std::string shown;
  char buf[512];
  pollfd p{master, POLLIN, 0};
  while (::poll(&p, 1, 100) > 0) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    shown.append(buf, static_cast<size_t>(n));
  }
  ::close(master);
  ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << read_bytes(err) << shown;
  expect_no_leak("the terminal", shown);
  expect_no_leak("stderr", read_bytes(err));
  EXPECT_TRUE(contains(shown, "stored the key for deepseek")) << shown;
  auto stored = yantra::config::KeyStore((root_ / "config" / "yantra").string()).get("deepseek");
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(stored->value_or(""), kKey);
}

}  // namespace
