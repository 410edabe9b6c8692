// The student's graph side and losses: sub-tokens, sampling, pair features, distillation
// values against hand computation, and the BLAS LibTorch multiplies with.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "student/student.h"

namespace yantra::student {
namespace {

TEST(StudentTokens, SplitsSnakeCamelAndDots) {
  EXPECT_EQ(sub_tokens("parse_HTTPServer.readLine2"),
            (std::vector<std::string>{"parse", "http", "server", "read", "line", "2"}));
  EXPECT_EQ(sub_tokens("__init__"), (std::vector<std::string>{"init"}));
  EXPECT_EQ(sub_tokens("(self, key: str = None)"),
            (std::vector<std::string>{"self", "key", "str", "none"}));
  EXPECT_TRUE(sub_tokens("").empty());
}

// A hand-made graph: module m (file 0) contains f, g, h; f calls g and h; k (file 1)
// calls g; m imports n (file 1) which contains k.
GraphData small_graph() {
  GraphData g;
  auto node = [&](Kind kind, const std::string& qname, int32_t file) {
    g.kind.push_back(kind), g.qname.push_back(qname),
        g.name.push_back(qname.substr(qname.rfind('.') + 1));
    g.signature.push_back("(x)"), g.docstring.push_back(""), g.file.push_back(file);
    g.parent.push_back(-1), g.n_params.push_back(1), g.n_lines.push_back(3);
    g.complexity.push_back(1), g.flags.push_back(0), g.db_id.push_back(int64_t(g.kind.size()));
    return int32_t(g.kind.size() - 1);
  };
  int32_t m = node(Kind::kModule, "m", 0), f = node(Kind::kFunction, "m.f", 0),
          gg = node(Kind::kFunction, "m.g", 0), h = node(Kind::kFunction, "m.h", 0),
          n = node(Kind::kModule, "n", 1), k = node(Kind::kFunction, "n.k", 1);
  for (int32_t c : {f, gg, h}) g.contains.emplace_back(m, c), g.parent[c] = m;
  g.contains.emplace_back(n, k), g.parent[k] = n;
  g.imports.emplace_back(m, n);
  g.calls_resolved = {{f, gg}, {f, h}, {k, gg}};
  return g;
}

TEST(StudentFeatures, PairFeaturesSeeOnlyVisibleCalls) {
  GraphData g = small_graph();
  float out[kPairFeatures];
  ModelInputs all = build_inputs(g, {});
  pair_features(g, all, 1, 2, out);  // f -> g: same file, same parent
  EXPECT_EQ(out[0], 1.f);
  EXPECT_EQ(out[1], 1.f);
  EXPECT_FLOAT_EQ(out[4], std::log1p(2.f));  // g is called by f and k
  pair_features(g, all, 5, 2, out);          // k (file 1) -> g (file 0)
  EXPECT_EQ(out[0], 0.f);
  EXPECT_FLOAT_EQ(out[3], std::log1p(1.f));  // file 1 calls file 0 once
  // Hiding k -> g removes it from the in-degree and from the file-to-file calls.
  ModelInputs hidden = build_inputs(g, {false, false, true});
  pair_features(g, hidden, 5, 2, out);
  EXPECT_FLOAT_EQ(out[4], std::log1p(1.f));
  EXPECT_EQ(out[3], 0.f);
  EXPECT_EQ(hidden.numeric.size(), g.size() * kNumericFeatures);
}

TEST(StudentSampler, RespectsFanoutsSeedsFirstAndIsDeterministic) {
  GraphData g = small_graph();
  ModelInputs in = build_inputs(g, {});
  Sampler a(in, g.size(), 7), b(in, g.size(), 7);
  Block x = a.sample({1, 1, 2}, {1, 2, 1});
  Block y = b.sample({1, 1, 2}, {1, 2, 1});
  EXPECT_EQ(x.nodes, y.nodes);
  EXPECT_EQ(x.edge_src, y.edge_src);
  ASSERT_EQ(x.hop_end.size(), 4u);
  EXPECT_EQ(x.hop_end[0], 2);  // seeds 1 and 2, once each
  EXPECT_EQ(x.nodes[0], 1);
  EXPECT_TRUE(std::is_sorted(x.edge_dst.begin(), x.edge_dst.end()));
  // Hop 0 nodes sample at most one neighbour each.
  EXPECT_LE(std::count_if(x.edge_dst.begin(), x.edge_dst.end(), [](int32_t d) { return d < 2; }),
            2);
  for (int32_t s : x.edge_src) EXPECT_LT(s, int32_t(x.nodes.size()));
  EXPECT_EQ(a.local_of(2), 1);
}

// small_graph() plus `import os` in m, a call m.f -> os.path.join and m.g -> n.k.
GraphData graph_with_imports() {
  GraphData g = small_graph();
  auto external = [&](const std::string& qname) {
    g.kind.push_back(Kind::kExternal), g.qname.push_back(qname), g.name.push_back(qname);
    g.signature.push_back(""), g.docstring.push_back(""), g.file.push_back(-1);
    g.parent.push_back(-1), g.n_params.push_back(0), g.n_lines.push_back(0);
    g.complexity.push_back(0), g.flags.push_back(0), g.db_id.push_back(int64_t(g.kind.size()));
    return int32_t(g.kind.size() - 1);
  };
  int32_t os = external("os"), join = external("os.path.join");
  g.imports.emplace_back(0, os);
  g.calls_external.emplace_back(1, join);
  g.calls_resolved.emplace_back(2, 5);
  return g;
}

TEST(StudentTargets, ImportLabelsAreTheModuleImportsAFunctionsCallsGoThrough) {
  GraphData g = graph_with_imports();
  NodeTargets t = build_targets(g, nullptr, nullptr, 0);
  // Each target is imported once; ties go by name.
  ASSERT_EQ(t.vocabulary, (std::vector<std::string>{"n", "os"}));
  EXPECT_EQ(t.imports[1], (std::vector<uint16_t>{1}));  // m.f -> os.path.join: os
  EXPECT_EQ(t.imports[2], (std::vector<uint16_t>{0}));  // m.g -> n.k: n
  EXPECT_TRUE(t.imports[3].empty());                    // m.h calls nothing
  EXPECT_EQ(t.file_imports[3], (std::vector<uint16_t>{0, 1}));
  EXPECT_TRUE(t.file_imports[5].empty());  // module n imports nothing
  EXPECT_FALSE(t.has_imports[0]);          // a module is no function
  // A checkpoint's vocabulary is kept slot for slot; a target the graph lost stays unused.
  std::vector<std::string> saved{"gone", "os"};
  NodeTargets u = build_targets(g, nullptr, &saved, 0);
  EXPECT_EQ(u.imports[1], (std::vector<uint16_t>{1}));
  EXPECT_TRUE(u.imports[2].empty());
}

TEST(StudentTargets, TestAndBugKindsComeFromTheLabelsByQname) {
  GraphData g = graph_with_imports();
  labels::LabelReport found;
  labels::FunctionLabels h;
  h.qname = "m.h", h.tested = true, h.test_kinds = 1u << labels::kException;
  h.analysed = true, h.bug_kinds[labels::kBroadExcept] = 0.9f;
  labels::FunctionLabels unknown;
  unknown.qname = "no.such", unknown.tested = true;
  found.functions = {h, unknown};
  NodeTargets t = build_targets(g, &found, nullptr, 0);
  EXPECT_TRUE(t.tested[3]);
  EXPECT_EQ(t.test_kinds[3], 1u << labels::kException);
  EXPECT_FLOAT_EQ(t.bug_kinds[3][labels::kBroadExcept], 0.9f);
  EXPECT_FALSE(t.tested[1]);
  EXPECT_EQ(std::count(t.tested.begin(), t.tested.end(), 1), 1);
  // Every labelled function is either trained on or held out, never both.
  for (int32_t v : t.train_nodes) EXPECT_FALSE(t.held_out[size_t(v)]);
  for (int32_t v : t.test_nodes) EXPECT_TRUE(t.held_out[size_t(v)]);
  for (int32_t v : t.validation_nodes) EXPECT_TRUE(t.held_out[size_t(v)]);
  EXPECT_EQ(t.train_nodes.size() + t.validation_nodes.size() + t.test_nodes.size(), 4u);
}

TEST(StudentTargets, CurriculumMeetsTheSurestTeachersFirst) {
  NodeTargets t;
  const size_t n = 6;
  t.analysed.assign(n, 0), t.bug_kinds.assign(n, {});
  t.train_nodes = {0, 1, 2, 3, 4, 5};
  // 0 and 5: graph and test labels only (certain). 1: pyflakes, 0.95 on one kind, the
  // rest certain zeros. 2: pylint's inference failures, 0.5 on every kind (a coin toss).
  // 3: 0.7 on every kind. 4: nothing found (all zeros: sure there is no bug).
  t.analysed[1] = t.analysed[2] = t.analysed[3] = t.analysed[4] = 1;
  t.bug_kinds[1][labels::kUnusedImport] = 0.95f;
  t.bug_kinds[2].fill(0.5f);
  t.bug_kinds[3].fill(0.7f);
  EXPECT_DOUBLE_EQ(teacher_confidence(t, 0), 1.0);
  EXPECT_DOUBLE_EQ(teacher_confidence(t, 4), 1.0);
  const double kinds = labels::kBugKinds;
  EXPECT_NEAR(teacher_confidence(t, 1), (kinds - 1 + 0.9) / kinds, 1e-6);
  EXPECT_NEAR(teacher_confidence(t, 2), 0.0, 1e-6);
  EXPECT_NEAR(teacher_confidence(t, 3), 0.4, 1e-6);
  std::vector<int32_t> order = curriculum_order(t, 11);
  ASSERT_EQ(order.size(), n);
  std::vector<int32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, t.train_nodes);
  // The unsure three meet the head easy to hard (1, 3, 2) wherever they fall; the sure
  // ones keep their shuffled places, so the mix along the pass stays as shuffled.
  std::vector<int32_t> unsure;
  for (int32_t v : order)
    if (v == 1 || v == 2 || v == 3) unsure.push_back(v);
  EXPECT_EQ(unsure, (std::vector<int32_t>{1, 3, 2}));
  std::vector<size_t> sure_places, unsure_places;
  for (size_t seed = 0; seed < 20; ++seed) {
    std::vector<int32_t> o = curriculum_order(t, seed);
    for (size_t i = 0; i < o.size(); ++i)
      (teacher_confidence(t, o[i]) < 1 ? unsure_places : sure_places).push_back(i);
  }
  // Over seeds the unsure ones are not all pushed to the front or the back.
  EXPECT_NE(*std::min_element(unsure_places.begin(), unsure_places.end()),
            *std::max_element(unsure_places.begin(), unsure_places.end()));
  EXPECT_LT(*std::min_element(unsure_places.begin(), unsure_places.end()), 3u);
  EXPECT_GT(*std::max_element(unsure_places.begin(), unsure_places.end()), 2u);
  EXPECT_EQ(curriculum_order(t, 11), order);  // seeded
}

TEST(StudentSampler, BlindSeedsSeeStructureButNoCallsOrCallees) {
  GraphData g = graph_with_imports();
  ModelInputs in = build_inputs(g, {});
  // m.f's own tokens end before the names of what it calls.
  EXPECT_LT(in.own_end[1], in.offsets[2]);
  EXPECT_EQ(in.own_end[3], in.offsets[4]);  // m.h calls nothing
  Sampler sampler(in, g.size(), 3);
  Block open = sampler.sample({1}, {8, 8, 8});
  std::vector<uint8_t> seen_open;
  for (size_t e = 0; e < open.edge_dst.size(); ++e)
    if (open.edge_dst[e] == 0) seen_open.push_back(open.edge_rel[e]);
  EXPECT_NE(std::count(seen_open.begin(), seen_open.end(), uint8_t(kUses)), 0);
  Block blind = sampler.sample({1}, {8, 8, 8}, SeedView::kBlind);
  size_t into_seed = 0;
  for (size_t e = 0; e < blind.edge_dst.size(); ++e) {
    if (blind.edge_dst[e] != 0) continue;
    ++into_seed;
    EXPECT_EQ(blind.edge_rel[e], uint8_t(kStructure));
    EXPECT_EQ(blind.nodes[size_t(blind.edge_src[e])], 0);  // its module, m
  }
  EXPECT_EQ(into_seed, 1u);
}

TEST(StudentSampler, BodySeedsSeeTheirCallsButNeverTheirCallers) {
  GraphData g = graph_with_imports();
  ModelInputs in = build_inputs(g, {});
  Sampler sampler(in, g.size(), 3);
  auto relations_into_seed = [](const Block& b) {
    std::vector<uint8_t> out;
    for (size_t e = 0; e < b.edge_dst.size(); ++e)
      if (b.edge_dst[e] == 0) out.push_back(b.edge_rel[e]);
    return out;
  };
  // m.g (node 2) is called by m.f and n.k: the open view sees those callers, the body
  // view does not (a function's tests are among its callers).
  auto open = relations_into_seed(sampler.sample({2}, {8, 8, 8}));
  auto body = relations_into_seed(sampler.sample({2}, {8, 8, 8}, SeedView::kBody));
  EXPECT_NE(std::count(open.begin(), open.end(), uint8_t(kUsedBy)), 0);
  EXPECT_EQ(std::count(body.begin(), body.end(), uint8_t(kUsedBy)), 0);
  EXPECT_NE(std::count(body.begin(), body.end(), uint8_t(kStructure)), 0);
  // m.g calls n.k: the body view keeps that edge, the blind view does not.
  EXPECT_NE(std::count(body.begin(), body.end(), uint8_t(kUses)), 0);
  auto blind = relations_into_seed(sampler.sample({2}, {8, 8, 8}, SeedView::kBlind));
  EXPECT_EQ(std::count(blind.begin(), blind.end(), uint8_t(kUses)), 0);
}

TEST(StudentLosses, DistillationMatchesHandComputation) {
  // KL(teacher_T || student_T) * T^2 with T = 3, computed by hand in Python:
  // two Bernoulli labels (logit 1.0 vs p 0.8, logit -2.0 vs p 0.1), summed per row.
  EXPECT_NEAR(bernoulli_distillation({1.0f, -2.0f}, {0.8f, 0.1f}, 3.0), 0.0221499275, 1e-6);
  EXPECT_NEAR(softmax_distillation({1.f, 2.f, 3.f}, {0.2f, 0.3f, 0.5f}, 3.0), 0.0949578709, 1e-6);
  // Zero when the student already says what the teacher says.
  EXPECT_NEAR(bernoulli_distillation({float(std::log(0.8 / 0.2))}, {0.8f}, 3.0), 0.0, 1e-6);
  EXPECT_NEAR(
      softmax_distillation({float(std::log(0.2)), float(std::log(0.3)), float(std::log(0.5))},
                           {0.2f, 0.3f, 0.5f}, 2.0),
      0.0, 1e-6);
}

TEST(StudentBlas, LibTorchUsesOpenBlasNotTheReferenceBlas) {
  std::string blas = blas_library();
  ASSERT_FALSE(blas.empty()) << "no BLAS mapped after a matmul";
  EXPECT_NE(blas.find("openblas"), std::string::npos)
      << "LibTorch multiplies with " << blas
      << "; install libopenblas0-openmp (scripts/setup.sh selects it): the reference BLAS is "
         "about 40x slower";
  EXPECT_EQ(blas.find("/blas/libblas"), std::string::npos) << blas;
}

}  // namespace
}  // namespace yantra::student
