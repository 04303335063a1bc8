"""Distributed mode across a RabbitMQ restart: master and worker reconnect; every request
finishes, none twice.

The node restarted is one of this file's own (scripts/rabbitmq.sh on a temp dir), not the
suite's shared node: the other tests keep running meanwhile (ctest ran this one alone before,
at the end of the run)."""
import shutil
import subprocess
import tempfile
import time
import unittest

from amqp_harness import AMQP_URL, RABBITMQ_SH, SKIP_REASON, AmqpTestCase

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
    node_dir = None

    @classmethod
    def setUpClass(cls):
        if not AMQP_URL:  # no RabbitMQ wanted in this run
            raise unittest.SkipTest(SKIP_REASON)
        cls.node_dir = tempfile.mkdtemp(prefix="grove-rmq-restart-")
        try:
            out = subprocess.run([RABBITMQ_SH, "start", cls.node_dir], check=True,
                                 capture_output=True, text=True, timeout=300)
        except BaseException:
            shutil.rmtree(cls.node_dir, ignore_errors=True)
            raise
        cls.amqp_url = out.stdout.strip()

    @classmethod
    def tearDownClass(cls):
        subprocess.run([RABBITMQ_SH, "stop", cls.node_dir], capture_output=True, timeout=180)
        shutil.rmtree(cls.node_dir, ignore_errors=True)

    def test_builds_survive_a_broker_restart(self):
        g = self.make(CONFIG, workers=["w1"], grace="30s")
        g.start_master()
        g.start_worker("w1")
        ids = [g.force("quick") for _ in range(20)]
        time.sleep(0.5)
        subprocess.run([RABBITMQ_SH, "restart", self.node_dir], check=True, capture_output=True,
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
