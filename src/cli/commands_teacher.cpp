// `yantra stats` and `yantra replay` (being written; see issue 5).
#include "base/base.h"
#include "cli/cli.h"

namespace yantra::cli {

Handler declare_stats(CLI::App&) {
  return [] () -> int { throw FatalError("stats: not available in this build yet"); };
}
Handler declare_replay(CLI::App&) {
  return [] () -> int { throw FatalError("replay: not available in this build yet"); };
}

}  // namespace yantra::cli
