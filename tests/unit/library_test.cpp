// The validated library on real SQLite files in temporary directories with the real hnswlib
// index: exact self-retrieval, order and ties on hand-made vectors, avoid filtering, an
// index rebuilt at reopen with the same answers, writes of another connection, bad input
// that says what to do, invalidation through a fake fingerprinter and through a real code
// graph of a temporary repository, use counts, and recall over 2,000 random 256-d entries.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>

#include "graph/graph.h"
#include "library/library.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace yantra::library;
using yantra::Error;
using yantra::Result;
using yantra::testing::contains;

#define ASSERT_OK(expr)                                            \
  do {                                                             \
    auto ok_ = (expr);                                             \
    ASSERT_TRUE(ok_.ok()) << #expr << ": " << ok_.error().message; \
  } while (0)

template <class T>
T must(Result<T> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(r).value();
}

Entry entry(std::vector<float> embedding, std::string name, bool avoid = false) {
  Entry e;
  e.request = "write " + name;
  e.entry_point = name;
  e.signature = "def " + name + "(x):";
  e.code = "def " + name + "(x):\n    return x\n";
  e.tests = {"assert " + name + "(1) == 1", "assert " + name + "(0) == 0"};
  e.embedding = std::move(embedding);
  e.tier = "open_local";
  e.model = "deepseek-coder";
  e.tests_passed = avoid ? 0 : 2;
  e.tests_failed = avoid ? 2 : 0;
  e.avoid = avoid;
  return e;
}

std::vector<float> random_vector(std::mt19937& rng, int dim) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(dim));
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<int64_t> ids_of(const std::vector<Hit>& hits) {
  std::vector<int64_t> ids;
  for (const Hit& h : hits) ids.push_back(h.entry.id);
  return ids;
}

// A fingerprinter that says what the test tells it.
class FakeFingerprinter : public Fingerprinter {
 public:
  std::map<std::string, std::string> prints;
  bool fail = false;
  int calls = 0;
  Result<std::optional<std::string>> fingerprint(std::string_view qname) override {
    ++calls;
    if (fail) return Error{"fake: cannot read " + std::string(qname)};
    auto it = prints.find(std::string(qname));
    if (it == prints.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
};

class LibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "yantra-library-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    repo_ = pattern;
  }
  void TearDown() override { fs::remove_all(repo_); }

  Library open(int dim) { return must(Library::open(repo_.string(), dim)); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((repo_ / rel).parent_path());
    std::ofstream(repo_ / rel, std::ios::binary) << text;
  }
  void index() {
    yantra::graph::IndexOptions o;
    o.root = repo_.string();
    o.progress = false;
    o.threads = 1;
    auto r = yantra::graph::index_repository(yantra::real_file_system(), o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->problems.empty()) << r->problems.front().message;
  }
  fs::path repo_;
};

TEST_F(LibraryTest, StoresEveryFieldAndFindsAnEntryByItsOwnEmbedding) {
  Library lib = open(8);
  EXPECT_EQ(lib.path(), repo_.string() + "/.yantra/library.db");
  EXPECT_TRUE(fs::exists(Library::db_path_for(repo_.string())));
  std::mt19937 rng(7);
  std::vector<std::vector<float>> vs;
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    vs.push_back(random_vector(rng, 8));
    Entry e = entry(vs.back(), std::string("f").append(std::to_string(i)));
    e.relies_on = {"pkg.a", "pkg.b", "pkg.a"};
    e.fingerprints = {{"pkg.a", "1111"}, {"pkg.c", "3333"}};
    e.confidence = 0.85;
    ids.push_back(must(lib.add(e)));
  }
  EXPECT_EQ(must(lib.size()), 5u);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto hits = must(lib.nearest(vs[i], 1));
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].entry.id, ids[i]);
    EXPECT_NEAR(hits[0].similarity, 1.0f, 1e-5);
  }
  Entry got = must(lib.get(ids[2]));
  EXPECT_EQ(got.id, ids[2]);
  EXPECT_EQ(got.request, "write f2");
  EXPECT_EQ(got.entry_point, "f2");
  EXPECT_EQ(got.signature, "def f2(x):");
  EXPECT_EQ(got.code, "def f2(x):\n    return x\n");
  EXPECT_EQ(got.tests, (std::vector<std::string>{"assert f2(1) == 1", "assert f2(0) == 0"}));
  EXPECT_EQ(got.embedding, vs[2]);  // exactly as given, not normalised
  EXPECT_EQ(got.tier, "open_local");
  EXPECT_EQ(got.model, "deepseek-coder");
  EXPECT_EQ(got.tests_passed, 2);
  EXPECT_EQ(got.tests_failed, 0);
  EXPECT_DOUBLE_EQ(got.confidence, 0.85);
  EXPECT_FALSE(got.avoid);
  // Duplicates dropped, names only the fingerprints give joined to relies_on.
  EXPECT_EQ(got.relies_on, (std::vector<std::string>{"pkg.a", "pkg.b", "pkg.c"}));
  EXPECT_EQ(got.fingerprints.at("pkg.a"), "1111");
  EXPECT_TRUE(got.valid);
  EXPECT_EQ(got.created_at.size(), 24u) << got.created_at;  // 2026-01-02T03:04:05.678Z
  EXPECT_EQ(got.created_at.back(), 'Z');
  EXPECT_EQ(got.uses, 0);
  auto missing = lib.get(9999);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.error().message, "no entry 9999"));
}

TEST_F(LibraryTest, OrdersBySimilarityOnHandMadeVectors) {
  Library lib = open(4);
  int64_t same = must(lib.add(entry({2, 0, 0, 0}, "same")));       // cos 1 (scaled)
  int64_t near = must(lib.add(entry({1, 1, 0, 0}, "near")));       // cos 0.7071
  int64_t far = must(lib.add(entry({0, 0, 3, 0}, "orthogonal")));  // cos 0
  int64_t away = must(lib.add(entry({-1, 0, 0, 0}, "opposite")));  // cos -1
  int64_t mid = must(lib.add(entry({1, 0, 1, 1}, "mid")));         // cos 0.5774
  std::vector<float> q = {1, 0, 0, 0};
  auto hits = must(lib.nearest(q, 10));
  ASSERT_EQ(ids_of(hits), (std::vector<int64_t>{same, near, mid, far, away}));
  EXPECT_NEAR(hits[0].similarity, 1.0, 1e-6);
  EXPECT_NEAR(hits[1].similarity, std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(hits[2].similarity, 1 / std::sqrt(3.0), 1e-6);
  EXPECT_NEAR(hits[3].similarity, 0.0, 1e-6);
  EXPECT_NEAR(hits[4].similarity, -1.0, 1e-6);
  EXPECT_EQ(ids_of(must(lib.nearest(q, 2))), (std::vector<int64_t>{same, near}));
  EXPECT_TRUE(must(lib.nearest(q, 0)).empty());
  // A query along (0,1,0,0): near first, then the three at cos 0 in id order.
  auto side = must(lib.nearest(std::vector<float>{0, 5, 0, 0}, 4));
  EXPECT_EQ(ids_of(side), (std::vector<int64_t>{near, same, far, away}));
}

TEST_F(LibraryTest, TiesAreBrokenBySmallerIdEvenPastTheFirstFetch) {
  Library lib = open(16);
  std::mt19937 rng(3);
  std::vector<float> twin = random_vector(rng, 16);
  // Others first, then 40 entries with the very same embedding: identical similarities.
  for (int i = 0; i < 100; ++i) must(lib.add(entry(random_vector(rng, 16), "other")));
  std::vector<int64_t> twins;
  for (int i = 0; i < 40; ++i)
    twins.push_back(must(lib.add(entry(twin, std::string("t").append(std::to_string(i))))));
  auto one = must(lib.nearest(twin, 1));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].entry.id, twins[0]);
  auto three = must(lib.nearest(twin, 3));
  EXPECT_EQ(ids_of(three), (std::vector<int64_t>{twins[0], twins[1], twins[2]}));
  auto all = must(lib.nearest(twin, 45));
  ASSERT_EQ(all.size(), 45u);
  for (size_t i = 0; i < twins.size(); ++i) EXPECT_EQ(all[i].entry.id, twins[i]) << i;
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].similarity, all[i].similarity);
}

TEST_F(LibraryTest, AvoidEntriesComeOnlyWhenAsked) {
  Library lib = open(3);
  EXPECT_TRUE(must(lib.nearest(std::vector<float>{1, 0, 0}, 3, true)).empty());  // empty library
  int64_t good = must(lib.add(entry({1, 0.2f, 0}, "good")));
  int64_t bad = must(lib.add(entry({1, 0, 0}, "bad", /*avoid=*/true)));
  int64_t other = must(lib.add(entry({0, 1, 0}, "other")));
  std::vector<float> q = {1, 0, 0};
  EXPECT_EQ(ids_of(must(lib.nearest(q, 5))), (std::vector<int64_t>{good, other}));
  auto with = must(lib.nearest(q, 5, /*include_avoid=*/true));
  EXPECT_EQ(ids_of(with), (std::vector<int64_t>{bad, good, other}));
  EXPECT_TRUE(with[0].entry.avoid);
  EXPECT_EQ(with[0].entry.tests_failed, 2);
  EXPECT_EQ(ids_of(must(lib.nearest(q, 1, true))), (std::vector<int64_t>{bad}));
  EXPECT_EQ(must(lib.size()), 3u);  // avoid entries are stored entries
  auto all = must(lib.all_entries());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].id, bad);
  EXPECT_TRUE(all[1].avoid);
  EXPECT_FALSE(all[0].avoid);
}

TEST_F(LibraryTest, PendingAnswersAreEvidenceNeverReusedAlone) {
  Library lib = open(3);
  int64_t learned = must(lib.add(entry({0, 1, 0}, "learned")));
  Entry e = entry({1, 0, 0}, "pending");
  e.pending = true;
  e.confidence = 0.6;
  int64_t pending = must(lib.add(e));
  std::vector<float> q = {1, 0, 0};
  EXPECT_EQ(ids_of(must(lib.nearest(q, 5))), (std::vector<int64_t>{learned}));
  auto with = must(lib.nearest(q, 5, /*include_avoid=*/true));
  ASSERT_EQ(ids_of(with), (std::vector<int64_t>{pending, learned}));
  EXPECT_TRUE(with[0].entry.pending);
  EXPECT_FALSE(with[0].entry.avoid);
  EXPECT_DOUBLE_EQ(with[0].entry.confidence, 0.6);
  Library reopened = open(3);  // the index built from the rows keeps it aside too
  EXPECT_EQ(ids_of(must(reopened.nearest(q, 5))), (std::vector<int64_t>{learned}));
  EXPECT_TRUE(must(reopened.get(pending)).pending);
  // Only the learned one counts as learned; an avoid entry does not either.
  Entry bad = entry({0, 0, 1}, "avoid");
  bad.avoid = true;
  must(reopened.add(bad));
  EXPECT_EQ(must(reopened.size()), 3u);
  EXPECT_EQ(must(reopened.learned_size()), 1u);
}

TEST_F(LibraryTest, ReopenRebuildsTheIndexWithTheSameAnswers) {
  std::mt19937 rng(11);
  std::vector<std::vector<float>> queries;
  for (int i = 0; i < 25; ++i) queries.push_back(random_vector(rng, 32));
  std::vector<std::vector<Hit>> before;
  FakeFingerprinter fp;
  fp.prints = {{"pkg.f", "v1"}};
  int64_t pinned = 0;
  {
    Library lib = open(32);
    for (int i = 0; i < 300; ++i) {
      Entry e =
          entry(random_vector(rng, 32), std::string("f").append(std::to_string(i)), i % 10 == 0);
      if (i == 0) e.avoid = false;
      if (i == 0) e.relies_on = {"pkg.f"};
      int64_t id = must(lib.add(e, &fp));
      if (i == 0) pinned = id;
    }
    fp.prints["pkg.f"] = "v2";
    ASSERT_EQ(must(lib.invalidate_changed(fp)), 1u);
    for (const auto& q : queries) before.push_back(must(lib.nearest(q, 7, true)));
  }
  Library again = open(32);
  EXPECT_EQ(must(again.size()), 299u);
  EXPECT_EQ(must(again.size(true)), 300u);
  for (size_t i = 0; i < queries.size(); ++i) {
    auto after = must(again.nearest(queries[i], 7, true));
    ASSERT_EQ(ids_of(after), ids_of(before[i])) << "query " << i;
    for (size_t j = 0; j < after.size(); ++j) {
      EXPECT_FLOAT_EQ(after[j].similarity, before[i][j].similarity);
      EXPECT_NE(after[j].entry.id, pinned);
    }
  }
  // The invalid entry stays out of the rebuilt index even for its own embedding.
  Entry gone = must(again.get(pinned));
  EXPECT_FALSE(gone.valid);
  for (const Hit& h : must(again.nearest(gone.embedding, 5, true))) EXPECT_NE(h.entry.id, pinned);
}

TEST_F(LibraryTest, SeesWhatAnotherConnectionWrote) {
  Library a = open(4);
  Library b = open(4);
  int64_t id = must(a.add(entry({0, 0, 1, 0}, "from_a")));
  auto hits = must(b.nearest(std::vector<float>{0, 0, 1, 0}, 1));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry.id, id);
  FakeFingerprinter fp;
  Entry pinned = entry({0, 1, 0, 0}, "pinned");
  pinned.relies_on = {"pkg.g"};
  pinned.fingerprints = {{"pkg.g", "old"}};
  int64_t pid = must(a.add(pinned));
  EXPECT_EQ(ids_of(must(b.nearest(std::vector<float>{0, 1, 0, 0}, 1))),
            (std::vector<int64_t>{pid}));
  fp.prints = {{"pkg.g", "new"}};
  ASSERT_EQ(must(a.invalidate_changed(fp)), 1u);
  EXPECT_EQ(ids_of(must(b.nearest(std::vector<float>{0, 1, 0, 0}, 1))), (std::vector<int64_t>{id}));
  ASSERT_OK(b.record_use(id, true));
  EXPECT_EQ(must(a.get(id)).uses, 1);
}

TEST_F(LibraryTest, BadInputSaysWhatIsWrongAndWhatToDo) {
  {
    Library lib = open(256);
    std::vector<float> v(256, 0.5f);
    must(lib.add(entry(v, "ok")));

    auto short_one = lib.add(entry(std::vector<float>(128, 1.0f), "short"));
    ASSERT_FALSE(short_one.ok());
    EXPECT_TRUE(contains(short_one.error().message, "embedding has 128 values"));
    EXPECT_TRUE(contains(short_one.error().message, "256-dimensional"));

    std::vector<float> nan = v;
    nan[17] = std::numeric_limits<float>::quiet_NaN();
    auto bad = lib.add(entry(nan, "nan"));
    ASSERT_FALSE(bad.ok());
    EXPECT_TRUE(contains(bad.error().message, "value 17 is not a finite number"));
    auto zero = lib.add(entry(std::vector<float>(256, 0.0f), "zero"));
    ASSERT_FALSE(zero.ok());
    EXPECT_TRUE(contains(zero.error().message, "all zeros"));

    Entry no_code = entry(v, "empty");
    no_code.code = "  \n";
    auto empty = lib.add(no_code);
    ASSERT_FALSE(empty.ok());
    EXPECT_TRUE(contains(empty.error().message, "needs its code"));
    Entry tier = entry(v, "tier");
    tier.tier = "gold";
    auto t = lib.add(tier);
    ASSERT_FALSE(t.ok());
    EXPECT_TRUE(contains(t.error().message, "tier 'gold'"));
    Entry counts = entry(v, "counts");
    counts.tests_failed = -1;
    EXPECT_FALSE(lib.add(counts).ok());
    Entry sure = entry(v, "sure");
    sure.confidence = 1.5;
    auto c = lib.add(sure);
    ASSERT_FALSE(c.ok());
    EXPECT_TRUE(contains(c.error().message, "confidence must be a number from 0 to 1"));

    auto q = lib.nearest(std::vector<float>(64, 1.0f), 3);
    ASSERT_FALSE(q.ok());
    EXPECT_TRUE(contains(q.error().message, "query embedding has 64 values"));
    EXPECT_FALSE(lib.nearest(v, -1).ok());
    auto use = lib.record_use(4242, true);
    ASSERT_FALSE(use.ok());
    EXPECT_TRUE(contains(use.error().message, "no entry 4242"));
    EXPECT_EQ(must(lib.size()), 1u);  // nothing half-stored
  }
  auto other = Library::open(repo_.string(), 128);
  ASSERT_FALSE(other.ok());
  const std::string& msg = other.error().message;
  EXPECT_TRUE(contains(msg, "holds 256-dimensional embeddings")) << msg;
  EXPECT_TRUE(contains(msg, "128")) << msg;
  EXPECT_TRUE(contains(msg, "Delete " + repo_.string() + "/.yantra/library.db")) << msg;
  EXPECT_EQ(must(open(256).size()), 1u);  // the refused open changed nothing

  EXPECT_FALSE(Library::open(repo_.string(), 0).ok());
  write("not-a-db", "hello, this is text and not SQLite at all.........................");
  auto text = Library::open_db((repo_ / "not-a-db").string(), 8);
  ASSERT_FALSE(text.ok());
  EXPECT_TRUE(contains(text.error().message, "not-a-db")) << text.error().message;
  // A SQLite file of another program is refused and left as it was.
  std::string foreign = (repo_ / "foreign.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "PRAGMA application_id=1234; CREATE TABLE t(x);", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto refused = Library::open_db(foreign, 8);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error().message, "another program"));
}

TEST_F(LibraryTest, InvalidatesEntriesWhoseFunctionsChangedOrWentAway) {
  Library lib = open(4);
  FakeFingerprinter fp;
  fp.prints = {{"pkg.a", "a1"}, {"pkg.b", "b1"}, {"os.path.join", "external"}};
  Entry ea = entry({1, 0, 0, 0}, "uses_a");
  ea.relies_on = {"pkg.a", "os.path.join"};
  Entry eb = entry({0, 1, 0, 0}, "uses_b");
  eb.relies_on = {"pkg.b"};
  Entry free = entry({0, 0, 1, 0}, "relies_on_nothing");
  int64_t a = must(lib.add(ea, &fp));
  int64_t b = must(lib.add(eb, &fp));
  int64_t n = must(lib.add(free, &fp));
  EXPECT_EQ(must(lib.get(a)).fingerprints,
            (std::map<std::string, std::string>{{"pkg.a", "a1"}, {"os.path.join", "external"}}));
  Entry unknown = entry({0, 0, 0, 1}, "unknown");
  unknown.relies_on = {"pkg.nowhere"};
  auto refused = lib.add(unknown, &fp);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.error().message, "pkg.nowhere"));

  EXPECT_EQ(must(lib.invalidate_changed(fp)), 0u);  // nothing changed
  fp.prints["pkg.a"] = "a2";
  fp.fail = true;  // a fingerprinter that cannot tell: nothing is written
  EXPECT_FALSE(lib.invalidate_changed(fp).ok());
  EXPECT_TRUE(must(lib.get(a)).valid);
  fp.fail = false;
  fp.calls = 0;
  ASSERT_EQ(must(lib.invalidate_changed(fp)), 1u);
  EXPECT_EQ(fp.calls, 3);  // each distinct name once
  Entry got = must(lib.get(a));
  EXPECT_FALSE(got.valid);
  EXPECT_TRUE(contains(got.invalid_reason, "pkg.a")) << got.invalid_reason;
  EXPECT_TRUE(contains(got.invalid_reason, "changed")) << got.invalid_reason;
  EXPECT_EQ(must(lib.size()), 2u);
  EXPECT_EQ(must(lib.size(true)), 3u);
  auto all = must(lib.all_entries());  // invalid ones too, by id
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, a);
  EXPECT_FALSE(all[0].valid);
  EXPECT_TRUE(all[1].valid);
  auto hits = must(lib.nearest(std::vector<float>{1, 0, 0, 0}, 3));
  EXPECT_EQ(ids_of(hits), (std::vector<int64_t>{b, n}));  // b and n at cos 0, by id

  fp.prints.erase("pkg.b");
  ASSERT_EQ(must(lib.invalidate_changed(fp)), 1u);
  EXPECT_TRUE(contains(must(lib.get(b)).invalid_reason, "pkg.b is no longer in the code graph"));
  EXPECT_EQ(must(lib.invalidate_changed(fp)), 0u);  // invalid entries are not counted again
  EXPECT_EQ(ids_of(must(lib.nearest(std::vector<float>{0, 1, 0, 0}, 3))),
            (std::vector<int64_t>{n}));
}

TEST_F(LibraryTest, InvalidatesThroughTheRealCodeGraph) {
  write("pkg/__init__.py", "");
  write("pkg/mod.py",
        "import json\n\n\n"
        "def helper(x):\n    return x + 1\n\n\n"
        "def stable(y):\n    return json.dumps(y)\n");
  write("pkg/use.py",
        "from pkg.mod import helper\n\n\n"
        "def twice(x):\n    return helper(helper(x))\n");
  index();
  std::string graph_db = repo_.string() + "/.yantra/graph.db";
  Library lib = open(4);
  int64_t on_helper = 0, on_stable = 0, on_twice = 0;
  {
    GraphFingerprinter fp = must(GraphFingerprinter::open(graph_db, repo_.string()));
    auto h = must(fp.fingerprint("pkg.mod.helper"));
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->size(), 16u);
    EXPECT_EQ(must(fp.fingerprint("json.dumps")), std::optional<std::string>("external"));
    EXPECT_FALSE(must(fp.fingerprint("helper")).has_value());  // exact qualified names only
    EXPECT_FALSE(must(fp.fingerprint("pkg.mod.nothing")).has_value());
    EXPECT_NE(must(fp.fingerprint("pkg.mod.stable")), h);

    Entry a = entry({1, 0, 0, 0}, "add_one");
    a.relies_on = {"pkg.mod.helper"};
    Entry b = entry({0, 1, 0, 0}, "dump");
    b.relies_on = {"pkg.mod.stable", "json.dumps"};
    Entry c = entry({0, 0, 1, 0}, "add_two");
    c.relies_on = {"pkg.use.twice"};
    on_helper = must(lib.add(a, &fp));
    on_stable = must(lib.add(b, &fp));
    on_twice = must(lib.add(c, &fp));
    GraphFingerprinter same = must(GraphFingerprinter::open(graph_db, repo_.string()));
    EXPECT_EQ(must(lib.invalidate_changed(same)), 0u);
  }
  // helper's body changes; a comment above it moves stable down without changing it.
  write("pkg/mod.py",
        "import json\n\n# helpers\n\n"
        "def helper(x):\n    return x + 2\n\n\n"
        "def stable(y):\n    return json.dumps(y)\n");
  index();
  {
    GraphFingerprinter fp = must(GraphFingerprinter::open(graph_db, repo_.string()));
    ASSERT_EQ(must(lib.invalidate_changed(fp)), 1u);
  }
  Entry changed = must(lib.get(on_helper));
  EXPECT_FALSE(changed.valid);
  EXPECT_TRUE(contains(changed.invalid_reason, "pkg.mod.helper")) << changed.invalid_reason;
  EXPECT_TRUE(must(lib.get(on_stable)).valid);
  EXPECT_TRUE(must(lib.get(on_twice)).valid);
  EXPECT_EQ(ids_of(must(lib.nearest(std::vector<float>{1, 0, 0, 0}, 1))),
            (std::vector<int64_t>{on_stable}));  // tied at cos 0 with on_twice: smaller id

  // stable is deleted: its entry goes too, with a reason that says so.
  write("pkg/mod.py", "def helper(x):\n    return x + 2\n");
  index();
  GraphFingerprinter fp = must(GraphFingerprinter::open(graph_db, repo_.string()));
  ASSERT_EQ(must(lib.invalidate_changed(fp)), 1u);
  Entry removed = must(lib.get(on_stable));
  EXPECT_FALSE(removed.valid);
  EXPECT_TRUE(contains(removed.invalid_reason, "pkg.mod.stable")) << removed.invalid_reason;
  EXPECT_TRUE(must(lib.get(on_twice)).valid);
  EXPECT_EQ(must(lib.size()), 1u);
}

TEST_F(LibraryTest, RecordsUsesAndPasses) {
  Library lib = open(2);
  int64_t id = must(lib.add(entry({1, 1}, "f")));
  int64_t other = must(lib.add(entry({1, -1}, "g")));
  ASSERT_OK(lib.record_use(id, true));
  ASSERT_OK(lib.record_use(id, false));
  ASSERT_OK(lib.record_use(id, true));
  ASSERT_OK(lib.record_use(other, false));
  Entry e = must(lib.get(id));
  EXPECT_EQ(e.uses, 3);
  EXPECT_EQ(e.use_passes, 2);
  EXPECT_EQ(must(lib.get(other)).uses, 1);
  EXPECT_EQ(must(lib.get(other)).use_passes, 0);
  auto hits = must(lib.nearest(std::vector<float>{1, 1}, 1));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry.uses, 3);
  Entry inconsistent = entry({1, 0}, "h");
  inconsistent.uses = 1;
  inconsistent.use_passes = 2;
  EXPECT_FALSE(lib.add(inconsistent).ok());
}

TEST_F(LibraryTest, RecallOfTwoThousandRandomEntriesIsExact) {
  constexpr int kDim = 256;
  constexpr int kCount = 2000;
  std::mt19937 rng(2024);
  std::vector<std::vector<float>> vs;
  std::vector<int64_t> ids;
  {
    Library lib = open(kDim);
    for (int i = 0; i < kCount; ++i) {
      vs.push_back(random_vector(rng, kDim));
      ids.push_back(must(lib.add(entry(vs.back(), std::string("f").append(std::to_string(i))))));
    }
  }
  Library lib = open(kDim);  // the index rebuilt from the rows
  ASSERT_EQ(must(lib.size()), static_cast<size_t>(kCount));
  int misses = 0;
  for (int i = 0; i < kCount; ++i) {
    auto hits = must(lib.nearest(vs[static_cast<size_t>(i)], 1));
    ASSERT_EQ(hits.size(), 1u);
    if (hits[0].entry.id != ids[static_cast<size_t>(i)]) ++misses;
    EXPECT_NEAR(hits[0].similarity, 1.0f, 1e-4) << i;
  }
  EXPECT_EQ(misses, 0);
}

}  // namespace

namespace {

// Embeds a request as a one-hot vector picked by its first letter: two embedders that
// disagree on every entry.
Embedder letter_embedder(std::string name, int dim, int shift) {
  return {std::move(name), [dim, shift](const Entry& e) {
            std::vector<float> v(static_cast<size_t>(dim), 0.0f);
            v[static_cast<size_t>((e.entry_point[0] + shift) % dim)] = 1.0f;
            return v;
          }};
}

}  // namespace

TEST_F(LibraryTest, ANewEmbedderReembedsEveryEntryOnceAndSearchesInItsSpace) {
  std::mt19937 rng(5);
  int64_t a = 0, b = 0;
  {
    Library lib = open(16);
    a = must(lib.add(entry(random_vector(rng, 16), "alpha")));
    b = must(lib.add(entry(random_vector(rng, 16), "beta", /*avoid=*/true)));
  }
  Embedder first = letter_embedder("letters-1", 16, 0);
  {
    Library lib = open(16);
    EXPECT_EQ(must(lib.use_embedder(first)), 2u) << "entries stored before embedders had names";
    EXPECT_EQ(must(lib.use_embedder(first)), 0u) << "the same embedder again changes nothing";
    auto hits = must(lib.nearest(first.embed(entry({}, "alpha")), 1));
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].entry.id, a);
    EXPECT_FLOAT_EQ(hits[0].similarity, 1.0f) << "the in-memory index holds the new vectors";
    auto with_avoid = must(lib.nearest(first.embed(entry({}, "beta")), 1, true));
    ASSERT_EQ(with_avoid.size(), 1u);
    EXPECT_EQ(with_avoid[0].entry.id, b);
    EXPECT_FLOAT_EQ(with_avoid[0].similarity, 1.0f);
  }
  Library again = open(16);
  EXPECT_EQ(must(again.use_embedder(first)), 0u) << "the name is stored with the library";
  Embedder second = letter_embedder("letters-2", 16, 3);
  EXPECT_EQ(must(again.use_embedder(second)), 2u);
  auto hits = must(again.nearest(second.embed(entry({}, "alpha")), 1));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry.id, a);
  EXPECT_FLOAT_EQ(hits[0].similarity, 1.0f);
}

TEST_F(LibraryTest, AnEmbedderGivingBadVectorsChangesNothing) {
  std::mt19937 rng(6);
  Library lib = open(8);
  std::vector<float> v = random_vector(rng, 8);
  int64_t id = must(lib.add(entry(v, "alpha")));
  Embedder wrong{"short", [](const Entry&) { return std::vector<float>(3, 1.0f); }};
  auto r = lib.use_embedder(wrong);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "embedding of entry")) << r.error().message;
  EXPECT_EQ(must(lib.get(id)).embedding, v) << "the transaction rolled back";
  Embedder good = letter_embedder("letters-1", 8, 0);
  EXPECT_EQ(must(lib.use_embedder(good)), 1u) << "the failed one was not recorded";
}
