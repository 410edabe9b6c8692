// labels.db: what the analysers and the test-kind query found per file, keyed by the
// file's content hash in graph.db, so that a second run re-analyses only what changed.
// A file of its own beside graph.db: a first index renames a fresh graph.db into place,
// which would drop anything kept inside it.
#include <sqlite3.h>

#include <cstdlib>
#include <utility>

#include "base/sqlite_statement.h"
#include "labels/internal.h"

namespace yantra::labels {
namespace {

constexpr std::string_view kPart = "labels";
constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 10000;
constexpr std::string_view kIfUnusable = "it is only a cache: move it aside and run again";

// Findings are kept raw (a line, not a function): which function holds a line is the
// graph's to say, and the graph may be re-indexed without the file changing.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS labels_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS label_files(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  hash INTEGER NOT NULL,
  pyflakes_version TEXT NOT NULL,
  pyflakes_error TEXT NOT NULL,
  pylint_version TEXT NOT NULL,
  pylint_error TEXT NOT NULL,
  tests_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS label_findings(
  file_id INTEGER NOT NULL,
  analyser TEXT NOT NULL,
  line INTEGER NOT NULL,
  kind TEXT NOT NULL,
  probability REAL NOT NULL,
  code TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS label_findings_by_file ON label_findings(file_id);
CREATE TABLE IF NOT EXISTS label_tests(
  file_id INTEGER NOT NULL,
  line INTEGER NOT NULL,
  qname TEXT NOT NULL,
  kinds TEXT NOT NULL,  -- "needs_mock,empty_input@dumps": @name aims a kind at one callee
  PRIMARY KEY(file_id, line));
INSERT OR IGNORE INTO labels_info VALUES('schema_version', '1');
)sql";

constexpr std::string_view kTables[] = {"labels_info", "label_files", "label_findings",
                                        "label_tests"};

Result<void> exec(sqlite3* db, const char* sql, const std::string& path) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) == SQLITE_OK) return {};
  std::string why = err ? err : sqlite3_errmsg(db);
  sqlite3_free(err);
  return Error::in(path, std::string(kPart).append(": ").append(why));
}

// Ours: Yantra's application id and only labels tables, or an empty file (a new store).
// Anything else is another program's file, or another Yantra store under this name.
Result<bool> check_ownership(sqlite3* db, const std::string& path) {
  if (auto ok = check_yantra_store(db, path, kPart, kIfUnusable); !ok) return ok.error();
  SqliteStatement tables(db, "SELECT name FROM sqlite_master WHERE type = 'table'", path, kPart);
  size_t count = 0;
  auto read = tables.for_each_row([&]() -> Result<void> {
    ++count;
    std::string name = tables.text(0);
    bool ours = name.starts_with("sqlite_");  // SQLite's own (sqlite_stat1...)
    for (std::string_view t : kTables) ours |= t == name;
    if (!ours)
      return Error::in(path, std::string("holds a table `")
                                 .append(name)
                                 .append("` that is not Yantra's labels cache; it was left "
                                         "untouched. Move it aside or use another store "
                                         "directory"));
    return {};
  });
  if (!read) return read.error();
  SqliteStatement app(db, "PRAGMA application_id", path, kPart);
  if (auto r = app.step(); !r) return r.error();
  if (app.int64(0) == 0 && count > 0)
    return Error::in(path,
                     "this SQLite file belongs to another program, not Yantra; it was "
                     "left untouched");
  return count == 0;
}

Result<void> prepare(sqlite3* db, const std::string& path, bool fresh) {
  // WAL: readers (training) see the last committed labels while a run writes new ones.
  if (auto ok = exec(db, "PRAGMA journal_mode=WAL", path); !ok) return ok;
  if (auto ok = exec(db, "PRAGMA synchronous=NORMAL", path); !ok) return ok;
  if (auto ok = exec(db, "BEGIN IMMEDIATE", path); !ok) return ok;
  auto done = [&](Result<void> r) -> Result<void> {
    if (!r) return exec(db, "ROLLBACK", path).ok(), r;
    return exec(db, "COMMIT", path);
  };
  if (auto ok = exec(db, kSchema, path); !ok) return done(ok);
  if (fresh) {
    std::string app = "PRAGMA application_id=" + std::to_string(kYantraApplicationId);
    if (auto ok = exec(db, app.c_str(), path); !ok) return done(ok);
  }
  SqliteStatement version(db, "SELECT value FROM labels_info WHERE key = 'schema_version'", path,
                          kPart);
  auto row = version.step();
  if (!row) return done(row.error());
  if (*row && std::atoi(version.text(0).c_str()) > kSchemaVersion)
    return done(Error::in(path, "labels written by a newer Yantra (schema " + version.text(0) +
                                    "); upgrade yantra or move the file aside"));
  return done({});
}

}  // namespace

Result<LabelStore> LabelStore::open(const std::string& path) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error::in(path, "cannot open the labels store: " + why);
  }
  LabelStore store(db, path);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // Nothing is written before the file is known to be ours.
  auto fresh = check_ownership(db, path);
  if (!fresh) return fresh.error();
  if (auto ok = prepare(db, path, *fresh); !ok) return ok.error();
  return store;
}

LabelStore::LabelStore(LabelStore&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

LabelStore::~LabelStore() {
  if (db_) sqlite3_close(db_);
}

Result<std::unordered_map<std::string, CachedFile>> LabelStore::load() const {
  std::unordered_map<std::string, CachedFile> files;
  std::unordered_map<int64_t, CachedFile*> by_id;
  SqliteStatement f(db_,
                    "SELECT id, path, hash, pyflakes_version, pyflakes_error, pylint_version, "
                    "pylint_error, tests_version FROM label_files",
                    path_, kPart);
  auto read = f.for_each_row([&] {
    CachedFile& c = files[f.text(1)];
    c.hash = static_cast<uint64_t>(f.int64(2));
    c.version[0] = f.text(3), c.error[0] = f.text(4);
    c.version[1] = f.text(5), c.error[1] = f.text(6);
    c.tests_version = static_cast<uint64_t>(f.int64(7));
    by_id[f.int64(0)] = &c;
  });
  if (!read) return read.error();
  SqliteStatement s(db_,
                    "SELECT file_id, analyser, line, kind, probability, code FROM label_findings",
                    path_, kPart);
  read = s.for_each_row([&] {
    auto it = by_id.find(s.int64(0));
    auto kind = bug_kind_from_name(s.text(3));
    if (it == by_id.end() || !kind) return;  // a kind this build no longer knows
    Finding x;
    x.line = static_cast<uint32_t>(s.int64(2));
    x.kind = *kind;
    x.probability = static_cast<float>(s.real(4));
    x.analyser = s.text(1) == kAnalyserNames[1] ? Analyser::kPylint : Analyser::kPyflakes;
    x.code = s.text(5);
    it->second->findings.push_back(std::move(x));
  });
  if (!read) return read.error();
  SqliteStatement t(db_, "SELECT file_id, line, qname, kinds FROM label_tests", path_, kPart);
  read = t.for_each_row([&] {
    auto it = by_id.find(t.int64(0));
    if (it == by_id.end()) return;
    it->second->tests.push_back(
        {static_cast<uint32_t>(t.int64(1)), t.text(2), parse_test_kinds(t.text(3))});
  });
  if (!read) return read.error();
  return files;
}

Result<void> LabelStore::update(const std::unordered_map<std::string, CachedFile>& changed,
                                const std::vector<std::string>& removed) {
  if (changed.empty() && removed.empty()) return {};
  if (auto ok = exec(db_, "BEGIN IMMEDIATE", path_); !ok) return ok;
  auto body = [&]() -> Result<void> {
    SqliteStatement find(db_, "SELECT id FROM label_files WHERE path = ?", path_, kPart);
    SqliteStatement drop_findings(db_, "DELETE FROM label_findings WHERE file_id = ?", path_,
                                  kPart);
    SqliteStatement drop_tests(db_, "DELETE FROM label_tests WHERE file_id = ?", path_, kPart);
    SqliteStatement drop_file(db_, "DELETE FROM label_files WHERE id = ?", path_, kPart);
    SqliteStatement put_file(
        db_,
        "INSERT INTO label_files(path, hash, pyflakes_version, pyflakes_error, "
        "pylint_version, pylint_error, tests_version) VALUES(?,?,?,?,?,?,?)",
        path_, kPart);
    SqliteStatement put_finding(
        db_,
        "INSERT INTO label_findings(file_id, analyser, line, kind, probability, "
        "code) VALUES(?,?,?,?,?,?)",
        path_, kPart);
    SqliteStatement put_test(db_, "INSERT OR REPLACE INTO label_tests VALUES(?,?,?,?)", path_,
                             kPart);
    // Every row of a file goes, then a changed file's rows come back: one path for both.
    auto drop = [&](const std::string& path) -> Result<void> {
      auto row = find.bind(1, path).step();
      if (!row) return row.error();
      int64_t id = *row ? find.int64(0) : -1;
      find.reset();
      if (id < 0) return {};
      if (auto ok = drop_findings.bind(1, id).run(); !ok) return ok;
      if (auto ok = drop_tests.bind(1, id).run(); !ok) return ok;
      return drop_file.bind(1, id).run();
    };
    for (const std::string& path : removed)
      if (auto ok = drop(path); !ok) return ok;
    for (const auto& [path, file] : changed) {
      if (auto ok = drop(path); !ok) return ok;
      put_file.bind(1, path).bind(2, static_cast<int64_t>(file.hash));
      put_file.bind(3, file.version[0]).bind(4, file.error[0]);
      put_file.bind(5, file.version[1]).bind(6, file.error[1]);
      put_file.bind(7, static_cast<int64_t>(file.tests_version));
      if (auto ok = put_file.run(); !ok) return ok;
      int64_t id = sqlite3_last_insert_rowid(db_);
      for (const Finding& x : file.findings) {
        put_finding.bind(1, id).bind(2, kAnalyserNames[static_cast<int>(x.analyser)]);
        put_finding.bind(3, static_cast<int64_t>(x.line)).bind(4, kBugKindNames[x.kind]);
        put_finding.bind(5, static_cast<double>(x.probability)).bind(6, x.code);
        if (auto ok = put_finding.run(); !ok) return ok;
      }
      for (const CachedTest& t : file.tests) {
        put_test.bind(1, id).bind(2, static_cast<int64_t>(t.line)).bind(3, t.qname);
        put_test.bind(4, test_kinds_text(t.kinds));
        if (auto ok = put_test.run(); !ok) return ok;
      }
    }
    return {};
  };
  if (auto ok = body(); !ok) {
    exec(db_, "ROLLBACK", path_).ok();
    return ok;
  }
  return exec(db_, "COMMIT", path_);
}

}  // namespace yantra::labels
