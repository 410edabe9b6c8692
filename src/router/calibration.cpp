// Scores to probabilities: isotonic regression per kind of score, read and written as a
// small JSON file of knots. Fitting sees labels; the router only ever reads the knots.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <nlohmann/json.hpp>

#include "router/router.h"

namespace yantra::router {
namespace {

// A run of adjacent scores pooled into one probability.
struct Block {
  double score_sum = 0, passes = 0, weight = 0;
  double last_score = 0;  // the highest score in it, to group equal scores exactly
  double mean() const { return passes / weight; }
};

// Pool adjacent violators: merges neighbours until the blocks' means never decrease.
std::vector<Block> pool_violators(const std::vector<Block>& in) {
  std::vector<Block> out;
  for (const Block& b : in) {
    out.push_back(b);
    while (out.size() >= 2 && out[out.size() - 2].mean() >= out.back().mean()) {
      Block last = out.back();
      out.pop_back();
      out.back().score_sum += last.score_sum;
      out.back().passes += last.passes;
      out.back().weight += last.weight;
    }
  }
  return out;
}

// 1-based line and column of a byte offset, for errors that point into the file.
std::pair<uint32_t, uint32_t> line_col(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  uint32_t line = 1, col = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

}  // namespace

Calibration Calibration::none() {
  return {};
}

const Calibration& Calibration::builtin() {
  static const Calibration fitted = [] {
    auto parsed = parse(embedded_file("calibration.json"), "src/router/calibration.json");
    assert(parsed && "the embedded calibration must parse");
    return parsed ? std::move(parsed).value() : none();
  }();
  return fitted;
}

Result<Calibration> Calibration::parse(std::string_view json, std::string_view origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    auto [line, col] = line_col(json, e.byte == 0 ? 0 : e.byte - 1);
    return Error::at(origin, line, col,
                     "not JSON: fix it or refit with `yantra bench cascade --fit-calibration`");
  }
  auto bad = [&](const std::string& what) {
    return Error::in(
        origin, what + " (expected {\"kinds\": {\"agreement\": [[score, probability], ...]}})");
  };
  if (!j.is_object() || !j.contains("kinds") || !j["kinds"].is_object())
    return bad("no \"kinds\" object");
  Calibration c;
  for (const auto& [kind, knots] : j["kinds"].items()) {
    if (!knots.is_array() || knots.empty()) return bad("kind \"" + kind + "\" has no knots");
    std::vector<Knot>& out = c.knots_[kind];
    for (const auto& k : knots) {
      if (!k.is_array() || k.size() != 2 || !k[0].is_number() || !k[1].is_number())
        return bad("kind \"" + kind + "\": a knot is not [score, probability]");
      Knot knot{k[0].get<double>(), k[1].get<double>()};
      if (knot.probability < 0 || knot.probability > 1 || !std::isfinite(knot.score))
        return bad("kind \"" + kind + "\": probability outside [0, 1] or score not finite");
      if (!out.empty() &&
          (knot.score <= out.back().score || knot.probability < out.back().probability))
        return bad("kind \"" + kind + "\": knots must rise in score and never fall in probability");
      out.push_back(knot);
    }
  }
  return c;
}

Result<Calibration> Calibration::load(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  return parse(*text, path);
}

Calibration Calibration::fit(std::span<const LabelledScore> labelled, double prior_weight) {
  std::map<std::string, std::vector<const LabelledScore*>, std::less<>> by_kind;
  for (const LabelledScore& l : labelled) by_kind[l.kind].push_back(&l);
  Calibration c;
  for (auto& [kind, rows] : by_kind) {
    std::sort(rows.begin(), rows.end(),
              [](const LabelledScore* a, const LabelledScore* b) { return a->score < b->score; });
    // The kind's rate, itself with one pass and one failure added: a kind that never
    // failed here is not certain to never fail.
    double base = 1;
    for (const LabelledScore* r : rows) base += r->passed;
    base /= double(rows.size() + 2);
    // Equal scores are one block from the start: they cannot be told apart.
    std::vector<Block> blocks;
    for (const LabelledScore* r : rows) {
      if (blocks.empty() || r->score != blocks.back().last_score) blocks.push_back({});
      blocks.back().last_score = r->score;
      blocks.back().score_sum += r->score;
      blocks.back().passes += r->passed;
      blocks.back().weight += 1;
    }
    blocks = pool_violators(blocks);
    // A block of three answers that all passed is not a certainty: shrink each block
    // towards the kind's rate, then pool again, since shrinking small blocks harder than
    // large ones can reorder them.
    for (Block& b : blocks) {
      b.passes += prior_weight * base;
      b.score_sum += prior_weight * (b.score_sum / b.weight);
      b.weight += prior_weight;
    }
    blocks = pool_violators(blocks);
    std::vector<Knot>& out = c.knots_[kind];
    for (const Block& b : blocks) out.push_back({b.score_sum / b.weight, b.mean()});
  }
  return c;
}

double Calibration::probability(std::string_view kind, double score) const {
  auto it = knots_.find(kind);
  if (it == knots_.end()) return std::clamp(score, 0.0, 1.0);
  const std::vector<Knot>& k = it->second;
  // Below every fitted score there is no evidence: the map falls linearly to 0 at 0
  // rather than lending a weak score the confidence of the weakest answer seen.
  if (score <= 0) return 0;
  if (score < k.front().score) return k.front().probability * score / k.front().score;
  if (score >= k.back().score) return k.back().probability;
  auto hi = std::upper_bound(k.begin(), k.end(), score,
                             [](double s, const Knot& knot) { return s < knot.score; });
  auto lo = hi - 1;
  double t = (score - lo->score) / (hi->score - lo->score);
  return lo->probability + t * (hi->probability - lo->probability);
}

std::string Calibration::to_json(std::string_view fitted_on) const {
  nlohmann::ordered_json j;
  j["fitted_on"] = std::string(fitted_on);
  j["kinds"] = nlohmann::ordered_json::object();
  for (const auto& [kind, knots] : knots_) {
    auto& arr = j["kinds"][kind] = nlohmann::ordered_json::array();
    for (const Knot& k : knots) arr.push_back({k.score, std::round(k.probability * 1e6) / 1e6});
  }
  return j.dump(1) + "\n";
}

}  // namespace yantra::router
