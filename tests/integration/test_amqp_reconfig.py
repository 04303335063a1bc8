"""Reconfig (test_reconfig) in distributed mode: a changed grove.lua applies whole or not at all,
and a build running through RabbitMQ is not dropped."""
import unittest

import test_reconfig
from amqp_harness import AmqpTestCase
from grove_harness import wait_for

BASE = test_reconfig.BASE


class AmqpReconfigTests(AmqpTestCase, test_reconfig.ReconfigTests):
    worker_tags = {"w1": ["linux"], "w2": ["gpu"]}

    def test_builder_added_by_reconfig_gets_its_queue(self):
        # The tag set "gpu" appears only with the reconfig, and no worker that would declare its
        # queue runs yet: unless the master declares it, RabbitMQ drops the job.
        base = BASE + 'worker "w2" { secret = secret "w2", tags = { "gpu" } }\n'
        g = self.make(base, workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        g.write_config(base + 'builder "cuda" { tags = { "gpu" }, '
                       'steps = { shell { "echo on gpu" } } }\n')
        res = g.cli("reconfig", g.dir)
        self.assertEqual(res.returncode, 0, res.stderr)
        wait_for(lambda: "cuda" in [b["name"] for b in g.get("/api/v1/builders")],
                 what="the new builder")
        req = g.force("cuda")

        def waiting():
            try:
                return self.queue_depth("grove.jobs.gpu") == 1
            except Exception:  # not declared (yet)
                return False
        wait_for(waiting, what="the job to wait in grove.jobs.gpu")
        g.start_worker("w2")
        self.assertEqual(g.wait_request(req)["result"], "success")


# Only the AMQP variant runs from this file (test_reconfig runs the embedded one).
del test_reconfig

if __name__ == "__main__":
    unittest.main()
