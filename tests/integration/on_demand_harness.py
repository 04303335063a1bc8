"""Helpers for the on-demand worker tests (issue 13): start/stop scripts that run local
`grove worker` processes, the config that declares them, and the API's view of the pool."""
import os
import signal

from grove_harness import GROVE, pid_alive


START_SH = r'''#!/bin/sh
# start.sh DIR GROVE_BIN: one local worker per instance.
dir=$1; bin=$2
echo "start $GROVE_WORKER_NAME instance $GROVE_INSTANCE pool $GROVE_POOL"
echo "$GROVE_INSTANCE" >> "$dir/started"
if [ -e "$dir/fail-start" ]; then echo "refusing to start"; exit 3; fi
if [ -e "$dir/no-connect" ]; then echo "started nothing"; exit 0; fi
mkdir -p "$dir/work"
broker=""
if [ -n "$GROVE_BROKER_URL" ]; then broker="--broker $GROVE_BROKER_URL"; fi
setsid "$bin" worker $broker --master "$GROVE_MASTER_URL" --name "$GROVE_WORKER_NAME" \
  --secret-file "$GROVE_SECRET_FILE" --workdir "$dir/work/$GROVE_WORKER_NAME" \
  > "$dir/../$GROVE_INSTANCE.log" 2>&1 < /dev/null &
echo $! > "$dir/$GROVE_INSTANCE.pid"
'''

STOP_SH = r'''#!/bin/sh
# stop.sh DIR: kills the instance's worker and waits until it is gone.
dir=$1
echo "stop $GROVE_WORKER_NAME instance $GROVE_INSTANCE"
pidf="$dir/$GROVE_INSTANCE.pid"
if [ -f "$pidf" ]; then
  pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  kill -9 "$pid" 2>/dev/null
  rm -f "$pidf"
fi
echo "$GROVE_INSTANCE" >> "$dir/stopped"
'''


def config(pool_dir, max_=4, min_=0, idle="2s", start_timeout="20s", capacity=1,
           step="echo on-demand"):
    return f'''
worker "burst" {{
  secret = secret "burst", tags = {{ "linux" }}, capacity = {capacity},
  on_demand = {{
    start = {{ "/bin/sh", "{pool_dir}/start.sh", "{pool_dir}", "{GROVE}" }},
    stop = {{ "/bin/sh", "{pool_dir}/stop.sh", "{pool_dir}" }},
    max = {max_}, min = {min_}, idle = "{idle}", start_timeout = "{start_timeout}",
  }},
}}
builder "job" {{ tags = {{ "linux" }}, steps = {{ shell {{ "{step}", name = "work" }} }} }}
'''


class Pool:
    """The test's side of the start/stop scripts: which instances run."""

    def __init__(self, root):
        self.dir = os.path.join(root, "pool")
        os.makedirs(self.dir)
        for name, body in (("start.sh", START_SH), ("stop.sh", STOP_SH)):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(body)

    def lines(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return [l.strip() for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def started(self):
        return self.lines("started")

    def stopped(self):
        return self.lines("stopped")

    def pids(self):
        out = {}
        for name in os.listdir(self.dir):
            if name.endswith(".pid"):
                try:
                    with open(os.path.join(self.dir, name)) as f:
                        out[name[:-4]] = int(f.read().strip() or 0)
                except (OSError, ValueError):
                    pass  # written or removed right now
        return out

    def alive(self):
        return {i: p for i, p in self.pids().items() if p and pid_alive(p)}

    def flag(self, name, on=True):
        path = os.path.join(self.dir, name)
        if on:
            open(path, "w").close()
        elif os.path.exists(path):
            os.remove(path)

    def kill_all(self):
        if not os.path.isdir(self.dir):
            return
        for pid in self.pids().values():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def pool_info(g):
    w = next(w for w in g.get("/api/v1/workers") if w["name"] == "burst")
    return w["on_demand"]


def connected_instances(g):
    return [i["name"] for i in pool_info(g)["instances"] if i.get("connected")]
