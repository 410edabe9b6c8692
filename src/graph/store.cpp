#include "graph/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <cstring>

namespace yantra::graph {

// ---- Statement ------------------------------------------------------------------------

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK)
    throw FatalError(std::string("graph store: ") + sqlite3_errmsg(db) +
                     " in: " + std::string(sql));
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  return *this;
}
Statement& Statement::bind_blob(int i, std::string_view v) {
  sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw FatalError(std::string("graph store: ") + sqlite3_errmsg(db_));
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}
std::string_view Statement::text(int col) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
}
std::string_view Statement::blob(int col) const {
  auto p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
}
bool Statement::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

// ---- Store ----------------------------------------------------------------------------

namespace {

constexpr const char* kTables = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE files(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL, hash INTEGER NOT NULL, n_lines INTEGER NOT NULL,
  syntax_errors INTEGER NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
  facts BLOB);
CREATE TABLE nodes(
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, qname TEXT NOT NULL, name TEXT NOT NULL,
  file_id INTEGER REFERENCES files(id), line INTEGER, end_line INTEGER, col INTEGER,
  n_lines INTEGER, n_params INTEGER, signature TEXT, decorators TEXT, docstring TEXT,
  is_async INTEGER NOT NULL DEFAULT 0, complexity INTEGER, flags INTEGER NOT NULL DEFAULT 0,
  fp INTEGER NOT NULL,        -- fingerprint of the columns above: unchanged rows are not rewritten
  edges_fp INTEGER NOT NULL DEFAULT 0);  -- of the node's outgoing edges: likewise
CREATE TABLE edges(
  src INTEGER NOT NULL, kind TEXT NOT NULL, dst INTEGER NOT NULL,
  n INTEGER NOT NULL DEFAULT 1, line INTEGER, resolved INTEGER NOT NULL DEFAULT 1,
  toplevel INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(src, kind, dst)) WITHOUT ROWID;
)sql";

// Created after the rows on a first index: one sort beats 400,000 scattered inserts.
constexpr const char* kNodeIndexes = R"sql(
-- An unresolved name may spell a repository node's qname (calling an imported module):
-- a qname is unique among repository nodes and among externals.
CREATE UNIQUE INDEX nodes_by_qname ON nodes(qname, kind = 'external');
CREATE INDEX nodes_by_name ON nodes(name);
CREATE INDEX nodes_by_file ON nodes(file_id);
)sql";
constexpr const char* kEdgeIndexes = R"sql(
CREATE INDEX edges_by_dst ON edges(dst, kind);
)sql";

std::string sqlite_message(sqlite3* db) {
  return db ? sqlite3_errmsg(db) : "out of memory";
}

int64_t pragma_int(sqlite3* db, const char* pragma) {
  Statement s(db, std::string("PRAGMA ") + pragma);
  return s.step() ? s.int64(0) : 0;
}

}  // namespace

Result<Store> Store::open(const std::string& path, bool create) {
  struct stat st {};
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && !create)
    return Error::in(path, "no graph store here; run `yantra index` on the repository first");
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string why = sqlite_message(db);
    sqlite3_close(db);
    return Error::in(path, "cannot open graph store: " + why);
  }
  sqlite3_busy_timeout(db, 5000);
  Store store(db, path);
  try {
    if (auto ok = store.check_identity(); !ok) return ok.error();
  } catch (const FatalError& e) {
    return Error::in(path, std::string("not a usable Yantra graph store (") + e.what() +
                               "); move it aside and run `yantra index` again");
  }
  return store;
}

Store::Store(Store&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      final_path_(std::move(other.final_path_)),
      pending_(std::move(other.pending_)) {}

Store::~Store() {
  discard(), close();
}

void Store::create_indexes(bool nodes, bool edges) {
  if (nodes) exec(kNodeIndexes);
  if (edges) exec(kEdgeIndexes);
}

void Store::close() {
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
}

bool Store::empty() const {
  Statement s(db_, "SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM nodes)");
  return s.step() && s.int64(0) == 0;
}

Result<Store> Store::create_scratch(const std::string& path) {
  std::string scratch = path + ".new";
  ::unlink(scratch.c_str());  // a leftover of an interrupted run
  sqlite3* db = nullptr;
  // One thread at a time uses it (the writer, then the indexer after join): no mutex.
  if (sqlite3_open_v2(scratch.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = sqlite_message(db);
    sqlite3_close(db);
    return Error::in(scratch, "cannot create graph store: " + why);
  }
  Store store(db, scratch);
  store.final_path_ = path;
  try {
    // 16 KiB pages: a cold index of the standard library wrote its nodes, edges and indexes
    // 0.15 s faster than with 4 KiB (8 KiB: about the same; 64 KiB: slower).
    store.exec("PRAGMA page_size=16384");
    store.exec("PRAGMA journal_mode=OFF");
    store.exec("PRAGMA synchronous=OFF");
    store.exec("PRAGMA cache_size=-262144");
    store.exec("PRAGMA threads=2");  // CREATE INDEX sorts with helper threads
    store.exec(kTables);
    store.exec(("PRAGMA application_id=" + std::to_string(kApplicationId)).c_str());
    store.exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
  } catch (const FatalError& e) {
    return Error::in(scratch, e.what());
  }
  return store;
}

Result<void> Store::publish(Store& replaced) {
  try {
    create_indexes(false, true);
    exec("PRAGMA journal_mode=WAL");
  } catch (const FatalError& e) {
    return Error::in(path_, e.what());
  }
  close();
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);  // durable before it replaces the old
  if (fd >= 0) ::fsync(fd), ::close(fd);
  replaced.close();  // its WAL is checkpointed and removed: it must not apply to the new file
  if (::rename(path_.c_str(), final_path_.c_str()) != 0) {
    std::string why = std::strerror(errno);
    discard();
    return Error::in(final_path_, "cannot replace graph store: " + why);
  }
  final_path_.clear();
  return {};
}

void Store::discard() {
  if (final_path_.empty()) return;
  close();
  ::unlink(path_.c_str());
  final_path_.clear();
}

void Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite_message(db_);
    sqlite3_free(err);
    throw FatalError("graph store " + path_ + ": " + msg);
  }
}

Result<void> Store::check_identity() {
  // Reading the header fails with "file is not a database" for foreign bytes.
  int64_t app = pragma_int(db_, "application_id");
  int64_t version = pragma_int(db_, "user_version");
  int64_t tables = 0;
  {
    Statement s(db_, "SELECT count(*) FROM sqlite_master");
    if (s.step()) tables = s.int64(0);
  }
  if (app == 0 && tables == 0) {  // a new, empty database: ours to create
    exec("PRAGMA journal_mode=WAL");
    exec("BEGIN");
    exec(kTables);
    exec(kNodeIndexes);
    exec(kEdgeIndexes);
    exec(("PRAGMA application_id=" + std::to_string(kApplicationId)).c_str());
    exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
    exec("COMMIT");
  } else if (app != kApplicationId) {
    return Error::in(path_,
                     "this SQLite file belongs to another program, not Yantra; "
                     "it was left untouched. Move it aside or use another --store");
  } else if (version > kSchemaVersion) {
    return Error::in(path_, "written by a newer Yantra (graph schema " + std::to_string(version) +
                                ", this build reads up to " + std::to_string(kSchemaVersion) +
                                "); upgrade yantra or use another --store");
  } else if (version < kSchemaVersion) {
    return Error::in(path_, "written by an older Yantra (graph schema " + std::to_string(version) +
                                "); delete it and run `yantra index` to rebuild it");
  }
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=OFF");
  exec("PRAGMA cache_size=-65536");
  return {};
}

std::string Store::meta(std::string_view key) const {
  Statement s(db_, "SELECT value FROM meta WHERE key=?");
  s.bind(1, key);
  return s.step() ? std::string(s.text(0)) : std::string();
}

std::unordered_map<std::string, StoredFile> Store::files() const {
  std::unordered_map<std::string, StoredFile> out;
  Statement s(db_, "SELECT id, path, size, mtime_ns, hash FROM files");
  while (s.step())
    out.emplace(std::string(s.text(1)), StoredFile{s.int64(0), static_cast<uint64_t>(s.int64(2)),
                                                   s.int64(3), static_cast<uint64_t>(s.int64(4))});
  return out;
}

std::unordered_map<int64_t, std::string> Store::facts_blobs(const std::vector<int64_t>& ids) const {
  std::unordered_map<int64_t, std::string> out;
  out.reserve(ids.size());
  Statement s(db_, "SELECT facts FROM files WHERE id=?");
  for (int64_t id : ids) {
    s.bind(1, id);
    if (s.step() && !s.is_null(0)) out.emplace(id, std::string(s.blob(0)));
    s.reset();
  }
  return out;
}

}  // namespace yantra::graph
