// Library: entries to and from rows: add, get, record_use, size.
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "library/internal.h"
#include "library/library.h"

namespace yantra::library {
namespace {

using nlohmann::json;

constexpr int64_t kMaxCount = 1 << 30;

std::string entry_name(int64_t id) {
  return "library entry " + std::to_string(id);
}

Result<std::vector<std::string>> string_list(const std::string& text, std::string_view what,
                                             int64_t id, const std::string& path) {
  json j = json::parse(text, nullptr, false);
  auto broken = [&] {
    return Error::in(path, entry_name(id) + ": its " + std::string(what) +
                               " column is not a JSON list of strings; delete the entry or the "
                               "store to start over");
  };
  if (!j.is_array()) return broken();
  std::vector<std::string> out;
  for (const json& v : j) {
    if (!v.is_string()) return broken();
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<void> check_entry(const Entry& e, int dim, const std::string& path) {
  if (e.code.find_first_not_of(" \t\r\n") == std::string::npos)
    return Error::in(path, "library: an entry needs its code; this one has none");
  if (auto ok = check_vector(e.embedding, dim, "embedding", path); !ok) return ok;
  if (std::find(std::begin(kTiers), std::end(kTiers), e.tier) == std::end(kTiers))
    return Error::in(path, "library: tier '" + e.tier +
                               "' is not one of student, open_local, open_cloud, premium");
  auto count_ok = [](int n) { return n >= 0 && n < kMaxCount; };
  if (!count_ok(e.tests_passed) || !count_ok(e.tests_failed) || !count_ok(e.uses) ||
      !count_ok(e.use_passes))
    return Error::in(path, "library: test and use counts cannot be negative");
  if (e.use_passes > e.uses)
    return Error::in(path, "library: use_passes (" + std::to_string(e.use_passes) +
                               ") cannot exceed uses (" + std::to_string(e.uses) + ")");
  if (!(e.confidence >= 0 && e.confidence <= 1))
    return Error::in(path, "library: confidence must be a number from 0 to 1, not " +
                               std::to_string(e.confidence));
  for (const std::string& name : e.relies_on)
    if (name.empty()) return Error::in(path, "library: relies_on holds an empty name");
  return {};
}

// relies_on, each name once in its first place, then names only the fingerprints give.
std::vector<std::string> relied_names(const Entry& e) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& name : e.relies_on)
    if (seen.insert(name).second) out.push_back(name);
  for (const auto& [name, _] : e.fingerprints)
    if (seen.insert(name).second) out.push_back(name);
  return out;
}

}  // namespace

const char* const kEntryColumns =
    "id, created_at, request, entry_point, signature, code, tests, embedding, tier, model, "
    "tests_passed, tests_failed, avoid, relies_on, fingerprints, valid, invalid_reason, uses, "
    "use_passes, confidence, pending";

Result<std::string> to_json(const std::vector<std::string>& list, std::string_view what) {
  try {
    return json(list).dump();
  } catch (const json::exception&) {
    return Error{"library: " + std::string(what) + " must be UTF-8 text"};
  }
}

Result<std::string> to_json(const std::map<std::string, std::string>& map) {
  try {
    return json(map).dump();
  } catch (const json::exception&) {
    return Error{"library: fingerprints must be UTF-8 text"};
  }
}

Result<Entry> read_entry(const Statement& row, int dim, const std::string& path) {
  Entry e;
  e.id = row.int64(0);
  e.created_at = row.text(1);
  e.request = row.text(2);
  e.entry_point = row.text(3);
  e.signature = row.text(4);
  e.code = row.text(5);
  auto tests = string_list(row.text(6), "tests", e.id, path);
  if (!tests) return tests.error();
  e.tests = std::move(tests).value();
  auto blob = row.blob(7);
  if (blob.size() != static_cast<size_t>(dim) * sizeof(float))
    return Error::in(path, entry_name(e.id) + ": its embedding has " + std::to_string(blob.size()) +
                               " bytes, not " + std::to_string(dim * sizeof(float)) + " (" +
                               std::to_string(dim) + " float32 values); delete " + path +
                               " to start over");
  e.embedding.resize(static_cast<size_t>(dim));
  std::memcpy(e.embedding.data(), blob.data(), blob.size());
  e.tier = row.text(8);
  e.model = row.text(9);
  e.tests_passed = static_cast<int>(row.int64(10));
  e.tests_failed = static_cast<int>(row.int64(11));
  e.avoid = row.int64(12) != 0;
  auto relies = string_list(row.text(13), "relies_on", e.id, path);
  if (!relies) return relies.error();
  e.relies_on = std::move(relies).value();
  json fp = json::parse(row.text(14), nullptr, false);
  if (!fp.is_object())
    return Error::in(path, entry_name(e.id) + ": its fingerprints column is not a JSON object");
  for (const auto& [name, value] : fp.items()) {
    if (!value.is_string())
      return Error::in(path, entry_name(e.id) + ": fingerprint of " + name + " is not a string");
    e.fingerprints[name] = value.get<std::string>();
  }
  e.valid = row.int64(15) != 0;
  e.invalid_reason = row.text(16);
  e.uses = static_cast<int>(row.int64(17));
  e.use_passes = static_cast<int>(row.int64(18));
  e.confidence = row.real(19);
  e.pending = row.int64(20) != 0;
  return e;
}

Result<Entry> load_entry(Library::State& s, int64_t id) {
  Statement q(s.db, std::string("SELECT ") + kEntryColumns + " FROM library_entries WHERE id=?",
              s.path);
  q.bind(1, id);
  auto row = q.step();
  if (!row) return row.error();
  if (!*row) return Error::in(s.path, "library: there is no entry " + std::to_string(id));
  return read_entry(q, s.dim, s.path);
}

Result<int64_t> Library::add(Entry e, Fingerprinter* fingerprinter) {
  State& s = *state_;
  if (auto ok = check_entry(e, s.dim, s.path); !ok) return ok.error();
  e.relies_on = relied_names(e);
  if (fingerprinter) {
    for (const std::string& name : e.relies_on) {
      if (e.fingerprints.count(name)) continue;
      auto fp = fingerprinter->fingerprint(name);
      if (!fp) return fp.error();
      if (!*fp)
        return Error::in(s.path, "library: the entry relies on " + name +
                                     ", which is not in the code graph; run `yantra index` or "
                                     "leave it out of relies_on");
      e.fingerprints[name] = **fp;
    }
  }
  if (e.created_at.empty()) e.created_at = utc_now();
  auto tests = to_json(e.tests, "tests");
  if (!tests) return tests.error();
  auto relies = to_json(e.relies_on, "relies_on");
  if (!relies) return relies.error();
  auto prints = to_json(e.fingerprints);
  if (!prints) return prints.error();
  std::vector<float> unit = normalised(e.embedding);

  std::lock_guard lock(s.mutex);
  auto tx = Transaction::begin(s.db, s.path);
  if (!tx) return tx.error();
  Statement ins(s.db,
                "INSERT INTO library_entries(created_at, request, entry_point, signature, code, "
                "tests, embedding, tier, model, tests_passed, tests_failed, avoid, relies_on, "
                "fingerprints, valid, invalid_reason, uses, use_passes, confidence, pending) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,'',?,?,?,?)",
                s.path);
  ins.bind(1, e.created_at).bind(2, e.request).bind(3, e.entry_point).bind(4, e.signature);
  ins.bind(5, e.code).bind(6, *tests);
  ins.bind_blob(7, e.embedding.data(), e.embedding.size() * sizeof(float));
  ins.bind(8, e.tier).bind(9, e.model).bind(10, int64_t{e.tests_passed});
  ins.bind(11, int64_t{e.tests_failed}).bind(12, int64_t{e.avoid}).bind(13, *relies);
  ins.bind(14, *prints).bind(15, int64_t{e.uses}).bind(16, int64_t{e.use_passes});
  ins.bind(17, e.confidence).bind(18, int64_t{e.pending});
  if (auto ok = ins.run(); !ok) return ok.error();
  int64_t id = sqlite3_last_insert_rowid(s.db);
  if (auto ok = tx->commit(); !ok) return ok.error();
  // The row is stored; an index that cannot take it now is rebuilt by the next search.
  // Avoid and pending entries are never reused: they share the index asked only on demand.
  bool aside = e.avoid || e.pending;
  VectorIndex& index = aside ? s.avoided : s.kept;
  if (index.add(id, unit)) {
    s.indexed[id] = aside;
  } else {
    s.data_version = -1;
  }
  return id;
}

Result<Entry> Library::get(int64_t id) {
  std::lock_guard lock(state_->mutex);
  return load_entry(*state_, id);
}

Result<void> Library::record_use(int64_t id, bool passed) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  auto tx = Transaction::begin(s.db, s.path);
  if (!tx) return tx.error();
  Statement up(s.db,
               "UPDATE library_entries SET uses = uses + 1, use_passes = use_passes + ? "
               "WHERE id = ?",
               s.path);
  if (auto ok = up.bind(1, int64_t{passed}).bind(2, id).run(); !ok) return ok;
  if (sqlite3_changes(s.db) == 0)
    return Error::in(s.path,
                     "library: there is no entry " + std::to_string(id) + " to record a use of");
  return tx->commit();
}

Result<std::vector<Entry>> Library::all_entries() {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  Statement q(s.db, std::string("SELECT ") + kEntryColumns + " FROM library_entries ORDER BY id",
              s.path);
  std::vector<Entry> out;
  for (;;) {
    auto row = q.step();
    if (!row) return row.error();
    if (!*row) break;
    auto e = read_entry(q, s.dim, s.path);
    if (!e) return e.error();
    out.push_back(std::move(e).value());
  }
  return out;
}

Result<size_t> Library::size(bool include_invalid) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  Statement q(s.db,
              include_invalid ? "SELECT count(*) FROM library_entries"
                              : "SELECT count(*) FROM library_entries WHERE valid = 1",
              s.path);
  auto row = q.step();
  if (!row) return row.error();
  return static_cast<size_t>(q.int64(0));
}

Result<size_t> Library::learned_size() {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  Statement q(s.db,
              "SELECT count(*) FROM library_entries WHERE valid = 1 AND avoid = 0 AND "
              "pending = 0 AND request != ''",
              s.path);
  auto row = q.step();
  if (!row) return row.error();
  return static_cast<size_t>(q.int64(0));
}

}  // namespace yantra::library
