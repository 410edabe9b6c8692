// PromptMatcher: which recorded prompt does a request's text contain?
//
// A request embeds the prompt in a chat message with its own wording around it, so the
// match is "contained in", not "equal to". Boyer-Moore-Horspool skips most of the text
// for a long needle, so trying all 110 prompts costs little per request.
#include <algorithm>
#include <functional>

#include "replay/internal.h"

namespace yantra::replay {

struct PromptMatcher::Impl {
  using Searcher = std::boyer_moore_horspool_searcher<std::string_view::const_iterator>;
  std::vector<std::string> prompts;  // never resized after the searchers point into it
  std::vector<Searcher> searchers;
};

PromptMatcher::PromptMatcher(const std::vector<std::string>& prompts)
    : impl_(std::make_unique<Impl>()) {
  impl_->prompts = prompts;
  impl_->searchers.reserve(prompts.size());
  for (const std::string& p : impl_->prompts) {
    std::string_view v = p;
    impl_->searchers.emplace_back(v.begin(), v.end());
  }
}

PromptMatcher::PromptMatcher(PromptMatcher&&) noexcept = default;
PromptMatcher& PromptMatcher::operator=(PromptMatcher&&) noexcept = default;
PromptMatcher::~PromptMatcher() = default;

std::optional<size_t> PromptMatcher::find(std::string_view text) const {
  std::optional<size_t> best;
  for (size_t i = 0; i < impl_->prompts.size(); ++i) {
    size_t length = impl_->prompts[i].size();
    if (length > text.size() || (best && length <= impl_->prompts[*best].size())) continue;
    if (std::search(text.begin(), text.end(), impl_->searchers[i]) != text.end()) best = i;
  }
  return best;
}

}  // namespace yantra::replay
