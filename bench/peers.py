#!/usr/bin/env python3
"""The machine's own limits that Grove's end-to-end figures are compared with, measured in the
same run (bench/run-all.sh puts them side by side):

- the bare spawn rate: /bin/true started with posix_spawn and waited for, --parallel at a time
  (a trivial build or a command consumer job costs at least one such process);
- the raw pipe rate: `yes LINE | head -c N` read to the end (what a step's output can reach
  before Grove carries, stores and compresses it; bench/big_log.py prints the same line).

  python3 bench/peers.py [--spawns 2000] [--parallel 4] [--bytes 1000000000]
"""
import argparse
import os
import subprocess
import time

LINE = "grove big log benchmark: the quick brown fox jumps over the lazy dog 0123456789"


def spawn_rate(n, parallel):
    true = "/bin/true"
    running = set()
    t0 = time.perf_counter()
    started = 0
    while started < n or running:
        while started < n and len(running) < parallel:
            running.add(os.posix_spawn(true, [true], os.environ))
            started += 1
        pid, _ = os.wait()
        running.discard(pid)
    return n / (time.perf_counter() - t0)


def pipe_rate(nbytes):
    t0 = time.perf_counter()
    p = subprocess.Popen(["sh", "-c", f"yes '{LINE}' | head -c {nbytes}"], stdout=subprocess.PIPE)
    got = 0
    while True:
        chunk = p.stdout.read(1 << 16)
        if not chunk:
            break
        got += len(chunk)
    p.wait()
    return got / 1e6 / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spawns", type=int, default=2000)
    ap.add_argument("--parallel", default="1,4", help="processes in flight, comma-separated")
    ap.add_argument("--bytes", type=int, default=1_000_000_000)
    args = ap.parse_args()
    for k in [int(x) for x in args.parallel.split(",")]:
        print(f"bare spawn rate ({k} at a time): {spawn_rate(args.spawns, k):.0f} spawns/s", flush=True)
    print(f"raw pipe rate: {pipe_rate(args.bytes):.0f} MB/s", flush=True)


if __name__ == "__main__":
    main()
