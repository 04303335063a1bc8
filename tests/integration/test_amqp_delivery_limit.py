"""Distributed mode: a job that takes down every worker that runs it is dead-lettered after
five lost deliveries instead of killing workers forever (docs/protocol.md, "Worker rules")."""
import pika
import time
import unittest

from amqp_harness import AmqpTestCase
from grove_harness import wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", capacity = 1 }
consumer { "crash" }
'''

# The consumer's shell is the worker's child: killing its parent is a worker crash mid-job.
WORKER_ARGS = ["--consumer", "crash=kill -9 $PPID"]


def post_job(g, consumer, payload):
    status, answer, _ = g.call("POST", "/api/v1/jobs", {"consumer": consumer, "payload": payload})
    assert status == 201, (status, answer)
    return answer["request"]


class DeliveryLimitTests(AmqpTestCase):
    def test_a_job_that_kills_its_workers_is_dead_lettered_after_five_deliveries(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        rid = post_job(g, "crash", {"boom": True})
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.addCleanup(conn.close)
        ch = conn.channel()

        def depth(queue):
            return ch.queue_declare(queue, passive=True).method.message_count
        wait_for(lambda: depth("grove.jobs._any") == 1, what="the job in RabbitMQ")
        # Without a master nobody re-queues the lost attempts as new ones or cancels stale
        # copies: what is counted is the deliveries of this one message, which workers see alone.
        g.master.stop()
        crashes = 0
        deadline = time.monotonic() + 60
        while depth("grove.deadletters") == 0:
            self.assertLess(time.monotonic(), deadline, "no dead letter after 60 s")
            worker = g.workers.get("w1")
            if worker is None or not worker.alive():
                if worker is not None:
                    crashes += 1
                    worker.stop()
                g.start_worker("w1", extra=WORKER_ARGS, wait=False)
            time.sleep(0.05)
        # Five deliveries ran and killed their worker; the sixth was refused.
        self.assertEqual(crashes, 5)
        self.assertIn(f"job {rid}.1: lost with its worker 5 times; dead-lettered",
                      g.workers["w1"].output())
        self.assertEqual(depth("grove.jobs._any"), 0)
        # The API shows it, with its delivery count, once the master is back.
        g.start_master()
        dead = g.get("/api/v1/deadletters")
        self.assertEqual(dead["count"], 1, dead)
        msg = dead["messages"][0]
        self.assertEqual((msg["body"]["request"], msg["body"]["attempt"]), (rid, 1))
        self.assertEqual(msg["body"]["steps"][0]["options"]["consumer"], "crash")
        self.assertEqual(msg["headers"].get("x-grove-deliveries"), 4, msg)


if __name__ == "__main__":
    unittest.main()
