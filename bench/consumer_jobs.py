#!/usr/bin/env python3
"""Distributed mode end to end: K trivial consumer jobs (POST /api/v1/jobs) through RabbitMQ,
run by 1, 2 and 4 workers, beside the raw broker limit measured in the same run by
bench/amqp_raw (a rabbitmq-c publisher/consumer pair: persistent, confirmed, acked).

Jobs are submitted by POST /api/v1/jobs from --clients processes, --batch jobs per request
({"jobs": [...]}; --batch 1 posts one job per request), or (--submit amqp) published to the
grove.submit exchange, --batch per message (a JSON array; 1: one object per message). A job is
counted from its submission to the end of its build (the master has stored the consumer's
result). Each worker count gets a fresh master, store and vhost. Prints jobs/s, the master's
CPU per job and its peak RSS.

  GROVE_BIN=build/cli/grove /usr/bin/python3 bench/consumer_jobs.py [--jobs 10000]
      [--workers 1,2,4] [--capacity 8] [--batch 100] [--submit http|amqp] [--consumer-bin build/examples/consumers/cpp/grove-example-consumer]

The consumer is the C++ SDK example's `echo` (in-process: the payload comes back as the
result) when its binary exists, else `grove worker --consumer echo=cat` (a process per job).
Without --amqp-url a private RabbitMQ node is started with scripts/rabbitmq.sh.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import multiprocessing
import time

import pika

import bench_util
from amqp_harness import AmqpGrove
from grove_harness import GROVE, Proc, wait_for

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
RABBITMQ_SH = os.path.join(ROOT, "scripts", "rabbitmq.sh")

CONFIG = 'consumer { "echo" }\n'


def worker_decls(n):
    return "".join(f'worker "w{i}" {{ secret = secret "w{i}" }}\n' for i in range(n))


def job(i):
    return {"consumer": "echo", "payload": {"n": i}}


def post_jobs(port, first, count, batch):
    """One client process: POST /api/v1/jobs on a keep-alive connection, |batch| jobs per
    request. Returns failures."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    failures = []
    for start in range(first, first + count, batch):
        n = min(batch, first + count - start)
        if batch == 1:
            body = json.dumps(job(start))
        else:
            body = json.dumps({"jobs": [job(i) for i in range(start, start + n)]})
        conn.request("POST", "/api/v1/jobs", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 201:
            failures.append(data)
    conn.close()
    return failures


def submit_jobs(url, count, batch):
    """Publishes to grove.submit (docs/protocol.md): no HTTP, the master consumes them; |batch|
    jobs per message (a JSON array), one object per message when 1."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    props = pika.BasicProperties(delivery_mode=2)
    for start in range(0, count, batch):
        n = min(batch, count - start)
        msg = job(start) if batch == 1 else [job(i) for i in range(start, start + n)]
        ch.basic_publish("grove.submit", "", json.dumps(msg).encode(), props)
    conn.close()
    return []


def broker_pid(node_dir):
    try:
        with open(os.path.join(node_dir, "rabbitmq.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def run(args, url, n_workers, consumer_bin, node_dir, raw_rate):
    """One measurement on a fresh master and store; |url| is a vhost of its own."""
    g = AmqpGrove(url, {}, {f"w{i}": args.capacity for i in range(n_workers)},
                  CONFIG + worker_decls(n_workers), [f"w{i}" for i in range(n_workers)],
                  grace="30s")
    try:
        master = g.start_master()
        for i in range(n_workers):
            name = f"w{i}"
            if consumer_bin:
                start_sdk_worker(g, name, consumer_bin, args.capacity)
            else:
                g.start_worker(name, extra=["--consumer", "echo=cat"])
        time.sleep(1)
        rabbit = broker_pid(node_dir) if node_dir else None
        worker_pids = [p.pid for p in g.workers.values()]
        cpu0 = bench_util.cpu_ms(master.pid)
        wcpu0 = sum(bench_util.cpu_ms(p) for p in worker_pids)
        bcpu0 = bench_util.cpu_ms(rabbit) if rabbit else 0
        per = args.jobs // args.clients
        total = per * args.clients
        t0 = time.monotonic()
        if args.submit == "http":
            with multiprocessing.Pool(args.clients) as pool:
                failures = sum(pool.starmap(post_jobs, [(g.port, c * per, per, args.batch)
                                                        for c in range(args.clients)]), [])
        else:
            failures = submit_jobs(url, total, args.batch)
        t_posted = time.monotonic() - t0
        if failures:
            raise SystemExit(f"{len(failures)} submissions failed, e.g. {failures[0]!r}")

        def finished():
            s = g.get("/api/v1/status")
            if s["queued_count"] or s["running_count"]:
                return False
            # Published to grove.submit, the last jobs may still wait in RabbitMQ when the
            # master's queue is empty: done once the last one is there, and stored as finished
            # (the status comes from the master's memory, which a batch of events updates before
            # its commit: the last job's end may still be on its way to the store).
            status, body, _ = g.call("GET", f"/api/v1/requests/{total}")
            return status == 200 and body.get("state") == "finished"

        wait_for(finished, timeout=900, interval=0.05, what="the jobs to finish")
        elapsed = time.monotonic() - t0
        cpu = bench_util.cpu_ms(master.pid) - cpu0
        wcpu = sum(bench_util.cpu_ms(p) for p in worker_pids) - wcpu0
        bcpu = (bench_util.cpu_ms(rabbit) - bcpu0) if rabbit else float("nan")
        peak = bench_util.rss_kb(master.pid, "VmHWM")
        last = g.get(f"/api/v1/requests/{total}")
        assert last["result"] == "success", last
        # The throughput must stay the first "= N jobs/s" of the line (bench/run_all_table.py).
        print(f"{n_workers} worker(s) x capacity {args.capacity}: {total} jobs in {elapsed:.2f} s "
              f"= {total / elapsed:,.0f} jobs/s (all submitted by {args.submit}, {args.batch} "
              f"per {'request' if args.submit == 'http' else 'message'}, after {t_posted:.2f} s: "
              f"submission {total / t_posted:,.0f} jobs/s); master CPU "
              f"{cpu / total:.3f} ms/job, peak RSS {peak / 1024:.1f} MB; workers' CPU "
              f"{wcpu / total:.3f} ms/job; RabbitMQ CPU {bcpu / total:.3f} ms/job", flush=True)
        rate = total / elapsed
        if consumer_bin:
            print(f"  = {100 * rate / raw_rate:.0f} % of the raw broker rate measured above",
                  flush=True)
        else:
            # A process per job: its limit is the spawn rate, measured right after the run.
            spawn = bench_util.bare_spawn_rate()
            print(f"  bare posix_spawn+wait of /bin/true, serial: {spawn:,.0f}/s; jobs/s = "
                  f"{100 * rate / spawn:.0f} % of it", flush=True)
        return rate
    finally:
        g.close()


def start_sdk_worker(g, name, binary, capacity):
    secret_file = os.path.join(g.root, f"{name}.secret")
    with open(secret_file, "w") as f:
        f.write(g.secrets[name] + "\n")
    log = open(os.path.join(g.root, f"worker-{name}.log"), "ab")
    popen = subprocess.Popen(
        [binary, "--broker", g.amqp_url, "--name", name, "--secret-file", secret_file,
         "--capacity", str(capacity), "--workdir", os.path.join(g.root, "workers", name)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc = Proc.__new__(Proc)  # the harness' Proc around a binary that is not grove
    proc.popen, proc.log, proc.log_path = popen, log, log.name
    g.workers[name] = proc
    wait_for(lambda: g.worker_connected(name), what=f"worker {name} to connect")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--capacity", type=int, default=8)
    ap.add_argument("--clients", type=int, default=4, help="HTTP client processes POSTing")
    ap.add_argument("--submit", choices=["http", "amqp"], default="http",
                    help="POST /api/v1/jobs, or publish to the grove.submit exchange")
    ap.add_argument("--batch", type=int, default=100,
                    help="jobs per POST ({\"jobs\": [...]}) or per grove.submit message (an "
                         "array); 1 = one job per request or message")
    ap.add_argument("--amqp-url", default="")
    ap.add_argument("--consumer-bin", default=os.path.join(
        os.path.dirname(GROVE), "..", "examples", "consumers", "cpp", "grove-example-consumer"))
    ap.add_argument("--raw-messages", type=int, default=50000)
    ap.add_argument("--rabbitmq-dir", default=os.environ.get("GROVE_RABBITMQ_DIR", ""),
                    help="state dir of the node behind --amqp-url (for its CPU figure)")
    args = ap.parse_args()
    if not 1 <= args.batch <= 1000:
        ap.error("--batch must be 1 to 1000 (the master's limit per batch)")

    consumer_bin = args.consumer_bin if os.path.exists(args.consumer_bin) else ""
    node_dir = args.rabbitmq_dir if args.amqp_url else None
    own_node = not args.amqp_url
    base_url = args.amqp_url
    if not base_url:
        node_dir = subprocess.run(["mktemp", "-d"], capture_output=True, text=True).stdout.strip()
        base_url = subprocess.run([RABBITMQ_SH, "start", node_dir], check=True,
                                  capture_output=True, text=True).stdout.strip()
    try:
        raw = os.path.join(os.path.dirname(GROVE), "..", "bench", "amqp_raw")
        out = subprocess.run([raw, "--url", base_url, "--messages", str(args.raw_messages)],
                             check=True, capture_output=True, text=True).stdout
        print(out.strip(), flush=True)
        raw_rate = float(out.rsplit(",", 1)[1].split()[0])  # "..., 25867 msgs/s"
        print(f"consumer: {'C++ SDK echo (in process)' if consumer_bin else 'command cat'}",
              flush=True)
        for n in [int(x) for x in args.workers.split(",")]:
            url = base_url
            if node_dir:  # a vhost of its own: no queue left over from the previous run
                name = f"bench-{n}-{int(time.time())}"
                url = subprocess.run([RABBITMQ_SH, "vhost", node_dir, name], check=True,
                                     capture_output=True, text=True).stdout.strip()
            run(args, url, n, consumer_bin, node_dir, raw_rate)
    finally:
        if own_node and node_dir:
            subprocess.run([RABBITMQ_SH, "stop", node_dir], check=False)


if __name__ == "__main__":
    sys.exit(main())
