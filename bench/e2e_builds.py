#!/usr/bin/env python3
"""K forced builds of a builder whose one step is `true`: one worker of capacity 4, the
embedded broker, SQLite and/or PostgreSQL. Prints builds/s, request-to-step-start latency,
master RSS idle and peak, master CPU per build (and, on PostgreSQL, the database backends' CPU
per build), side by side when both stores run.

  GROVE_BIN=build/cli/grove python3 bench/e2e_builds.py [--builds 500] [--latency-builds 100]
      [--store sqlite|postgres|both]

PostgreSQL: a fresh database on GROVE_TEST_PG_URL's server, or on a private server started for
the run (scripts/postgres.sh: fsync=off, so the figures show Grove's cost, not the disk's).
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


def run(args, store):
    bench_util.use_store(store)
    g = Grove(CONFIG, workers=["bench"], grace="10s")
    out = {}
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
        db_cpu0 = bench_util.pg_backend_cpu_ms(g.pg.name) if g.pg else 0
        t0 = time.monotonic()
        ids = [force() for _ in range(args.builds)]
        t_submitted = time.monotonic()
        wait_for(queue_empty, timeout=600, interval=0.02, what="the builds to finish")
        elapsed = time.monotonic() - t0
        cpu = bench_util.cpu_ms(master.pid) - cpu0
        db_cpu = bench_util.pg_backend_cpu_ms(g.pg.name) - db_cpu0 if g.pg else None
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

        out = {
            "throughput": args.builds / elapsed,
            "elapsed": elapsed,
            "p50": bench_util.percentile(latencies, 50),
            "p90": bench_util.percentile(latencies, 90),
            "max": max(latencies),
            "cpu": cpu / args.builds,
            "db_cpu": None if db_cpu is None else db_cpu / args.builds,
            "idle_rss": idle_rss / 1024,
            "peak_rss": peak_rss / 1024,
        }
    finally:
        g.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builds", type=int, default=500)
    ap.add_argument("--latency-builds", type=int, default=100)
    ap.add_argument("--store", choices=["sqlite", "postgres", "both"], default="sqlite")
    args = ap.parse_args()
    results = {store: run(args, store) for store in bench_util.stores(args.store)}
    print(f"builds: {args.builds} (burst), {args.latency_builds} (one at a time)")
    bench_util.print_side_by_side([
        ("throughput (builds/s)", "throughput", "{:.0f}"),
        ("burst drained in (s)", "elapsed", "{:.2f}"),
        ("request -> step start p50", "p50", "{:.0f} ms"),
        ("request -> step start p90", "p90", "{:.0f} ms"),
        ("request -> step start max", "max", "{:.0f} ms"),
        ("master CPU per build", "cpu", "{:.2f} ms"),
        ("database CPU per build", "db_cpu", "{:.2f} ms"),
        ("master RSS idle (MB)", "idle_rss", "{:.1f}"),
        ("master RSS peak (MB)", "peak_rss", "{:.1f}"),
    ], results)


if __name__ == "__main__":
    main()
