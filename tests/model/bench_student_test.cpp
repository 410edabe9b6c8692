// `yantra bench student` for real, on a small corpus (Debian's Python `email` package):
// both sides train, report the same protocol, and the ratio is theirs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../unit/test_support.h"

namespace {

using nlohmann::json;

std::string bench(const std::string& args, int* status) {
  return yantra::testing::run_capture(std::string(YANTRA_BINARY) + " bench student " + args + " 2>&1",
                                      status);
}

TEST(StudentBench, TrainsBesideThePeerAndReportsTheRatio) {
  int status = 0;
  std::string out = bench("--corpus /usr/lib/python3.11/email --epochs 1", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("sage_ref.py / yantra"), std::string::npos) << out;
  json j = json::parse(out.substr(out.rfind("\n{") + 1));
  EXPECT_EQ(j["bench"], "student");
  for (const char* side : {"yantra", "peer"}) {
    const json& s = j[side];
    EXPECT_TRUE(s["ran"].get<bool>()) << side << ": " << s["not_run"];
    EXPECT_GT(s["epoch_s"].get<double>(), 0.0) << side;
    EXPECT_GT(s["test_calls"].get<int>(), 20) << side;  // the same 10 % of the package's calls
    EXPECT_GT(s["peak_rss_bytes"].get<double>(), 1e7) << side;
    EXPECT_GE(s["hits_at_10"].get<double>(), 0.0) << side;
    EXPECT_LE(s["hits_at_10"].get<double>(), 1.0) << side;
    // Single-function inference and a full-graph embedding, timed on each side.
    EXPECT_GT(s["infer_p50_ms"].get<double>(), 0.0) << side;
    EXPECT_GE(s["infer_p99_ms"].get<double>(), s["infer_p50_ms"].get<double>()) << side;
    EXPECT_GT(s["full_graph_s"].get<double>(), 0.0) << side;
  }
  EXPECT_NEAR(j["epoch_ratio"].get<double>(),
              j["peer"]["epoch_s"].get<double>() / j["yantra"]["epoch_s"].get<double>(), 1e-9);
  EXPECT_NEAR(j["p99_ratio"].get<double>(),
              j["peer"]["infer_p99_ms"].get<double>() / j["yantra"]["infer_p99_ms"].get<double>(),
              1e-9);
  // The checkpoint on disk: real, and within the 20 MB the student is allowed.
  EXPECT_GT(j["model_bytes"].get<double>(), 1e5);
  EXPECT_LT(j["model_bytes"].get<double>(), 20e6);
  EXPECT_NE(out.find("single-function p99: sage_ref.py / yantra"), std::string::npos) << out;
}

TEST(StudentBench, RunsAloneWithoutThePeerAndRefusesAMissingCorpus) {
  int status = 0;
  std::string out = bench("--corpus /usr/lib/python3.11/email --epochs 1 --no-peer --json", &status);
  ASSERT_EQ(status, 0) << out;
  json j = json::parse(out.substr(out.rfind("\n{") + 1));
  EXPECT_TRUE(j["yantra"]["ran"].get<bool>());
  EXPECT_FALSE(j["peer"]["ran"].get<bool>());
  EXPECT_NE(j["peer"]["not_run"].get<std::string>().find("--no-peer"), std::string::npos);
  out = bench("--corpus /nonexistent/corpus", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("/nonexistent/corpus"), std::string::npos) << out;
}

}  // namespace
