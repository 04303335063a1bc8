#!/usr/bin/env bash
# Runs Grove's whole test suite: installs missing packages, builds once (Release), and runs
# every test through ctest, GROVE_TEST_JOBS at a time (default 4 on 2 cores: most tests wait on
# processes, sockets and sleeps, not the CPU; 4 took 441 s where 3 took 530, both at a load
# average of 7-10). GROVE_SANITIZE=1 builds and runs the unit tests with AddressSanitizer and
# UBSan as well. At the end it prints how long each phase took and the slowest tests (ctest's own
# record), so a slow run says why.
set -euo pipefail
GROVE_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$GROVE_ROOT/scripts/deps.sh"

PHASES=()
phase() {  # phase NAME COMMAND...: runs COMMAND and records its time
  local name="$1" t0=$SECONDS rc=0
  shift
  "$@" || rc=$?
  PHASES+=("$(printf '  %-28s %5d s%s' "$name" $((SECONDS - t0)) "$([ $rc = 0 ] || echo " (failed: exit $rc)")")")
  return $rc
}
report() {
  echo
  echo "test.sh phases (total $SECONDS s):"
  printf '%s\n' "${PHASES[@]}"
  local cost="$GROVE_ROOT/build/Testing/Temporary/CTestCostData.txt"
  if [ -f "$cost" ]; then
    echo "slowest tests (average seconds over ctest's recorded runs):"
    awk 'NF == 3 { printf "  %-60s %6.1f s\n", $1, $3 }' "$cost" | sort -k2 -rn | head -8 || true  # head may close the pipe early
  fi
}

phase "packages" install_packages build test windows
# A private RabbitMQ node for the AMQP tests (scripts/rabbitmq.sh) and a private PostgreSQL
# server for the store's tests on PostgreSQL (scripts/postgres.sh), both stopped whatever
# happens. They boot in the background while the code builds (RabbitMQ takes seconds).
GROVE_RABBITMQ_DIR="$(mktemp -d /tmp/grove-rabbitmq.XXXXXX)"
GROVE_POSTGRES_DIR="$(mktemp -d /tmp/grove-postgres.XXXXXX)"
services="$(mktemp -d /tmp/grove-services.XXXXXX)"
stop_services() {
  wait 2>/dev/null || true
  "$GROVE_ROOT/scripts/rabbitmq.sh" stop "$GROVE_RABBITMQ_DIR" || true
  "$GROVE_ROOT/scripts/postgres.sh" stop "$GROVE_POSTGRES_DIR" || true
  rm -rf "$services"
}
trap 'rc=$?; stop_services; report || true; exit $rc' EXIT
# The AMQP test classes take a vhost each from a pool made at once (rabbitmq.sh vhost-pool: one
# rabbitmqctl call rather than two per class, each an Erlang VM's boot).
{
  "$GROVE_ROOT/scripts/rabbitmq.sh" start "$GROVE_RABBITMQ_DIR" &&
    "$GROVE_ROOT/scripts/rabbitmq.sh" vhost-pool "$GROVE_RABBITMQ_DIR" 32
} >"$services/amqp" 2>"$services/amqp.err" &
rabbit_pid=$!
"$GROVE_ROOT/scripts/postgres.sh" start "$GROVE_POSTGRES_DIR" >"$services/pg" 2>"$services/pg.err" &
pg_pid=$!

# The tests and benchmarks on (the quick start configures this directory without them), and the
# libraries in unity batches as the quick start builds them: the binary tested is the one a
# newcomer runs, and a name clash between two .cc files of one library fails here.
phase "build (Release)" build_grove "$GROVE_ROOT/build" Release -DGROVE_TESTS=ON -DGROVE_BENCH=ON \
  -DGROVE_UNITY=ON
# grove-worker.exe for the Windows tests (its own build dir: build-windows).
phase "build (Windows worker)" "$GROVE_ROOT/scripts/build-windows.sh" >/dev/null
wait_service() {  # NAME PID FILE: the service's URL, or its error and a failed run
  if ! wait "$2"; then
    echo "test.sh: $1 did not start:" >&2
    cat "$3.err" >&2
    return 1
  fi
}
phase "RabbitMQ start (waited)" wait_service RabbitMQ "$rabbit_pid" "$services/amqp"
phase "PostgreSQL start (waited)" wait_service PostgreSQL "$pg_pid" "$services/pg"
GROVE_TEST_AMQP_URL="$(cat "$services/amqp")"
GROVE_TEST_PG_URL="$(cat "$services/pg")"
export GROVE_TEST_AMQP_URL GROVE_RABBITMQ_DIR GROVE_TEST_PG_URL GROVE_POSTGRES_DIR
cd "$GROVE_ROOT/build"
phase "ctest" ctest --output-on-failure -j "${GROVE_TEST_JOBS:-4}" --timeout 600 "$@"

# Fuzzing (tests/fuzz): each libFuzzer target for GROVE_FUZZ_SECONDS (default 10) on its seed
# corpus, built with clang in build-fuzz; a crash fails the run. GROVE_FUZZ_SECONDS=0 skips it.
if [ "${GROVE_FUZZ_SECONDS:-10}" != "0" ]; then
  phase "fuzz" "$GROVE_ROOT/scripts/fuzz.sh" "${GROVE_FUZZ_SECONDS:-10}"
fi

if [ "${GROVE_SANITIZE:-0}" = "1" ]; then
  phase "build (ASan)" build_grove "$GROVE_ROOT/build-asan" Debug -DGROVE_SANITIZE=ON -DGROVE_BENCH=OFF
  cd "$GROVE_ROOT/build-asan"
  phase "ctest (ASan unit tests)" ctest --output-on-failure -j 2 -R '^unit\.'
fi
