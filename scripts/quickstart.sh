#!/usr/bin/env bash
# Builds Grove and starts the quickstart: a master (SQLite, embedded broker, web UI on
# http://127.0.0.1:8010) and one local worker, then runs a first build and waits until it is green.
#   scripts/quickstart.sh          start (installs missing packages, builds the grove binary)
#   scripts/quickstart.sh stop     stop the master and the worker
# At the end it prints how long each phase took.
set -euo pipefail
GROVE_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="$GROVE_ROOT/run/quickstart"
GROVE="$GROVE_ROOT/build/cli/grove"
MASTER=http://127.0.0.1:8010
source "$GROVE_ROOT/scripts/deps.sh"

stop() {
  local name pid
  for name in worker master; do
    pid="$(cat "$RUN/$name.pid" 2>/dev/null)" || continue
    if kill "$pid" 2>/dev/null; then
      # Until it is gone: a master still on its way out holds the port the next one wants.
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      echo "stopped the $name"
    fi
    rm -f "$RUN/$name.pid"
  done
}

if [ "${1:-}" = "stop" ]; then stop; exit 0; fi

PHASES=()
phase() {  # phase NAME COMMAND...: runs COMMAND and records its time
  local name="$1" t0="${EPOCHREALTIME/./}" dt  # microseconds
  shift
  "$@"
  dt=$(((${EPOCHREALTIME/./} - t0) / 100000))
  PHASES+=("$(printf '  %-20s %4d.%d s' "$name" $((dt / 10)) $((dt % 10)))")
}

# Only what building grove needs: the tests' and benchmarks' packages are scripts/test.sh's.
phase "packages" install_packages build
# Only the grove binary: the tests and benchmarks are built by scripts/test.sh (which turns
# them back on in this build directory). Its libraries in unity batches (GROVE_UNITY): a third
# less compiling on a fresh clone; a developer who edits and rebuilds turns it off
# (cmake -DGROVE_UNITY=OFF build) so that one file's change recompiles that file only.
phase "configure" configure_grove "$GROVE_ROOT/build" Release -DGROVE_TESTS=OFF -DGROVE_BENCH=OFF \
  -DGROVE_UNITY=ON
phase "build (grove)" build_targets "$GROVE_ROOT/build" grove

start() {
  stop >/dev/null 2>&1 || true
  [ -f "$RUN/grove.lua" ] || "$GROVE" init "$RUN" >/dev/null
  setsid "$GROVE" master "$RUN" >>"$RUN/master.log" 2>&1 </dev/null &
  echo $! >"$RUN/master.pid"
  until "$GROVE" status --master "$MASTER" >/dev/null 2>&1; do
    kill -0 "$(cat "$RUN/master.pid")" 2>/dev/null || { tail -5 "$RUN/master.log"; return 1; }
    sleep 0.05
  done
  setsid "$GROVE" worker --master "$MASTER" --name local --secret-file "$RUN/secrets/local" \
    --workdir "$RUN/worker" >>"$RUN/worker.log" 2>&1 </dev/null &
  echo $! >"$RUN/worker.pid"
}
phase "start" start
# The first build, waited for: when this returns, the web UI shows it green.
phase "first build green" timeout 300 "$GROVE" force hello --reason "quickstart" --wait --master "$MASTER"

cat <<MSG

Grove is running.
  web UI:   $MASTER
  status:   $GROVE status
  force:    $GROVE force hello --wait
  logs:     $RUN/master.log, $RUN/worker.log
  config:   $RUN/grove.lua (apply changes with: $GROVE reconfig $RUN)
  stop:     $GROVE_ROOT/scripts/quickstart.sh stop

quickstart.sh phases (total $SECONDS s):
MSG
printf '%s\n' "${PHASES[@]}"
