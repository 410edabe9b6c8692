// compare_calls_with_gold: how many of the reference graph's resolved call edges the index
// also has, matched by (caller qualified name, callee qualified name).
#include <sqlite3.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "bench/bench.h"

namespace yantra::bench {
namespace {

constexpr size_t kMissingSampleSize = 20;

using CallPair = std::pair<std::string, std::string>;  // (caller qname, callee qname)

// One key per pair; '\n' cannot occur in a qualified name, so the key is unambiguous.
std::string pair_key(std::string_view caller, std::string_view callee) {
  std::string key;
  key.reserve(caller.size() + callee.size() + 1);
  key.append(caller).push_back('\n');
  key.append(callee);
  return key;
}

// The reference's resolved call edges, in file order (gold sorts them by caller id), once each.
Result<std::vector<CallPair>> read_gold_calls(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return Error::in(path,
                     "cannot read the reference graph's edges; run `gold_graph.py CORPUS "
                     "OUT_PREFIX` first (it writes OUT_PREFIX.edges.jsonl)");
  std::vector<CallPair> calls;
  std::unordered_set<std::string> seen;
  std::string line;
  uint32_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json edge = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (edge.is_discarded() || !edge.is_object())
      return Error::at(path, line_no, 1, "not a JSON object; is this gold_graph.py's edges.jsonl?");
    if (edge.value("type", "") != "calls" || edge.value("resolved", false) != true) continue;
    auto src = edge.find("src_q"), dst = edge.find("dst_q");
    if (src == edge.end() || dst == edge.end() || !src->is_string() || !dst->is_string())
      return Error::at(path, line_no, 1, "call edge without string src_q and dst_q");
    std::string caller = src->get<std::string>(), callee = dst->get<std::string>();
    if (seen.insert(pair_key(caller, callee)).second)
      calls.emplace_back(std::move(caller), std::move(callee));
  }
  if (in.bad()) return Error::in(path, "read error");
  return calls;
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

// Every (caller, callee) pair of the index's call edges, as pair_key()s.
Result<std::unordered_set<std::string>> read_index_calls(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  auto fail = [&](std::string_view what) {
    return Error::in(path, std::string(what) + ": " +
                               (raw ? sqlite3_errmsg(raw) : "out of memory") +
                               "; index the corpus first (`yantra index CORPUS --store DIR` writes "
                               "DIR/graph.db)");
  };
  if (rc != SQLITE_OK) return fail("cannot open the graph store");
  static constexpr const char* kCallPairs =
      "SELECT s.qname, d.qname FROM edges e JOIN nodes s ON s.id = e.src "
      "JOIN nodes d ON d.id = e.dst WHERE e.kind = 'calls'";
  sqlite3_stmt* raw_statement = nullptr;
  if (sqlite3_prepare_v2(raw, kCallPairs, -1, &raw_statement, nullptr) != SQLITE_OK)
    return fail("not a Yantra graph store");
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement(raw_statement);
  std::unordered_set<std::string> pairs;
  auto text = [&](int column) {
    const unsigned char* t = sqlite3_column_text(raw_statement, column);
    return std::string_view(t ? reinterpret_cast<const char*>(t) : "");
  };
  while ((rc = sqlite3_step(raw_statement)) == SQLITE_ROW) pairs.insert(pair_key(text(0), text(1)));
  if (rc != SQLITE_DONE) return fail("cannot read its call edges");
  return pairs;
}

}  // namespace

Result<CallRecall> compare_calls_with_gold(const std::string& gold_edges_jsonl,
                                           const std::string& graph_db) {
  auto gold = read_gold_calls(gold_edges_jsonl);
  if (!gold) return gold.error();
  auto index = read_index_calls(graph_db);
  if (!index) return index.error();
  CallRecall recall;
  recall.gold = gold->size();
  for (const auto& [caller, callee] : *gold) {
    if (index->count(pair_key(caller, callee))) {
      ++recall.found;
    } else if (recall.missing_sample.size() < kMissingSampleSize) {
      recall.missing_sample.push_back(caller + " -> " + callee);
    }
  }
  return recall;
}

}  // namespace yantra::bench
