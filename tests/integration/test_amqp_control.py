"""Distributed mode: the controls a user has over what runs — master locks and pausing a
worker — still hold when RabbitMQ, not the master, hands out the jobs."""
import time
import unittest

from amqp_harness import AmqpTestCase
from grove_harness import wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
worker "w2" { secret = secret "w2", tags = { "linux" }, capacity = 2 }
local db = lock.master { "db", max = 1 }
builder "migrate" {
  tags = { "linux" }, locks = { db },
  steps = { shell { "sleep 0.5", name = "work" } },
}
builder "report" {
  tags = { "linux" }, locks = { db },
  steps = { shell { "sleep 0.5", name = "work" } },
}
builder "quick" { tags = { "linux" }, steps = { shell { "true", name = "work" } } }
'''


class AmqpControlTests(AmqpTestCase):
    worker_tags = {"w1": ["linux"], "w2": ["linux"]}
    worker_capacity = {"w1": 2, "w2": 2}

    def pause(self, g, name):
        status, body, _ = g.call("POST", f"/api/v1/workers/{name}/pause")
        self.assertEqual(status, 200, body)
        wait_for(lambda: "paused by the master" in g.workers[name].output(),
                 what=f"{name} to stop consuming")

    def test_a_master_lock_is_exclusive_across_workers_and_builders(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        g.start_worker("w2")
        # Four workers slots, four requests, one lock: they run one after the other.
        ids = [g.force(b) for b in ("migrate", "report", "migrate", "report")]
        builds = []
        for rid in ids:
            req = g.wait_request(rid, timeout=60)
            self.assertEqual(req["result"], "success", req)
            builds.append(g.build(req["builds"][0]["id"]))
        spans = sorted((b["started_at"], b["finished_at"]) for b in builds)
        for (s1, f1), (s2, f2) in zip(spans, spans[1:]):
            self.assertLessEqual(f1, s2, f"builds holding the same master lock overlap: {spans}")
        # A builder without the lock is not held up by it.
        rid = g.force("migrate")
        quick = g.wait_request(g.force("quick"), timeout=30)
        self.assertEqual(quick["result"], "success")
        self.assertIsNone(g.get(f"/api/v1/requests/{rid}")["finished_at"])
        g.wait_request(rid, timeout=30)

    def test_a_paused_worker_takes_no_new_jobs_until_resumed(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        self.pause(g, "w1")
        rid = g.force("quick")
        time.sleep(1.5)  # long enough for an unpaused worker to have run it many times over
        self.assertEqual(g.get(f"/api/v1/requests/{rid}")["state"], "claimed")
        self.assertTrue(next(w for w in g.get("/api/v1/workers") if w["name"] == "w1")["paused"])
        # Another worker takes it from RabbitMQ meanwhile.
        g.start_worker("w2")
        req = g.wait_request(rid, timeout=30)
        self.assertEqual(g.build(req["builds"][0]["id"])["worker"], "w2")
        g.workers["w2"].stop()
        # Resumed, w1 takes jobs again.
        status, body, _ = g.call("POST", "/api/v1/workers/w1/resume")
        self.assertEqual(status, 200, body)
        req = g.wait_request(g.force("quick"), timeout=30)
        self.assertEqual(g.build(req["builds"][0]["id"])["worker"], "w1")

    def test_a_pause_survives_a_master_restart(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        self.pause(g, "w1")
        g.master.stop()
        g.start_master()
        # The worker tells the new master it is paused (its hello), and still takes nothing.
        wait_for(lambda: any(w["name"] == "w1" and w["connected"] and w["paused"]
                             for w in g.get("/api/v1/workers")),
                 what="w1 to be shown connected and paused")
        rid = g.force("quick")
        time.sleep(1.5)
        self.assertEqual(g.get(f"/api/v1/requests/{rid}")["state"], "claimed")
        g.call("POST", "/api/v1/workers/w1/resume")
        self.assertEqual(g.wait_request(rid, timeout=30)["result"], "success")

    def test_a_worker_acknowledges_no_job_before_the_master_accepts_it(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        rid = g.force("quick")  # waits in RabbitMQ
        wait_for(lambda: self.queue_depth("grove.jobs.linux") == 1, what="the job in RabbitMQ")
        g.master.stop()
        # With no master to refuse it, a worker with a wrong secret runs the job to the end...
        # (--log-level debug: the worker logs each job's end at debug level.)
        impostor = g.start_worker("w1", secret="not-the-secret", wait=False,
                                  extra=["--log-level", "debug"])
        wait_for(lambda: f"job {rid}.1: success" in impostor.output(), what="the job to run")
        impostor.stop()
        # ... but acknowledged nothing: the job is still there for the workers the master accepts.
        wait_for(lambda: self.queue_depth("grove.jobs.linux") == 1, what="the job back in RabbitMQ")
        g.start_master()
        g.start_worker("w2")
        req = g.wait_request(rid, timeout=30)
        self.assertEqual(req["result"], "success", req)
        self.assertEqual([b["attempt"] for b in req["builds"]], [1], req)
        self.assertEqual(g.build(req["builds"][0]["id"])["worker"], "w2")
    def test_a_job_waiting_in_rabbitmq_can_be_cancelled(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        rid = g.force("quick")  # no worker yet: it waits in RabbitMQ
        wait_for(lambda: self.queue_depth("grove.jobs.linux") == 1, what="the job in RabbitMQ")
        status, body, _ = g.call("POST", f"/api/v1/requests/{rid}/cancel")
        self.assertEqual(status, 200, body)
        req = g.get(f"/api/v1/requests/{rid}")
        self.assertEqual((req["state"], req["result"]), ("finished", "cancelled"))
        # The worker that gets the job later is told to drop it: nothing of it is run or stored.
        g.start_worker("w1")
        wait_for(lambda: self.queue_depth("grove.jobs.linux") == 0, what="the job consumed")
        build = g.build(req["builds"][0]["id"])
        self.assertEqual(build["result"], "cancelled")
        self.assertEqual(build["steps"], [])
        # A request a worker has taken is not "waiting": it is stopped, not cancelled.
        rid = g.force("migrate")
        wait_for(lambda: g.get(f"/api/v1/requests/{rid}")["builds"] and
                 g.build(g.get(f"/api/v1/requests/{rid}")["builds"][0]["id"])["worker"] == "w1",
                 what="w1 to take the build")
        status, body, _ = g.call("POST", f"/api/v1/requests/{rid}/cancel")
        self.assertEqual(status, 409, body)


if __name__ == "__main__":
    unittest.main()
