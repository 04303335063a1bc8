#!/usr/bin/env bash
# Runs every benchmark on this machine and prints ONE table: each figure next to its limit or
# peer measured in the same run (the bare spawn rate, the raw RabbitMQ rate of bench/amqp_raw,
# the raw pipe rate, the 50 ms p99 target of the API) and the ratio between them.
#
#   bench/run-all.sh [--quick] [--only NAME,...] [--out DIR]
#
# NAME: peers e2e_builds consumer_sdk consumer_command big_log ui_api windows_worker.
# --quick runs smaller sizes (about 4 min instead of about 10). Builds grove, amqp_raw and the
# C++ consumer example in build/ (Release), starts its own RabbitMQ node and PostgreSQL server
# (scripts/rabbitmq.sh, scripts/postgres.sh; stopped whatever happens), and keeps every
# benchmark's own output in DIR (default build/bench-results/DATE), the table in DIR/table.txt.
# windows_worker runs when Wine and build-windows/grove-worker.exe are there
# (scripts/build-windows.sh).
set -euo pipefail
GROVE_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$GROVE_ROOT/scripts/deps.sh"

quick=0 only="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --only) only="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-all.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

if [ "$quick" = 1 ]; then
  E2E=(--builds 200 --latency-builds 30); SDK=(--jobs 3000 --workers 1,4 --raw-messages 20000)
  CMD=(--jobs 1000 --workers 4 --raw-messages 20000); LOG_BYTES=200000000
  UI=(--duration 4); PEERS=(--spawns 1000 --bytes 200000000); WIN=(--builds 30)
else
  E2E=(--builds 1000 --latency-builds 100); SDK=(--jobs 10000 --workers 1,2,4)
  CMD=(--jobs 3000 --workers 1,4); LOG_BYTES=1000000000
  UI=(--duration 10); PEERS=(--spawns 3000 --bytes 1000000000); WIN=(--builds 100)
fi

install_packages build test
export CCACHE_BASEDIR="$GROVE_ROOT" CCACHE_NOHASHDIR=1
cmake -S "$GROVE_ROOT" -B "$GROVE_ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGROVE_BENCH=ON >/dev/null
ninja -C "$GROVE_ROOT/build" -j "$(nproc)" grove amqp_raw grove-example-consumer >/dev/null
export GROVE_BIN="$GROVE_ROOT/build/cli/grove"

out="${out:-$GROVE_ROOT/build/bench-results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
GROVE_RABBITMQ_DIR="$(mktemp -d /tmp/grove-bench-rabbitmq.XXXXXX)"
GROVE_POSTGRES_DIR="$(mktemp -d /tmp/grove-bench-postgres.XXXXXX)"
stop_services() {
  "$GROVE_ROOT/scripts/rabbitmq.sh" stop "$GROVE_RABBITMQ_DIR" >/dev/null 2>&1 || true
  "$GROVE_ROOT/scripts/postgres.sh" stop "$GROVE_POSTGRES_DIR" >/dev/null 2>&1 || true
}
trap stop_services EXIT
AMQP_URL=""
if wanted consumer_sdk || wanted consumer_command; then
  AMQP_URL="$("$GROVE_ROOT/scripts/rabbitmq.sh" start "$GROVE_RABBITMQ_DIR")"
fi
if wanted e2e_builds || wanted big_log; then
  GROVE_TEST_PG_URL="$("$GROVE_ROOT/scripts/postgres.sh" start "$GROVE_POSTGRES_DIR")"
  export GROVE_TEST_PG_URL
fi

PY=/usr/bin/python3
B="$GROVE_ROOT/bench"
: >"$out/status.txt"
run() {
  local name="$1"; shift
  wanted "$name" || return 0
  local t0=$SECONDS rc=0
  printf '%-18s ' "$name" >&2
  "$@" >"$out/$name.log" 2>&1 || rc=$?
  echo "$name $rc $((SECONDS - t0))" >>"$out/status.txt"
  if [ "$rc" = 0 ]; then echo "done in $((SECONDS - t0)) s" >&2
  else echo "FAILED (exit $rc) after $((SECONDS - t0)) s: $out/$name.log" >&2; fi
}

run peers "$PY" "$B/peers.py" "${PEERS[@]}"
run e2e_builds "$PY" "$B/e2e_builds.py" --store both "${E2E[@]}"
run consumer_sdk "$PY" "$B/consumer_jobs.py" --amqp-url "$AMQP_URL" --rabbitmq-dir "$GROVE_RABBITMQ_DIR" "${SDK[@]}"
# No SDK binary: `grove worker --consumer echo=cat`, a process per job.
run consumer_command "$PY" "$B/consumer_jobs.py" --amqp-url "$AMQP_URL" --rabbitmq-dir "$GROVE_RABBITMQ_DIR" \
  --consumer-bin /nonexistent "${CMD[@]}"
run big_log "$PY" "$B/big_log.py" --store both --bytes "$LOG_BYTES"
run ui_api "$PY" "$B/ui_api.py" "${UI[@]}"
if command -v wine >/dev/null && [ -f "$GROVE_ROOT/build-windows/grove-worker.exe" ]; then
  run windows_worker "$PY" "$B/windows_worker.py" "${WIN[@]}"
else
  echo "windows_worker     skipped (needs wine and build-windows/grove-worker.exe)" >&2
fi

"$PY" "$B/run_all_table.py" "$out" | tee "$out/table.txt"
! grep -qv ' 0 [0-9]*$' "$out/status.txt"
