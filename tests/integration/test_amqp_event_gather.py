"""A worker's events travel together even when its jobs end spread over time (a command
consumer's jobs end one by one, a few ms apart): each event message costs RabbitMQ a persistent
write, a confirm and a delivery, and the master a batch and an acknowledgement, so the worker
gathers its events for a few ms before publishing them (docs/operations.md, "Where the CPU
goes"). What must not change: every job runs once, its result stored, its events in order."""
import json
import os

import pika

from amqp_harness import AmqpTestCase
from grove_harness import wait_for

QUEUE = "grove.jobs._any"
SPY = "test.events.spy"

# A consumer that takes a little while (so that jobs end apart, as real ones do) and echoes
# its payload as its result.
SLOW_CAT = "sleep 0.03\nexec cat\n"

CONFIG = r'''
worker "w1" { secret = secret "w1", capacity = 4 }
consumer { "echo" }
'''


class AmqpEventGatherTests(AmqpTestCase):
    worker_capacity = {"w1": 4}

    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1"])
        script = os.path.join(self.g.root, "slow_cat.sh")
        with open(script, "w") as f:
            f.write(SLOW_CAT)
        self.consumer = ["--consumer", f"echo=/bin/sh {script}"]
        self.g.start_master()
        # A copy of every event message the workers publish (grove.events is a topic exchange).
        conn, ch = self.channel()
        ch.queue_declare(SPY, durable=False, auto_delete=False)
        ch.queue_bind(SPY, "grove.events", "#")
        ch.queue_purge(SPY)
        self.addCleanup(self.delete_spy)

    def delete_spy(self):
        conn, ch = self.channel()
        ch.queue_delete(SPY)
        conn.close()

    def spied(self):
        """The event messages published so far, each as a list of events (hellos and byes
        left out: they are not numbered events)."""
        conn, ch = self.channel()
        out = []
        while True:
            method, _, body = ch.basic_get(SPY, auto_ack=True)
            if method is None:
                break
            try:
                msg = json.loads(body)
            except ValueError:
                continue  # a binary log frame
            events = msg if isinstance(msg, list) else [msg]
            events = [e for e in events if e.get("type") not in ("hello", "bye")]
            if events:
                out.append(events)
        conn.close()
        return out

    def post_jobs(self, n):
        for i in range(n):
            status, answer, _ = self.g.call("POST", "/api/v1/jobs",
                                            {"consumer": "echo", "payload": {"n": i}})
            self.assertEqual(status, 201, answer)

    def as_one_message(self, n):
        """Once the master published n jobs to QUEUE (one or several per message), puts them
        into ONE message, as the master does when jobs pile up: the worker holds them all and
        runs 4 at a time."""
        def jobs_waiting():
            """Jobs in QUEUE (peeked: they go back when the connection closes)."""
            conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            try:
                ch, total = conn.channel(), 0
                while True:
                    method, _, body = ch.basic_get(QUEUE, auto_ack=False)
                    if method is None:
                        return total
                    msg = json.loads(body)
                    total += len(msg) if isinstance(msg, list) else 1
            finally:
                conn.close()
        wait_for(lambda: jobs_waiting() == n, timeout=60, what=f"{n} jobs in {QUEUE}")
        self.merge_into_one_message(QUEUE, n)

    def assert_all_succeeded(self, n):
        for rid in range(1, n + 1):
            req = self.g.wait_request(rid, timeout=120)
            self.assertEqual(req["result"], "success", req)
            self.assertEqual(len(req["builds"]), 1, req)
            build = self.g.build(req["builds"][0]["id"])
            self.assertEqual(build["steps"][0]["result_json"], {"n": rid - 1}, build)

    def test_events_of_jobs_ending_apart_share_messages(self):
        self.g.start_worker("w1", extra=self.consumer)
        status, body, _ = self.g.call("POST", "/api/v1/workers/w1/pause")
        self.assertEqual(status, 200, body)
        wait_for(lambda: "paused by the master" in self.g.workers["w1"].output(),
                 what="w1 to stop consuming")
        n = 40
        self.post_jobs(n)
        self.as_one_message(n)
        self.spied()  # what came before the jobs (the worker's start)
        status, body, _ = self.g.call("POST", "/api/v1/workers/w1/resume")
        self.assertEqual(status, 200, body)
        self.assert_all_succeeded(n)
        msgs = self.spied()
        events = [e for m in msgs for e in m]
        finished = [e for e in events if e["type"] == "job.finished"]
        self.assertEqual(sorted(e["request"] for e in finished), list(range(1, n + 1)))
        # Ids keep increasing across messages: the master applies them in that order.
        ids = [e["id"] for e in events]
        self.assertEqual(ids, sorted(ids))
        # 80 events (a one-step job sends two, merged). Jobs of about 35 ms, 4 at a time: each
        # event went as its job started or ended, 50-60 messages; gathered for a few ms, the
        # ends of jobs that ran side by side and the starts that follow them share a message
        # (15-20 here on a loaded machine).
        print(f"{len(events)} events of {n} jobs in {len(msgs)} messages")
        self.assertLessEqual(len(msgs), 3 * n // 4, [len(m) for m in msgs])
