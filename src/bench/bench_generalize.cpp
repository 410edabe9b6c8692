// `yantra bench generalize`: the learning loop learns the HumanEval dev tasks, then is
// asked the same tasks in ReCode's words (each set from a copy of the learned state), and,
// apart, tasks it never learned. The router sees prompts only; the hidden tests, the
// perturbed sets' tests and HumanEval+ score the answers afterwards, on sandboxes of their
// own.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <tuple>

#include "bench/bench.h"
#include "bench/internal.h"
#include "replay/replay.h"
#include "router/router.h"

namespace yantra::bench {
namespace {

namespace fs = std::filesystem;

// One reworded set: its prompts for the router, its tests apart.
struct PerturbedSet {
  std::string name;
  std::vector<Task> tasks;               // the learned tasks it rewords, in the file's order
  std::map<std::string, Hidden> hidden;  // its own tests and names, gpt-4's nominal runs
  std::map<std::string, std::string> nominal_entry;  // task id -> the nominal name
  // Renamed tasks whose test calls the function by its nominal name as well (HumanEval/33
  // compares with sort_third itself): scored with that name bound to the renamed function,
  // or no renamed answer could pass.
  std::vector<std::string> tests_aliased;
};

struct EntryOrigin {
  std::string task;
  bool pending = false;
};

struct Bench {
  const GeneralizeBenchOptions& o;
  std::string problems, runs, root;
  std::vector<Task> tasks;
  std::map<std::string, Hidden> hidden;
  Pools pools;
  Scorer scorer;
  PlusScorer plus;
  std::map<std::string, library::Entry> learned;  // task id -> its most confident entry
  // Every valid entry of a task (pending evidence included), by id: which task it was
  // stored for, and whether the router had learned it or only kept it.
  std::map<int64_t, EntryOrigin> origin;
  std::set<std::string> learned_prompts;  // what an exact-match cache holds
  std::vector<double> student_ms;         // every set's student answers
};

// The replay server for one phase: a reworded prompt is an alias of its task.
Result<std::unique_ptr<replay::ReplayServer>> start_server(const Bench& b,
                                                           const PerturbedSet* set = nullptr) {
  auto loaded = replay::ReplayServer::load(b.runs, b.problems);
  if (!loaded) return loaded.error();
  auto server = std::make_unique<replay::ReplayServer>(std::move(loaded).value());
  if (set)
    for (const Task& t : set->tasks)
      if (auto ok = server->add_alias(t.prompt, t.id, set->hidden.at(t.id).entry_point); !ok)
        return Error{set->name + ": " + ok.error().message};
  if (auto port = server->start("127.0.0.1", 0); !port) return port.error();
  return server;
}

// Learn rounds over `tasks`, as bench cascade runs them.
Result<std::vector<CascadeRound>> learn(Bench& b, CascadeRouter& cascade,
                                        const std::vector<Task>& tasks, const std::string& label) {
  std::vector<CascadeRound> rounds;
  for (int round = 1; round <= b.o.cascade.rounds; ++round) {
    auto c = ask_round(cascade.router(), tasks, b.hidden, b.scorer, (round - 1) % 10 + 1);
    if (!c) return c.error();
    c->round = round;
    auto size = cascade.library().size();
    c->library_entries = size ? *size : 0;
    if (b.o.cascade.progress)
      progress(label + " round " + std::to_string(round) + "/" +
               std::to_string(b.o.cascade.rounds) + ": pass " +
               pct(ratio(double(c->passed), double(c->requests))) + ", " +
               pct(ratio(c->cost_usd, c->gpt4_cost_usd)) + " of gpt-4, " + shares_text(*c));
    rounds.push_back(*c);
  }
  return rounds;
}

// Task id -> its most confident learned entry (not pending, not avoid, valid).
Result<std::map<std::string, library::Entry>> learned_entries(
    library::Library& library, const std::vector<Task>& tasks,
    std::map<int64_t, EntryOrigin>* origin = nullptr) {
  auto entries = entries_of_tasks(library, tasks);
  if (!entries) return entries.error();
  std::map<std::string, library::Entry> learned;
  for (TaskEntry& te : *entries) {
    if (origin) (*origin)[te.entry.id] = {te.task->id, te.entry.pending};
    if (te.entry.pending) continue;
    auto [it, fresh] = learned.try_emplace(te.task->id, te.entry);
    if (!fresh && te.entry.confidence > it->second.confidence) it->second = std::move(te.entry);
  }
  return learned;
}

Result<void> learn_phase(Bench& b, GeneralizeBenchResult& r) {
  auto server = start_server(b);
  if (!server) return server.error();
  std::string dir = b.root + "/learn";
  auto cascade = CascadeRouter::open(b.o.cascade, dir, (*server)->port(), *b.pools.router);
  if (!cascade) return cascade.error();
  auto rounds = learn(b, **cascade, b.tasks, "learn");
  if (!rounds) return rounds.error();
  r.learn = std::move(rounds).value();
  auto learned = learned_entries((*cascade)->library(), b.tasks, &b.origin);
  if (!learned) return learned.error();
  b.learned = std::move(learned).value();
  for (const Task& t : b.tasks) {
    auto it = b.learned.find(t.id);
    if (it == b.learned.end()) continue;
    b.learned_prompts.insert(t.prompt);
    ++r.learned;
    r.learned_passing += b.scorer.passes(b.hidden.at(t.id), it->second.code);
    // What the student can answer is what the library holds: a learned entry that fails
    // HumanEval+ fails it for every request it answers.
    if (auto plus = b.plus.passes(t.id, b.hidden.at(t.id).entry_point, it->second.code)) {
      ++r.learned_plus_scored;
      r.learned_plus_passed += *plus;
    }
  }
  r.learned_tasks = b.learned.size();
  // As `yantra train --encoder` after learning: the encoder learns from the requests the
  // library holds (the nominal prompts, augmented), never from the reworded sets.
  // With fewer than two learned requests there is nothing to contrast: the base serves.
  if (b.o.cascade.view == RequestViewKind::encoder && b.learned.size() >= 2) {
    auto tuned = router::retrain_library_encoder(dir, (*cascade)->library());
    if (!tuned) return tuned.error();
    r.encoder_requests = tuned->requests;
    r.encoder_losses = tuned->report.losses;
    if (b.o.cascade.progress)
      progress("encoder fine-tuned on " + std::to_string(tuned->requests) + " learned requests");
  }
  return (*cascade)->save();  // the state the sets copy, complete on disk
}

std::string set_name(const fs::path& file) {
  std::string name = file.filename().string();
  if (name.ends_with(".jsonl.gz")) name.resize(name.size() - 9);
  if (name.ends_with("-dev")) name.resize(name.size() - 4);
  if (name.starts_with("humaneval_")) name.erase(0, 10);
  return name;
}

Result<PerturbedSet> load_set(const Bench& b, const fs::path& file) {
  auto rows = read_jsonl_gz(file.string());
  if (!rows) return rows.error();
  PerturbedSet set;
  set.name = set_name(file);
  for (const auto& row : *rows) {
    for (const char* key : {"task_id", "prompt", "test", "entry_point"})
      if (!row.contains(key) || !row[key].is_string())
        return Error::in(file.string(), std::string("a task lacks the string field ") + key);
    std::string id = row["task_id"];
    auto nominal = b.hidden.find(id);
    if (nominal == b.hidden.end()) continue;  // not among the tasks learned (--tasks)
    if (set.hidden.count(id)) return Error::in(file.string(), id + " appears twice");
    set.tasks.push_back({id, row["prompt"]});
    const std::string& renamed = row["entry_point"].get_ref<const std::string&>();
    const std::string& nominal_name = nominal->second.entry_point;
    std::string test = row["test"];
    if (auto aliased = alias_nominal_name(test, nominal_name, renamed)) {
      test = std::move(*aliased);
      set.tests_aliased.push_back(id);
    }
    set.hidden[id] = {std::move(test), renamed, nominal->second.gpt4_cost,
                      nominal->second.gpt4_passed};
    set.nominal_entry[id] = nominal->second.entry_point;
  }
  if (set.tasks.empty())
    return Error::in(file.string(), "none of its task_ids is among the learned tasks");
  return set;
}

Result<std::vector<PerturbedSet>> load_sets(const Bench& b, const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename().string().ends_with(".jsonl.gz"))
      files.push_back(e.path());
  if (ec) return Error::in(dir, "cannot read: " + ec.message() + "; give the sets with --sets");
  if (files.empty()) return Error::in(dir, "no *.jsonl.gz sets here; give them with --sets");
  std::sort(files.begin(), files.end());
  std::vector<PerturbedSet> sets;
  for (const fs::path& f : files) {
    auto set = load_set(b, f);
    if (!set) return set.error();
    sets.push_back(std::move(set).value());
  }
  return sets;
}

Result<void> copy_state(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::create_directories(to, ec);
  if (!ec) fs::copy(from + "/.yantra", to + "/.yantra", fs::copy_options::recursive, ec);
  if (ec) return Error::in(to, "cannot copy the learned state from " + from + ": " + ec.message());
  return {};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// One student answer, kept for HumanEval+ after the round.
struct StudentAnswer {
  std::string task, code;
  int64_t entry = 0;
  bool passed = false;  // the hidden tests
};

// The exact-match cache's side: requests whose text is a learned nominal prompt.
void score_exact(Bench& b, const PerturbedSet& set, GeneralizeSet& g) {
  for (const Task& t : set.tasks) {
    if (!b.learned_prompts.count(t.prompt)) continue;
    const std::string& code = b.learned.at(t.id).code;
    ++g.exact;
    g.exact_passed += b.scorer.passes(set.hidden.at(t.id), code);
    if (auto plus = b.plus.passes(t.id, set.hidden.at(t.id).entry_point, code)) {
      ++g.exact_plus_scored;
      g.exact_plus_passed += *plus;
    }
  }
}

// One round of the set from a copy of the learned state, requests embedded by `view`;
// `on_answer` sees every request. Returns the round, and the student's answers with their
// HumanEval+ verdicts (none where HumanEval+ does not cover the task).
struct SetRound {
  CascadeRound round;
  std::vector<std::pair<StudentAnswer, std::optional<bool>>> student;
};

Result<SetRound> ask_from_learned(Bench& b, const PerturbedSet& set, RequestViewKind view,
                                  const std::string& dir,
                                  const std::function<void(const Asked&)>& on_answer) {
  if (auto ok = copy_state(b.root + "/learn", dir); !ok) return ok.error();
  auto server = start_server(b, &set);
  if (!server) return server.error();
  CascadeBenchOptions options = b.o.cascade;
  options.view = view;
  auto cascade = CascadeRouter::open(options, dir, (*server)->port(), *b.pools.router);
  if (!cascade) return cascade.error();
  SetRound r;
  std::vector<StudentAnswer> answers;
  auto round =
      ask_round((*cascade)->router(), set.tasks, set.hidden, b.scorer, 1, [&](const Asked& a) {
        on_answer(a);
        if (a.answer->tier != "student") return;
        const Task& t = set.tasks[a.task];
        answers.push_back({t.id, a.answer->code, a.answer->library_id, a.passed});
      });
  if (!round) return round.error();
  r.round = *round;
  for (StudentAnswer& s : answers) {
    auto plus = b.plus.passes(s.task, set.hidden.at(s.task).entry_point, s.code);
    r.student.emplace_back(std::move(s), plus);
  }
  return r;
}

// The same round from the same learned state with the hashed view of requests: the
// baseline the request view must beat.
Result<GeneralizeSet::Baseline> ask_set_hashed(Bench& b, const PerturbedSet& set) {
  GeneralizeSet::Baseline h;
  h.ran = true;
  auto r = ask_from_learned(b, set, RequestViewKind::hashed,
                            b.root + "/sets/" + set.name + "-hashed", [](const Asked&) {});
  if (!r) return r.error();
  h.round = r->round;
  for (const auto& [s, plus] : r->student) {
    ++h.student;
    h.student_learned += b.learned.count(s.task) > 0;
    h.student_passed += s.passed;
    h.student_plus_scored += plus.has_value();
    h.student_plus_passed += plus.value_or(false);
  }
  return h;
}

Result<GeneralizeSet> ask_set(Bench& b, const PerturbedSet& set) {
  GeneralizeSet g;
  g.name = set.name;
  g.tests_aliased = set.tests_aliased;
  std::vector<double> ms;
  auto r =
      ask_from_learned(b, set, b.o.cascade.view, b.root + "/sets/" + set.name, [&](const Asked& a) {
        const Task& t = set.tasks[a.task];
        g.learned_requests += b.learned.count(t.id) > 0;
        g.renamed += set.hidden.at(t.id).entry_point != set.nominal_entry.at(t.id);
        if (a.answer->tier != "student") return;
        g.student_alone += a.answer->teacher_calls == 0;
        ms.push_back(1000 * a.seconds);
      });
  if (!r) return r.error();
  g.round = r->round;
  g.requests = r->round.requests;
  for (const auto& [s, plus] : r->student) {
    ++g.student;
    g.student_learned += b.learned.count(s.task) > 0;
    g.student_passed += s.passed;
    auto from = b.origin.find(s.entry);
    bool other_task = from != b.origin.end() && from->second.task != s.task;
    g.student_other_task += other_task;
    g.student_other_task_passed += other_task && s.passed;
    g.student_plus_scored += plus.has_value();
    g.student_plus_passed += plus.value_or(false);
    if (s.passed && plus.value_or(true)) continue;
    GeneralizeSet::Miss miss{s.task, s.entry, "", false, !s.passed, plus && !*plus};
    if (from != b.origin.end())
      std::tie(miss.entry_task, miss.entry_pending) =
          std::tie(from->second.task, from->second.pending);
    g.misses.push_back(std::move(miss));
  }
  score_exact(b, set, g);
  g.student_p50_ms = median(ms);
  b.student_ms.insert(b.student_ms.end(), ms.begin(), ms.end());
  if (b.o.hashed_baseline) {
    auto hashed = ask_set_hashed(b, set);
    if (!hashed) return hashed.error();
    g.hashed = *hashed;
  }
  return g;
}

// "HumanEval/12" before "HumanEval/101": the number after the last '/' as a number.
bool by_task_id(const Task& a, const Task& b) {
  auto key = [](const std::string& id) {
    size_t slash = id.rfind('/');
    std::string prefix = slash == std::string::npos ? "" : id.substr(0, slash);
    std::string number = id.substr(slash == std::string::npos ? 0 : slash + 1);
    bool numeric =
        !number.empty() && number.size() < 18 &&
        std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; });
    return std::tuple(prefix, numeric ? std::stoll(number) : 0LL, number);
  };
  return key(a.id) < key(b.id);
}

// Learn the first half of the tasks (by id) in a fresh state, ask the second half once.
Result<GeneralizeCross> cross_task(Bench& b) {
  GeneralizeCross x;
  x.ran = true;
  std::vector<Task> sorted = b.tasks;
  std::stable_sort(sorted.begin(), sorted.end(), by_task_id);
  size_t half = (sorted.size() + 1) / 2;
  std::vector<Task> a(sorted.begin(), sorted.begin() + long(half)),
      rest(sorted.begin() + long(half), sorted.end());
  x.learned_on = a.size();
  auto server = start_server(b);
  if (!server) return server.error();
  auto cascade =
      CascadeRouter::open(b.o.cascade, b.root + "/cross", (*server)->port(), *b.pools.router);
  if (!cascade) return cascade.error();
  auto rounds = learn(b, **cascade, a, "cross-task: learn half A,");
  if (!rounds) return rounds.error();
  auto learned = learned_entries((*cascade)->library(), a);
  if (!learned) return learned.error();
  x.learned_tasks = learned->size();
  auto round = ask_round((*cascade)->router(), rest, b.hidden, b.scorer, 1, [&](const Asked& q) {
    if (q.answer->tier != "student") return;
    ++x.student_answers;
    x.false_answers += !q.passed;
  });
  if (!round) return round.error();
  x.round = *round;
  x.requests = round->requests;
  return x;
}

Result<std::string> make_root(const std::string& requested) {
  std::string root = requested;
  if (root.empty())
    root =
        (fs::temp_directory_path() / ("yantra-generalize-" + std::to_string(::getpid()))).string();
  std::error_code ec;
  for (const char* sub : {"learn", "sets", "cross"}) fs::remove_all(fs::path(root) / sub, ec);
  fs::create_directories(root, ec);
  if (ec) return Error::in(root, "cannot create: " + ec.message());
  return root;
}

Result<std::unique_ptr<Bench>> open_bench(const GeneralizeBenchOptions& o) {
  const CascadeBenchOptions& c = o.cascade;
  std::string data = shared_data_dir(c.peers_dir);
  std::string problems =
      c.problems.empty() ? data + "/humaneval/HumanEval-dev.jsonl.gz" : c.problems;
  std::string runs = c.runs.empty() ? data + "/humaneval/recorded-runs-dev.jsonl.gz" : c.runs;
  std::string plus_path = o.plus.empty() ? data + "/humaneval/HumanEvalPlus-dev.jsonl.gz" : o.plus;
  std::vector<Task> tasks;
  std::map<std::string, Hidden> hidden;
  if (auto ok = load_tasks(problems, runs, c.tasks, tasks, hidden); !ok) return ok.error();
  if (tasks.empty()) return Error::in(problems, "no tasks");
  auto root = make_root(o.work_dir);
  if (!root) return root.error();
  auto pools = Pools::start(c);
  if (!pools) return pools.error();
  auto plus = PlusScorer::load(plus_path, *pools->scoring);
  if (!plus) return plus.error();
  Scorer scorer(*pools->scoring);
  return std::unique_ptr<Bench>(new Bench{o,
                                          problems,
                                          runs,
                                          *root,
                                          std::move(tasks),
                                          std::move(hidden),
                                          std::move(pools).value(),
                                          scorer,
                                          std::move(plus).value(),
                                          {},
                                          {},
                                          {}});
}

}  // namespace

std::optional<std::string> alias_nominal_name(const std::string& test, const std::string& nominal,
                                              const std::string& renamed) {
  if (nominal == renamed) return std::nullopt;
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = test.find(nominal); at != std::string::npos; at = test.find(nominal, at + 1)) {
    size_t end = at + nominal.size();
    if ((at == 0 || !ident(test[at - 1])) && (end == test.size() || !ident(test[end])))
      return nominal + " = " + renamed + "\n" + test;
  }
  return std::nullopt;
}

Result<GeneralizeBenchResult> run_generalize_bench(const GeneralizeBenchOptions& o) {
  auto started = std::chrono::steady_clock::now();
  auto opened = open_bench(o);
  if (!opened) return opened.error();
  Bench& b = **opened;
  std::string sets_dir =
      o.sets_dir.empty() ? shared_data_dir(o.cascade.peers_dir) + "/recode" : o.sets_dir;
  auto sets = load_sets(b, sets_dir);
  if (!sets) return sets.error();
  GeneralizeBenchResult r;
  r.learn_rounds = o.cascade.rounds;
  r.view = o.cascade.view == RequestViewKind::encoder ? "encoder"
           : o.cascade.view == RequestViewKind::view  ? "request view"
                                                      : "hashed words";
  r.tasks = b.tasks.size();
  r.work_dir = b.root;
  if (auto ok = learn_phase(b, r); !ok) return ok.error();
  for (const PerturbedSet& set : *sets) {
    auto g = ask_set(b, set);
    if (!g) return g.error();
    if (o.cascade.progress) progress("set " + set_summary(*g));
    r.sets.push_back(std::move(g).value());
  }
  if (o.cross_task) {
    auto x = cross_task(b);
    if (!x) return x.error();
    r.cross = *x;
    if (o.cascade.progress) progress("cross-task: " + cross_summary(r.cross));
  }
  r.student_timed = b.student_ms.size();
  r.student_p50_ms = median(b.student_ms);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  render_generalize(r);
  opened->reset();
  std::error_code ec;
  if (!o.keep_work_dir && o.work_dir.empty()) fs::remove_all(r.work_dir, ec);
  return r;
}

}  // namespace yantra::bench
