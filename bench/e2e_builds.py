#!/usr/bin/env python3
"""K forced builds of a builder whose one step is `true`: one worker of capacity 4, the
embedded broker, SQLite. Prints builds/s, request-to-step-start latency, master RSS idle and
peak, and master CPU per build.

  GROVE_BIN=build/cli/grove python3 bench/e2e_builds.py [--builds 500] [--latency-builds 100]
"""
import argparse
import http.client
import json
import time

import bench_util
from grove_harness import Grove, wait_for

CONFIG = r'''
worker "bench" { secret = secret "bench", tags = { "bench" }, capacity = 4 }
builder "trivial" { tags = { "bench" }, steps = { shell { argv = { "true" }, name = "true" } } }
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builds", type=int, default=500)
    ap.add_argument("--latency-builds", type=int, default=100)
    args = ap.parse_args()

    g = Grove(CONFIG, workers=["bench"], grace="10s")
    try:
        master = g.start_master()
        g.start_worker("bench")
        time.sleep(2)
        idle_rss = bench_util.rss_kb(master.pid)
        conn = http.client.HTTPConnection("127.0.0.1", g.port)

        def force():
            conn.request("POST", "/api/v1/builders/trivial/force", body="{}",
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 201, body
            return json.loads(body)["request"]

        def queue_empty():
            s = g.get("/api/v1/status")
            return s["queued_count"] == 0 and s["running_count"] == 0

        # Throughput: a burst of K requests, drained by the worker.
        cpu0 = bench_util.cpu_ms(master.pid)
        t0 = time.monotonic()
        ids = [force() for _ in range(args.builds)]
        t_submitted = time.monotonic()
        wait_for(queue_empty, timeout=600, interval=0.02, what="the builds to finish")
        elapsed = time.monotonic() - t0
        cpu = bench_util.cpu_ms(master.pid) - cpu0
        results = {g.get(f"/api/v1/requests/{i}")["result"] for i in ids[-20:]}
        assert results == {"success"}, results

        # Latency: one request at a time, request submitted → its step started (stored times).
        latencies = []
        for _ in range(args.latency_builds):
            rid = force()
            req = g.wait_request(rid)
            build = g.build(req["builds"][0]["id"])
            latencies.append(build["steps"][0]["started_at"] - req["submitted_at"])
        peak_rss = bench_util.rss_kb(master.pid, "VmHWM")

        print(f"builds:                     {args.builds} (burst), {args.latency_builds} (one at a time)")
        print(f"throughput:                 {args.builds / elapsed:.0f} builds/s "
              f"({elapsed:.2f} s; submitting took {t_submitted - t0:.2f} s)")
        print(f"request -> step start:      p50 {bench_util.percentile(latencies, 50):.0f} ms, "
              f"p90 {bench_util.percentile(latencies, 90):.0f} ms, max {max(latencies):.0f} ms")
        print(f"master CPU per build:       {cpu / args.builds:.2f} ms")
        print(f"master RSS idle / peak:     {idle_rss / 1024:.1f} MB / {peak_rss / 1024:.1f} MB")
    finally:
        g.close()


if __name__ == "__main__":
    main()
