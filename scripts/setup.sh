#!/usr/bin/env bash
# Installs everything Yantra needs from Debian packages and the pinned tree-sitter
# grammar from npm, then configures and builds into ./build. Idempotent: a second run
# installs nothing and rebuilds only what changed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

packages=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libtree-sitter-dev libsqlite3-dev sqlite3 libxxhash-dev zlib1g-dev bubblewrap
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang
  python3 python3-pytest libpython3.11-testsuite universal-ctags
  libcpp-httplib-dev libssl-dev libsodium-dev libhnswlib-dev libpqxx-dev postgresql
  libtorch-dev libopenblas0-openmp python3-torch pyflakes3 pylint
  libstemmer-dev wordnet-base
)
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# LibTorch multiplies through libblas.so.3: the reference BLAS is ~40x slower and the pthread
# OpenBLAS has long latency tails, so the OpenMP OpenBLAS is selected explicitly.
openblas=/usr/lib/x86_64-linux-gnu/openblas-openmp
for lib in libblas.so.3 liblapack.so.3; do
  current=$(readlink -f "/usr/lib/x86_64-linux-gnu/$lib" || true)
  if [ "$current" != "$openblas/$lib" ]; then
    "${sudo_cmd[@]}" update-alternatives --set "$lib-x86_64-linux-gnu" "$openblas/$lib"
  fi
done

# The Python grammar: parser.c + scanner.c of tree-sitter-python 0.23.6 (ABI 14, which
# Debian's libtree-sitter 0.20.7 loads). Pinned by version and by the npm sha512.
grammar_version=0.23.6
grammar_sha512=c8833dcf4a31288c53edb02d3ce860a1597a8135e59a5221b9eee58854f8a013c5fe585aec76b8750052f3602fea130c459a159c5248f0cea62fe4b05a82c3dc
grammar_dir="$root/.deps/tree-sitter-python-$grammar_version"
if [ ! -f "$grammar_dir/src/parser.c" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "tree-sitter-python@$grammar_version" >/dev/null)
  tarball="$tmp/tree-sitter-python-$grammar_version.tgz"
  actual=$(sha512sum "$tarball" | cut -d' ' -f1)
  if [ "$actual" != "$grammar_sha512" ]; then
    echo "setup: checksum mismatch for tree-sitter-python@$grammar_version" >&2
    echo "  expected $grammar_sha512" >&2
    echo "  got      $actual" >&2
    exit 1
  fi
  mkdir -p "$tmp/x" && tar -xzf "$tarball" -C "$tmp/x"
  mkdir -p "$root/.deps"
  rm -rf "$grammar_dir.partial" && mv "$tmp/x/package" "$grammar_dir.partial"
  mv "$grammar_dir.partial" "$grammar_dir"
fi

build_type=${YANTRA_BUILD_TYPE:-Release}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build build
