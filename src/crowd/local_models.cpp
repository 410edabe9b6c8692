// Crowd masters on the user's machine: staged, checked against the user's own held-out
// calls, installed by rename, and rolled back from a kept copy of what they replaced.
#include <algorithm>
#include <filesystem>

#include "crowd/crowd.h"

namespace yantra::crowd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Result<void> make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error::in(dir, "cannot create the directory: " + ec.message());
  return {};
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// A copy that readers see whole or not at all.
Result<void> copy_atomic(const std::string& from, const std::string& to) {
  std::string tmp = to + ".tmp";
  std::error_code ec;
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, to, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Error::in(to, "cannot copy " + from + " here: " + ec.message());
  }
  return {};
}

Result<void> move(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) return Error::in(to, "cannot move " + from + " here: " + ec.message());
  return {};
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

Result<double> held_out_mrr(const std::string& checkpoint, const student::GraphData& graph,
                            uint64_t seed) {
  auto s = student::Student::load(checkpoint, graph);
  if (!s) return s.error();
  auto report = s->evaluate(seed);
  if (!report) return report.error();
  return report->next_call.mrr;
}

}  // namespace

json CrowdState::to_json() const {
  return {{"installed_version", installed_version},
          {"sent", sent},
          {"patterns_sent", patterns_sent},
          {"deltas_sent", deltas_sent}};
}

Result<CrowdState> CrowdState::from_json(const json& j, std::string_view what) {
  CrowdState s;
  try {
    s.installed_version = j.at("installed_version").get<std::string>();
    s.sent = j.at("sent").get<std::vector<int64_t>>();
    s.patterns_sent = j.value("patterns_sent", uint64_t(0));
    s.deltas_sent = j.value("deltas_sent", uint64_t(0));
  } catch (const std::exception& e) {
    return Error::in(what, std::string("malformed crowd state (") + e.what() +
                               "); delete it to start over (patterns may then be sent again)");
  }
  return s;
}

std::string Acceptance::describe() const {
  return "held-out next-call MRR on this repository: current " + format_fixed(current_mrr, 4) +
         ", new " + format_fixed(candidate_mrr, 4) + " (tolerance " + format_fixed(tolerance, 4) +
         "): " + (accepted ? "not worse, accepted" : "worse, refused");
}

LocalModels::LocalModels(std::string store_dir)
    : store_(std::move(store_dir)), crowd_(store_ + "/crowd") {}

std::string LocalModels::checkpoint() const { return store_ + "/student/model.pt"; }
std::string LocalModels::crowd_dir() const { return crowd_; }
std::string LocalModels::master_checkpoint() const { return crowd_ + "/master.pt"; }
std::string LocalModels::candidate_checkpoint() const { return crowd_ + "/candidate.pt"; }

Result<CrowdState> LocalModels::state() const {
  std::string path = crowd_ + "/state.json";
  if (!exists(path)) return CrowdState{};
  auto text = read_file(path);
  if (!text) return text.error();
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return Error::in(path, "not JSON; delete it to start over");
  return CrowdState::from_json(j, path);
}

Result<void> LocalModels::save_state(const CrowdState& state) const {
  if (auto ok = make_dir(crowd_); !ok) return ok;
  return write_file_atomic(crowd_ + "/state.json", state.to_json().dump(1) + "\n");
}

Result<std::optional<SignedManifest>> LocalModels::installed() const {
  std::string path = crowd_ + "/installed.json";
  if (!exists(path)) return std::optional<SignedManifest>();
  auto text = read_file(path);
  if (!text) return text.error();
  auto m = SignedManifest::from_json(json::parse(*text, nullptr, false));
  if (!m) return Error::in(path, m.error().message);
  return std::optional<SignedManifest>(std::move(*m));
}

Result<Acceptance> LocalModels::stage(const SignedManifest& manifest, const Weights& weights,
                                      const student::GraphData& graph, double tolerance,
                                      uint64_t seed) const {
  if (!exists(checkpoint()))
    return Error::in(checkpoint(),
                     "no student checkpoint: run `yantra train` first (a master is written "
                     "into your checkpoint, and checked against it)");
  if (auto ok = make_dir(crowd_); !ok) return ok.error();
  if (auto ok = student::write_parameters(checkpoint(), weights, candidate_checkpoint()); !ok)
    return Error{"master " + manifest.manifest.version + ": " + ok.error().message};
  Acceptance a;
  a.tolerance = tolerance;
  auto current = held_out_mrr(checkpoint(), graph, seed);
  auto candidate = current ? held_out_mrr(candidate_checkpoint(), graph, seed) : current;
  if (!current || !candidate) {
    remove_quietly(candidate_checkpoint());
    return (current ? candidate : current).error();
  }
  a.current_mrr = *current, a.candidate_mrr = *candidate;
  a.accepted = a.candidate_mrr >= a.current_mrr - tolerance;
  if (!a.accepted) remove_quietly(candidate_checkpoint());
  return a;
}

Result<void> LocalModels::install(const SignedManifest& manifest) const {
  if (!exists(candidate_checkpoint()))
    return Error::in(candidate_checkpoint(), "nothing staged: run `yantra crowd update`");
  auto state = this->state();
  if (!state) return state.error();
  // 1. What is about to be replaced, whole, in previous/ (a new one replaces the old).
  std::string prev = crowd_ + "/previous", fresh = crowd_ + "/previous.new";
  std::error_code ec;
  fs::remove_all(fresh, ec);
  if (auto ok = make_dir(fresh); !ok) return ok;
  for (auto [from, name] : {std::pair{checkpoint(), "model.pt"},
                            std::pair{crowd_ + "/installed.json", "installed.json"},
                            std::pair{master_checkpoint(), "master.pt"}})
    if (exists(from))
      if (auto ok = copy_atomic(from, fresh + "/" + name); !ok) return ok;
  fs::remove_all(prev, ec);
  if (auto ok = move(fresh, prev); !ok) return ok;
  // 2. The master kept for `yantra train --init-from`, then the student's checkpoint.
  if (auto ok = copy_atomic(candidate_checkpoint(), master_checkpoint()); !ok) return ok;
  if (auto ok = move(candidate_checkpoint(), checkpoint()); !ok) return ok;
  // 3. The record of what is installed.
  if (auto ok = write_file_atomic(crowd_ + "/installed.json", manifest.to_json().dump(1) + "\n"); !ok)
    return ok;
  state->installed_version = manifest.manifest.version;
  return save_state(*state);
}

bool LocalModels::can_roll_back() const { return exists(crowd_ + "/previous/model.pt"); }

Result<std::string> LocalModels::rollback() const {
  std::string prev = crowd_ + "/previous";
  if (!can_roll_back())
    return Error::in(prev, "nothing to roll back to: no master was installed over another model");
  auto state = this->state();
  if (!state) return state.error();
  if (auto ok = move(prev + "/model.pt", checkpoint()); !ok) return ok.error();
  for (auto [name, to] : {std::pair{"installed.json", crowd_ + "/installed.json"},
                          std::pair{"master.pt", master_checkpoint()}}) {
    std::string from = prev + "/" + name;
    if (exists(from)) {
      if (auto ok = move(from, to); !ok) return ok.error();
    } else {
      remove_quietly(to);
    }
  }
  std::error_code ec;
  fs::remove_all(prev, ec);
  auto now = installed();
  if (!now) return now.error();
  state->installed_version = *now ? (*now)->manifest.version : "";
  if (auto ok = save_state(*state); !ok) return ok.error();
  return state->installed_version;
}

Result<LocalDelta> local_delta(const LocalModels& local, const SignedManifest& installed,
                               const student::GraphData& graph, double max_norm) {
  const std::string& version = installed.manifest.version;
  auto s = student::Student::load(local.checkpoint(), graph);
  if (!s) return s.error();
  json meta = json::parse(s->describe(), nullptr, false);
  std::string init_from = meta.is_object() ? meta["options"].value("init_from", "") : "";
  std::string how = "run `yantra train --init-from " + local.master_checkpoint() +
                    "`, then push the delta";
  if (init_from.empty())
    return Error::in(local.checkpoint(), "not trained from the crowd master " + version + ": " + how);
  auto base = student::read_parameters(init_from);
  if (!base) return Error::in(local.checkpoint(), "the checkpoint it was trained from is unreadable (" +
                                                      base.error().message + "); " + how);
  if (sha256_hex(encode(*base)) != installed.manifest.weights_sha256)
    return Error::in(local.checkpoint(), "trained from " + init_from +
                                             ", which is not the installed master " + version +
                                             ": " + how);
  auto mine = student::read_parameters(local.checkpoint());
  if (!mine) return mine.error();
  auto delta = subtract(*mine, *base);
  if (!delta) return delta.error();
  for (auto& [name, tensor] : *delta)
    if (student::repository_specific(name)) std::fill(tensor.values.begin(), tensor.values.end(), 0.f);
  LocalDelta out;
  out.norm_before_clip = l2_norm(*delta);
  if (out.norm_before_clip == 0)
    return Error::in(local.checkpoint(), "equals the master " + version + ": nothing learned yet");
  out.delta = clip_l2(std::move(*delta), max_norm);
  // The calls it trained on: its FedAvg weight. Checkpoints from before the header kept
  // the count follow the student's split rule (10 % test, 5 % validation held out).
  size_t n = graph.calls_resolved.size();
  out.examples = meta.is_object() && meta.contains("train_calls")
                     ? meta["train_calls"].get<uint64_t>()
                     : uint64_t(n - n / 10 - n / 20);
  return out;
}

}  // namespace yantra::crowd
