// `yantra config` and `yantra keys` (being written; see issue 5).
#include "base/base.h"
#include "cli/cli.h"

namespace yantra::cli {

Handler declare_config(CLI::App&) {
  return [] () -> int { throw FatalError("config: not available in this build yet"); };
}
Handler declare_keys(CLI::App&) {
  return [] () -> int { throw FatalError("keys: not available in this build yet"); };
}

}  // namespace yantra::cli
