// run_program against real programs: /bin/sh and Debian's python3.
#include "base/process.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace yantra {
namespace {

TEST(RunProgram, CapturesStdoutStderrAndExitCode) {
  auto run = run_program({"/bin/sh", "-c", "printf out; printf err >&2; exit 3"});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->out, "out");
  EXPECT_EQ(run->err, "err");
  EXPECT_EQ(run->exit_code, 3);
  EXPECT_FALSE(run->signaled);
  EXPECT_GT(run->seconds, 0.0);
  EXPECT_GT(run->peak_rss_bytes, 0u);
}

TEST(RunProgram, ReportsASignalAs128PlusItsNumber) {
  auto run = run_program({"/bin/sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(run->signaled);
  EXPECT_EQ(run->exit_code, 128 + 9);
}

// Both pipes well past their 64 KiB buffers, interleaved: reading one to EOF before the
// other would deadlock.
TEST(RunProgram, DrainsBothLargePipesWithoutDeadlock) {
  const char* script =
      "import sys\n"
      "for i in range(2000):\n"
      "    sys.stdout.write('o' * 1000); sys.stderr.write('e' * 1000)\n";
  auto run = run_program({"/usr/bin/python3", "-I", "-c", script});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->out.size(), 2'000'000u);
  EXPECT_EQ(run->err.size(), 2'000'000u);
  EXPECT_EQ(run->exit_code, 0);
}

TEST(RunProgram, KeepsOnlyTheTailOfStderrWhenAsked) {
  auto run = run_program({"/bin/sh", "-c", "seq 1 100000 >&2"}, {.stderr_kept = 7});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->err, "100000\n");
}

TEST(RunProgram, RunsInTheGivenDirectoryAndStdinIsEmpty) {
  auto dir = std::filesystem::temp_directory_path();
  auto run = run_program({"/bin/sh", "-c", "pwd; cat"}, {.cwd = dir.string()});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->out, std::filesystem::canonical(dir).string() + "\n");
}

TEST(RunProgram, SearchesPathOnlyWhenAsked) {
  EXPECT_FALSE(run_program({"sh", "-c", "true"}));
  auto run = run_program({"sh", "-c", "true"}, {.search_path = true});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->exit_code, 0);
}

TEST(RunProgram, AMissingProgramOrDirectoryIsAnErrorNamingIt) {
  auto missing = run_program({"/no/such/program"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/no/such/program"), std::string::npos);
  auto bad_cwd = run_program({"/bin/true"}, {.cwd = "/no/such/dir"});
  ASSERT_FALSE(bad_cwd);
  EXPECT_NE(bad_cwd.error().message.find("/no/such/dir"), std::string::npos);
}

// CPU time counts what ran, on every thread and in waited-for children; sleeping is free.
TEST(RunProgram, MeasuresCpuTimeApartFromWallTime) {
  const char* spin =
      "import subprocess, sys, time\n"
      "end = time.process_time() + 0.15\n"
      "while time.process_time() < end: pass\n"
      "subprocess.run([sys.executable, '-c', "
      "'import time\\nend = time.process_time() + 0.15\\nwhile time.process_time() < end: "
      "pass'])\n";
  auto busy = run_program({"/usr/bin/python3", "-I", "-c", spin});
  ASSERT_TRUE(busy) << busy.error().message;
  ASSERT_EQ(busy->exit_code, 0) << busy->err;
  EXPECT_GE(busy->cpu_seconds, 0.3);  // its own 0.15 s and its child's

  auto idle = run_program({"/bin/sh", "-c", "sleep 0.3"});
  ASSERT_TRUE(idle) << idle.error().message;
  EXPECT_GE(idle->seconds, 0.3);
  EXPECT_LT(idle->cpu_seconds, 0.1);
}

}  // namespace
}  // namespace yantra
