// Settings: both TOML files written to a fresh temporary directory, merged, checked, and
// changed by set_value, which must keep what it does not change.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
namespace cfg = yantra::config;
using yantra::testing::contains;
using yantra::testing::read_bytes;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "yantra-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    fs::create_directories(root_ / "repo");
    paths_.dir = (root_ / "home" / "yantra").string();
    paths_.global_file = paths_.dir + "/config.toml";
    paths_.repo_file = (root_ / "repo" / ".yantra" / "config.toml").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
  }
  void global(const std::string& text) { write(paths_.global_file, text); }
  void repo(const std::string& text) { write(paths_.repo_file, text); }

  // The error of loading, which the test expects.
  std::string load_error() {
    auto s = cfg::load_settings(paths_);
    EXPECT_FALSE(s.ok()) << "loaded, but an error was expected";
    return s ? "" : s.error().message;
  }
  cfg::Settings load() {
    auto s = cfg::load_settings(paths_);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s ? *s : cfg::Settings{};
  }

  fs::path root_;
  cfg::ConfigPaths paths_;
};

TEST_F(ConfigTest, NoFilesGiveTheDefaults) {
  cfg::Settings s = load();
  EXPECT_DOUBLE_EQ(s.router.student_confidence, 0.7);
  EXPECT_DOUBLE_EQ(s.router.premium_confidence, 0.5);
  EXPECT_EQ(s.router.premium_consent, cfg::Consent::ask);
  EXPECT_EQ(s.router.samples, 3);
  EXPECT_TRUE(s.router.security_escalation);
  EXPECT_FALSE(s.crowd_enabled);
  EXPECT_TRUE(s.providers.empty()) << "a preset must not be enabled on its own";
  EXPECT_EQ(s.origin("router.samples"), cfg::Origin::builtin);
}

TEST_F(ConfigTest, RepositoryWinsOverGlobalKeyByKey) {
  global(
      "[router]\nsamples = 4\nstudent_confidence = 0.8\n"
      "[providers.deepseek]\nbudget_month_usd = 5\nprice_in_per_1k = 0.5\n");
  repo(
      "[router]\nsamples = 6\n[providers.deepseek]\nprice_in_per_1k = 0.001\n[crowd]\n"
      "enabled = true\n");
  cfg::Settings s = load();
  EXPECT_EQ(s.router.samples, 6);
  EXPECT_EQ(s.origin("router.samples"), cfg::Origin::repo);
  EXPECT_DOUBLE_EQ(s.router.student_confidence, 0.8);
  EXPECT_EQ(s.origin("router.student_confidence"), cfg::Origin::global);
  EXPECT_TRUE(s.crowd_enabled);
  const cfg::ProviderSettings* p = s.find_provider("deepseek");
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(p->price_in_per_1k, 0.001);
  EXPECT_EQ(s.origin("providers.deepseek.price_in_per_1k"), cfg::Origin::repo);
  ASSERT_TRUE(p->budget_month_usd.has_value());
  EXPECT_DOUBLE_EQ(*p->budget_month_usd, 5.0);  // an integer is a fine number
  EXPECT_EQ(s.origin("providers.deepseek.budget_month_usd"), cfg::Origin::global);
  // The rest comes from the preset.
  EXPECT_DOUBLE_EQ(p->price_out_per_1k, 0.00028);
  EXPECT_EQ(p->base_url, "https://api.deepseek.com/v1");
  EXPECT_EQ(p->tier, cfg::Tier::open_cloud);
  EXPECT_EQ(p->key_env, "DEEPSEEK_API_KEY");
  EXPECT_EQ(s.origin("providers.deepseek.base_url"), cfg::Origin::builtin);
}

TEST_F(ConfigTest, AnEmptyProviderTableEnablesItsPreset) {
  repo("[providers.openai]\n");
  cfg::Settings s = load();
  ASSERT_EQ(s.providers.size(), 1u);
  EXPECT_EQ(s.providers[0].name, "openai");
  EXPECT_EQ(s.providers[0].tier, cfg::Tier::premium);
  EXPECT_FALSE(s.providers[0].models.empty());
  EXPECT_EQ(s.find_provider("anthropic"), nullptr);
}

TEST_F(ConfigTest, CustomProviderNeedsUrlAndModelsAndDerivesTheRest) {
  repo("[providers.vllm]\nkind = \"openai\"\n");
  std::string err = load_error();
  EXPECT_TRUE(contains(err, paths_.repo_file)) << err;
  EXPECT_TRUE(contains(err, "providers.vllm.base_url is missing")) << err;

  repo("[providers.vllm]\nbase_url = \"http://127.0.0.1:8000/v1\"\n");
  EXPECT_TRUE(contains(load_error(), "providers.vllm.models is missing"));

  repo(
      "[providers.vllm]\nbase_url = \"http://127.0.0.1:8000/v1\"\nmodels = [\"qwen\"]\n"
      "[providers.my-claude]\nkind = \"anthropic\"\nmodels = [\"claude-x\"]\n");
  cfg::Settings s = load();
  const cfg::ProviderSettings* v = s.find_provider("vllm");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->tier, cfg::Tier::open_local);
  EXPECT_EQ(v->key_env, "VLLM_API_KEY");
  EXPECT_DOUBLE_EQ(v->timeout_s, 120);
  const cfg::ProviderSettings* c = s.find_provider("my-claude");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tier, cfg::Tier::premium);
  EXPECT_EQ(c->base_url, "https://api.anthropic.com");  // the client adds /v1/messages
  EXPECT_EQ(c->key_env, "MY_CLAUDE_API_KEY");
}

TEST_F(ConfigTest, MalformedFileGivesPathLineAndColumn) {
  repo("[router]\nsamples = 3\nstudent_confidence = = 0.5\n");
  std::string err = load_error();
  EXPECT_TRUE(err.starts_with(paths_.repo_file + ":3:")) << err;
}

TEST_F(ConfigTest, UnknownKeyIsNamedWithItsPositionAndADidYouMean) {
  global("# mine\n[router]\nsampels = 3\n");
  EXPECT_EQ(load_error(), paths_.global_file +
                              ":3:1: unknown key 'router.sampels'; did you mean 'router.samples'?");
  global("[rooter]\nsamples = 3\n");
  EXPECT_EQ(load_error(),
            paths_.global_file + ":1:2: unknown table 'rooter'; did you mean 'router'?");
  global("[providers.deepseek]\nprice_in = 0.1\n");
  EXPECT_TRUE(contains(load_error(), "did you mean 'providers.deepseek.price_in_per_1k'?"));
}

TEST_F(ConfigTest, WrongTypeNamesTheKeyAndWhatItExpects) {
  repo("[router]\nsamples = \"three\"\n");
  EXPECT_EQ(load_error(), paths_.repo_file +
                              ":2:11: router.samples must be an integer from 1 to "
                              "20 (e.g. 3), not a string");
  repo("[router]\nsamples = 2.5\n");
  EXPECT_TRUE(contains(load_error(), "router.samples must be an integer"));
  repo("[router]\nstudent_confidence = 1.5\n");
  EXPECT_TRUE(
      contains(load_error(), ":2:22: router.student_confidence must be a number from 0 to 1"));
  repo("[providers.deepseek]\nmodels = \"deepseek-coder\"\n");
  EXPECT_TRUE(contains(load_error(), "providers.deepseek.models must be a non-empty list"));
  repo("[router]\nsecurity_escalation = 1\n");
  EXPECT_TRUE(contains(load_error(), "router.security_escalation must be true or false, not an"));
  repo("router = 3\n");
  EXPECT_TRUE(contains(load_error(), "router must be a table"));
}

TEST_F(ConfigTest, UnknownEnumValuesAreRefusedWithASuggestion) {
  repo("[providers.deepseek]\ntier = \"premum\"\n");
  std::string err = load_error();
  EXPECT_TRUE(contains(err,
                       ":2:8: providers.deepseek.tier must be one of open_local, open_cloud, "
                       "premium; did you mean 'premium'?"))
      << err;
  repo("[providers.deepseek]\nkind = \"azure\"\n");
  EXPECT_TRUE(contains(load_error(), "providers.deepseek.kind must be one of openai, anthropic"));
  repo("[router]\npremium_consent = \"maybe\"\n");
  EXPECT_TRUE(contains(load_error(), "router.premium_consent must be one of ask, always, never"));
  repo("[providers.deepseek]\nkey_env = \"not a name\"\n");
  EXPECT_TRUE(contains(load_error(), "providers.deepseek.key_env must be an environment variable"));
}

TEST_F(ConfigTest, EffectiveValuesListEverySettingWithItsOrigin) {
  repo("[providers.deepseek]\nbudget_month_usd = 10.0\n");
  cfg::Settings s = load();
  auto values = cfg::effective_values(s);
  ASSERT_EQ(values.size(), 6u + 5u + 9u);  // router, crowd, one provider
  EXPECT_EQ(values[0].key, "router.student_confidence");
  auto budget = cfg::get_value(s, "providers.deepseek.budget_month_usd");
  ASSERT_TRUE(budget.ok()) << budget.error().message;
  EXPECT_EQ(cfg::to_text(budget->value), "10");
  EXPECT_EQ(budget->origin, cfg::Origin::repo);
  EXPECT_EQ(cfg::to_text(cfg::get_value(s, "providers.deepseek.models")->value),
            "[\"deepseek-coder\"]");
  EXPECT_EQ(cfg::to_text(cfg::get_value(s, "router.premium_consent")->value), "ask");
  auto missing = cfg::get_value(s, "providers.openai.tier");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.error().message, "provider 'openai' is not configured"));
  auto typo = cfg::get_value(s, "router.student_confidance");
  ASSERT_FALSE(typo.ok());
  EXPECT_TRUE(contains(typo.error().message, "did you mean 'router.student_confidence'?"));
}

TEST_F(ConfigTest, SetThenGetRoundTripKeepsCommentsAndOtherKeys) {
  const std::string before =
      "# my settings\n"
      "[router]\n"
      "samples = 3   # three is plenty\n"
      "student_confidence = 0.7\n"
      "\n"
      "# cloud\n"
      "[providers.deepseek]\n"
      "models = [\n  \"deepseek-coder\",  # the small one\n]\n"
      "timeout_s = 60\n";
  repo(before);
  auto r = cfg::set_value(paths_.repo_file, "router.samples", "5");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->kept_layout);
  EXPECT_FALSE(r->created_file);
  std::string after = read_bytes(paths_.repo_file);
  std::string expected = before;
  expected.replace(expected.find("samples = 3"), 11, "samples = 5");
  EXPECT_EQ(after, expected);

  // A key the table does not have yet goes after its last value, before the blank line.
  ASSERT_TRUE(cfg::set_value(paths_.repo_file, "router.premium_consent", "never").ok());
  after = read_bytes(paths_.repo_file);
  EXPECT_TRUE(contains(after, "student_confidence = 0.7\npremium_consent = \"never\"\n\n# cloud"))
      << after;
  // A multi-line array is replaced whole; the comment after the table stays.
  ASSERT_TRUE(cfg::set_value(paths_.repo_file, "providers.deepseek.models", "a, b").ok());
  after = read_bytes(paths_.repo_file);
  EXPECT_TRUE(contains(after, "models = [\"a\", \"b\"]\ntimeout_s = 60\n")) << after;
  // A table the file does not have is appended.
  ASSERT_TRUE(cfg::set_value(paths_.repo_file, "crowd.enabled", "true").ok());
  after = read_bytes(paths_.repo_file);
  EXPECT_TRUE(after.ends_with("timeout_s = 60\n\n[crowd]\nenabled = true\n")) << after;
  EXPECT_TRUE(after.starts_with("# my settings\n")) << after;

  cfg::Settings s = load();
  EXPECT_EQ(s.router.samples, 5);
  EXPECT_EQ(s.router.premium_consent, cfg::Consent::never);
  EXPECT_TRUE(s.crowd_enabled);
  EXPECT_EQ(s.find_provider("deepseek")->models, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(s.find_provider("deepseek")->timeout_s, 60);
}

TEST_F(ConfigTest, SetCreatesTheFileAndTypesValuesBySchema) {
  auto r = cfg::set_value(paths_.global_file, "providers.deepseek.budget_month_usd", "10");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->created_file);
  EXPECT_EQ(read_bytes(paths_.global_file), "[providers.deepseek]\nbudget_month_usd = 10.0\n");
  ASSERT_TRUE(cfg::set_value(paths_.global_file, "providers.deepseek.models", "[\"x\", 'y']").ok());
  ASSERT_TRUE(cfg::set_value(paths_.global_file, "router.security_escalation", "false").ok());
  ASSERT_TRUE(cfg::set_value(paths_.global_file, "providers.deepseek.key_env", "MY_KEY").ok());
  cfg::Settings s = load();
  EXPECT_EQ(s.find_provider("deepseek")->models, (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(s.router.security_escalation);
  EXPECT_EQ(s.find_provider("deepseek")->key_env, "MY_KEY");
  EXPECT_EQ(s.origin("router.security_escalation"), cfg::Origin::global);
}

TEST_F(ConfigTest, SetRefusesBadKeysAndValuesWithoutRepeatingTheValue) {
  auto typo = cfg::set_value(paths_.repo_file, "router.studnet_confidence", "0.5");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.error().message,
            "unknown key 'router.studnet_confidence'; did you mean 'router.student_confidence'?");
  const std::string secretish = "sk-0123456789abcdef0123456789abcdef";
  for (auto [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"router.samples", secretish},
                                                        {"router.security_escalation", secretish},
                                                        {"providers.deepseek.key_env", secretish},
                                                        {"providers.deepseek.tier", secretish},
                                                        {"providers.deepseek.base_url", secretish},
                                                        {"providers.deepseek.api_key", secretish},
                                                        {secretish, "1"}}) {
    auto r = cfg::set_value(paths_.repo_file, key, value);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_FALSE(contains(r.error().message, "0123456789abcdef")) << r.error().message;
  }
  EXPECT_FALSE(fs::exists(paths_.repo_file)) << "a refused set must not create the file";
  auto range = cfg::set_value(paths_.repo_file, "router.student_confidence", "2");
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.error().message,
            "router.student_confidence must be a number from 0 to 1 (e.g. 0.7)");
}

TEST_F(ConfigTest, SetLeavesAMalformedFileAloneAndSaysWhere) {
  const std::string broken = "[router]\nsamples = \n";
  repo(broken);
  auto r = cfg::set_value(paths_.repo_file, "router.samples", "4");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().message.starts_with(paths_.repo_file + ":2:")) << r.error().message;
  EXPECT_EQ(read_bytes(paths_.repo_file), broken);
}

TEST_F(ConfigTest, SetIsAtomicAndKeepsTheFileMode) {
  repo("[router]\nsamples = 3\n");
  ::chmod(paths_.repo_file.c_str(), 0600);
  ASSERT_TRUE(cfg::set_value(paths_.repo_file, "router.samples", "4").ok());
  struct stat st {};
  ASSERT_EQ(::stat(paths_.repo_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(paths_.repo_file).parent_path()))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"config.toml"}) << "a temp file was left behind";
}

TEST_F(ConfigTest, SetInADottedTableFallsBackToARewriteThatIsStillRight) {
  repo("# gone after a rewrite\nrouter.samples = 3\n");
  auto r = cfg::set_value(paths_.repo_file, "router.premium_consent", "always");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->kept_layout);
  cfg::Settings s = load();
  EXPECT_EQ(s.router.samples, 3);
  EXPECT_EQ(s.router.premium_consent, cfg::Consent::always);
}

TEST_F(ConfigTest, ConfigDirFollowsTheEnvironment) {
  auto saved = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v)
      ::setenv(name, v->c_str(), 1);
    else
      ::unsetenv(name);
  };
  auto yantra = saved("YANTRA_CONFIG_HOME"), xdg = saved("XDG_CONFIG_HOME"), home = saved("HOME");
  ::setenv("YANTRA_CONFIG_HOME", "/tmp/y", 1);
  ::setenv("XDG_CONFIG_HOME", "/tmp/x", 1);
  ::setenv("HOME", "/tmp/h", 1);
  EXPECT_EQ(*cfg::config_dir(), "/tmp/y/yantra");
  ::unsetenv("YANTRA_CONFIG_HOME");
  EXPECT_EQ(*cfg::config_dir(), "/tmp/x/yantra");
  ::setenv("XDG_CONFIG_HOME", "relative", 1);
  EXPECT_EQ(*cfg::config_dir(), "/tmp/h/.config/yantra");
  ::unsetenv("XDG_CONFIG_HOME");
  ::unsetenv("HOME");
  EXPECT_FALSE(cfg::config_dir().ok());
  restore("YANTRA_CONFIG_HOME", yantra);
  restore("XDG_CONFIG_HOME", xdg);
  restore("HOME", home);

  auto paths = cfg::config_paths((root_ / "repo").string() + "/.");
  ASSERT_TRUE(paths.ok()) << paths.error().message;
  EXPECT_EQ(paths->repo_file, (root_ / "repo" / ".yantra" / "config.toml").string());
  EXPECT_FALSE(cfg::config_paths((root_ / "nope").string()).ok());
}

}  // namespace
