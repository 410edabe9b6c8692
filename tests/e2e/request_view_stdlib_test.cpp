// Augmented requests find their entry again in a library of real requests: the functions
// with docstrings of a copy of Debian's CPython standard library, indexed by the real
// indexer, stored in a real library file. Each augmentation (rename, synonyms, typos,
// comments, reordered sentences), and all five at once, of 120 of them must retrieve its
// own entry among the nearest ten, by the request view and by the base encoder (trained on
// the whole standard library: these modules are in its training set, their augmented
// views are not); the hashed bag of words is measured beside them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "graph/graph.h"
#include "library/library.h"
#include "student/student.h"

namespace {

namespace fs = std::filesystem;
using namespace yantra;

const fs::path kStdlib = "/usr/lib/python3.11";
// Modules whose public functions say what they do in prose.
const char* kModules[] = {
    "textwrap.py",  "difflib.py",  "shutil.py", "string.py",  "statistics.py", "fractions.py",
    "ipaddress.py", "calendar.py", "glob.py",   "fnmatch.py", "heapq.py",      "bisect.py",
    "base64.py",    "quopri.py",   "uu.py",     "tarfile.py", "zipfile.py",    "email",
    "json",         "urllib",      "http",      "logging",    "collections",   "importlib"};

constexpr size_t kPairs = 600, kAsked = 120, kTopK = 10;

class RequestViewStdlib : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("yantra-view-stdlib-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* m : kModules) {
      ASSERT_TRUE(fs::exists(kStdlib / m)) << kStdlib / m << ": install Debian's python3.11";
      fs::copy(kStdlib / m, dir_ / m, fs::copy_options::recursive);
    }
    graph::IndexOptions o;
    o.root = dir_.string();
    o.progress = false;
    auto indexed = graph::index_repository(real_file_system(), o);
    ASSERT_TRUE(indexed.ok()) << indexed.error().message;
    auto graph = student::load_graph((dir_ / ".yantra/graph.db").string());
    ASSERT_TRUE(graph.ok()) << graph.error().message;
    pairs_ = student::docstring_pairs(*graph);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  struct Recall {
    size_t top1 = 0, top10 = 0, asked = 0;
  };
  static constexpr const char* kAll = "all five";

  // Every augmentation in turn: renamed, reworded, mistyped, reordered, in comments.
  static student::AugmentedRequest all_five(const student::RequestPair& p, uint64_t seed) {
    student::AugmentedRequest q{p.request, p.entry_point};
    for (student::Augmentation kind :
         {student::Augmentation::reorder, student::Augmentation::synonyms,
          student::Augmentation::typos, student::Augmentation::rename,
          student::Augmentation::comments})
      q = student::augment(q.request, q.entry_point, kind, seed++);
    return q;
  }

  // Stores the first kPairs requests embedded by `embed`, then asks every kind of
  // augmentation of every fifth one.
  template <class Embed>
  static std::map<std::string, Recall> measure(const std::string& name, Embed embed) {
    fs::path store = dir_ / ("library-" + name + ".db");
    auto lib = library::Library::open_db(store.string(), student::kTextEmbeddingDim);
    EXPECT_TRUE(lib.ok()) << lib.error().message;
    std::vector<int64_t> ids;
    for (size_t i = 0; i < kPairs; ++i) {
      library::Entry e;
      e.request = pairs_[i].request;
      e.entry_point = pairs_[i].entry_point;
      e.code = "pass";
      e.embedding = embed(e.request, e.entry_point);
      e.tier = "open_local";
      auto id = lib->add(e);
      EXPECT_TRUE(id.ok()) << id.error().message;
      ids.push_back(id.ok() ? *id : 0);
    }
    std::map<std::string, Recall> recall;
    auto ask = [&](const std::string& kind, const student::AugmentedRequest& q, int64_t id) {
      auto hits = lib->nearest(embed(q.request, q.entry_point), kTopK);
      EXPECT_TRUE(hits.ok());
      Recall& r = recall[kind];
      ++r.asked;
      for (size_t k = 0; k < hits->size(); ++k)
        if ((*hits)[k].entry.id == id) r.top1 += k == 0, ++r.top10;
    };
    for (size_t i = 0; i < kPairs && recall[kAll].asked < kAsked; i += 5) {
      for (student::Augmentation kind : student::kAugmentations)
        ask(std::string(to_string(kind)),
            student::augment(pairs_[i].request, pairs_[i].entry_point, kind, 1000 + i), ids[i]);
      ask(kAll, all_five(pairs_[i], 1000 + i), ids[i]);
    }
    return recall;
  }

  static fs::path dir_;
  static std::vector<student::RequestPair> pairs_;
};

fs::path RequestViewStdlib::dir_;
std::vector<student::RequestPair> RequestViewStdlib::pairs_;

TEST_F(RequestViewStdlib, AugmentedRequestsRetrieveTheirEntryAmongFiveHundred) {
  ASSERT_GE(pairs_.size(), kPairs) << "functions with docstrings in the copied modules";
  auto view = measure("view", [](const std::string& text, const std::string& name) {
    return student::view_embedding(student::view_request(text, name));
  });
  auto base = student::RequestEncoder::load(student::base_encoder_path());
  ASSERT_TRUE(base.ok()) << base.error().message;
  auto encoder = measure("encoder", [&](const std::string& text, const std::string& name) {
    return base->encode(student::view_request(text, name));
  });
  auto hashed = measure("hashed", [](const std::string& text, const std::string& name) {
    auto v = student::view_request(text, name);
    return student::text_embedding(name, v.params, text);
  });
  std::printf("%-10s %20s %18s %18s\n", "augment", "encoder top1/top10", "view top1/top10",
              "hashed top1/top10");
  for (const auto& [kind, r] : view) {
    const Recall &e = encoder[kind], &h = hashed[kind];
    std::printf("%-10s %10.3f / %6.3f %8.3f / %6.3f %8.3f / %6.3f\n", kind.c_str(),
                double(e.top1) / e.asked, double(e.top10) / e.asked, double(r.top1) / r.asked,
                double(r.top10) / r.asked, double(h.top1) / h.asked, double(h.top10) / h.asked);
    ASSERT_EQ(r.asked, kAsked);
    // The student tries the nearest ten: its own entry must be among them. The bag is
    // printed, not asserted: on these docstrings it does as well (see the README).
    EXPECT_GE(double(r.top10) / r.asked, kind == kAll ? 0.95 : 0.97) << kind;
    EXPECT_GE(double(e.top10) / e.asked, kind == kAll ? 0.95 : 0.97) << kind;
  }
}

}  // namespace
