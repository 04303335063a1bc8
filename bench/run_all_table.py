#!/usr/bin/env python3
"""Reads the outputs bench/run-all.sh kept in DIR (one NAME.log per benchmark) and prints one
table: each figure, the limit or peer it is compared with (measured in the same run, or the
target it must meet), and the ratio, so that no arithmetic is left to the reader.

  python3 bench/run_all_table.py DIR
"""
import os
import re
import sys

UI_TARGET_P99_MS = 50.0  # the limit for the home page's calls at 4,000 builders
MASTER_CPU_TARGET_MS = 0.4  # the limit for the master's CPU per trivial build
LOG_TARGET_MB_S = 200.0  # the floor for a big step log


def read(out, name):
    try:
        with open(os.path.join(out, name + ".log"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def num(pattern, text, group=1):
    m = re.search(pattern, text or "", re.M)
    return float(m.group(group).replace(",", "")) if m else None


def side_by_side(text, label):
    """The values of a bench_util.print_side_by_side row, by column name."""
    if not text:
        return {}
    lines = text.splitlines()
    header = next((l for l in lines if l.startswith(" " * 28) and l.strip()), None)
    row = next((l for l in lines if l.startswith(label)), None)
    if not header or not row:
        return {}
    names = header.split()
    cells = [row[28 + 18 * i: 28 + 18 * (i + 1)].strip() for i in range(len(names))]
    out = {}
    for n, c in zip(names, cells):
        m = re.match(r"[-\d.,]+", c)
        if m and m.group(0) not in ("-",):
            out[n] = float(m.group(0).replace(",", ""))
    return out


def main():
    out = sys.argv[1]
    rows = []  # (benchmark, figure, value, unit, peer label, peer value, peer unit, goal)

    # goal: (">=", r) or ("<=", r), the ratio value / peer the issue asks for.
    def add(bench, figure, value, unit, peer=None, peer_value=None, peer_unit="", goal=None):
        rows.append((bench, figure, value, unit, peer, peer_value, peer_unit, goal))

    peers = read(out, "peers")
    spawn1 = num(r"bare spawn rate \(1 at a time\): ([\d.]+)", peers)
    spawn4 = num(r"bare spawn rate \(4 at a time\): ([\d.]+)", peers)
    pipe = num(r"raw pipe rate: ([\d.]+)", peers)
    if peers is not None:
        add("peers", "bare spawn rate, 1 at a time", spawn1, "spawns/s")
        add("peers", "bare spawn rate, 4 at a time", spawn4, "spawns/s")
        add("peers", "raw pipe rate (yes | head)", pipe, "MB/s")

    e2e = read(out, "e2e_builds")
    if e2e is not None:
        # Each burst's limit is the serial spawn rate measured right before and after it.
        spawn_beside = side_by_side(e2e, "bare spawn+wait, serial")
        for store, v in side_by_side(e2e, "throughput (builds/s)").items() or [("?", None)]:
            add("e2e_builds", f"trivial builds/s, {store}, capacity 4", v, "builds/s",
                "bare spawn rate, 1 at a time, beside it", spawn_beside.get(store, spawn1),
                "spawns/s", (">=", 0.8))
        for store, v in side_by_side(e2e, "request -> step start p50").items():
            add("e2e_builds", f"request -> step start p50, {store}", v, "ms")
        for store, v in side_by_side(e2e, "master CPU per build").items():
            add("e2e_builds", f"master CPU per build, {store}", v, "ms",
                "target", MASTER_CPU_TARGET_MS, "ms", ("<=", 1.0))
        for store, v in side_by_side(e2e, "worker CPU per build").items():
            add("e2e_builds", f"worker CPU per build, {store}", v, "ms")

    for name, what in (("consumer_sdk", "C++ SDK echo"), ("consumer_command", "command consumer (cat)")):
        text = read(out, name)
        if text is None:
            continue
        raw = num(r"raw broker:.*?([\d.]+) msgs/s", text)
        runs = re.findall(r"^(\d+) worker\(s\) x capacity (\d+): .*?= ([\d,.]+) jobs/s", text, re.M)
        for n, cap, rate in runs or [("?", "?", None)]:
            v = float(rate.replace(",", "")) if rate else None
            if name == "consumer_sdk":
                add(name, f"{what} jobs/s, {n} worker(s) x {cap}", v, "jobs/s",
                    "amqp_raw (persistent, confirmed, acked)", raw, "msgs/s", (">=", 0.5))
            else:
                for label, peer in (("1", spawn1), ("4", spawn4)):
                    add(name, f"{what} jobs/s, {n} worker(s) x {cap}", v, "jobs/s",
                        f"bare spawn rate, {label} at a time", peer, "spawns/s", (">=", 0.8))
        # How fast the bench's clients submitted (batches: bench/consumer_jobs.py --batch).
        for n, how, per, rate in re.findall(
                r"^(\d+) worker\(s\).*?submitted by (\w+), (\d+) per \w+, .*?submission ([\d,.]+) jobs/s",
                text, re.M):
            add(name, f"submission by {how}, {per} per call, {n} worker(s)",
                float(rate.replace(",", "")), "jobs/s")

    big = read(out, "big_log")
    if big is not None:
        for store, v in side_by_side(big, "throughput (MB/s)").items() or [("?", None)]:
            add("big_log", f"log throughput, {store}", v, "MB/s", "target", LOG_TARGET_MB_S, "MB/s",
                (">=", 1.0))
            add("big_log", f"log throughput, {store}", v, "MB/s", "raw pipe rate", pipe, "MB/s")
        for store, v in side_by_side(big, "read 64 KiB tail (ms)").items():
            add("big_log", f"read the 64 KiB tail, {store}", v, "ms")

    ui = read(out, "ui_api")
    if ui is not None:
        for path, label in (("/api/v1/builders?view=summary", "home page's builders page"),
                            ("/api/v1/status", "/api/v1/status"), ("/api/v1/running", "/api/v1/running"),
                            ("/api/v1/builders ", "whole builders list")):
            m = re.search(r"^" + re.escape(path) + r"\S*\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)", ui + "\n", re.M)
            if not m and path.endswith(" "):
                m = re.search(r"^/api/v1/builders\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)", ui, re.M)
            if m:
                add("ui_api", f"{label} p99 (4,000 builders, {float(m.group(1)):.0f} req/s)", float(m.group(3)), "ms",
                    "target", UI_TARGET_P99_MS, "ms", ("<=", 1.0))
                add("ui_api", f"{label} p50", float(m.group(2)), "ms")
                add("ui_api", f"{label} bytes per answer", float(m.group(4)), "B",
                    "uncompressed", float(m.group(5)), "B")
            else:
                add("ui_api", f"{label} p99", None, "ms", "target", UI_TARGET_P99_MS, "ms", ("<=", 1.0))
        m = re.search(r"^/api/v1/builders, builds running\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+\((\d+) builds", ui, re.M)
        add("ui_api", f"whole list p99 while {m.group(4) if m else '?'} builds/s run"
            f" ({float(m.group(1)) if m else 0:.0f} req/s)", float(m.group(3)) if m else None, "ms",
            "target", UI_TARGET_P99_MS, "ms", ("<=", 1.0))
        page = num(r"home page data, unchanged .*?median ([\d.]+) ms", ui)
        change = num(r"first load after a change: median ([\d.]+) ms", ui)
        add("ui_api", "home page data, unchanged (median)", page, "ms")
        add("ui_api", "home page data, after a change (median)", change, "ms")

    win = read(out, "windows_worker")
    if win is not None:
        m = re.search(r"Windows worker under Wine ([\d.]+), Linux worker ([\d.]+)", win)
        add("windows_worker", "trivial builds/s, Windows worker under Wine", float(m.group(1)) if m else None,
            "builds/s", "Linux worker, same run", float(m.group(2)) if m else None, "builds/s")

    status = {}
    try:
        with open(os.path.join(out, "status.txt")) as f:
            for line in f:
                name, rc, secs = line.split()
                status[name] = (int(rc), int(secs))
    except FileNotFoundError:
        pass

    def fmt(v, unit):
        if v is None:
            return "n/a"
        if unit == "B":
            return f"{v / 1024:,.1f} KiB" if v >= 1024 else f"{v:.0f} B"
        return (f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if v < 10 else f"{v:.1f}") + f" {unit}"

    w = [16, 58, 16, 40, 16, 8, 14]
    head = ["benchmark", "figure", "value", "compared with (same run)", "its value", "ratio", "goal"]
    print("  ".join(h.ljust(n) for h, n in zip(head, w)).rstrip())
    print("  ".join("-" * n for n in w))
    for bench, figure, v, unit, peer, pv, pu, goal in rows:
        ratio = verdict = ""
        if v is not None and pv:
            r = v / pv
            ratio = f"{r:.2f}x"
            if goal:
                met = r >= goal[1] if goal[0] == ">=" else r <= goal[1]
                verdict = f"{goal[0]} {goal[1]:.2f}x " + ("meets" if met else "MISSES")
        print("  ".join(s.ljust(n) for s, n in zip(
            [bench, figure, fmt(v, unit), peer or "", fmt(pv, pu) if peer else "", ratio, verdict],
            w)).rstrip())
    if status:
        print()
        print("runs: " + ", ".join(f"{n} {'ok' if rc == 0 else f'FAILED ({rc})'} {s} s"
                                   for n, (rc, s) in status.items())
              + f"; total {sum(s for _, s in status.values())} s")


if __name__ == "__main__":
    main()
