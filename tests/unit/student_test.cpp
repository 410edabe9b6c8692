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
    g.kind.push_back(kind), g.qname.push_back(qname), g.name.push_back(qname.substr(qname.rfind('.') + 1));
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
  EXPECT_LE(std::count_if(x.edge_dst.begin(), x.edge_dst.end(), [](int32_t d) { return d < 2; }), 2);
  for (int32_t s : x.edge_src) EXPECT_LT(s, int32_t(x.nodes.size()));
  EXPECT_EQ(a.local_of(2), 1);
}

TEST(StudentLosses, DistillationMatchesHandComputation) {
  // KL(teacher_T || student_T) * T^2 with T = 3, computed by hand in Python:
  // two Bernoulli labels (logit 1.0 vs p 0.8, logit -2.0 vs p 0.1), summed per row.
  EXPECT_NEAR(bernoulli_distillation({1.0f, -2.0f}, {0.8f, 0.1f}, 3.0), 0.0221499275, 1e-6);
  EXPECT_NEAR(softmax_distillation({1.f, 2.f, 3.f}, {0.2f, 0.3f, 0.5f}, 3.0), 0.0949578709, 1e-6);
  // Zero when the student already says what the teacher says.
  EXPECT_NEAR(bernoulli_distillation({float(std::log(0.8 / 0.2))}, {0.8f}, 3.0), 0.0, 1e-6);
  EXPECT_NEAR(softmax_distillation({float(std::log(0.2)), float(std::log(0.3)), float(std::log(0.5))},
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
