"""Distributed mode: the master writes the ends of the consumer jobs one batch of worker events
finishes several rows per statement (a step's end, the build's, the request's), and claims a
batch of submissions without reading their rows back. What the API shows of every job must be
what it showed when each row was written alone: a job whose two events come in one batch, one
whose events straddle two batches, successes and failures side by side."""
import json
import unittest

from amqp_harness import AmqpTestCase

CONFIG = r'''
worker "w1" { secret = secret "w1", capacity = 8 }
consumer { "echo" }
consumer { "fail" }
'''
# "fail" exits 1 after reading its payload: a consumer job that fails.
WORKER_ARGS = ["--consumer", "echo=cat", "--consumer", "fail=sh -c 'cat >/dev/null; exit 1'"]


class AmqpJobEndsTests(AmqpTestCase):
    def submit(self, g, jobs):
        status, body, _ = g.call("POST", "/api/v1/jobs", {"jobs": jobs})
        self.assertEqual(status, 201, body)
        return body["requests"]

    def check_job(self, g, request_id, consumer, payload):
        r = g.wait_request(request_id, timeout=60)
        want = "success" if consumer == "echo" else "failure"
        self.assertEqual((r["state"], r["result"], r["builder"]),
                         ("finished", want, "consume:" + consumer), r)
        self.assertTrue(r["finished_at"], r)
        self.assertEqual(len(r["builds"]), 1, r)
        b = g.build(r["builds"][0]["id"])
        self.assertEqual((b["state"], b["result"], b["worker"]), ("finished", want, "w1"), b)
        self.assertTrue(b["finished_at"], b)
        # The worker adopted it in the same batch of events: its name is in the properties too.
        self.assertEqual(b["properties"]["workername"], "w1", b)
        self.assertEqual(b["properties"]["payload"], payload, b)
        self.assertEqual(len(b["steps"]), 1, b)
        s = b["steps"][0]
        self.assertEqual((s["state"], s["result"]), ("finished", want), s)
        self.assertTrue(s["started_at"] and s["finished_at"], s)
        if consumer == "echo":
            self.assertEqual(s["result_json"], payload, s)
        return b

    def test_every_row_of_a_batch_of_jobs_is_stored_as_alone(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1", extra=WORKER_ARGS)
        # Successes and failures mixed in each batch of events; the payloads tell them apart.
        jobs = [{"consumer": "fail" if n % 5 == 3 else "echo", "payload": {"n": n, "s": "é\"\\"}}
                for n in range(60)]
        ids = []
        for start in range(0, len(jobs), 20):
            ids += self.submit(g, jobs[start:start + 20])
        self.assertEqual(ids, sorted(ids))
        numbers = set()
        for request_id, job in zip(ids, jobs):
            b = self.check_job(g, request_id, job["consumer"], job["payload"])
            numbers.add((b["builder"], b["number"]))
        self.assertEqual(len(numbers), len(jobs))  # one number per build, none shared
        self.assertEqual(g.get("/api/v1/status")["running_count"], 0)

    def test_a_batch_with_a_bad_job_stores_none_and_the_next_runs(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1", extra=WORKER_ARGS)
        bad = [{"consumer": "echo", "payload": {"n": 0}}, {"consumer": "nope"},
               {"consumer": "echo", "payload": {"n": 2}}]
        status, body, _ = g.call("POST", "/api/v1/jobs", {"jobs": bad})
        self.assertEqual(status, 404, body)
        self.assertIn("job 1", json.dumps(body))
        status, _, _ = g.call("GET", "/api/v1/requests/1")
        self.assertEqual(status, 404)  # nothing of the batch was kept
        ids = self.submit(g, [{"consumer": "echo", "payload": {"n": n}} for n in range(5)])
        self.assertEqual(ids, [1, 2, 3, 4, 5])
        for n, request_id in enumerate(ids):
            self.check_job(g, request_id, "echo", {"n": n})

    def test_jobs_whose_events_straddle_batches_end_whole(self):
        # One job at a time with a consumer that takes a while: its job.started is applied in a
        # batch of its own, its job.finished in a later one (the step is stored at its start,
        # then ended; the build's and the request's ends are batched).
        config = CONFIG + 'consumer { "slow" }\n'
        g = self.make(config, workers=["w1"])
        g.start_master()
        g.start_worker("w1", extra=WORKER_ARGS + ["--consumer", "slow=sh -c 'sleep 0.4; cat'"])
        ids = self.submit(g, [{"consumer": "slow", "payload": {"n": n}} for n in range(3)])
        for n, request_id in enumerate(ids):
            r = g.wait_request(request_id, timeout=60)
            self.assertEqual(r["result"], "success", r)
            b = g.build(r["builds"][0]["id"])
            self.assertEqual((b["state"], b["result"], b["worker"]), ("finished", "success", "w1"))
            s = b["steps"][0]
            self.assertEqual((s["state"], s["result"], s["result_json"]),
                             ("finished", "success", {"n": n}), s)
            self.assertLess(s["started_at"], s["finished_at"], s)


if __name__ == "__main__":
    unittest.main()
