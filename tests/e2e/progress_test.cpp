// `yantra index` draws a progress bar when stderr is a terminal; piped, it writes plain
// lines to stderr once the work has run a few seconds (YANTRA_PROGRESS_SECONDS), never to
// stdout; --quiet silences both. The terminal is a real pseudo-terminal from util-linux
// `script`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

std::string capture(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

class Progress : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("yantra-progress-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    for (int i = 0; i < 40; ++i) {
      fs::create_directories(dir_ / "repo");
      std::ofstream(dir_ / "repo" / (std::string("m").append(std::to_string(i)) + ".py"))
          << "def f" << i << "():\n    return " << i << "\n";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string index_cmd(const std::string& store) const {
    return std::string(YANTRA_BINARY) + " index " + (dir_ / "repo").string() + " --store " +
           (dir_ / store).string();
  }
  fs::path dir_;
};

TEST_F(Progress, DrawnOnATerminal) {
  ASSERT_EQ(std::system("command -v script >/dev/null"), 0) << "util-linux `script` is missing";
  int status = -1;
  std::string out = capture("script -qec '" + index_cmd("tty") + "' /dev/null", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("indexing ["), std::string::npos) << out;
  EXPECT_NE(out.find("40/40"), std::string::npos) << out;
}

TEST_F(Progress, PlainLinesOnStderrWhenPiped) {
  int status = -1;
  const std::string err = (dir_ / "index.err").string();
  std::string out =
      capture("YANTRA_PROGRESS_SECONDS=0 " + index_cmd("lines") + " 2>" + err, &status);
  EXPECT_EQ(status, 0) << out;
  std::ifstream file(err);
  std::string lines((std::istreambuf_iterator<char>(file)), {});
  EXPECT_NE(lines.find("yantra: indexing "), std::string::npos) << lines;
  EXPECT_NE(lines.find("yantra: indexing 40/40 done in"), std::string::npos) << lines;
  EXPECT_EQ(lines.find('\r'), std::string::npos) << "no bar off a terminal";
  EXPECT_EQ(out.find("yantra: indexing"), std::string::npos) << out;  // stdout keeps its own
  EXPECT_NE(out.find("indexed 40 files"), std::string::npos) << out;
}

TEST_F(Progress, QuietSilencesTheLines) {
  int status = -1;
  std::string out =
      capture("YANTRA_PROGRESS_SECONDS=0 " + index_cmd("quiet") + " --quiet 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("yantra: indexing"), std::string::npos) << out;
  out = capture("YANTRA_QUIET=1 YANTRA_PROGRESS_SECONDS=0 " + index_cmd("quiet-env") + " 2>&1",
                &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("yantra: indexing"), std::string::npos) << out;
}

TEST_F(Progress, ShortWorkStaysSilentWhenPiped) {
  // 40 small files take far less than the default 5 s between lines.
  int status = -1;
  std::string out = capture(index_cmd("pipe") + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("indexing ["), std::string::npos) << out;
  EXPECT_EQ(out.find("yantra: indexing"), std::string::npos) << out;
  EXPECT_NE(out.find("indexed 40 files"), std::string::npos) << out;
}

}  // namespace
