#include "cli/cli.h"

int main(int argc, char** argv) {
  return yantra::cli::run(argc, argv);
}
