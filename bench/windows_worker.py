#!/usr/bin/env python3
"""The Windows worker's figures, beside the Linux worker's in the same run: grove-worker.exe's
size, its idle RSS under Wine, and trivial builds/s of each worker (one step: `echo x` through
cmd.exe on Windows, through /bin/sh on Linux; capacity 1 each, so a build's spawn is on the
path), the builds forced in a burst and drained.

  GROVE_BIN=build/cli/grove python3 bench/windows_worker.py [--builds 100] [--exe build-windows/grove-worker.exe]
"""
import argparse
import http.client
import json
import os
import time

import bench_util
from grove_harness import Grove, wait_for
import test_windows_worker as win

CONFIG = r'''
worker "win" { secret = secret "win", capacity = 1 }
worker "lin" { secret = secret "lin", capacity = 1 }
builder "trivial-windows" { tags = { "os:windows" }, steps = { shell { "echo x", name = "echo" } } }
builder "trivial-linux" { tags = { "os:linux" }, steps = { shell { "echo x", name = "echo" } } }
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builds", type=int, default=100)
    ap.add_argument("--exe", default=win.EXE)
    args = ap.parse_args()
    win.EXE = args.exe
    win.setUpModule()  # Wine's prefix made, or a clear reason why Wine cannot run here

    g = Grove(CONFIG, workers=["win", "lin"], grace="10s")
    try:
        g.start_master()
        lin = g.start_worker("lin")
        w = win.WineWorker(g, "win")
        g.workers["win"] = w
        wait_for(lambda: g.worker_connected("win"), timeout=120, what="the Windows worker")
        time.sleep(3)
        idle = {"windows": bench_util.rss_kb(w.pid), "linux": bench_util.rss_kb(lin.pid)}
        conn = http.client.HTTPConnection("127.0.0.1", g.port)

        def force(builder):
            conn.request("POST", f"/api/v1/builders/{builder}/force", body="{}",
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 201, body
            return json.loads(body)["request"]

        rates = {}
        for os_name in ("linux", "windows"):
            t0 = time.monotonic()
            ids = [force(f"trivial-{os_name}") for _ in range(args.builds)]
            wait_for(lambda: g.get(f"/api/v1/requests/{ids[-1]}")["state"] == "finished",
                     timeout=1200, interval=0.05, what=f"the {os_name} builds")
            elapsed = time.monotonic() - t0
            results = {g.get(f"/api/v1/requests/{i}")["result"] for i in ids[-10:]}
            assert results == {"success"}, results
            rates[os_name] = args.builds / elapsed
        print(f"grove-worker.exe: {os.path.getsize(args.exe) / 1e6:.2f} MB (static, stripped)")
        print(f"idle RSS: Windows worker under Wine {idle['windows'] / 1024:.1f} MiB, "
              f"Linux worker {idle['linux'] / 1024:.1f} MiB")
        print(f"trivial builds/s ({args.builds} each, capacity 1): "
              f"Windows worker under Wine {rates['windows']:.1f}, Linux worker {rates['linux']:.1f}")
    finally:
        g.close()


if __name__ == "__main__":
    main()
