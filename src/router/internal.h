// Internal to the router: the state of one request on its way through the router.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "router/router.h"

namespace yantra::router {

struct Router::Run {
  ParsedRequest req;
  std::vector<float> embedding;
  std::vector<std::string> probes;
  std::vector<Candidate> candidates;
  std::optional<size_t> best;
  Answer answer;
  bool dry = false;
};

}  // namespace yantra::router
