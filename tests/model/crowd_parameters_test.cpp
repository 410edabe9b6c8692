// The student's side of crowd learning, trained for real: checkpoint parameters round-trip
// through plain named floats, local training starts from a master (--init-from), and the
// FedAvg of two clients' deltas installs into a checkpoint that loads and evaluates.
#include <gtest/gtest.h>

#include "crowd/crowd.h"
#include "model_support.h"

namespace yantra::student {
namespace {

StudentOptions small_options(uint64_t seed, int epochs) {
  StudentOptions o;
  o.hidden = 32, o.epochs = epochs, o.patience = epochs, o.batch_edges = 64, o.progress = false;
  o.min_steps_per_epoch = 1;
  o.train_fanouts = o.infer_fanouts = {4, 2, 1};
  o.seed = seed;
  return o;
}

struct Trained {
  TempDir repo, store;
  GraphData graph;
  std::string master;
  Trained() {
    write_toy_repo(repo.path);
    graph = index_and_load(repo.path, store.path);
    master = train_student(graph, small_options(0, 3), (store.path / "master").string())
                 .take()
                 .checkpoint;
  }
  std::string train_client(const std::string& name, double lr, int epochs) {
    StudentOptions o = small_options(0, epochs);
    o.init_from = master, o.lr = lr;
    return train_student(graph, o, (store.path / name).string()).take().checkpoint;
  }
};

TEST(CrowdParameters, RoundTripThroughACheckpointAndRefuseAForeignShape) {
  Trained t;
  Parameters p = read_parameters(t.master).take();
  ASSERT_GT(p.size(), 5u);
  ASSERT_TRUE(p.count("conv0.weight"));
  for (auto& [name, tensor] : p)
    for (float& v : tensor.values) v *= 0.5f;
  std::string out = (t.store.path / "halved.pt").string();
  ASSERT_TRUE(write_parameters(t.master, p, out).ok());
  Parameters back = read_parameters(out).take();
  for (const auto& [name, tensor] : p) EXPECT_EQ(back.at(name).values, tensor.values) << name;
  // The header (options, split) is the master's, so the new checkpoint still evaluates.
  EXPECT_EQ(Student::load(out, t.graph).take().describe(),
            Student::load(t.master, t.graph).take().describe());

  Parameters wrong = p;
  wrong["conv0.weight"].shape = {1, int64_t(wrong["conv0.weight"].values.size())};
  std::string not_written = (t.store.path / "wrong.pt").string();
  auto r = write_parameters(t.master, wrong, not_written);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("conv0.weight"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(not_written));
  wrong = p;
  wrong.erase("link_out.bias");
  EXPECT_FALSE(write_parameters(t.master, wrong, not_written).ok());
  EXPECT_FALSE(fs::exists(not_written));
}

TEST(CrowdParameters, LocalTrainingStartsFromTheMaster) {
  Trained t;
  crowd::Weights master = read_parameters(t.master).take();
  // With a vanishing learning rate the client ends where it started: at the master, not
  // at a fresh initialisation, which sits far away.
  crowd::Weights still = read_parameters(t.train_client("still", 1e-9, 1)).take();
  double drift = crowd::l2_norm(crowd::subtract(still, master).take());
  StudentOptions fresh_options = small_options(0, 1);
  fresh_options.lr = 1e-9;
  std::string fresh_path = train_student(t.graph, fresh_options, (t.store.path / "fresh").string())
                               .take()
                               .checkpoint;
  double fresh = crowd::l2_norm(crowd::subtract(read_parameters(fresh_path).take(), master).take());
  EXPECT_LT(drift, 1e-3);
  EXPECT_GT(fresh, 1.0);
}

TEST(CrowdParameters, FedAvgOfTwoClientsInstallsIntoAWorkingCheckpoint) {
  Trained t;
  crowd::Weights master = read_parameters(t.master).take();
  double master_mrr = Student::load(t.master, t.graph).take().evaluate(1).take().next_call.mrr;
  std::vector<crowd::Contribution> deltas;
  for (auto [name, examples] : {std::pair{"alice", 300}, std::pair{"bob", 100}}) {
    crowd::Weights local = read_parameters(t.train_client(name, 0.005, 2)).take();
    crowd::Weights delta = crowd::subtract(local, master).take();
    ASSERT_GT(crowd::l2_norm(delta), 0.0) << name << " did not move";
    deltas.push_back({crowd::clip_l2(delta, 10.0), uint64_t(examples)});
  }
  crowd::Weights next = crowd::add(master, crowd::fed_avg(deltas).take()).take();
  // Round trip through the wire form, as the server stores and clients download it.
  next = crowd::decode(crowd::encode(next), "next").take();
  std::string installed = (t.store.path / "next.pt").string();
  ASSERT_TRUE(write_parameters(t.master, next, installed).ok());
  double next_mrr = Student::load(installed, t.graph).take().evaluate(1).take().next_call.mrr;
  // Both clients trained further on the same task, so their average must not be worse
  // than the master they started from (beyond sampling noise).
  EXPECT_GT(next_mrr, master_mrr - 0.05) << "master " << master_mrr << ", averaged " << next_mrr;
  EXPECT_GT(next_mrr, 0.3);
}

}  // namespace
}  // namespace yantra::student
