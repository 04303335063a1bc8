#!/usr/bin/env bash
# Cross-builds grove-worker.exe (64-bit Windows) with Debian's mingw-w64 and packs
# dist/grove-worker-windows-x64.zip (the exe and a short README).
#
#   scripts/build-windows.sh [BUILD_DIR]      (default: build-windows)
#
# Installs g++-mingw-w64-x86-64-posix and zip when missing (scripts/deps.sh, group "windows").
# Incremental: a second run rebuilds only what changed. GROVE_JOBS sets the parallelism (2).
set -euo pipefail
GROVE_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$GROVE_ROOT/scripts/deps.sh"
install_packages build windows

dir="${1:-$GROVE_ROOT/build-windows}"
# Through ccache, keyed on tree-relative paths as the Linux build: a fresh clone reuses what an
# earlier one compiled (without it the cross build was 2.5 minutes of every clean test run).
export CCACHE_BASEDIR="$GROVE_ROOT" CCACHE_NOHASHDIR=1
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$GROVE_ROOT/src/worker/windows" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$GROVE_ROOT/cmake/mingw-w64-x86_64.cmake" "${launcher[@]}" >/dev/null
ninja -C "$dir" -j "${GROVE_JOBS:-2}" grove-worker

mkdir -p "$GROVE_ROOT/dist"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/grove-worker"
cp "$dir/grove-worker.exe" "$stage/grove-worker/"
cp "$GROVE_ROOT/src/worker/windows/README.txt" "$stage/grove-worker/README.txt"
# Windows readers expect CRLF in a text file.
sed -i 's/$/\r/' "$stage/grove-worker/README.txt"
zip_file="$GROVE_ROOT/dist/grove-worker-windows-x64.zip"
rm -f "$zip_file"
(cd "$stage" && zip -q -X -r "$zip_file" grove-worker)
echo "$dir/grove-worker.exe"
echo "$zip_file"
