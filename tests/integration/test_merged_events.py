"""Merged events (docs/protocol.md, link version 4), from a worker written from the page.

A master whose welcome says "v" 4 takes a job.started that also starts the first step and a
job.finished that also ends the last one: a one-step job is two events instead of four. What it
stores is what the separate events stored (steps, results, log, properties, test counts,
result_json); the missing-chunk and hand-back rules apply to the merged end as to step.finished;
and Grove's own worker sends merged events, also when it is killed between them.
"""
import unittest

from grove_harness import GroveTestCase, wait_for
from ws_client import WsClient

CONFIG = r'''
worker "w1" { secret = secret "w1" }
worker "w2" { secret = secret "w2" }
builder "hello" { steps = { shell { "echo hi", name = "hi" } } }
builder "two" {
  steps = { shell { "true", name = "a" }, shell { "true", name = "b" } },
}
builder "long" { steps = { shell { "echo started; sleep 4; echo done", name = "work" } } }
'''

TESTS = {"passed": 2, "failed": 1, "skipped": 0, "errors": 0, "total": 3,
         "failures": [{"name": "t3", "kind": "failure", "message": "boom"}]}


class MergedEventTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1", "w2"])
        self.g.start_master()

    def connect(self, builder, name="w1"):
        """A raw worker that says v 4 and takes one job of |builder|."""
        self.rid = self.g.force(builder)
        self.ws = WsClient("127.0.0.1", self.g.port)
        self.addCleanup(self.ws.close)
        self.ws.send_json({"type": "hello", "v": 4, "name": name,
                           "secret": self.g.secrets[name], "capacity": 1, "running": []})
        welcome = self.ws.recv_json()
        self.assertEqual(welcome["type"], "welcome")
        self.assertGreaterEqual(welcome["v"], 4)  # this master takes merged events
        msg = self.ws.recv_json()
        self.assertEqual(msg["type"], "job")
        self.key = {"request": self.rid, "attempt": msg["job"]["attempt"]}

    def send(self, id_, type_, **fields):
        self.ws.send_json({"id": id_, "type": type_, **self.key, **fields})

    def test_a_one_step_job_in_two_events_stores_all_the_four_did(self):
        self.connect("hello")
        self.send(1, "job.started", builddir="/tmp/grove-merged", step=0, name="hi")
        self.send(2, "log", step=0, seq=0, data="hi\n")
        self.send(3, "job.finished", result="failure", step=0, step_result="failure",
                  log_chunks=1, properties={"got_revision": "abc"}, tests=TESTS)
        self.ws.acked(3)
        req = self.g.wait_request(self.rid)
        self.assertEqual(req["result"], "failure")
        build = self.g.build(req["builds"][0]["id"])
        self.assertEqual((build["state"], build["result"], build["worker"]),
                         ("finished", "failure", "w1"))
        self.assertEqual(len(build["steps"]), 1, build)
        step = build["steps"][0]
        self.assertEqual((step["name"], step["state"], step["result"]), ("hi", "finished", "failure"))
        self.assertIsNotNone(step["started_at"])
        self.assertIsNotNone(step["finished_at"])
        self.assertEqual(build["properties"]["builddir"], "/tmp/grove-merged")
        self.assertEqual(build["properties"]["got_revision"], "abc")
        self.assertEqual(build["properties"]["workername"], "w1")
        log, _ = self.g.log(build["id"], 0)
        self.assertEqual(log, "hi\n")
        tests = self.g.get(f"/api/v1/builds/{build['id']}/tests")
        self.assertIn("boom", str(tests))

    def test_merged_and_separate_events_mix_in_a_job_of_two_steps(self):
        self.connect("two")
        self.send(1, "job.started", builddir="/tmp/grove-two", step=0, name="a")
        self.send(2, "step.finished", step=0, result="success", log_chunks=0)
        self.send(3, "step.started", step=1, name="b")
        self.send(4, "job.finished", result="warnings", step=1, step_result="warnings",
                  result_json={"n": 1})
        self.ws.acked(4)
        req = self.g.wait_request(self.rid)
        self.assertEqual(req["result"], "warnings")
        build = self.g.build(req["builds"][0]["id"])
        self.assertEqual([(s["name"], s["state"], s["result"]) for s in build["steps"]],
                         [("a", "finished", "success"), ("b", "finished", "warnings")])
        self.assertEqual(build["steps"][1].get("result_json"), {"n": 1})
        self.assertNotIn("result_json", build["steps"][0])

    def test_the_steps_show_running_between_the_merged_events(self):
        self.connect("hello")
        self.send(1, "job.started", builddir="/tmp/grove-run", step=0, name="hi")
        self.ws.acked(1)
        req = self.g.get(f"/api/v1/requests/{self.rid}")
        build = self.g.build(req["builds"][0]["id"])
        self.assertEqual(build["state"], "running")
        self.assertEqual([(s["name"], s["state"]) for s in build["steps"]], [("hi", "running")])
        self.assertEqual(build["properties"]["builddir"], "/tmp/grove-run")
        self.send(2, "job.finished", result="success", step=0, step_result="success")
        self.ws.acked(2)
        self.assertEqual(self.g.wait_request(self.rid)["result"], "success")

    def test_a_merged_end_before_its_last_log_chunk_is_refused_until_the_chunk_comes(self):
        self.connect("hello")
        self.send(1, "job.started", step=0, name="hi")
        self.send(2, "log", step=0, seq=0, data="one\n")
        self.send(3, "job.finished", result="success", step=0, step_result="success",
                  log_chunks=2)
        self.assertEqual(self.ws.until("resend")[-1]["from"], 3)
        self.send(3, "log", step=0, seq=1, data="two\n")
        self.send(4, "job.finished", result="success", step=0, step_result="success",
                  log_chunks=2)
        self.ws.acked(4)
        req = self.g.wait_request(self.rid)
        self.assertEqual(req["result"], "success")
        log, _ = self.g.log(req["builds"][0]["id"], 0)
        self.assertEqual(log, "one\ntwo\n")
        self.assertEqual(len(self.g.get(f"/api/v1/requests/{self.rid}")["builds"]), 1)

    def test_a_merged_end_that_hands_the_job_back_runs_it_again(self):
        self.connect("hello")
        self.send(1, "job.started", step=0, name="hi")
        self.send(2, "job.finished", result="retry", step=0, step_result="retry")
        self.ws.acked(2)
        # The next attempt goes to another worker (this one is taken for a stopping one).
        self.g.start_worker("w2")
        req = self.g.wait_request(self.rid, timeout=60)
        self.assertEqual(req["result"], "success", req)
        builds = {b["attempt"]: self.g.build(b["id"]) for b in req["builds"]}
        self.assertEqual(sorted(builds), [1, 2])
        self.assertEqual(builds[1]["result"], "retry")
        self.assertEqual([(s["state"], s["result"]) for s in builds[1]["steps"]],
                         [("finished", "retry")])
        self.assertEqual(builds[2]["worker"], "w2")

    def test_an_old_worker_and_a_new_one_side_by_side(self):
        # A worker that says v 1 sends the four separate events; Grove's worker (w2) the merged
        # ones. Both builds are stored alike.
        self.rid = self.g.force("hello")
        ws = WsClient("127.0.0.1", self.g.port)
        self.addCleanup(ws.close)
        ws.send_json({"type": "hello", "v": 1, "name": "w1", "secret": self.g.secrets["w1"],
                      "capacity": 1, "running": []})
        self.assertEqual(ws.recv_json()["type"], "welcome")
        job = ws.recv_json()
        self.assertEqual(job["type"], "job")
        key = {"request": self.rid, "attempt": 1}
        for i, ev in enumerate([{"type": "job.started", "builddir": "/tmp/old"},
                                {"type": "step.started", "step": 0, "name": "hi"},
                                {"type": "step.finished", "step": 0, "result": "success"},
                                {"type": "job.finished", "result": "success"}], start=1):
            ws.send_json({"id": i, **key, **ev})
        old = self.g.wait_request(self.rid)
        ws.close()  # the next job goes to w2
        wait_for(lambda: not self.g.worker_connected("w1"), what="w1 gone")
        self.g.start_worker("w2")
        new = self.g.wait_request(self.g.force("hello"))
        for req in (old, new):
            self.assertEqual(req["result"], "success")
            build = self.g.build(req["builds"][0]["id"])
            self.assertEqual([(s["name"], s["state"], s["result"]) for s in build["steps"]],
                             [("hi", "finished", "success")])
            self.assertIn("builddir", build["properties"])
        self.assertEqual(self.g.log(self.g.build(new["builds"][0]["id"])["id"], 0)[0], "hi\n")

    def test_grove_worker_killed_between_its_merged_events_runs_the_job_once_more(self):
        self.g.start_worker("w1")
        rid = self.g.force("long")

        def running_on_w1():
            r = self.g.get(f"/api/v1/requests/{rid}")
            if not r["builds"]:
                return False
            b = self.g.build(r["builds"][0]["id"])
            return b["worker"] == "w1" and [s["state"] for s in b["steps"]] == ["running"]
        wait_for(running_on_w1, what="the build's step to run on w1")
        self.g.workers["w1"].kill_group()
        self.g.start_worker("w2")
        req = self.g.wait_request(rid, timeout=60)
        self.assertEqual(req["result"], "success", req)
        builds = {b["attempt"]: self.g.build(b["id"]) for b in req["builds"]}
        self.assertEqual(sorted(builds), [1, 2])
        self.assertEqual(builds[1]["result"], "retry")
        self.assertEqual([(s["state"], s["result"]) for s in builds[1]["steps"]],
                         [("finished", "retry")])
        self.assertEqual((builds[2]["worker"], builds[2]["result"]), ("w2", "success"))
        log, _ = self.g.log(builds[2]["id"], 0)
        self.assertEqual(log.count("done"), 1, log)


if __name__ == "__main__":
    unittest.main()
