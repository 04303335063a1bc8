#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in a build directory of
# their own (GROVE_FUZZ_BUILD_DIR, default build-fuzz; the g++ build is untouched) and runs each
# for SECONDS (default 60) on its seed corpus (tests/fuzz/corpus/<target>), as many targets at
# once as there are cores (GROVE_FUZZ_PARALLEL). Prints, per target,
# the executions and the crashes; exits 1 when any target crashed. A crash's input is kept as
# build-fuzz/crashes/<target>-crash-*: reproduce it with build-fuzz/tests/fuzz/<target> FILE,
# and add it to the target's corpus once fixed.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
GROVE_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_EACH="${1:-60}"
shift || true
BUILD="${GROVE_FUZZ_BUILD_DIR:-$GROVE_ROOT/build-fuzz}"
CLANG="${GROVE_FUZZ_CLANG:-clang-14}"
CLANGXX="${GROVE_FUZZ_CLANGXX:-clang++-14}"
source "$GROVE_ROOT/scripts/deps.sh"
install_packages build fuzz
# ccache keys on paths relative to the tree and not on the build directory (-g would put it
# there), so a fresh clone reuses what an earlier one built: the fuzz step stays short in CI.
export CCACHE_BASEDIR="$GROVE_ROOT" CCACHE_NOHASHDIR=1

# -O1 without NDEBUG: the libraries' assertions stay on. -gline-tables-only: a crash's stack
# still names file:line, for a fraction of -g's compile time. Configured on every run (it is
# quick) so that a build directory made with older flags takes these.
cmake -S "$GROVE_ROOT" -B "$BUILD" -G Ninja -DGROVE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CLANG" -DCMAKE_CXX_COMPILER="$CLANGXX" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null
t0=$SECONDS
if ! ninja -C "$BUILD" -j "${GROVE_FUZZ_JOBS:-2}" grove_fuzz >"$BUILD/ninja.log" 2>&1; then
  grep -E "error|FAILED|undefined reference" "$BUILD/ninja.log" | head -20 >&2
  echo "fuzz: the fuzz targets did not build (whole output: $BUILD/ninja.log)" >&2
  exit 1
fi

echo "fuzz: targets built in $((SECONDS - t0)) s"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$GROVE_ROOT"/tests/fuzz/fuzz_*.cc; do targets+=("$(basename "$f" .cc)"); done
fi
mkdir -p "$BUILD/crashes"
# Each target alone on a core: GROVE_FUZZ_PARALLEL (default: the number of cores) run at once.
parallel="${GROVE_FUZZ_PARALLEL:-$(nproc)}"
run_target() {  # TARGET: fuzzes it, then writes its exit status to $BUILD/TARGET.rc
  local t="$1" rc
  local seeds="$GROVE_ROOT/tests/fuzz/corpus/$t"
  local work="$BUILD/corpus/$t"  # what the fuzzer learns goes here, not into the repository
  mkdir -p "$work" "$seeds"
  set +e
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="print_stacktrace=1" \
    "$BUILD/tests/fuzz/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$t-" \
    "$work" "$seeds" >"$BUILD/$t.log" 2>&1
  rc=$?
  set -e
  echo "$rc" >"$BUILD/$t.rc"
}
running=0
t0=$SECONDS
for t in "${targets[@]}"; do
  rm -f "$BUILD/$t.rc"
  if ((running >= parallel)); then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
wait || true
echo "fuzz: ${#targets[@]} targets fuzzed, $parallel at a time, in $((SECONDS - t0)) s"

failed=0
printf '%-15s %12s %8s\n' target executions crashes
for t in "${targets[@]}"; do
  log="$BUILD/$t.log"
  rc="$(cat "$BUILD/$t.rc" 2>/dev/null || echo 1)"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=0
  if [ "$rc" -ne 0 ]; then
    crashes=1
    failed=1
  fi
  printf '%-15s %12s %8s\n' "$t" "${execs:-?}" "$crashes"
  if [ "$rc" -ne 0 ]; then
    grep -m1 -E 'ERROR: |runtime error|deadly signal|Timeout|out-of-memory' "$log" | sed 's/^/    /'
    ls -t "$BUILD/crashes/$t-"* 2>/dev/null | head -1 | sed 's/^/    input: /'
    echo "    log: $log"
  fi
done
exit $failed
