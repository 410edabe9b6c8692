// `yantra train`, `yantra predict`, `yantra eval` (being written; see issue 4).
#include "base/base.h"
#include "cli/cli.h"

namespace yantra::cli {

Handler declare_train(CLI::App&) {
  return [] () -> int { throw FatalError("train: not available in this build yet"); };
}
Handler declare_predict(CLI::App&) {
  return [] () -> int { throw FatalError("predict: not available in this build yet"); };
}

Handler declare_eval(CLI::App&) {
  return [] () -> int { throw FatalError("eval: not available in this build yet"); };
}

}  // namespace yantra::cli
