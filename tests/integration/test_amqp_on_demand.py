"""On-demand workers in distributed mode (issue 13): the pool grows with the depth of the
RabbitMQ queue its worker's tags serve, never beyond max, and shrinks when the queue is empty."""
import threading
import time
import unittest

from amqp_harness import AmqpTestCase
from grove_harness import wait_for
from on_demand_harness import Pool, config, pool_info


class AmqpOnDemandTests(AmqpTestCase):
    # The instances' control queues, deleted between tests.
    worker_tags = {"burst-1": ["linux"], "burst-2": ["linux"], "burst-3": ["linux"]}

    def setUp(self):
        super().setUp()
        self.pools = []

    def tearDown(self):
        for pool in self.pools:
            pool.kill_all()
        super().tearDown()

    def test_queue_depth_starts_instances_up_to_max_and_idle_ones_stop(self):
        g = self.make("", workers=["burst"])
        pool = Pool(g.root)
        self.pools.append(pool)
        g.write_config(config(pool.dir, max_=3, idle="2s", step="sleep 0.2"))
        g.start_master()
        most = {"alive": 0}
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                most["alive"] = max(most["alive"], len(pool.alive()))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        ids = [g.force("job") for _ in range(30)]
        for rid in ids:
            self.assertEqual(g.wait_request(rid, timeout=180)["result"], "success")
        wait_for(lambda: not pool_info(g)["instances"], timeout=60, what="the instances to stop")
        stop.set()
        watcher.join()
        self.assertLessEqual(most["alive"], 3)
        self.assertGreaterEqual(len(pool.started()), 2)  # the queue's depth asked for more than one
        self.assertEqual(sorted(pool.started()), sorted(pool.stopped()))
        self.assertEqual(pool.alive(), {})


if __name__ == "__main__":
    unittest.main()
