#!/usr/bin/env bash
# Runs Grove's whole test suite: installs missing packages, builds once (Release), and runs
# every test through ctest, two at a time. GROVE_SANITIZE=1 builds and runs the unit tests with
# AddressSanitizer and UBSan as well.
set -euo pipefail
GROVE_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$GROVE_ROOT/scripts/deps.sh"

install_packages build test windows
build_grove "$GROVE_ROOT/build" Release
# grove-worker.exe for the Windows tests (its own build dir: build-windows).
"$GROVE_ROOT/scripts/build-windows.sh" >/dev/null
# A private RabbitMQ node for the AMQP tests (scripts/rabbitmq.sh) and a private PostgreSQL
# server for the store's tests on PostgreSQL (scripts/postgres.sh), both stopped whatever happens.
GROVE_RABBITMQ_DIR="$(mktemp -d /tmp/grove-rabbitmq.XXXXXX)"
GROVE_POSTGRES_DIR="$(mktemp -d /tmp/grove-postgres.XXXXXX)"
stop_services() {
  "$GROVE_ROOT/scripts/rabbitmq.sh" stop "$GROVE_RABBITMQ_DIR" || true
  "$GROVE_ROOT/scripts/postgres.sh" stop "$GROVE_POSTGRES_DIR" || true
}
trap stop_services EXIT
GROVE_TEST_AMQP_URL="$("$GROVE_ROOT/scripts/rabbitmq.sh" start "$GROVE_RABBITMQ_DIR")"
GROVE_TEST_PG_URL="$("$GROVE_ROOT/scripts/postgres.sh" start "$GROVE_POSTGRES_DIR")"
export GROVE_TEST_AMQP_URL GROVE_RABBITMQ_DIR GROVE_TEST_PG_URL GROVE_POSTGRES_DIR
cd "$GROVE_ROOT/build"
ctest --output-on-failure -j 2 --timeout 600 "$@"

# Fuzzing (tests/fuzz): each libFuzzer target for GROVE_FUZZ_SECONDS (default 10) on its seed
# corpus, built with clang in build-fuzz; a crash fails the run. GROVE_FUZZ_SECONDS=0 skips it.
if [ "${GROVE_FUZZ_SECONDS:-10}" != "0" ]; then
  "$GROVE_ROOT/scripts/fuzz.sh" "${GROVE_FUZZ_SECONDS:-10}"
fi

if [ "${GROVE_SANITIZE:-0}" = "1" ]; then
  build_grove "$GROVE_ROOT/build-asan" Debug -DGROVE_SANITIZE=ON -DGROVE_BENCH=OFF
  cd "$GROVE_ROOT/build-asan"
  ctest --output-on-failure -j 2 -R '^unit\.'
fi
