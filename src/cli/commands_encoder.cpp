// `yantra train --encoder`: the request encoder. With --base-corpus, the base encoder from
// the docstrings of a corpus of Python code (Debian's CPython standard library when yantra
// is built); without, a repository's own, fine-tuned from the base on the requests its
// library learned, after which the library is re-embedded with it.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "graph/graph.h"
#include "library/library.h"
#include "router/router.h"
#include "student/student.h"

namespace yantra::cli {
namespace {

namespace fs = std::filesystem;
namespace s = yantra::student;

void print_report(const EncoderArgs& a, const std::string& what, size_t requests,
                  const s::EncoderTrainReport& r, const std::string& out,
                  const std::string& version) {
  if (a.json_out) {
    std::cout << nlohmann::json{{"encoder", out},     {"version", version},
                                {"trained_on", what}, {"requests", requests},
                                {"losses", r.losses}, {"seconds", r.seconds}}
                     .dump()
              << "\n";
    return;
  }
  std::cout << "request encoder trained on " << requests << " requests (" << what << "), "
            << format_fixed(r.seconds, 1) << " s; InfoNCE loss";
  for (double l : r.losses) std::cout << " " << format_fixed(l, 3);
  std::cout << "\nencoder: " << out << " (version " << version << ")\n";
}

s::EncoderTrainOptions train_options(const EncoderArgs& a) {
  s::EncoderTrainOptions o;
  if (a.steps > 0) o.steps = a.steps;
  o.seed = a.seed;
  return o;
}

// The base encoder: every function with a docstring in the corpus, from scratch.
int train_base(const EncoderArgs& a) {
  if (!fs::is_directory(a.base_corpus))
    throw FatalError("--base-corpus " + a.base_corpus + ": no such directory");
  fs::path store =
      fs::temp_directory_path() / ("yantra-encoder-corpus-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(store, ec);
  graph::IndexOptions o;
  o.root = a.base_corpus;
  o.store_dir = store.string();
  o.progress = false;
  auto indexed = graph::index_repository(real_file_system(), o);
  if (!indexed) throw FatalError(indexed.error().message);
  auto graph = s::load_graph((store / "graph.db").string());
  fs::remove_all(store, ec);
  if (!graph) throw FatalError(graph.error().message);
  std::vector<s::RequestPair> requests = s::docstring_pairs(*graph);
  if (requests.size() < 100)
    throw FatalError("--base-corpus " + a.base_corpus + ": only " +
                     std::to_string(requests.size()) +
                     " functions with docstrings; give a larger corpus of Python code");
  s::EncoderTrainReport report;
  s::RequestEncoder encoder = s::fine_tune_encoder(s::EncoderWeights::initial(a.seed), requests,
                                                   a.views, train_options(a), &report)
                                  .take();
  std::string out = a.out.empty() ? s::base_encoder_path() : a.out;
  encoder.save(out).take();
  print_report(a, "docstrings of " + a.base_corpus, requests.size(), report, out,
               encoder.version());
  return 0;
}

// The repository's own: fine-tuned from its current encoder on what its library learned.
int train_repo(const EncoderArgs& a) {
  if (!a.out.empty())
    throw FatalError(
        "--out: a repository's encoder lives in REPO/.yantra/student/ (its library "
        "is re-embedded with it); --out goes with --base-corpus");
  library::Library lib = library::Library::open(a.repo, s::kTextEmbeddingDim).take();
  s::EncoderTrainOptions o = router::kFineTune;
  if (a.steps > 0) o.steps = a.steps;
  o.seed = a.seed;
  router::EncoderRetrain r = router::retrain_library_encoder(a.repo, lib, o).take();
  if (!a.json_out) std::cout << "re-embedded " << r.reembedded << " library entries\n";
  print_report(a, "the library's learned requests", r.requests, r.report,
               s::repo_encoder_path(a.repo), r.version);
  return 0;
}

}  // namespace

int run_train_encoder(const EncoderArgs& a) {
  return a.base_corpus.empty() ? train_repo(a) : train_base(a);
}

}  // namespace yantra::cli
