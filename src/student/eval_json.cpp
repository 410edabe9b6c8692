// EvalReport as JSON, one shape for `yantra eval --json` and for the metrics a checkpoint
// keeps.
#include <nlohmann/json.hpp>

#include "student/student.h"

namespace yantra::student {
namespace {

nlohmann::json rank_json(const RankMetrics& m) {
  return {{"hits@10", m.hits_at_10}, {"mrr", m.mrr}, {"queries", m.queries}};
}

nlohmann::json set_json(const SetMetrics& m) {
  return {
      {"p@5", m.precision_at_5}, {"r@5", m.recall_at_5}, {"f1", m.f1}, {"functions", m.queries}};
}

nlohmann::json kind_json(const KindMetrics& m) {
  return {{"micro_f1", m.micro_f1},
          {"auroc", m.auroc},
          {"threshold", m.threshold},
          {"functions", m.functions},
          {"positives", m.positives}};
}

}  // namespace

nlohmann::json eval_report_json(const EvalReport& r) {
  return {
      {"next_call",
       {{"student", rank_json(r.next_call)},
        {"student_embedding_only", rank_json(r.next_call_embedding_only)},
        {"in_degree", rank_json(r.next_call_in_degree)},
        {"cooccurrence", rank_json(r.next_call_cooccurrence)},
        {"negatives_per_query", 100}}},
      {"imports",
       {{"student", set_json(r.imports)},
        {"frequency", set_json(r.imports_frequency)},
        {"file_frequency", set_json(r.imports_file_frequency)}}},
      {"test_kinds",
       {{"student", kind_json(r.test_kinds)}, {"prior", kind_json(r.test_kinds_prior)}}},
      {"bug_kinds", {{"student", kind_json(r.bug_kinds)}, {"prior", kind_json(r.bug_kinds_prior)}}},
      {"seconds", r.seconds}};
}

}  // namespace yantra::student
