// The request encoder a repository's router uses, and its fine-tuning on what the library
// learned: the encoder, the library's embeddings and the router's view stay one space.
#include <filesystem>
#include <fstream>

#include "router/router.h"

namespace yantra::router {
namespace {

// How many learned requests the encoder last trained on, kept beside it.
std::string count_path(const std::string& repo_dir) {
  return student::repo_encoder_path(repo_dir) + ".entries";
}

size_t trained_on(const std::string& repo_dir) {
  std::ifstream in(count_path(repo_dir));
  size_t n = 0;
  return in >> n ? n : 0;
}

std::vector<student::RequestPair> learned_requests(library::Library& lib) {
  std::vector<student::RequestPair> requests;
  auto entries = lib.all_entries();
  if (!entries) return requests;
  for (const library::Entry& e : *entries)
    if (e.valid && !e.avoid && !e.pending && !e.request.empty())
      requests.push_back({e.request, e.entry_point, "library #" + std::to_string(e.id)});
  return requests;
}

}  // namespace

Result<library::Embedder> repository_embedder(const std::string& repo_dir) {
  auto encoder = student::load_encoder(repo_dir);
  if (!encoder) return encoder.error();
  return encoder_embedder(std::make_shared<const student::RequestEncoder>(*std::move(encoder)));
}

Result<EncoderRetrain> retrain_library_encoder(const std::string& repo_dir, library::Library& lib,
                                               student::EncoderTrainOptions options) {
  std::vector<student::RequestPair> requests = learned_requests(lib);
  if (requests.size() < 2)
    return Error::in(lib.path(), "the library holds " + std::to_string(requests.size()) +
                                     " learned requests; the encoder needs at least 2 to learn "
                                     "from (the base encoder serves until then)");
  auto start = student::load_encoder(repo_dir);
  if (!start) return start.error();
  EncoderRetrain r;
  r.requests = requests.size();
  constexpr int kViews = 2;
  auto tuned = student::fine_tune_encoder(start->weights(), requests, kViews, options, &r.report);
  if (!tuned) return tuned.error();
  if (auto ok = tuned->save(student::repo_encoder_path(repo_dir)); !ok) return ok.error();
  std::string count = count_path(repo_dir);
  std::ofstream(count + ".tmp") << requests.size() << "\n";
  std::error_code ec;
  std::filesystem::rename(count + ".tmp", count, ec);
  r.version = tuned->version();
  r.embedder = encoder_embedder(std::make_shared<const student::RequestEncoder>(*std::move(tuned)));
  auto n = lib.use_embedder(r.embedder);
  if (!n) return n.error();
  r.reembedded = *n;
  return r;
}

Result<std::optional<EncoderRetrain>> retrain_encoder_if_due(const std::string& repo_dir,
                                                             library::Library& lib, size_t every) {
  // A count, not the entries: this runs after every learned answer.
  auto now = lib.learned_size();
  if (!now) return now.error();
  if (*now < trained_on(repo_dir) + every) return std::optional<EncoderRetrain>();
  auto r = retrain_library_encoder(repo_dir, lib, kFineTune);
  if (!r) return r.error();
  return std::optional<EncoderRetrain>(std::move(r).value());
}

}  // namespace yantra::router
