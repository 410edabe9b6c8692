#!/usr/bin/env bash
# The whole test suite: the libFuzzer target for a bounded time when clang is there
# (scripts/setup.sh installs it), then every CTest label (unit, e2e).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"


if command -v clang++ >/dev/null 2>&1; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DYANTRA_FUZZ=ON \
    -DBUILD_TESTING=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  cmake --build build-fuzz --target graph_fuzz
  mkdir -p build-fuzz/corpus
  cp tests/golden/*.txt build-fuzz/corpus/ 2>/dev/null || true
  build-fuzz/fuzz/graph_fuzz -max_total_time="${YANTRA_FUZZ_SECONDS:-30}" -max_len=4096 \
    -print_final_stats=1 build-fuzz/corpus 2>&1 | tail -n 12
fi

# Last, so that its summary closes the output.
ctest --test-dir build --output-on-failure -j "$(nproc)"
