// bench cascade's cross-fitting: folds by task id, the ladder routed offline from its trace,
// thresholds fitted for least cost at a pass target, and no fold fitted on its own tasks.
#include <gtest/gtest.h>

#include "bench/internal.h"

namespace {

using yantra::bench::CrossFit;
using yantra::bench::fit_fold;
using yantra::bench::fold_of;
using yantra::bench::kNeverStop;
using yantra::bench::LadderTrace;
using yantra::bench::simulate_ladder;
using yantra::bench::Task;
using yantra::bench::TraceStep;
using yantra::router::Calibration;
using yantra::router::kAgreementScore;
using yantra::router::kStudentScore;
using yantra::router::LabelledScore;

std::vector<Task> tasks(size_t n) {
  std::vector<Task> out;
  for (size_t i = 0; i < n; ++i) out.push_back({"HumanEval/" + std::to_string(i), "prompt"});
  return out;
}

TraceStep step(double cost, double score, bool passed) {
  return {.cost_usd = cost,
          .has_best = true,
          .kind = std::string(kAgreementScore),
          .score = score,
          .passed = passed};
}

// A ladder of a free model, a cheap one and a dear one. The free model is right when it is
// sure (score 0.9) and wrong when it is not (0.5); the cheap one is right on tasks whose
// number is a multiple of 3; the dear one is always right.
std::vector<LadderTrace> ladder_traces(size_t n) {
  std::vector<LadderTrace> out;
  for (size_t i = 0; i < n; ++i) {
    bool free_sure = i % 2 == 0, cheap_right = i % 3 == 0;
    LadderTrace t{.task = i, .passed = true};
    t.steps.push_back(step(0, free_sure ? 0.9 : 0.5, free_sure));
    t.steps.push_back(step(0.01,
                           free_sure     ? 0.9
                           : cheap_right ? 0.8
                                         : 0.6,
                           free_sure || cheap_right));
    t.steps.push_back(step(0.21, 0.95, true));
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<const LadderTrace*> pointers(const std::vector<LadderTrace>& traces) {
  std::vector<const LadderTrace*> out;
  for (const LadderTrace& t : traces) out.push_back(&t);
  return out;
}

TEST(CascadeFolds, ATaskFoldIsItsIdNumberModuloTheFolds) {
  EXPECT_EQ(fold_of({"HumanEval/17", ""}, 0, 5), 2u);
  EXPECT_EQ(fold_of({"HumanEval/17", ""}, 3, 5), 2u);  // its position does not matter
  EXPECT_EQ(fold_of({"Mbpp/120", ""}, 0, 7), 1u);
  EXPECT_EQ(fold_of({"my-task", ""}, 8, 5), 3u);  // no number: its position
  EXPECT_EQ(fold_of({"HumanEval/17", ""}, 0, 1), 0u);
}

TEST(CascadeFolds, TheLadderStopsAtTheFirstStepSureEnough) {
  auto traces = ladder_traces(6);
  auto all = pointers(traces);
  const Calibration none = Calibration::none();
  // Never stopping: every task pays the whole ladder and passes.
  auto full = simulate_ladder(all, none, {kNeverStop});
  EXPECT_EQ(full.passed, 6u);
  EXPECT_NEAR(full.cost_usd, 6 * 0.21, 1e-12);
  // Stopping at 0.85 after the free model: tasks 0, 2, 4 stop there, free and right; the
  // others go to the dear model.
  auto sure = simulate_ladder(all, none, {0.85, kNeverStop});
  EXPECT_EQ(sure.passed, 6u);
  EXPECT_NEAR(sure.cost_usd, 3 * 0.21, 1e-12);
  // Stopping at 0.45: every free answer is taken, the unsure ones wrong.
  auto rash = simulate_ladder(all, none, {0.45});
  EXPECT_EQ(rash.passed, 3u);
  EXPECT_NEAR(rash.cost_usd, 0, 1e-12);
  // At 0.55 for every rung (the last value repeats): the unsure free answers go on to the
  // cheap model, which stops them all (0.6 or 0.8) and is right on task 3 only.
  auto cheap = simulate_ladder(all, none, {0.55});
  EXPECT_EQ(cheap.passed, 4u);
  EXPECT_NEAR(cheap.cost_usd, 3 * 0.01, 1e-12);
  // The last step is the whole ladder's answer (soft examples included), not its best.
  traces[1].passed = false;
  EXPECT_EQ(simulate_ladder(all, none, {kNeverStop}).passed, 5u);
}

TEST(CascadeFolds, TheFittedThresholdsAreTheCheapestThatKeepThePassRate) {
  auto traces = ladder_traces(60);
  std::vector<size_t> fold(60, 1);  // fold 0 has no tasks: the fit sees all of them
  auto fit = fit_fold(traces, fold, 0, 0.0);
  EXPECT_EQ(fit.train_tasks, 60u);
  EXPECT_DOUBLE_EQ(fit.train_full_pass, 1.0);
  EXPECT_DOUBLE_EQ(fit.train_pass, 1.0);  // no slack: nothing may be lost
  // Sure free answers stop the ladder; the cheap model's sure answers stop it too.
  auto all = pointers(traces);
  EXPECT_NEAR(fit.train_cost_usd, simulate_ladder(all, fit.calibration, fit.stops).cost_usd, 1e-12);
  // The free sure tasks (30) and the cheap right ones of the rest (10) stop early.
  EXPECT_NEAR(fit.train_cost_usd, 30 * 0 + 10 * 0.01 + 20 * 0.21, 1e-9);
  ASSERT_EQ(fit.stops.size(), 2u);
  EXPECT_LT(fit.stops[0], kNeverStop);
  EXPECT_LT(fit.stops[1], kNeverStop);

  // With a slack of a third, the fit may stop at the free model and lose the unsure ones.
  auto loose = fit_fold(traces, fold, 0, 0.5);
  EXPECT_LT(loose.train_cost_usd, fit.train_cost_usd);
  EXPECT_GE(loose.train_pass, 0.5);
}

TEST(CascadeFolds, AFoldIsNeverFittedOnItsOwnTasks) {
  auto traces = ladder_traces(60);
  auto t = tasks(60);
  CrossFit honest(t, traces, 5, 0.0);
  // Fold 0's hidden verdicts turned upside down: fold 0's fit must not move, every other
  // fold's must (so the check can fail).
  auto flipped = traces;
  for (LadderTrace& trace : flipped) {
    if (fold_of(t[trace.task], trace.task, 5) != 0) continue;
    trace.passed = !trace.passed;
    for (TraceStep& s : trace.steps) s.passed = !s.passed;
  }
  CrossFit attacked(t, flipped, 5, 0.0);
  EXPECT_EQ(honest.fit(0).stops, attacked.fit(0).stops);
  for (double score : {0.5, 0.6, 0.8, 0.9, 0.95})
    EXPECT_DOUBLE_EQ(honest.fit(0).calibration.probability(kAgreementScore, score),
                     attacked.fit(0).calibration.probability(kAgreementScore, score));
  size_t moved = 0;
  for (size_t f = 1; f < 5; ++f)
    moved += honest.fit(f).calibration.probability(kAgreementScore, 0.5) !=
             attacked.fit(f).calibration.probability(kAgreementScore, 0.5);
  EXPECT_EQ(moved, 4u);
}

TEST(CascadeFolds, TheStudentIsCalibratedOnOtherFoldsAnswersOnly) {
  auto t = tasks(20);
  CrossFit cross(t, ladder_traces(20), 5, 0.02);
  // Student answers of tasks 0 and 5 (fold 0) failing, of task 1 (fold 1) passing.
  std::vector<LabelledScore> answers = {{std::string(kStudentScore), 0.9, false},
                                        {std::string(kStudentScore), 0.95, false},
                                        {std::string(kStudentScore), 0.93, true}};
  std::vector<size_t> answer_task = {0, 5, 1};
  Calibration fold0 = cross.calibration(0, answers, answer_task);
  Calibration fold1 = cross.calibration(1, answers, answer_task);
  // Fold 0 sees only task 1's pass; fold 1 sees the two failures.
  auto with = [&](size_t fold, std::vector<LabelledScore> extra) {
    std::vector<LabelledScore> labels = cross.fit(fold).labels;
    labels.insert(labels.end(), extra.begin(), extra.end());
    return Calibration::fit(labels);
  };
  Calibration want0 = with(0, {answers[2]}), want1 = with(1, {answers[0], answers[1]});
  for (double score : {0.85, 0.9, 0.93, 0.95, 0.99}) {
    EXPECT_DOUBLE_EQ(fold0.probability(kStudentScore, score),
                     want0.probability(kStudentScore, score));
    EXPECT_DOUBLE_EQ(fold1.probability(kStudentScore, score),
                     want1.probability(kStudentScore, score));
  }
  EXPECT_GT(fold0.probability(kStudentScore, 0.95), fold1.probability(kStudentScore, 0.95) + 0.3);
  // The rung before the first teacher takes the first fitted threshold.
  auto stops = cross.stop_confidence(0);
  ASSERT_EQ(stops.size(), 3u);
  EXPECT_EQ(stops[0], stops[1]);
}

}  // namespace
