"""Several consumer jobs in one RabbitMQ message (docs/protocol.md, "Messages"): the master
merges consumer jobs that pile up into JSON arrays only while every worker it hears from speaks
v 3, a worker runs an array's jobs `capacity` at a time, and a worker killed while holding one
loses no result and stores none twice."""
import json
import os
import re
import threading
import time
import unittest

import pika

from amqp_harness import AmqpTestCase
from grove_harness import wait_for

QUEUE = "grove.jobs._any"

# A consumer command: payload on stdin, the same JSON on stdout, after a pause of argv[1] seconds.
ECHO = "import sys, time; data = sys.stdin.read(); time.sleep(float(sys.argv[1])); sys.stdout.write(data)"
# Long enough for a test to kill or stop its worker mid-batch.
SLOW = 0.4
# Long enough for two jobs of a message to overlap (capacity 2), short enough for a burst of 150
# to run in seconds (at SLOW, 150 jobs two at a time waited 30 s).
QUICK = 0.1

CONFIG = r'''
worker "w1" { secret = secret "w1", capacity = 2 }
worker "w2" { secret = secret "w2", capacity = 2 }
consumer { "echo" }
'''


class AmqpJobBatchTests(AmqpTestCase):
    worker_capacity = {"w1": 2, "w2": 2}

    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1", "w2"])
        script = os.path.join(self.g.root, "echo.py")
        with open(script, "w") as f:
            f.write(ECHO)
        self.script = script
        self.g.start_master()

    def consumer(self, pause):
        """The worker's --consumer flag for an echo that takes |pause| seconds a job."""
        return ["--consumer", f"echo=/usr/bin/python3 {self.script} {pause}"]

    def pause(self, name):
        status, body, _ = self.g.call("POST", f"/api/v1/workers/{name}/pause")
        self.assertEqual(status, 200, body)
        wait_for(lambda: "paused by the master" in self.g.workers[name].output(),
                 what=f"{name} to stop consuming")

    def resume(self, name):
        status, body, _ = self.g.call("POST", f"/api/v1/workers/{name}/resume")
        self.assertEqual(status, 200, body)

    def submit_burst(self, n):
        """n consumer jobs published to grove.submit at once: the master claims them in a few
        transactions and publishes their jobs together, so they pile up in its publisher."""
        conn, ch = self.channel()
        props = pika.BasicProperties(delivery_mode=2)
        for i in range(n):
            ch.basic_publish("grove.submit", "",
                             json.dumps({"consumer": "echo", "payload": {"n": i}}).encode(), props)
        conn.close()

    def peek(self):
        """The job messages waiting in QUEUE (fetched unacknowledged: they go back when the
        connection closes), as lists of job objects."""
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            ch = conn.channel()
            out = []
            while True:
                method, _, body = ch.basic_get(QUEUE, auto_ack=False)
                if method is None:
                    return out
                msg = json.loads(body)
                out.append(msg if isinstance(msg, list) else [msg])
        finally:
            conn.close()

    def wait_published(self, n):
        """Every one of n jobs is in QUEUE; returns the messages."""
        box = {}

        def all_there():
            box["msgs"] = self.peek()
            return sum(len(m) for m in box["msgs"]) == n
        wait_for(all_there, timeout=60, what=f"{n} jobs in {QUEUE}")
        return box["msgs"]

    def as_one_message(self, n):
        """Once the master published n jobs to QUEUE, puts them all into ONE message (a JSON
        array of the master's job objects, as docs/protocol.md describes it)."""
        self.wait_published(n)
        self.merge_into_one_message(QUEUE, n)

    def requests(self, n):
        return [self.g.get(f"/api/v1/requests/{rid}") for rid in range(1, n + 1)]

    def assert_each_ran_once(self, n):
        """Every request ended success with its own payload as result, and the store has one
        build per attempt, exactly one of them successful."""
        for rid in range(1, n + 1):
            req = self.g.wait_request(rid, timeout=120)
            self.assertEqual(req["result"], "success", req)
            builds = [self.g.build(b["id"]) for b in req["builds"]]
            attempts = [b["attempt"] for b in builds]
            self.assertEqual(len(attempts), len(set(attempts)), builds)
            ok = [b for b in builds if b["result"] == "success"]
            self.assertEqual(len(ok), 1, builds)
            payload = req.get("properties", {}).get("payload") or ok[0]["properties"]["payload"]
            if isinstance(payload, list):  # a property as [value, source]
                payload = payload[0]
            self.assertEqual(ok[0]["steps"][0]["result_json"], payload, ok[0])

    def test_piled_up_consumer_jobs_travel_together_and_all_run(self):
        self.g.start_worker("w1", extra=self.consumer(QUICK) + ["--log-level", "debug"])
        self.pause("w1")  # connected (a v 3 worker), not consuming: the queue can be read
        n = 150
        self.submit_burst(n)
        msgs = self.wait_published(n)
        sizes = [len(m) for m in msgs]
        self.assertLess(len(msgs), n, sizes)  # several jobs per message
        self.assertTrue(all(s <= 32 for s in sizes), sizes)  # the cap
        jobs = [j for m in msgs for j in m]
        self.assertEqual(sorted(j["request"] for j in jobs), list(range(1, n + 1)))
        self.resume("w1")
        self.assert_each_ran_once(n)
        # At most `capacity` (2) at a time, whatever a message carries: the worker logs (at
        # debug level) "job R.A: builder B in DIR" when it starts one and "job R.A: RESULT"
        # when it ends.
        running = peak = 0
        for line in self.g.workers["w1"].output().splitlines():
            if re.search(r"job \d+\.\d+: builder ", line):
                running += 1
                peak = max(peak, running)
            elif re.search(r"job \d+\.\d+: (success|failure|exception|cancelled|retry)$",
                           line):
                running -= 1
        self.assertEqual(peak, 2)
        _, ch = self.channel()
        wait_for(lambda: ch.queue_declare(QUEUE, passive=True).method.message_count == 0,
                 what="an empty job queue")

    def test_a_posted_batch_is_claimed_at_once_and_its_jobs_carry_no_tokens(self):
        # No worker: the jobs wait in RabbitMQ. A batch POSTed in distributed mode is claimed
        # in the transaction that inserts it (nothing queued before it): each request is
        # claimed at attempt 1 with its build numbered in the batch's order, and a consumer's
        # job carries neither the API token nor the artifact token (its consume step uses
        # neither; docs/protocol.md).
        n = 40
        status, body, _ = self.g.call("POST", "/api/v1/jobs", {
            "jobs": [{"consumer": "echo", "payload": {"n": i}} for i in range(n)]})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["requests"], list(range(1, n + 1)))
        jobs = sorted((j for m in self.wait_published(n) for j in m), key=lambda j: j["request"])
        self.assertEqual([j["request"] for j in jobs], list(range(1, n + 1)))
        for i, job in enumerate(jobs):
            self.assertNotIn("api_token", job)
            self.assertNotIn("token", job)
            self.assertEqual(job["attempt"], 1)
            self.assertEqual(job["properties"]["payload"], {"n": i})
            self.assertEqual(job["properties"]["buildnumber"], i + 1)
        for req in self.requests(n):
            self.assertEqual(req["state"], "claimed", req)
            self.assertEqual(len(req["builds"]), 1, req)
        self.assertEqual(self.g.get("/api/v1/status")["queued_count"], 0)
        # They all run, once each, when a worker comes.
        self.g.start_worker("w1", extra=self.consumer(0))
        self.assert_each_ran_once(n)

    def test_worker_killed_holding_a_multi_job_message_loses_and_doubles_nothing(self):
        self.g.start_worker("w1", extra=self.consumer(SLOW))
        self.pause("w1")
        n = 12
        for i in range(n):
            status, answer, _ = self.g.call("POST", "/api/v1/jobs",
                                            {"consumer": "echo", "payload": {"n": i}})
            self.assertEqual(status, 201, answer)
        self.as_one_message(n)
        self.resume("w1")

        def some_done():
            done = [r for r in self.requests(n) if r["state"] == "finished"]
            return done if len(done) >= 3 else None
        done_before = wait_for(some_done, timeout=60, what="w1 to finish a few of the jobs")
        self.g.workers["w1"].kill_group()  # SIGKILL: the array is unacknowledged
        finished = {r["id"]: r for r in self.requests(n) if r["state"] == "finished"}
        self.assertGreaterEqual(len(finished), len(done_before))
        self.assertLess(len(finished), n, "w1 finished everything before it was killed")
        self.g.start_worker("w2", extra=self.consumer(QUICK))
        self.assert_each_ran_once(n)
        for rid, before in finished.items():
            # Finished by w1: not run again under its attempt, its result kept.
            req = self.g.get(f"/api/v1/requests/{rid}")
            self.assertEqual(len(req["builds"]), 1, req)
            self.assertEqual(self.g.build(req["builds"][0]["id"])["worker"], "w1")
        _, ch = self.channel()
        wait_for(lambda: ch.queue_declare(QUEUE, passive=True).method.message_count == 0,
                 what="an empty job queue")

    def test_stopping_worker_hands_back_the_jobs_it_had_not_started(self):
        self.g.start_worker("w1", extra=self.consumer(SLOW))
        self.pause("w1")
        n = 10
        for i in range(n):
            status, answer, _ = self.g.call("POST", "/api/v1/jobs",
                                            {"consumer": "echo", "payload": {"n": i}})
            self.assertEqual(status, 201, answer)
        self.as_one_message(n)
        self.resume("w1")
        wait_for(lambda: len([r for r in self.requests(n) if r["state"] == "finished"]) >= 2,
                 timeout=60, what="w1 to finish a few of the jobs")
        self.g.workers["w1"].stop()  # SIGTERM: the running jobs end as retry
        self.assertIn("handed back", self.g.workers["w1"].output())
        self.g.start_worker("w2", extra=self.consumer(QUICK))
        self.assert_each_ran_once(n)
        # Handed back is no loss: no delivery was counted, nothing was dead-lettered.
        self.assertNotIn("delivered again", self.g.workers["w2"].output())
        _, ch = self.channel()
        self.assertEqual(ch.queue_declare("grove.deadletters", passive=True).method.message_count, 0)

    def test_no_arrays_while_a_worker_that_does_not_speak_v3_is_connected(self):
        self.g.start_worker("w1", extra=self.consumer(0))
        self.pause("w1")
        # w2 as a worker of protocol v 1 (the python example, older Grove workers): a hello
        # every 2 s, and it consumes nothing.
        stop = threading.Event()

        def hellos():
            conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            ch = conn.channel()
            hello = {"type": "hello", "v": 1, "worker": "w2", "secret": self.g.secrets["w2"],
                     "instance": "old-w2", "capacity": 1, "tags": [], "running": []}
            while not stop.is_set():
                ch.basic_publish("grove.events", "w2.hello", json.dumps(hello).encode())
                stop.wait(2)
            conn.close()
        t = threading.Thread(target=hellos, daemon=True)
        t.start()
        self.addCleanup(t.join)
        self.addCleanup(stop.set)
        wait_for(lambda: self.g.worker_connected("w2"), what="the v 1 worker to connect")
        n = 150
        self.submit_burst(n)
        msgs = self.wait_published(n)
        self.assertEqual([len(m) for m in msgs], [1] * n)
        for m in msgs:  # and each is a job object, not an array of one
            self.assertIsInstance(m[0], dict)
        self.resume("w1")
        self.assert_each_ran_once(n)


if __name__ == "__main__":
    unittest.main()
