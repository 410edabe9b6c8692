// The real `yantra` binary (YANTRA_BINARY), run as a user runs it: its exit codes, what it
// prints on stdout and stderr, with and without --json, on a small repository written to a
// fresh temporary directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Outcome {
  int status = -1;  // exit code; -1 if it did not exit normally
  std::string out, err;
};

using yantra::testing::contains;
using yantra::testing::read_bytes;

// Runs YANTRA_BINARY with `args`, in `cwd`, with the environment minus every YANTRA_*
// variable (so the caller's shell cannot change the outcome) plus `extra_env`. Output goes
// through files rather than pipes: no deadlock however much either stream prints.
Outcome run_yantra(const std::vector<std::string>& args, const fs::path& scratch,
                   const std::vector<std::string>& extra_env = {}) {
  fs::path out_path = scratch / "stdout.txt", err_path = scratch / "stderr.txt";
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "YANTRA_", 7) != 0) env.emplace_back(*e);
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<std::string> argv_strings = {YANTRA_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_strings) argv.push_back(a.data());
  for (auto& e : env) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);

  Outcome run;
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
    if (::chdir(scratch.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);  // exec failed: the binary is missing
  }
  int wstatus = 0;
  if (pid < 0 || ::waitpid(pid, &wstatus, 0) != pid) return run;
  run.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  run.out = read_bytes(out_path);
  run.err = read_bytes(err_path);
  return run;
}

std::string describe(const Outcome& r) {
  return "exit " + std::to_string(r.status) + "\n--- stdout\n" + r.out + "--- stderr\n" + r.err;
}

json parse_json(const Outcome& r) {
  json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not one JSON document:\n" << describe(r);
  return j;
}

// A small repository: a package with a class, functions calling each other across modules,
// a name defined twice ("total"), and a test exercising one function.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(YANTRA_BINARY)) << YANTRA_BINARY << " is not built";
    dir_ = fs::temp_directory_path() /
           ("yantra-cli-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "repo");
    write("shop/__init__.py", "");
    write("shop/pricing.py",
          "def price_of(item):\n    \"\"\"The price of one item, tax included.\"\"\"\n"
          "    return apply_tax(item)\n\n"
          "def apply_tax(amount):\n    return amount * 1.2\n");
    write("shop/cart.py",
          "from shop.pricing import price_of\n\n"
          "class Cart:\n"
          "    def __init__(self):\n        self.items = []\n\n"
          "    def total(self):\n        return sum(price_of(i) for i in self.items)\n\n"
          "def total(cart):\n    return cart.total()\n");
    write("tests/test_pricing.py",
          "from shop.pricing import price_of\n\n"
          "def test_price_of():\n    assert price_of(10) == 12\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / "repo" / rel).parent_path());
    std::ofstream(dir_ / "repo" / rel, std::ios::binary) << text;
  }
  std::string repo() const { return (dir_ / "repo").string(); }
  std::string store() const { return (dir_ / "store").string(); }
  Outcome yantra(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    return run_yantra(args, dir_, env);
  }
  // Indexes the repository into store(); every graph test starts here.
  void index() {
    Outcome r = yantra({"index", repo(), "--store", store()});
    ASSERT_EQ(r.status, 0) << describe(r);
  }

  fs::path dir_;
};

TEST_F(CliTest, HelpListsTheCommands) {
  Outcome r = yantra({"help"});
  EXPECT_EQ(r.status, 0) << describe(r);
  for (const char* command : {"index", "graph", "demo", "help"})
    EXPECT_TRUE(contains(r.out, "\n  " + std::string(command) + " ")) << command << "\n" << r.out;
  Outcome bare = yantra({});
  EXPECT_EQ(bare.status, 0) << describe(bare);
  EXPECT_EQ(bare.out, r.out) << "`yantra` alone should print the same help";
}

TEST_F(CliTest, UnknownCommandSuggestsTheClosestOne) {
  Outcome r = yantra({"indx"});
  EXPECT_EQ(r.status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "unknown command 'indx'")) << describe(r);
  EXPECT_TRUE(contains(r.err, "did you mean 'index'")) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
  Outcome far = yantra({"frobnicate"});
  EXPECT_EQ(far.status, 2) << describe(far);
  EXPECT_FALSE(contains(far.err, "did you mean")) << "no command is close to frobnicate";
}

TEST_F(CliTest, IndexReportsAsTextAndAsJson) {
  Outcome r = yantra({"index", repo(), "--store", store(), "--json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  json j = parse_json(r);
  EXPECT_EQ(j["files"]["seen"], 4);
  EXPECT_EQ(j["files"]["parsed"], 4);
  EXPECT_EQ(j["db"], store() + "/graph.db");
  EXPECT_EQ(j["up_to_date"], false);
  EXPECT_EQ(j["nodes_by_kind"]["test"], 1);
  EXPECT_TRUE(fs::exists(store() + "/graph.db"));

  Outcome again = yantra({"index", repo(), "--store", store()});
  EXPECT_EQ(again.status, 0) << describe(again);
  EXPECT_TRUE(contains(again.out, "up to date")) << describe(again);
}

TEST_F(CliTest, StatsAsTextAndAsJson) {
  index();
  Outcome r = yantra({"graph", "stats", "--store", store(), "--json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  json j = parse_json(r);
  EXPECT_EQ(j["files"], 4);
  EXPECT_EQ(j["nodes_by_kind"]["module"], 4);
  EXPECT_EQ(j["nodes_by_kind"]["class"], 1);
  EXPECT_EQ(j["nodes_by_kind"]["method"], 2);
  EXPECT_EQ(j["nodes_by_kind"]["test"], 1);
  EXPECT_GE(j["edges_by_kind"]["calls"].get<int>(), 4);
  EXPECT_EQ(j["root"], fs::weakly_canonical(repo()).string());

  Outcome text = yantra({"graph", "stats", "--store", store()});
  ASSERT_EQ(text.status, 0) << describe(text);
  EXPECT_TRUE(contains(text.out, "4 files")) << text.out;
  EXPECT_TRUE(contains(text.out, "method")) << text.out;
}

TEST_F(CliTest, CallersAndCallees) {
  index();
  Outcome callers = yantra({"graph", "callers", "shop.pricing.price_of", "--store", store()});
  ASSERT_EQ(callers.status, 0) << describe(callers);
  EXPECT_TRUE(contains(callers.out, "shop.cart.Cart.total")) << callers.out;
  EXPECT_TRUE(contains(callers.out, "tests.test_pricing.test_price_of")) << callers.out;

  Outcome callees = yantra({"graph", "callees", "price_of", "--store", store(), "--json"});
  ASSERT_EQ(callees.status, 0) << describe(callees);
  json j = parse_json(callees);
  EXPECT_EQ(j["of"]["qname"], "shop.pricing.price_of");
  ASSERT_EQ(j["callees"].size(), 1u) << j.dump();
  EXPECT_EQ(j["callees"][0]["node"]["qname"], "shop.pricing.apply_tax");
  EXPECT_EQ(j["callees"][0]["resolved"], true);

  Outcome json_callers = yantra({"graph", "callers", "apply_tax", "--store", store(), "--json"});
  ASSERT_EQ(json_callers.status, 0) << describe(json_callers);
  EXPECT_EQ(parse_json(json_callers)["callers"][0]["node"]["qname"], "shop.pricing.price_of");
}

TEST_F(CliTest, TestsOfAFunctionAndWhatATestExercises) {
  index();
  Outcome r = yantra({"graph", "tests", "price_of", "--store", store()});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "tests.test_pricing.test_price_of")) << r.out;

  Outcome j = yantra({"graph", "tests", "test_price_of", "--store", store(), "--json"});
  ASSERT_EQ(j.status, 0) << describe(j);
  json exercised = parse_json(j)["exercises"];
  ASSERT_EQ(exercised.size(), 1u) << j.out;
  EXPECT_EQ(exercised[0]["node"]["qname"], "shop.pricing.price_of");
}

TEST_F(CliTest, ShowPrintsLocationSignatureAndDocstring) {
  index();
  Outcome r = yantra({"graph", "show", "shop.pricing.price_of", "--store", store()});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "function shop.pricing.price_of")) << r.out;
  EXPECT_TRUE(contains(r.out, "shop/pricing.py:1")) << r.out;
  EXPECT_TRUE(contains(r.out, "price_of(item)")) << r.out;
  EXPECT_TRUE(contains(r.out, "The price of one item, tax included.")) << r.out;

  Outcome j = yantra({"graph", "show", "Cart", "--store", store(), "--json"});
  ASSERT_EQ(j.status, 0) << describe(j);
  json node = parse_json(j);
  EXPECT_EQ(node["qname"], "shop.cart.Cart");
  EXPECT_EQ(node["kind"], "class");
  EXPECT_EQ(node["file"], "shop/cart.py");
  EXPECT_EQ(node["line"], 3);
}

TEST_F(CliTest, AmbiguousNameListsCandidates) {
  index();
  Outcome r = yantra({"graph", "show", "total", "--store", store()});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "ambiguous")) << describe(r);
  EXPECT_TRUE(contains(r.err, "shop.cart.Cart.total")) << describe(r);
  EXPECT_TRUE(contains(r.err, "shop.cart.total")) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
}

TEST_F(CliTest, UnknownNameIsAnErrorNamingIt) {
  index();
  Outcome r = yantra({"graph", "callers", "no_such_function", "--store", store()});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "no_such_function")) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
}

TEST_F(CliTest, MissingStoreIsAnErrorNamingThePath) {
  Outcome r = yantra({"graph", "stats", "--store", "/nonexistent/yantra-store"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "/nonexistent/yantra-store/graph.db")) << describe(r);
  EXPECT_TRUE(contains(r.err, "yantra index")) << describe(r);
  EXPECT_FALSE(fs::exists("/nonexistent/yantra-store"));
}

TEST_F(CliTest, StoreCanComeFromTheEnvironment) {
  Outcome indexed = yantra({"index", repo()}, {"YANTRA_STORE=" + store()});
  ASSERT_EQ(indexed.status, 0) << describe(indexed);
  EXPECT_TRUE(fs::exists(store() + "/graph.db"));
  EXPECT_FALSE(fs::exists(repo() + "/.yantra")) << "YANTRA_STORE was ignored by index";
  Outcome r = yantra({"graph", "callees", "price_of", "--json"}, {"YANTRA_STORE=" + store()});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(parse_json(r)["callees"][0]["node"]["qname"], "shop.pricing.apply_tax");
  // --store on the command line wins over the environment.
  Outcome missing =
      yantra({"graph", "stats", "--store", store() + "-x"}, {"YANTRA_STORE=" + store()});
  EXPECT_EQ(missing.status, 1) << describe(missing);
}

}  // namespace
