#!/usr/bin/env python3
"""One step that prints N bytes of text (default 1 GB). Prints MB/s from the first byte to the
build's end, the peak RSS of master and worker, the stored size, and how long reading the
log's tail takes.

  GROVE_BIN=build/cli/grove python3 bench/big_log.py [--bytes 1000000000]
      [--store sqlite|postgres|both]

PostgreSQL: as in e2e_builds.py; the stored size is then the log_chunks table's.
"""
import argparse
import os
import time

import bench_util
from grove_harness import Grove, psql


def run(args, store):
    bench_util.use_store(store)
    line = "grove big log benchmark: the quick brown fox jumps over the lazy dog 0123456789"
    config = rf'''
worker "bench" {{ secret = secret "bench", tags = {{ "bench" }}, capacity = 1 }}
builder "chatty" {{
  tags = {{ "bench" }},
  steps = {{ shell {{ "yes '{line}' | head -c {args.bytes}", name = "print" }} }},
}}
'''
    g = Grove(config, workers=["bench"], grace="30s")
    try:
        master = g.start_master()
        worker = g.start_worker("bench")
        rid = g.force("chatty")
        t0 = None
        build_id = None
        while True:
            req = g.get(f"/api/v1/requests/{rid}")
            if req["builds"]:
                build_id = req["builds"][0]["id"]
                b = g.build(build_id)
                if t0 is None and b["steps"] and b["steps"][0]["log_bytes"] > 0:
                    t0 = time.monotonic()
                if req["state"] == "finished":
                    break
            time.sleep(0.05)
        elapsed = time.monotonic() - (t0 or time.monotonic())
        b = g.build(build_id)
        size = b["steps"][0]["log_bytes"]
        assert size == args.bytes, (size, args.bytes)
        if g.pg:
            stored = int(psql(g.pg.url, "SELECT pg_total_relation_size('log_chunks')").strip())
        else:
            db = os.path.join(g.dir, "state")
            stored = sum(os.path.getsize(os.path.join(db, f)) for f in os.listdir(db))
        t1 = time.monotonic()
        tail, _ = g.log(build_id, 0, tail=65536)
        tail_ms = (time.monotonic() - t1) * 1000
        assert tail.endswith(line[: len(tail.rsplit(chr(10), 1)[-1])]), "tail is not the log's end"
        t1 = time.monotonic()
        mid, _ = g.log(build_id, 0, offset=args.bytes // 2, limit=1 << 20)
        mid_ms = (time.monotonic() - t1) * 1000
        return {
            "size": size / 1e6,
            "throughput": size / 1e6 / elapsed,
            "elapsed": elapsed,
            "master_rss": bench_util.rss_kb(master.pid, "VmHWM") / 1024,
            "worker_rss": bench_util.rss_kb(worker.pid, "VmHWM") / 1024,
            "stored": stored / 1e6,
            "ratio": size / max(stored, 1),
            "tail_ms": tail_ms,
            "mid_ms": mid_ms,
        }
    finally:
        g.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=int, default=1_000_000_000)
    ap.add_argument("--store", choices=["sqlite", "postgres", "both"], default="sqlite")
    args = ap.parse_args()
    results = {store: run(args, store) for store in bench_util.stores(args.store)}
    bench_util.print_side_by_side([
        ("log size (MB)", "size", "{:.0f}"),
        ("throughput (MB/s)", "throughput", "{:.0f}"),
        ("first byte to build end (s)", "elapsed", "{:.1f}"),
        ("master peak RSS (MB)", "master_rss", "{:.1f}"),
        ("worker peak RSS (MB)", "worker_rss", "{:.1f}"),
        ("stored (MB)", "stored", "{:.1f}"),
        ("times smaller than the log", "ratio", "{:.0f}"),
        ("read 64 KiB tail (ms)", "tail_ms", "{:.1f}"),
        ("read 1 MiB in the middle (ms)", "mid_ms", "{:.1f}"),
    ], results)


if __name__ == "__main__":
    main()
