"""Distributed mode under failure: a worker SIGKILLed mid-job, poison messages."""
import json
import os
import time
import unittest

import pika

import test_resilience
from amqp_harness import AmqpTestCase
from grove_harness import wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 1 }
worker "w2" { secret = secret "w2", tags = { "linux" }, capacity = 1 }
builder "long" {
  tags = { "linux" },
  steps = { shell { "echo started; sleep 4; echo done", name = "work" } },
}
'''


class AmqpResilienceTests(AmqpTestCase):
    worker_tags = {"w1": ["linux"], "w2": ["linux"]}

    def channel(self):
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.addCleanup(conn.close)
        return conn.channel()

    def depth(self, ch, queue):
        return ch.queue_declare(queue, passive=True).method.message_count

    def test_killed_worker_job_runs_again_as_next_attempt(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        rid = g.force("long")

        def running_on_w1():
            r = g.get(f"/api/v1/requests/{rid}")
            return r["builds"] and g.build(r["builds"][0]["id"])["worker"] == "w1"
        wait_for(running_on_w1, what="the build to start on w1")
        g.start_worker("w2")
        g.workers["w1"].kill_group()  # SIGKILL: the job message is unacknowledged
        req = g.wait_request(rid, timeout=60)
        self.assertEqual(req["result"], "success", req)
        builds = [g.build(b["id"]) for b in req["builds"]]
        # One build per attempt: the lost one is "retry", the next attempt ran on w2.
        self.assertEqual(sorted(b["attempt"] for b in builds), [1, 2], builds)
        by_attempt = {b["attempt"]: b for b in builds}
        self.assertEqual(by_attempt[1]["result"], "retry")
        self.assertEqual(by_attempt[1]["worker"], "w1")
        # w1 died between its merged events (job.started with the step's start, then nothing):
        # the step it had started was stored, and ended as retry with its build.
        self.assertEqual([(s["name"], s["state"], s["result"]) for s in by_attempt[1]["steps"]],
                         [("work", "finished", "retry")])
        self.assertEqual(by_attempt[2]["result"], "success")
        self.assertEqual(by_attempt[2]["worker"], "w2")
        self.assertEqual([(s["state"], s["result"]) for s in by_attempt[2]["steps"]],
                         [("finished", "success")])
        log, _ = g.log(by_attempt[2]["id"], 0)
        self.assertEqual(log.count("done"), 1, log)
        # Nothing is left behind in RabbitMQ: the job messages were all acknowledged.
        ch = self.channel()
        wait_for(lambda: self.depth(ch, "grove.jobs.linux") == 0, what="an empty job queue")

    def test_poison_messages_are_dead_lettered(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        ch = self.channel()
        props = pika.BasicProperties(delivery_mode=2)
        # An event nobody can parse, and a job that is not a job.
        ch.basic_publish("grove.events", "w1.log", b"{not json", props)
        ch.basic_publish("grove.jobs", "grove.jobs.linux", b'{"v": 1, "no": "job"}', props)
        wait_for(lambda: self.depth(ch, "grove.deadletters") == 2, what="two dead letters")
        # The API shows them without consuming them.
        api = g.get("/api/v1/deadletters")
        self.assertEqual(api["count"], 2, api)
        shown = sorted(json.dumps(m["body"], sort_keys=True) for m in api["messages"])
        self.assertEqual(shown, sorted([json.dumps("{not json"), json.dumps({"v": 1, "no": "job"}, sort_keys=True)]))
        # The API's peek returns them to the queue (they are briefly unacknowledged meanwhile).
        wait_for(lambda: self.depth(ch, "grove.deadletters") == 2, what="the dead letters back")
        dead = []
        for _ in range(2):
            method, _, body = ch.basic_get("grove.deadletters", auto_ack=True)
            dead.append(body)
        self.assertIn(b"{not json", dead)
        self.assertIn(b'{"v": 1, "no": "job"}', dead)
        # The master and the worker carry on.
        req = g.wait_request(g.force("long"), timeout=30)
        self.assertEqual(req["result"], "success")

    def test_a_refused_worker_takes_no_job_away(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        rid = g.force("long")  # waits in RabbitMQ: the first worker to come takes it
        impostor = g.start_worker("w1", secret="not-the-secret", wait=False)
        self.assertEqual(impostor.popen.wait(timeout=20), 1)
        self.assertIn("master refused this worker", impostor.output())
        # The job it may have started goes back to RabbitMQ and runs, once, on a real worker.
        g.start_worker("w1")
        req = g.wait_request(rid, timeout=30)
        self.assertEqual(req["result"], "success", req)
        self.assertEqual([b["attempt"] for b in req["builds"]], [1], req)
        build = g.build(req["builds"][0]["id"])
        self.assertEqual((build["worker"], [s["result"] for s in build["steps"]]), ("w1", ["success"]))
        log, _ = g.log(build["id"], 0)
        self.assertEqual(log, "started\ndone\n")

    def test_jobs_waiting_in_rabbitmq_survive_a_master_restart(self):
        # Jobs published before any worker exists wait in RabbitMQ across a master restart and
        # run once, as their first attempt (the restarted master must not take them for lost).
        g = self.make(CONFIG, workers=["w1", "w2"], grace="1s")
        g.start_master()
        ids = [g.force("long") for _ in range(2)]
        self.assertEqual(g.master.stop(), 0)
        g.start_master()
        g.start_worker("w1")
        g.start_worker("w2")
        for rid in ids:
            req = g.wait_request(rid, timeout=30)
            self.assertEqual(req["result"], "success", req)
            self.assertEqual([(b["attempt"], b["result"]) for b in req["builds"]], [(1, "success")], req)


class AmqpSkeletonResilienceTests(AmqpTestCase, test_resilience.ResilienceTests):
    """The walking skeleton's resilience tests (test_resilience) over RabbitMQ."""
    worker_tags = {"w1": ["linux"], "w2": ["linux"]}

    @unittest.skip("the same scenario as AmqpResilienceTests.test_killed_worker_job_runs_again_as_next_attempt")
    def test_worker_killed_mid_build_is_retried_on_another(self):
        pass


class AmqpMasterKilledUnderLoadTests(AmqpTestCase, test_resilience.MasterKilledUnderLoadTests):
    """test_resilience's master SIGKILLed under load, over RabbitMQ."""
    worker_capacity = {"w1": 3, "w2": 3}


# Only the AMQP variant runs from this file (test_resilience runs the embedded one).
del test_resilience

if __name__ == "__main__":
    unittest.main()
