#!/usr/bin/env python3
"""Benchmark of the API calls the web UI's home page makes, on a big master: 4,000 builders and
100,000 builds in the store (written straight into state/grove.db with sqlite3 before the master
starts). Measures, with wrk, requests/s, p50 and p99 latency and the bytes of one answer of each
call the home page makes (/api/v1/status, one page of /api/v1/builders?view=summary,
/api/v1/running) and of the whole builders list (`grove status`, scripts), the whole list again
while a worker runs builds, and the time for the whole page's data. Requests say `Accept-Encoding: gzip, deflate, br` as browsers do
(--encoding '' for none).

  python3 bench/ui_api.py [--builders 4000] [--builds 100000] [--duration 10] [--connections 8] [--build-rate 20]
                          [--encoding 'gzip, deflate, br'] [--loaded-runs 1] [--loaded-only]

--loaded-runs N repeats the last phase (the whole list while builds run) N times on the same master
and prints each run's p99, then min/median/max and how many runs were above 20 ms: its p99 swings
from run to run, so one run says little (wrk corrects for coordinated omission: one stall of all
connections for T ms adds about connections x T / (turnaround) samples, so a single 100 ms stall
can make the p99). --loaded-only skips the phases before it.

Needs GROVE_BIN (default build/cli/grove) and wrk (installed with apt-get when missing).
"""
import argparse
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import bench_util  # noqa: F401  (puts tests/integration on the path)
from grove_harness import Grove, wait_for

HOME_CALLS = ["/api/v1/status", "/api/v1/builders?view=summary&limit=100&offset=0", "/api/v1/running"]
WHOLE_LIST = "/api/v1/builders"


def ensure_wrk():
    if shutil.which("wrk"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def populate(db_path, builders, builds):
    """Requests and builds as the tracker would have written them, 3 running, the rest finished."""
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rnd = random.Random(42)
    now = int(time.time() * 1000)
    per = builds // builders
    req_rows, build_rows, numbers = [], [], []
    rid = 0
    for b in range(builders):
        name = f"builder-{b:05d}"
        for n in range(1, per + 1):
            rid += 1
            started = now - (per - n + 1) * 600_000 - rnd.randint(0, 60_000)
            running = b < 3 and n == per
            result = -1 if running else rnd.choice([0, 0, 0, 0, 1, 2, 4])
            finished = 0 if running else started + rnd.randint(10_000, 500_000)
            state = "running" if running else "finished"
            req_rows.append((rid, name, "bench", "claimed" if running else "finished", 1, "w1", result,
                             started, started, finished))
            build_rows.append((rid, rid, 1, name, n, "w1", state, result, started, finished,
                               '{"buildername":"%s"}' % name))
        numbers.append((name, per))
    db.executemany("INSERT INTO requests (id, builder, reason, state, attempt, worker, result, submitted_at,"
                   " claimed_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?)", req_rows)
    db.executemany("INSERT INTO builds (id, request_id, attempt, builder, number, worker, state, result,"
                   " started_at, finished_at, properties) VALUES (?,?,?,?,?,?,?,?,?,?,?)", build_rows)
    db.executemany("INSERT INTO builder_numbers (builder, last_number) VALUES (?,?)", numbers)
    db.commit()
    db.close()
    return rid


def wrk(url, duration, connections, encoding):
    headers = ["-H", f"Accept-Encoding: {encoding}"] if encoding else []
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"] + headers + [url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    return rps, float(p99.group(1)) * scale, float(p50.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builders", type=int, default=4000)
    ap.add_argument("--builds", type=int, default=100000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--build-rate", type=float, default=20, help="builds forced per second in the last phase")
    ap.add_argument("--encoding", default="gzip, deflate, br", help="Accept-Encoding sent ('' for none)")
    ap.add_argument("--loaded-runs", type=int, default=1, help="runs of the last phase (builds running)")
    ap.add_argument("--loaded-only", action="store_true", help="run only the last phase")
    args = ap.parse_args()
    ensure_wrk()

    # The step prints a little (two log chunks), as most do: the last phase runs builds.
    config = ('worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 4 }\n'
              f'for i = 0, {args.builders - 1} do\n'
              '  builder(string.format("builder-%05d", i)) { tags = { "linux" },'
              ' steps = { shell { "seq 1 20000" } } }\n'
              'end\n')
    g = Grove(config, workers=["w1"])
    try:
        g.start_master()  # creates and migrates the store
        g.master.stop()
        t0 = time.time()
        n = populate(os.path.join(g.dir, "state", "grove.db"), args.builders, args.builds)
        print(f"store: {args.builders} builders, {n} builds written in {time.time() - t0:.1f}s")
        g.start_master()

        def get(path, encoding=args.encoding):
            req = urllib.request.Request(g.url + path, headers={"Accept-Encoding": encoding} if encoding else {})
            return urllib.request.urlopen(req).read()

        if not args.loaded_only:
            # The whole home page's data, as the browser fetches it (its calls in parallel).
            def page():
                t = time.perf_counter()
                with ThreadPoolExecutor(len(HOME_CALLS)) as ex:
                    list(ex.map(get, HOME_CALLS))
                return (time.perf_counter() - t) * 1000
            cold = page()  # the first load builds /builders from the store; later ones are cached
            size = len(get(WHOLE_LIST))
            print(f"home page data, first load after the master starts (cold store): {cold:.1f} ms")
            # After a change (here a forced request: no worker runs it) the cached answer is stale
            # and the next load rebuilds it from the (now warm) store.
            after = []
            for _ in range(10):
                g.force("builder-00000")
                time.sleep(0.05)
                after.append(page())
            after.sort()
            print(f"home page data, first load after a change: median {after[len(after) // 2]:.1f} ms, "
                  f"max {after[-1]:.1f} ms over {len(after)} changes")
            times = sorted(page() for _ in range(30))
            print(f"home page data, unchanged ({len(HOME_CALLS)} API calls, whole /builders = {size / 1024:.0f} KiB): "
                  f"median {times[len(times) // 2]:.1f} ms, max {times[-1]:.1f} ms over {len(times)} loads")

            print(f"\nwrk -t2 -c{args.connections} -d{args.duration}s, Accept-Encoding: {args.encoding or '(none)'}")
            print(f"{'call':<48} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'bytes':>9} {'plain':>9}")
            for path in HOME_CALLS + [WHOLE_LIST]:
                rps, p99, p50 = wrk(g.url + path, args.duration, args.connections, args.encoding)
                print(f"{path:<48} {rps:>9.1f} {p50:>9.2f} {p99:>9.2f} {len(get(path)):>9} {len(get(path, '')):>9}")

        if args.loaded_only:
            get(WHOLE_LIST)  # made and cached, as the phases before leave it
        # The same whole list while builds run (a worker, --build-rate forced builds a second on
        # random builders, each with a step and its log): every change makes the cached list
        # older, and a reader that comes after it must wait for one that includes it.
        g.start_worker("w1")
        stop = threading.Event()
        forced = []

        def churn():
            rnd = random.Random(7)
            while not stop.is_set():
                forced.append(g.force(f"builder-{rnd.randrange(args.builders):05d}"))
                stop.wait(1.0 / args.build_rate)
        t = threading.Thread(target=churn)
        t.start()
        runs = []
        try:
            time.sleep(1)  # builds under way
            for i in range(args.loaded_runs):
                before = len(forced)
                rps, p99, p50 = wrk(g.url + WHOLE_LIST, args.duration, args.connections, args.encoding)
                runs.append((p99, p50, rps, (len(forced) - before) / args.duration))
                if args.loaded_runs > 1:
                    print(f"  loaded run {i + 1}/{args.loaded_runs}: {rps:.1f} req/s, p50 {p50:.2f} ms, "
                          f"p99 {p99:.2f} ms ({runs[-1][3]:.0f} builds forced/s)", flush=True)
        finally:
            stop.set()
            t.join()
        # The first run's line is the one bench/run_all_table.py reads.
        p99, p50, rps, rate = runs[0]
        print(f"{'/api/v1/builders, builds running':<48} {rps:>9.1f} {p50:>9.2f} {p99:>9.2f} "
              f"({rate:.0f} builds forced/s)")
        if len(runs) > 1:
            p99s = sorted(r[0] for r in runs)
            print(f"loaded p99 over {len(runs)} runs: min {p99s[0]:.2f} ms, median {p99s[len(p99s) // 2]:.2f} ms, "
                  f"max {p99s[-1]:.2f} ms; {sum(x > 20 for x in p99s)} of {len(runs)} above 20 ms")
    finally:
        g.close()


if __name__ == "__main__":
    sys.exit(main())
