// The student trained for real (LibTorch): a seeded toy task learned below a loss threshold,
// checkpoints that load back equal, and the CLI (index, train, eval, predict) on a small
// real repository: Debian's Python `email` package.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "graph/graph.h"
#include "model_support.h"
#include "student/model.h"

namespace yantra::student {
namespace {

TEST(StudentModel, ToyTaskTrainsBelowLossThresholdWithinCap) {
  TempDir repo, store;
  write_toy_repo(repo.path);
  GraphData g = index_and_load(repo.path, store.path);
  ASSERT_GE(g.calls_resolved.size(), 200u);
  StudentOptions o;
  o.hidden = 32, o.epochs = 30, o.patience = 30, o.batch_edges = 64, o.progress = false;
  o.min_steps_per_epoch = 1;  // the cap counts passes over the calls
  o.train_fanouts = o.infer_fanouts = {4, 2, 1};
  TrainReport r = train_student(g, o, (store.path / "student").string()).take();
  ASSERT_FALSE(r.epochs.empty());
  EXPECT_LT(r.epochs.back().loss, 0.35) << "first epoch loss " << r.epochs.front().loss;
  EXPECT_LT(r.epochs.back().loss, r.epochs.front().loss);
  EXPECT_GT(r.eval.next_call.hits_at_10, 0.9);
  EXPECT_TRUE(fs::exists(r.checkpoint));
  // Rotation keeps the three newest epoch checkpoints.
  size_t kept = 0;
  for (const auto& e : fs::directory_iterator(store.path / "student" / "checkpoints"))
    kept += e.is_regular_file();
  EXPECT_EQ(kept, 3u);
}

TEST(StudentModel, CheckpointLoadsBackEqual) {
  TempDir dir;
  torch::manual_seed(1);
  Sage a(32, 3, 0.5);
  std::string path = (dir.path / "m.pt").string();
  ASSERT_TRUE(save_checkpoint(a, R"({"format":1})", path).ok());
  torch::manual_seed(2);
  Sage b(32, 3, 0.5);
  ASSERT_FALSE(torch::allclose(a->convs[0]->weight, b->convs[0]->weight));
  ASSERT_TRUE(load_checkpoint(b, path).ok());
  auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::allclose(p.value(), pb[p.key()])) << p.key();
  EXPECT_EQ(read_checkpoint_meta(path).take(), R"({"format":1})");
  // A file that is not a checkpoint is an error naming it, not a crash.
  std::ofstream(dir.path / "bad.pt") << "not a checkpoint";
  auto bad = load_checkpoint(b, (dir.path / "bad.pt").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.pt"), std::string::npos);
}

TEST(StudentModel, OneCallerAgainstManyCandidatesEqualsLinkLogits) {
  torch::manual_seed(3);
  Sage m(32, 2, 0.5);
  m->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor z = torch::randn({50, 32}), zu = torch::randn({32});
  torch::Tensor candidates = torch::tensor(std::vector<int64_t>{7, 0, 49, 12, 12, 30});
  torch::Tensor pairs = torch::randn({candidates.size(0), kPairFeatures});
  torch::Tensor zv = z.index_select(0, candidates);
  torch::Tensor expected = m->link_logits(zu.unsqueeze(0).expand_as(zv), zv, pairs);
  torch::Tensor got = m->link_logits_one(zu, z, candidates, pairs);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(got, expected, 1e-5, 1e-5)) << got << expected;
  // A different caller gives different logits: the caller's embedding is really used.
  EXPECT_FALSE(torch::allclose(m->link_logits_one(-zu, z, candidates, pairs), expected));
}

int run(const std::string& command, std::string* out) {
  FILE* p = popen(command.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(StudentModel, CliTrainsEvaluatesAndPredictsOnARealPackage) {
  const std::string pkg = "/usr/lib/python3.11/email";
  ASSERT_TRUE(fs::exists(pkg)) << "Debian's python3.11 standard library is missing";
  TempDir store;
  std::string bin = YANTRA_BINARY, s = store.path.string(), out;
  ASSERT_EQ(run(bin + " index " + pkg + " --store " + s + " >/dev/null 2>&1", &out), 0);
  out.clear();
  // Off a terminal, progress goes to stderr as plain lines (one per step at interval 0),
  // and stdout stays one JSON document.
  const std::string err = s + "/train.err";
  ASSERT_EQ(run("YANTRA_PROGRESS_SECONDS=0 " + bin + " train --store " + s +
                    " --epochs 3 --hidden 64 --batch 256 --json 2>" + err,
                &out),
            0)
      << out;
  auto train = nlohmann::json::parse(out);
  std::ifstream err_file(err);
  std::string progress((std::istreambuf_iterator<char>(err_file)), {});
  EXPECT_NE(progress.find("yantra: epoch 1/3"), std::string::npos) << progress;
  EXPECT_NE(progress.find("done in"), std::string::npos) << progress;
  EXPECT_EQ(out.find("yantra: epoch"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(run(bin + " eval --store " + s + " --json 2>/dev/null", &out), 0) << out;
  auto eval = nlohmann::json::parse(out)["next_call"];
  double hits = eval["student"]["hits@10"], random = 10.0 / 101;
  EXPECT_GT(eval["student"]["queries"].get<int>(), 20);
  EXPECT_GT(hits, 3 * random) << out;
  // eval recomputes exactly what train measured on the same held-out calls.
  EXPECT_NEAR(hits, train["eval"]["next_call"]["student"]["hits@10"].get<double>(), 0.01);
  out.clear();
  ASSERT_EQ(
      run(bin + " predict email.message.Message.get_content_type --store " + s + " --json", &out),
      0)
      << out;
  auto p = nlohmann::json::parse(out);
  ASSERT_EQ(p["calls"].size(), 10u);
  for (const auto& c : p["calls"]) EXPECT_TRUE(c["p"] >= 0.0 && c["p"] <= 1.0);
  out.clear();
  EXPECT_NE(run(bin + " predict no.such.function --store " + s + " 2>&1", &out), 0);
  EXPECT_NE(out.find("no.such.function"), std::string::npos) << out;
  out.clear();  // a typo gets the nearest name, as `yantra graph show` gives it
  EXPECT_NE(run(bin + " predict Message.get_content_typ --store " + s + " 2>&1", &out), 0);
  EXPECT_NE(out.find("did you mean 'email.message.Message.get_content_type'?"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace yantra::student
