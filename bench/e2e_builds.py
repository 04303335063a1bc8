#!/usr/bin/env python3
"""K forced builds of a builder whose one step is `true`: one worker of capacity 4, the
embedded broker, SQLite and/or PostgreSQL. Prints builds/s (the burst ends at its last build's
stored end) beside the bare serial spawn rate measured right before and after that burst (the
floor of a build's cost on the worker: one spawn per step), how long its POSTs took, store commits per build (GET /metrics), request-to-step-start
latency, master RSS idle and peak, master, worker and client CPU per build (and, on PostgreSQL,
the database backends' CPU per build), side by side when both stores run.

  GROVE_BIN=build/cli/grove python3 bench/e2e_builds.py [--builds 1000] [--latency-builds 100]
      [--store sqlite|postgres|both]

PostgreSQL: a fresh database on GROVE_TEST_PG_URL's server, or on a private server started for
the run (scripts/postgres.sh: fsync=off, so the figures show Grove's cost, not the disk's).

With --email, the same run also measures the cost of a notifier: bursts of a builder without
one and of an identical builder with an email notifier on every build (mode "all", to a local
aiosmtpd server, Debian's python3-aiosmtpd), alternated, and the rate at which mails reach
the server ([--email] [--rounds 2]).
"""
import argparse
import http.client
import json
import os
import socket
import time

import bench_util
from grove_harness import Grove, wait_for

CONFIG = r'''
worker "bench" { secret = secret "bench", tags = { "bench" }, capacity = 4 }
builder "trivial" { tags = { "bench" }, steps = { shell { argv = { "true" }, name = "true" } } }
'''


EMAIL_CONFIG = r'''
builder "mailed" { tags = { "bench" }, steps = { shell { argv = { "true" }, name = "true" } } }
notify.email { to = { "dev@example.org" }, from = "grove@example.org", builders = { "mailed" },
               mode = { "all" }, smtp = { host = "127.0.0.1", port = %d, tls = "none" } }
'''


def email_figures(g, smtp, force, queue_empty, args):
    """Alternated bursts of "trivial" (no notifier) and "mailed" (a mail per build)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", g.port)

    pid = g.master.pid

    def burst(builder):
        cpu0 = bench_util.cpu_ms(pid)
        t0 = time.monotonic()
        for _ in range(args.builds):
            conn.request("POST", f"/api/v1/builders/{builder}/force", body="{}",
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 201, resp.read()
            resp.read()
        wait_for(queue_empty, timeout=600, interval=0.02, what="the builds to finish")
        rate = args.builds / (time.monotonic() - t0)
        return rate, (bench_util.cpu_ms(pid) - cpu0) / args.builds

    plain, mailed, plain_cpu, mailed_cpu = [], [], [], []
    for _ in range(args.rounds):
        rate, cpu = burst("trivial")
        plain.append(rate)
        plain_cpu.append(cpu)
        rate, cpu = burst("mailed")
        mailed.append(rate)
        mailed_cpu.append(cpu)
    total = args.builds * args.rounds
    t_wait = time.monotonic()
    wait_for(lambda: len(os.listdir(smtp.dir)) >= total, timeout=600, interval=0.1,
             what="every mail")
    drain = time.monotonic() - t_wait
    times = sorted(os.stat(os.path.join(smtp.dir, f)).st_mtime
                   for f in os.listdir(smtp.dir) if f.endswith(".json"))
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")
    p, m = sum(plain) / len(plain), sum(mailed) / len(mailed)
    print(f"email notifier, {args.rounds} x {args.builds} builds each, alternated:")
    print(f"  builds/s without notifier:  {p:.0f} ({', '.join(f'{x:.0f}' for x in plain)})")
    print(f"  builds/s with email/build:  {m:.0f} ({', '.join(f'{x:.0f}' for x in mailed)})")
    print(f"  cost of the notifier:       {100 * (p - m) / p:+.1f} % of builds/s")
    pc, mc = sum(plain_cpu) / len(plain_cpu), sum(mailed_cpu) / len(mailed_cpu)
    print(f"  master CPU per build:       {pc:.2f} ms without, {mc:.2f} ms with (during the burst; "
          f"the mails sent meanwhile included)")
    print(f"  mails delivered:            {len(times)} of {total} "
          f"(the last {drain:.1f} s after the last build)")
    print(f"  notices/s to local SMTP:    {rate:.0f}")


class Forcer:
    """POST /api/v1/builders/NAME/force on one kept-alive connection, written and read with
    plain socket calls: http.client (its header parsing above all) cost the client about 0.2 ms
    of CPU per build, a sixth of the whole budget of a build on two cores, taken from the master
    and the worker it measures. Each answer is still read whole and checked (201, its id)."""

    def __init__(self, port, builder):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = (f"POST /api/v1/builders/{builder}/force HTTP/1.1\r\n"
                        f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\n\r\n{}").encode()
        self.buf = b""

    def __call__(self):
        self.sock.sendall(self.request)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buf[:end].decode("latin-1")
                lines = head.split("\r\n")
                length = None
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                assert length is not None, head
                if len(self.buf) >= end + 4 + length:
                    body = self.buf[end + 4:end + 4 + length]
                    self.buf = self.buf[end + 4 + length:]
                    assert lines[0].split(" ", 2)[1] == "201", (lines[0], body)
                    return json.loads(body)["request"]
            chunk = self.sock.recv(65536)
            assert chunk, "the master closed the connection"
            self.buf += chunk


def commits(g):
    """The core loop's commits so far (one per batch of tasks), from GET /metrics."""
    conn = http.client.HTTPConnection("127.0.0.1", g.port)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    for line in text.splitlines():
        if line.startswith("grove_store_commit_seconds_count"):
            return int(float(line.split()[-1]))
    raise AssertionError("no grove_store_commit_seconds_count in /metrics")


def slot_cycle(g, ids, sample=200):
    """Where a worker's slot spends a build, from the stored times (ms) of |sample| builds of the
    burst spread over it: its claim (the build's start) -> its step's start stored (the commit,
    the job's message, the worker's spawn, job.started back) -> its end stored. A slot is free
    again when the end is applied, and the next build is claimed in that same batch, so the
    sum is the slot's cycle: with capacity 4 the rate is at most 4 / that."""
    claim_to_start, start_to_end = [], []
    for rid in ids[::max(1, len(ids) // sample)]:
        build = g.build(g.get(f"/api/v1/requests/{rid}")["builds"][0]["id"])
        step = build["steps"][0]
        claim_to_start.append(step["started_at"] - build["started_at"])
        start_to_end.append(build["finished_at"] - step["started_at"])
    whole = [a + b for a, b in zip(claim_to_start, start_to_end)]
    return {
        "claim_start": sum(claim_to_start) / len(claim_to_start),
        "claim_start_p90": bench_util.percentile(claim_to_start, 90),
        "start_end": sum(start_to_end) / len(start_to_end),
        "start_end_p90": bench_util.percentile(start_to_end, 90),
        "slot_cycle": sum(whole) / len(whole),
        "slot_cycle_p90": bench_util.percentile(whole, 90),
    }


def run(args, store):
    bench_util.use_store(store)
    g = Grove(CONFIG, workers=["bench"], grace="10s")
    out = {}
    smtp = None
    if args.email:
        from notify_harness import SmtpServer
        smtp = SmtpServer(g.root).start()
        g.write_config(CONFIG + EMAIL_CONFIG % smtp.port)
    try:
        master = g.start_master()
        g.start_worker("bench")
        time.sleep(2)
        idle_rss = bench_util.rss_kb(master.pid)
        force = Forcer(g.port, "trivial")

        def queue_empty():
            s = g.get("/api/v1/status")
            return s["queued_count"] == 0 and s["running_count"] == 0

        # Throughput: a burst of K requests, drained by the worker.
        commits0 = commits(g)
        cpu0 = bench_util.cpu_ms(master.pid)
        wcpu0 = bench_util.cpu_ms(g.workers["bench"].pid)
        db_cpu0 = bench_util.pg_backend_cpu_ms(g.pg.name) if g.pg else 0
        # The limit is measured right before and right after this burst, not once for the whole
        # run: the shared machine's speed moves from one minute to the next.
        spawn_before = bench_util.bare_spawn_rate()
        own0 = os.times()
        t0 = time.monotonic()
        wall0 = time.time()
        ids = [force() for _ in range(args.builds)]
        t_submitted = time.monotonic()
        own = os.times()
        wait_for(queue_empty, timeout=600, interval=0.02, what="the builds to finish")
        cpu = bench_util.cpu_ms(master.pid) - cpu0
        wcpu = bench_util.cpu_ms(g.workers["bench"].pid) - wcpu0
        db_cpu = bench_util.pg_backend_cpu_ms(g.pg.name) - db_cpu0 if g.pg else None
        n_commits = commits(g) - commits0
        last = [g.get(f"/api/v1/requests/{i}") for i in ids[-20:]]
        assert {r["result"] for r in last} == {"success"}, last
        # The burst ends when its last build is finished and stored (the master's own time), not
        # when a status poll next sees an empty queue: the poll's period is no part of the rate.
        elapsed = max(r["finished_at"] for r in last) / 1000.0 - wall0
        spawn_after = bench_util.bare_spawn_rate()
        cycle = slot_cycle(g, ids)

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
            "spawn": (spawn_before + spawn_after) / 2,
            "spawn_range": f"{spawn_before:.0f}-{spawn_after:.0f}",
            "ratio": 100.0 * args.builds / elapsed / ((spawn_before + spawn_after) / 2),
            "elapsed": elapsed,
            "posting": t_submitted - t0,
            "client_cpu": 1000.0 * (own.user + own.system - own0.user - own0.system) / args.builds,
            "commits": n_commits / args.builds,
            "p50": bench_util.percentile(latencies, 50),
            "p90": bench_util.percentile(latencies, 90),
            "max": max(latencies),
            "cpu": cpu / args.builds,
            "worker_cpu": wcpu / args.builds,
            "db_cpu": None if db_cpu is None else db_cpu / args.builds,
            **cycle,
            "idle_rss": idle_rss / 1024,
            "peak_rss": peak_rss / 1024,
        }
        if args.email:
            email_figures(g, smtp, force, queue_empty, args)
    finally:
        g.close()
        if smtp:
            smtp.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builds", type=int, default=1000)
    ap.add_argument("--latency-builds", type=int, default=100)
    ap.add_argument("--store", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--email", action="store_true",
                    help="also compare with an email notifier on every build")
    ap.add_argument("--rounds", type=int, default=2, help="with --email: alternated bursts each")
    args = ap.parse_args()
    results = {store: run(args, store) for store in bench_util.stores(args.store)}
    print(f"builds: {args.builds} (burst), {args.latency_builds} (one at a time)")
    bench_util.print_side_by_side([
        ("throughput (builds/s)", "throughput", "{:.0f}"),
        ("bare spawn+wait, serial (/s)", "spawn", "{:.0f}"),
        ("- before, after the burst", "spawn_range", "{}"),
        ("throughput / bare spawn", "ratio", "{:.0f} %"),
        ("burst drained in (s)", "elapsed", "{:.2f}"),
        ("- of it the POSTs (s)", "posting", "{:.2f}"),
        ("store commits per build", "commits", "{:.2f}"),
        ("slot: claim -> start stored", "claim_start", "{:.2f} ms"),
        ("- p90", "claim_start_p90", "{:.0f} ms"),
        ("slot: start -> end stored", "start_end", "{:.2f} ms"),
        ("- p90", "start_end_p90", "{:.0f} ms"),
        ("slot cycle: claim -> end", "slot_cycle", "{:.2f} ms"),
        ("- p90", "slot_cycle_p90", "{:.0f} ms"),
        ("client CPU per build", "client_cpu", "{:.2f} ms"),
        ("request -> step start p50", "p50", "{:.0f} ms"),
        ("request -> step start p90", "p90", "{:.0f} ms"),
        ("request -> step start max", "max", "{:.0f} ms"),
        ("master CPU per build", "cpu", "{:.2f} ms"),
        ("worker CPU per build", "worker_cpu", "{:.2f} ms"),
        ("database CPU per build", "db_cpu", "{:.2f} ms"),
        ("master RSS idle (MB)", "idle_rss", "{:.1f}"),
        ("master RSS peak (MB)", "peak_rss", "{:.1f}"),
    ], results)


if __name__ == "__main__":
    main()
