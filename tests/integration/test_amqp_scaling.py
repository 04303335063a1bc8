"""Distributed mode, scale-out (issue 5): workers added and removed while 1,000 consumer jobs
flow through RabbitMQ. Nothing is lost, nothing runs twice under one attempt, and the added
workers really take a share of the work."""
import collections
import concurrent.futures
import signal
import time
import unittest

from amqp_harness import AmqpTestCase
from grove_harness import wait_for

JOBS = 1000
CAPACITY = 4

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 4 }
worker "w2" { secret = secret "w2", tags = { "linux" }, capacity = 4 }
worker "w3" { secret = secret "w3", tags = { "linux" }, capacity = 4 }
consumer { "echo", tags = { "linux" } }
'''

# Payload on stdin, result on stdout: {"echo": PAYLOAD}. The sleep keeps jobs in flight.
ECHO = r'''p=$(cat); sleep 0.1; printf '{"echo": %s}\n' "$p"'''


class AmqpScalingTests(AmqpTestCase):
    worker_tags = {"w1": ["linux"], "w2": ["linux"], "w3": ["linux"]}
    worker_capacity = {"w1": CAPACITY, "w2": CAPACITY, "w3": CAPACITY}

    def start_worker(self, g, name):
        return g.start_worker(name, extra=["--consumer", f"echo={ECHO}"])

    def finished_count(self, g):
        status = g.get("/api/v1/status")
        return JOBS - status["queued_count"] - status["running_count"]

    def running_on(self, g, name):
        return [w for w in g.get("/api/v1/workers") if w["name"] == name][0]["running"]

    def test_workers_added_and_removed_while_1000_jobs_flow(self):
        started = time.monotonic()
        g = self.make(CONFIG, workers=["w1", "w2", "w3"], grace="1s")
        g.start_master()
        self.start_worker(g, "w1")

        def enqueue(n):
            status, answer, _ = g.call("POST", "/api/v1/jobs",
                                       {"consumer": "echo", "payload": {"n": n, "word": f"job-{n}"}})
            self.assertEqual(status, 201, answer)
            return answer["request"], n

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            payload_of = dict(pool.map(enqueue, range(JOBS)))
        self.assertEqual(len(payload_of), JOBS)  # one request per POST

        # Two more workers join while w1 works through the queue.
        wait_for(lambda: self.finished_count(g) >= 40, timeout=30, what="w1 to finish 40 jobs")
        self.assertLess(self.finished_count(g), JOBS - 300, "the jobs ran too fast to scale out")
        self.start_worker(g, "w2")
        self.start_worker(g, "w3")
        wait_for(lambda: self.running_on(g, "w2") and self.running_on(g, "w3"), timeout=20,
                 what="the new workers to take jobs")

        # w2 leaves gracefully (SIGTERM) while it runs jobs: they are handed back, not lost.
        wait_for(lambda: self.finished_count(g) >= 300, timeout=40, what="300 jobs done")
        wait_for(lambda: self.running_on(g, "w2"), timeout=10, what="w2 to run a job")
        w2_stopped = time.monotonic()
        self.assertEqual(g.workers["w2"].stop(signal.SIGTERM, timeout=15), 0)
        self.assertLess(time.monotonic() - w2_stopped, 10, "w2 took too long to stop")

        # w3 is SIGKILLed mid-job: RabbitMQ redelivers its unacknowledged jobs.
        wait_for(lambda: self.running_on(g, "w3"), timeout=10, what="w3 to run a job")
        self.assertLess(self.finished_count(g), JOBS - 100, "the jobs ran too fast to kill w3")
        g.workers["w3"].kill_group()

        # Every request ends in success (the killed worker's after silence + grace).
        wait_for(lambda: self.finished_count(g) >= JOBS, timeout=80, interval=0.5,
                 what="all 1,000 requests to finish")

        def details(rid):
            req = g.get(f"/api/v1/requests/{rid}")
            return req, [g.build(b["id"]) for b in req["builds"]]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            everything = list(pool.map(details, payload_of))
        by_worker = collections.Counter()
        retried_on = collections.Counter()
        for req, builds in everything:
            rid = req["id"]
            self.assertEqual((req["state"], req["result"]), ("finished", "success"), req)
            keys = [(rid, b["attempt"]) for b in builds]
            self.assertEqual(len(keys), len(set(keys)), f"two builds for one attempt: {builds}")
            # Attempts 1..n: every one but the last handed back ("retry"), the last succeeded.
            self.assertEqual([b["attempt"] for b in builds], list(range(1, len(builds) + 1)), builds)
            self.assertEqual([b["result"] for b in builds], ["retry"] * (len(builds) - 1) + ["success"],
                             builds)
            last = builds[-1]
            self.assertEqual(last["steps"][0]["result_json"],
                             {"echo": {"n": payload_of[rid], "word": f"job-{payload_of[rid]}"}}, last)
            by_worker[last["worker"]] += 1
            for b in builds[:-1]:
                retried_on[b["worker"]] += 1
                self.assertNotEqual(last["worker"], b["worker"], builds)  # it ran elsewhere

        # The killed worker's jobs show their retry; the leaving worker's jobs were handed back.
        self.assertGreaterEqual(retried_on["w3"], 1, retried_on)
        self.assertEqual(set(retried_on) - {"w2", "w3"}, set(), retried_on)
        # The work was spread: each worker ran a share of it.
        for name in ("w1", "w2", "w3"):
            self.assertGreaterEqual(by_worker[name], 20, by_worker)
        self.assertEqual(sum(by_worker.values()), JOBS)

        # Nothing was dead-lettered and every job message was acknowledged.
        self.assertEqual(g.get("/api/v1/deadletters")["count"], 0)
        wait_for(lambda: self.queue_depth("grove.jobs.linux") == 0, timeout=10,
                 what="an empty job queue")
        print(f"\n  {JOBS} jobs: by worker {dict(by_worker)}, retried {dict(retried_on)}, "
              f"{time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    unittest.main()
