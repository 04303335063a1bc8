"""Distributed mode: an application enqueues builds and consumer jobs by publishing to
RabbitMQ's grove.submit exchange — no HTTP to the master, and nothing lost while it is down."""
import json
import unittest

import pika

from amqp_harness import AmqpTestCase
from grove_harness import wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", capacity = 4 }
consumer { "echo" }
builder "hello" { steps = { shell { "echo hello ${prop:who}", name = "greet" } } }
'''
WORKER_ARGS = ["--consumer", "echo=cat"]


class AmqpSubmitTests(AmqpTestCase):
    def setUp(self):
        super().setUp()
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.addCleanup(conn.close)
        self.ch = conn.channel()
        self.ch.confirm_delivery()

    def publish(self, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.ch.basic_publish("grove.submit", "", data, pika.BasicProperties(delivery_mode=2))

    def depth(self, queue):
        return self.ch.queue_declare(queue, passive=True).method.message_count

    def requests(self, g):
        """The master's requests: ids count from 1 in a new store."""
        out = []
        while True:
            status, body, _ = g.call("GET", f"/api/v1/requests/{len(out) + 1}")
            if status == 404:
                return out
            out.append(body)

    def test_builds_and_consumer_jobs_submitted_through_rabbitmq_run(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1", extra=WORKER_ARGS)
        self.publish({"consumer": "echo", "payload": {"n": 7}, "reason": "nightly scores"})
        self.publish({"builder": "hello", "properties": {"who": "grove"}})
        wait_for(lambda: len(self.requests(g)) == 2, what="two requests")
        job, build = self.requests(g)
        job = g.wait_request(job["id"])
        self.assertEqual((job["builder"], job["reason"], job["result"]),
                         ("consume:echo", "nightly scores", "success"))
        self.assertEqual(g.build(job["builds"][0]["id"])["steps"][0]["result_json"], {"n": 7})
        build = g.wait_request(build["id"])
        self.assertEqual((build["builder"], build["result"]), ("hello", "success"))
        log, _ = g.log(build["builds"][0]["id"], 0)
        self.assertEqual(log, "hello grove\n")
        self.assertEqual(self.depth("grove.submit"), 0)

    def test_submissions_wait_in_rabbitmq_while_the_master_is_down(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()  # declares grove.submit
        g.start_worker("w1", extra=WORKER_ARGS)
        g.master.stop()
        for n in range(20):
            self.publish({"consumer": "echo", "payload": {"n": n}})
        self.assertEqual(self.depth("grove.submit"), 20)
        g.start_master()
        wait_for(lambda: len(self.requests(g)) == 20, timeout=30, what="twenty requests")
        results = []
        for r in self.requests(g):
            r = g.wait_request(r["id"])
            self.assertEqual(r["result"], "success", r)
            results.append(g.build(r["builds"][0]["id"])["steps"][0]["result_json"]["n"])
        self.assertEqual(sorted(results), list(range(20)))  # each once, none lost
        self.assertEqual(self.depth("grove.submit"), 0)

    def test_bad_submissions_are_dead_lettered_and_the_master_carries_on(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1", extra=WORKER_ARGS)
        bad = [b"{not json",
               {"consumer": "nope"},
               {"builder": "hello", "consumer": "echo"},
               {"builder": "hello", "properties": "who=x"},
               {"consumer": "echo", "payload": {"blob": "x" * (2 << 20)}}]
        for body in bad:
            self.publish(body)
        wait_for(lambda: self.depth("grove.deadletters") == 5, what="five dead letters")
        log = g.master.output()
        self.assertIn("no consumer 'nope' is declared", log)
        self.assertIn("give exactly one of 'builder' and 'consumer'", log)
        self.assertIn("'properties' must be an object", log)
        self.assertIn("(more than 1 MiB) dead-lettered", log)
        self.assertEqual(self.requests(g), [])
        self.publish({"consumer": "echo", "payload": {"ok": True}})
        wait_for(lambda: len(self.requests(g)) == 1, what="the good submission")
        self.assertEqual(g.wait_request(self.requests(g)[0]["id"])["result"], "success")

    def test_an_array_is_a_batch_stored_whole(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1", extra=WORKER_ARGS)
        batch = [{"consumer": "echo", "payload": {"n": n}} for n in range(10)]
        batch.append({"builder": "hello", "properties": {"who": "batch"}})
        self.publish(batch)
        wait_for(lambda: len(self.requests(g)) == 11, what="eleven requests")
        results = []
        for r in self.requests(g):
            r = g.wait_request(r["id"])
            self.assertEqual(r["result"], "success", r)
            if r["builder"] == "consume:echo":
                results.append(g.build(r["builds"][0]["id"])["steps"][0]["result_json"]["n"])
            else:
                log, _ = g.log(r["builds"][0]["id"], 0)
                self.assertEqual(log, "hello batch\n")
        self.assertEqual(results, list(range(10)))  # in the array's order
        self.assertEqual(self.depth("grove.submit"), 0)

    def test_an_array_with_one_bad_submission_is_dead_lettered_whole(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1", extra=WORKER_ARGS)
        good = {"consumer": "echo", "payload": {"n": 1}}
        self.publish([good, good, {"consumer": "nope"}])
        self.publish([good, {"consumer": "echo", "payload": {"blob": "x" * (2 << 20)}}])
        self.publish([])
        wait_for(lambda: self.depth("grove.deadletters") == 3, what="three dead letters")
        log = g.master.output()
        self.assertIn("submission 2: no consumer 'nope' is declared", log)
        self.assertIn("submission 1 is larger than 1 MiB", log)
        self.assertIn("1 to 1000 submissions, not 0", log)
        self.assertEqual(self.requests(g), [])
        self.publish([good])
        wait_for(lambda: len(self.requests(g)) == 1, what="the good batch")
        self.assertEqual(g.wait_request(1)["result"], "success")


if __name__ == "__main__":
    unittest.main()
