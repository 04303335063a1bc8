#!/usr/bin/env python3
"""Cost of GET /metrics on a big master: 4,000 builders, each with builds finished since the
master started (so grove_builds_finished_total has a series per builder and result) and some
requests queued. Prints the scrape time (median, p90, max over --scrapes sequential scrapes),
the answer's size and series count, and the master's CPU per scrape.

  python3 bench/metrics_scrape.py [--builders 4000] [--scrapes 50]

Needs GROVE_BIN (default build/cli/grove). The issue's bound: under 50 ms at 4,000 builders.
"""
import argparse
import os
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import bench_util  # noqa: F401  (puts tests/integration on the path)
from grove_harness import Grove, wait_for


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builders", type=int, default=4000)
    ap.add_argument("--scrapes", type=int, default=50)
    args = ap.parse_args()

    config = ('worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 8 }\n'
              'worker "w2" { secret = secret "w2", tags = { "other" } }  -- never connects\n'
              f'for i = 0, {args.builders - 1} do\n'
              '  builder(string.format("builder-%05d", i)) { tags = { "linux" }, steps = { shell { "true" } } }\n'
              'end\n'
              'builder "waiting" { tags = { "other" }, steps = { shell { "true" } } }\n')
    g = Grove(config, workers=["w1", "w2"])
    try:
        g.start_master()
        g.start_worker("w1")
        t0 = time.time()
        names = [f"builder-{i:05d}" for i in range(args.builders)]
        with ThreadPoolExecutor(8) as ex:
            rids = list(ex.map(g.force, names))
        for _ in range(20):
            g.force("waiting")
        wait_for(lambda: g.get("/api/v1/status")["running_count"] == 0 and
                 g.get(f"/api/v1/requests/{rids[-1]}")["state"] == "finished", timeout=600, interval=0.5,
                 what="the builds to finish")
        print(f"{args.builders} builders, one build each finished in {time.time() - t0:.1f}s; 20 requests queued")

        def scrape():
            t = time.perf_counter()
            body = urllib.request.urlopen(g.url + "/metrics", timeout=60).read()
            return (time.perf_counter() - t) * 1000, body
        scrape()  # warm
        pid = g.master.pid
        c0 = cpu_seconds(pid)
        times = []
        for _ in range(args.scrapes):
            ms, body = scrape()
            times.append(ms)
        cpu = (cpu_seconds(pid) - c0) / args.scrapes * 1000
        times.sort()
        series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
        print(f"GET /metrics: {len(body) / 1024:.0f} KiB, {series} series")
        print(f"scrape time over {len(times)} scrapes: median {times[len(times) // 2]:.1f} ms, "
              f"p90 {times[int(len(times) * 0.9)]:.1f} ms, max {times[-1]:.1f} ms; master CPU {cpu:.1f} ms per scrape")
        return 0 if times[len(times) // 2] < 50 else 1
    finally:
        g.close()


if __name__ == "__main__":
    sys.exit(main())
