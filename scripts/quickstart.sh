#!/usr/bin/env bash
# Builds Grove and starts the quickstart: a master (SQLite, embedded broker, web UI on
# http://127.0.0.1:8010) and one local worker, then forces a first build.
#   scripts/quickstart.sh          start (installs missing packages, builds the grove binary)
#   scripts/quickstart.sh stop     stop the master and the worker
set -euo pipefail
GROVE_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="$GROVE_ROOT/run/quickstart"
GROVE="$GROVE_ROOT/build/cli/grove"
source "$GROVE_ROOT/scripts/deps.sh"

stop() {
  for name in worker master; do
    if [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
      kill "$(cat "$RUN/$name.pid")" && echo "stopped the $name"
    fi
    rm -f "$RUN/$name.pid"
  done
}

if [ "${1:-}" = "stop" ]; then stop; exit 0; fi

install_packages build
# Only the grove binary: the tests and benchmarks are built by scripts/test.sh.
GROVE_TARGETS=grove build_grove "$GROVE_ROOT/build" Release
stop >/dev/null 2>&1 || true
[ -f "$RUN/grove.lua" ] || "$GROVE" init "$RUN" >/dev/null

setsid "$GROVE" master "$RUN" >>"$RUN/master.log" 2>&1 < /dev/null &
echo $! > "$RUN/master.pid"
for _ in $(seq 100); do
  curl -fs http://127.0.0.1:8010/api/v1/status >/dev/null 2>&1 && break
  kill -0 "$(cat "$RUN/master.pid")" 2>/dev/null || { tail -5 "$RUN/master.log"; exit 1; }
  sleep 0.1
done
setsid "$GROVE" worker --master http://127.0.0.1:8010 --name local --secret-file "$RUN/secrets/local" \
  --workdir "$RUN/worker" >>"$RUN/worker.log" 2>&1 < /dev/null &
echo $! > "$RUN/worker.pid"

"$GROVE" force hello --reason "quickstart" --master http://127.0.0.1:8010
cat <<MSG

Grove is running.
  web UI:   http://127.0.0.1:8010
  status:   $GROVE status
  force:    $GROVE force hello --wait
  logs:     $RUN/master.log, $RUN/worker.log
  config:   $RUN/grove.lua (apply changes with: $GROVE reconfig $RUN)
  stop:     $GROVE_ROOT/scripts/quickstart.sh stop
MSG
