"""Distributed mode across a RabbitMQ restart: master and worker reconnect; every request
finishes, none twice."""
import os
import subprocess
import time
import unittest

from amqp_harness import RABBITMQ_DIR, RABBITMQ_SH, AmqpTestCase
from grove_harness import wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 4 }
builder "quick" {
  tags = { "linux" },
  steps = { shell { "sleep 1; echo ran", name = "work" } },
}
'''


class AmqpBrokerRestartTests(AmqpTestCase):
    worker_tags = {"w1": ["linux"]}
    worker_capacity = {"w1": 4}

    def test_builds_survive_a_broker_restart(self):
        if not RABBITMQ_DIR:
            self.skipTest("GROVE_RABBITMQ_DIR is unset: the node is not ours to restart")
        g = self.make(CONFIG, workers=["w1"], grace="30s")
        g.start_master()
        g.start_worker("w1")
        ids = [g.force("quick") for _ in range(20)]
        time.sleep(0.5)
        subprocess.run([RABBITMQ_SH, "restart", RABBITMQ_DIR], check=True, capture_output=True,
                       timeout=180)
        ids += [g.force("quick") for _ in range(10)]
        for rid in ids:
            req = g.wait_request(rid, timeout=90)
            self.assertEqual(req["result"], "success", req)
            attempts = [b["attempt"] for b in req["builds"]]
            self.assertEqual(len(attempts), len(set(attempts)), req)  # one build per attempt
            for b in req["builds"]:
                build = g.build(b["id"])
                if build["result"] == "success":
                    log, _ = g.log(b["id"], 0)
                    self.assertEqual(log.count("ran"), 1, log)


if __name__ == "__main__":
    unittest.main()
