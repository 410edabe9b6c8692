// The student's LibTorch half is a module the core opens on first use: commands that never
// touch the network must not load LibTorch (half a second of start-up), and the first one
// that does must find it, or say clearly where it looked.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "test_support.h"

namespace fs = std::filesystem;
using yantra::testing::contains;
using yantra::testing::run_capture;

namespace {

struct Repo {
  fs::path dir;
  Repo() {
    dir = fs::temp_directory_path() / ("yantra_torch_module_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "pkg");
    std::ofstream(dir / "pkg" / "__init__.py") << "";
    std::ofstream(dir / "pkg" / "a.py") << "def f(x):\n    return g(x) + 1\n\n\ndef g(x):\n"
                                           "    return x * 2\n";
  }
  ~Repo() { fs::remove_all(dir); }
};

// Runs yantra with the dynamic loader reporting every library it maps (on stderr).
std::string traced(const std::string& env, const std::string& args, int* status) {
  return run_capture(env + " LD_DEBUG=files " + YANTRA_BINARY + " " + args + " 2>&1", status);
}

}  // namespace

TEST(TorchModule, OnlyCommandsThatNeedTheNetworkLoadLibTorch) {
  Repo repo;
  const std::string at = " --repo " + repo.dir.string();
  int status = -1;
  std::string out = traced("", "index " + repo.dir.string(), &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "libyantra_core.so")) << "the trace shows what was mapped";
  EXPECT_FALSE(contains(out, "libtorch")) << out;

  out = traced("", "graph stats --json" + at, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "\"nodes\"")) << out;
  EXPECT_FALSE(contains(out, "libtorch")) << out;

  // `predict` needs the network: it loads the module, which then reads the checkpoint
  // (here not one) and says so.
  fs::create_directories(repo.dir / ".yantra" / "student");
  std::ofstream(repo.dir / ".yantra" / "student" / "model.pt") << "not a checkpoint";
  out = traced("", "predict pkg.a.f" + at, &status);
  EXPECT_NE(status, 0);
  EXPECT_TRUE(contains(out, "libyantra_torch.so")) << out;
  EXPECT_TRUE(contains(out, "libtorch_cpu")) << out;
  EXPECT_TRUE(contains(out, "not a Yantra student checkpoint")) << out;
}

TEST(TorchModule, AMissingModuleIsAClearErrorThatNamesIt) {
  Repo repo;
  // A copy of the program and its core without the module beside them.
  const fs::path bin = repo.dir / "bin";
  fs::create_directories(bin);
  const fs::path core = fs::path(YANTRA_BINARY).parent_path() / "libyantra_core.so";
  ASSERT_TRUE(fs::exists(core)) << core;
  fs::copy_file(YANTRA_BINARY, bin / "yantra");
  fs::copy_file(core, bin / "libyantra_core.so");
  const std::string yantra = "LD_LIBRARY_PATH=" + bin.string() + " " + (bin / "yantra").string();
  int status = -1;
  std::string out = run_capture(yantra + " index " + repo.dir.string() + " 2>&1", &status);
  ASSERT_EQ(status, 0) << "the index needs no module: " << out;
  fs::create_directories(repo.dir / ".yantra" / "student");
  std::ofstream(repo.dir / ".yantra" / "student" / "model.pt") << "not a checkpoint";
  out = run_capture(yantra + " predict pkg.a.f --repo " + repo.dir.string() + " 2>&1", &status);
  EXPECT_EQ(status, 1) << out;  // an error, not a crash
  EXPECT_TRUE(contains(out, (bin / "libyantra_torch.so").string() + ": cannot load")) << out;
  EXPECT_TRUE(contains(out, "cmake --build build")) << out;
}
