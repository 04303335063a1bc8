#!/usr/bin/python3
"""A complete Grove worker in Python: consumes Grove jobs from RabbitMQ (docs/protocol.md,
"Distributed mode") and runs their `consume` steps with Python functions.

    /usr/bin/python3 worker.py --broker amqp://guest:guest@127.0.0.1:5672/%2f \
        --name py1 --secret-file py1.secret [--tags linux] [--capacity 1]

The worker must be declared in grove.lua (worker "py1" { secret = secret "py1" }), and its
consumers too (consumer { "double" }). Register consumers with @consumer("NAME"): the function
gets the job's payload (JSON, decoded) and a `log` function (text for the step's log) and returns
the step's result JSON (anything json.dumps takes; None for no result). An exception fails the
step, with its traceback in the log. Other step types end as `exception`.

Needs only pika (Debian: python3-pika). One job at a time per --capacity slot runs on a thread
of its own while the connection's thread keeps heartbeats, confirms and cancels flowing.
"""
import argparse
import itertools
import json
import logging
import os
import socket
import sys
import threading
import traceback
import uuid

import pika

CONSUMERS = {}


DELIVERIES_HEADER = "x-grove-deliveries"
MAX_LOST = 5


def consumer(name):
    """Registers the decorated function as the consumer NAME."""
    def register(fn):
        CONSUMERS[name] = fn
        return fn
    return register


# -- example consumers ------------------------------------------------------------------------

@consumer("double")
def double(payload, log):
    log(f"doubling {payload.get('n')}\n")
    return {"doubled": payload["n"] * 2, "worker": "python"}


@consumer("recalc_scores")
def recalc_scores(payload, log):
    batch = int(payload.get("batch", 100))
    log(f"recalculating scores in batches of {batch}\n")
    return {"batches": 1, "batch": batch}


@consumer("fail")
def fail(payload, log):
    raise RuntimeError(payload.get("why", "asked to fail"))


# -- protocol ---------------------------------------------------------------------------------

JOBS_EXCHANGE, EVENTS_EXCHANGE = "grove.jobs", "grove.events"
CONTROL_EXCHANGE, DEAD_EXCHANGE, DEAD_QUEUE = "grove.control", "grove.dead", "grove.deadletters"
RANK = {"success": 0, "warnings": 1, "skipped": 0, "failure": 2, "exception": 3, "cancelled": 4}
HELLO_EVERY_S = 3
MAX_LOG_CHUNK = 64 * 1024


def job_queue(tags):
    tags = sorted(set(tags))
    return "grove.jobs." + "+".join(tags) if tags else "grove.jobs._any"


def queues_for(tags):
    """The queue of every subset of the worker's tags, the empty set included (max 8 tags)."""
    tags = sorted(set(tags))[:8]
    return sorted({job_queue(sub) for n in range(len(tags) + 1)
                   for sub in itertools.combinations(tags, n)})


def worst(a, b):
    return a if RANK.get(a, 3) >= RANK.get(b, 3) else b


class Worker:
    def __init__(self, args):
        self.name = args.name
        with open(args.secret_file) as f:
            self.secret = f.readline().strip()
        self.tags = [t for t in args.tags.split(",") if t] if args.tags else []
        self.capacity = args.capacity
        self.workdir = os.path.abspath(args.workdir)
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.params = pika.URLParameters(args.broker)
        self.params.heartbeat = 30
        self.next_id = 1
        self.running = {}  # (request, attempt) -> {"batch": delivery, "cancelled": bool}
        # A job message may carry several jobs (a JSON array, protocol v 3): it is acknowledged
        # once every one of them finished; they run `capacity` at a time, the rest wait here.
        self.batches = {}  # delivery tag -> jobs of it not finished
        self.waiting = []  # (job, key), in order
        self.threads = 0   # jobs running

    # Everything below runs on the connection's thread, except run_job.
    def connect(self):
        self.conn = pika.BlockingConnection(self.params)
        self.events = self.conn.channel()
        self.events.confirm_delivery()  # basic_publish returns once the broker confirmed
        ch = self.events
        ch.exchange_declare(JOBS_EXCHANGE, "direct", durable=True)
        ch.exchange_declare(EVENTS_EXCHANGE, "topic", durable=True)
        ch.exchange_declare(CONTROL_EXCHANGE, "direct", durable=True)
        ch.exchange_declare(DEAD_EXCHANGE, "fanout", durable=True)
        ch.queue_declare(DEAD_QUEUE, durable=True)
        ch.queue_bind(DEAD_QUEUE, DEAD_EXCHANGE, "")
        self.jobs = self.conn.channel()
        self.jobs.basic_qos(prefetch_count=self.capacity, global_qos=True)
        for q in queues_for(self.tags):
            ch.queue_declare(q, durable=True, arguments={"x-dead-letter-exchange": DEAD_EXCHANGE})
            ch.queue_bind(q, JOBS_EXCHANGE, q)
            self.jobs.basic_consume(q, self.on_job)
        # Cancels on a channel of their own: the jobs channel's prefetch never holds them back.
        self.control = self.conn.channel()
        cq = "grove.control." + self.name
        self.control.queue_declare(cq, durable=False)
        self.control.queue_bind(cq, CONTROL_EXCHANGE, self.name)
        self.control.basic_consume(cq, self.on_control, auto_ack=True)

    def publish(self, event):
        event = dict(event, id=self.next_id, worker=self.name)
        self.next_id += 1
        self.events.basic_publish(
            EVENTS_EXCHANGE, f"{self.name}.{event['type']}", json.dumps(event).encode(),
            pika.BasicProperties(delivery_mode=2, content_type="application/json"))

    def hello(self):
        self.publish({"type": "hello", "v": 3, "secret": self.secret, "instance": self.instance,
                      "capacity": self.capacity, "tags": self.tags,
                      "running": [{"request": r, "attempt": a} for r, a in self.running],
                      "version": "grove-python-example/1"})
        self.conn.call_later(HELLO_EVERY_S, self.hello)

    def on_job(self, ch, method, props, body):
        try:
            msg = json.loads(body)
            jobs = msg if isinstance(msg, list) else [msg]
            keys = []
            for job in jobs:
                keys.append((int(job["request"]), int(job["attempt"])))
                if not isinstance(job["steps"], list):
                    raise ValueError("steps is not a list")
            if not jobs:
                raise ValueError("an empty list")
        except (ValueError, KeyError, TypeError) as e:
            # One bad element dead-letters the whole message (docs/protocol.md).
            logging.error("job message refused (%s); dead-lettered", e)
            ch.basic_reject(method.delivery_tag, requeue=False)
            return
        known = any(k in self.running for k in keys)
        if method.redelivered and not known:
            # Its worker died or lost its connection while holding it: count the loss in the
            # x-grove-deliveries header and requeue it (whole) at the back, or dead-letter it
            # once MAX_LOST deliveries were lost (docs/protocol.md, "Worker rules").
            lost = int((props.headers or {}).get(DELIVERIES_HEADER, 0)) + 1
            if lost >= MAX_LOST:
                logging.error("job %s.%s: lost with its worker %d times; dead-lettered",
                              keys[0][0], keys[0][1], lost)
                ch.basic_reject(method.delivery_tag, requeue=False)
                return
            self.events.basic_publish(
                JOBS_EXCHANGE, method.routing_key, body,
                pika.BasicProperties(delivery_mode=2, content_type="application/json",
                                     headers={DELIVERIES_HEADER: lost}))
            ch.basic_ack(method.delivery_tag)  # after the confirmed publish above
            return
        tag = method.delivery_tag
        self.batches[tag] = 0
        for job, key in zip(jobs, keys):
            if key in self.running:  # delivered again while here: ack this one when done
                self.job_done(self.running[key]["batch"])
                self.running[key]["batch"] = tag
                self.batches[tag] += 1
                continue
            self.running[key] = {"batch": tag, "cancelled": False}
            self.batches[tag] += 1
            self.waiting.append((job, key))
        if self.batches[tag] == 0:
            del self.batches[tag]
            ch.basic_ack(tag)
        self.start_waiting()

    def start_waiting(self):
        while self.waiting and self.threads < self.capacity:
            job, key = self.waiting.pop(0)
            self.threads += 1
            threading.Thread(target=self.run_job, args=(job, key), daemon=True).start()

    def job_done(self, tag):
        """One job of delivery |tag| finished: the delivery is acked with its last job."""
        if tag not in self.batches:
            return
        self.batches[tag] -= 1
        if self.batches[tag] == 0:
            del self.batches[tag]
            self.jobs.basic_ack(tag)

    def on_control(self, ch, method, props, body):
        try:
            msg = json.loads(body)
        except ValueError:
            return
        key = (msg.get("request"), msg.get("attempt"))
        if msg.get("type") == "cancel" and key in self.running:
            logging.info("job %s.%s: cancelled by the master", *key)
            self.running[key]["cancelled"] = True

    def call(self, fn, *args):
        """Runs fn on the connection's thread and waits for it (from a job thread)."""
        done = threading.Event()
        box = {}

        def run():
            try:
                box["value"] = fn(*args)
            except Exception as e:  # handed back to the job thread
                box["error"] = e
            done.set()
        self.conn.add_callback_threadsafe(run)
        done.wait()
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def finish(self, key, result):
        self.publish({"type": "job.finished", "request": key[0], "attempt": key[1],
                      "result": result})
        # Acknowledged only now that job.finished is confirmed by the broker.
        entry = self.running.pop(key, None)
        if entry is not None:  # else its delivery died with a lost connection
            self.job_done(entry["batch"])
        self.threads -= 1
        logging.info("job %s.%s: %s", key[0], key[1], result)
        self.start_waiting()

    # On a job thread: the steps, one after the other.
    def run_job(self, job, key):
        request, attempt = key
        ev = {"request": request, "attempt": attempt}
        builddir = os.path.join(self.workdir, str(job.get("builder", "job")).replace("/", "_"))
        os.makedirs(builddir, exist_ok=True)
        self.call(self.publish, dict(ev, type="job.started", builddir=builddir))
        props = dict(job.get("properties") or {})
        result, halted = "success", False
        for i, step in enumerate(job["steps"]):
            cancelled = self.running[key]["cancelled"]
            if cancelled:
                result = "cancelled"
                break
            options = step.get("options") or {}
            if halted and not options.get("always_run"):
                continue
            self.call(self.publish, dict(ev, type="step.started", step=i, name=step.get("name", "")))
            r, out, text = self.run_step(step, options, props)
            for seq, start in enumerate(range(0, len(text), MAX_LOG_CHUNK)):
                self.call(self.publish, dict(ev, type="log", step=i, seq=seq,
                                             data=text[start:start + MAX_LOG_CHUNK]))
            finished = dict(ev, type="step.finished", step=i, result=r)
            if out is not None:
                finished["result_json"] = out
            self.call(self.publish, finished)
            effect = r if r != "failure" or options.get("flunk_on_failure", True) else "success"
            result = worst(result, effect)
            if r in ("failure", "exception") and step.get("halt_on_failure", True):
                halted = True
        self.call(self.finish, key, result)

    def run_step(self, step, options, props):
        """(result, result JSON or None, log text) of one step."""
        if step.get("type") != "consume":
            return "exception", None, f"[grove] this worker does not know step type '{step.get('type')}'\n"
        name = options.get("consumer", "")
        fn = CONSUMERS.get(name)
        if fn is None:
            return "exception", None, f"[grove] this worker has no consumer '{name}'\n"
        payload = options.get("payload", {})
        if options.get("payload_property"):
            payload = props.get(options["payload_property"], {})
        lines = []
        try:
            out = fn(payload, lines.append)
            json.dumps(out)  # the result must be JSON
            return "success", out, "".join(lines)
        except Exception:
            return "failure", None, "".join(lines) + traceback.format_exc()

    def serve(self):
        backoff = 0.2
        while True:
            try:
                self.connect()
                logging.info("worker %s: consuming %s", self.name, ", ".join(queues_for(self.tags)))
                backoff = 0.2
                self.hello()
                while True:  # deliveries of every channel, heartbeats, timers, job callbacks
                    self.conn.process_data_events(time_limit=1)
            except pika.exceptions.AMQPConnectionError as e:
                if self.running:  # their deliveries died with the connection: redelivered
                    logging.warning("connection lost with %d job(s) running", len(self.running))
                    self.running.clear()
                    self.batches.clear()
                    self.waiting.clear()
                logging.warning("broker: %s; reconnecting in %.1f s", e, backoff)
                threading.Event().wait(backoff)
                backoff = min(backoff * 2, 5)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--broker", required=True, help="amqp://user:pass@host:port/vhost")
    p.add_argument("--name", required=True)
    p.add_argument("--secret-file", required=True)
    p.add_argument("--tags", default="", help="comma-separated")
    p.add_argument("--capacity", type=int, default=1)
    p.add_argument("--workdir", default="py-worker")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    try:
        Worker(args).serve()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
