"""Consumer jobs (issue 5, "Jobs that are not builds"): consume steps run a worker's registered
command with a JSON payload, their result JSON is stored with the step, and consumer jobs are
enqueued by POST /api/v1/jobs, grove publish and schedule.cron { consume = ... }."""
import json
import os
import subprocess
import unittest

from grove_harness import GROVE, GroveTestCase, wait_for

# A consumer command: payload on stdin, result on stdout, chatter on stderr (the log).
CONSUMER = r'''
import json, sys
name = sys.argv[1]
payload = json.load(sys.stdin)
print(f"{name} got {json.dumps(payload, sort_keys=True)}", file=sys.stderr)
if name == "double":
    print(json.dumps({"doubled": payload["n"] * 2, "consumer": __import__("os").environ["GROVE_CONSUMER"]}))
elif name == "explode":
    print("cannot do that", file=sys.stderr)
    sys.exit(2)
elif name == "notjson":
    print("this is not json")
elif name == "byname":
    # The documented files behind stdin and stdout, used by name.
    import os
    with open(os.environ["GROVE_PAYLOAD_FILE"]) as f:
        by_path = json.load(f)
    with open(os.environ["GROVE_RESULT_FILE"], "w") as f:
        json.dump({"same": by_path == payload, "n": by_path["n"]}, f)
'''

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
builder "scores" {
  tags = { "linux" },
  steps = {
    consume { "double", payload = { n = 21, label = "x" }, name = "recalc" },
  },
}
builder "breaks" {
  tags = { "linux" },
  steps = { consume { "explode" } },
}
builder "garbled" {
  tags = { "linux" },
  steps = { consume { "notjson" } },
}
builder "byname" {
  tags = { "linux" },
  steps = { consume { "byname", payload = { n = 7 } } },
}
builder "unknown" {
  tags = { "linux" },
  steps = { consume { "nobody-serves-this" } },
}
consumer { "double", tags = { "linux" } }
'''

CRON = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
schedule.cron { "tick", "*/2 * * * * *", consume = "double", payload = { n = 50 },
                tags = { "linux" } }
'''


class ConsumerTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        # The cron test starts its own master (one per broker vhost in the AMQP variant).
        if self._testMethodName != "test_cron_fires_consumer_jobs_with_its_payload":
            self.g = self.start(CONFIG)

    def start(self, config):
        g = self.make(config, workers=["w1"])
        script = os.path.join(g.root, "consumer.py")
        with open(script, "w") as f:
            f.write(CONSUMER)
        extra = []
        for name in ("double", "explode", "notjson", "byname"):
            extra += ["--consumer", f"{name}=/usr/bin/python3 {script} {name}"]
        g.start_master()
        g.start_worker("w1", extra=extra)
        return g

    def finished_build(self, request_id):
        req = self.g.wait_request(request_id)
        self.assertTrue(req["builds"], req)
        return req, self.g.build(req["builds"][-1]["id"])

    def test_consume_step_stores_result_json_and_logs_stderr(self):
        req, build = self.finished_build(self.g.force("scores"))
        self.assertEqual(req["result"], "success", build)
        step = build["steps"][0]
        self.assertEqual(step["name"], "recalc")
        self.assertEqual(step["result_json"], {"doubled": 42, "consumer": "double"})
        self.assertNotIn("tests", build)  # not mistaken for JUnit totals
        log, _ = self.g.log(build["id"], 0)
        self.assertIn('double got {"label": "x", "n": 21}', log)
        self.assertNotIn("doubled", log)  # stdout is the result, not the log

    def test_failing_consumer_fails_the_step_with_its_stderr_logged(self):
        req, build = self.finished_build(self.g.force("breaks"))
        self.assertEqual(req["result"], "failure")
        self.assertNotIn("result_json", build["steps"][0])
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("cannot do that", log)

    def test_result_that_is_not_json_fails_the_step(self):
        req, build = self.finished_build(self.g.force("garbled"))
        self.assertEqual(req["result"], "failure")
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("not JSON", log)

    def test_payload_and_result_files_by_name_and_removed_after_the_step(self):
        req, build = self.finished_build(self.g.force("byname"))
        self.assertEqual(req["result"], "success", build)
        self.assertEqual(build["steps"][0]["result_json"], {"same": True, "n": 7})
        left = [os.path.join(d, f) for d, _, files in os.walk(self.g.root) for f in files
                if f.startswith(".grove-consume")]
        self.assertEqual(left, [])

    def test_consumer_unknown_to_the_worker_is_an_exception(self):
        req, build = self.finished_build(self.g.force("unknown"))
        self.assertEqual(req["result"], "exception")
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("no consumer 'nobody-serves-this'", log)

    def test_post_jobs_enqueues_a_consumer_job(self):
        status, answer, _ = self.g.call("POST", "/api/v1/jobs",
                                        {"consumer": "double", "payload": {"n": 5}})
        self.assertEqual(status, 201, answer)
        self.assertEqual(answer["builder"], "consume:double")
        req, build = self.finished_build(answer["request"])
        self.assertEqual(req["result"], "success")
        self.assertEqual(build["steps"][0]["result_json"]["doubled"], 10)

    def test_post_jobs_rejects_bad_requests(self):
        status, answer, _ = self.g.call("POST", "/api/v1/jobs", {"consumer": "nope"})
        self.assertEqual(status, 404)
        self.assertIn("no consumer 'nope'", answer["error"])
        status, answer, _ = self.g.call("POST", "/api/v1/jobs", {"payload": {}})
        self.assertEqual(status, 400)
        status, answer, _ = self.g.call("POST", "/api/v1/jobs", b"{not json")
        self.assertEqual(status, 400)

    def test_post_jobs_batch_runs_every_job_and_answers_ids_in_order(self):
        jobs = [{"consumer": "double", "payload": {"n": n}} for n in range(12)]
        jobs[3]["reason"] = "the fourth"
        status, answer, _ = self.g.call("POST", "/api/v1/jobs", {"jobs": jobs})
        self.assertEqual(status, 201, answer)
        ids = answer["requests"]
        self.assertEqual(len(ids), 12)
        self.assertEqual(ids, sorted(ids))
        for n, request_id in enumerate(ids):
            req, build = self.finished_build(request_id)
            self.assertEqual((req["result"], req["builder"]), ("success", "consume:double"), req)
            self.assertEqual(build["steps"][0]["result_json"]["doubled"], 2 * n)
        self.assertEqual(self.g.get(f"/api/v1/requests/{ids[3]}")["reason"], "the fourth")

    def test_post_jobs_batch_with_a_bad_job_stores_none_of_it(self):
        good = {"consumer": "double", "payload": {"n": 1}}
        status, answer, _ = self.g.call("POST", "/api/v1/jobs",
                                        {"jobs": [good, good, {"consumer": "double", "reason": 7}]})
        self.assertEqual(status, 400, answer)
        self.assertIn("job 2: 'reason' must be a string", answer["error"])
        status, answer, _ = self.g.call("POST", "/api/v1/jobs", {"jobs": [good, {"consumer": "nope"}]})
        self.assertEqual(status, 404, answer)
        self.assertIn("job 1: no consumer 'nope'", answer["error"])
        status, answer, _ = self.g.call("POST", "/api/v1/jobs", {"jobs": [good] * 1001})
        self.assertEqual(status, 400, answer)
        self.assertIn("1 to 1000 jobs", answer["error"])
        big = {"consumer": "double", "payload": {"blob": "x" * (1 << 20)}}
        status, answer, _ = self.g.call("POST", "/api/v1/jobs", {"jobs": [good, big]})
        self.assertEqual(status, 413, answer)
        self.assertIn("job 1 is larger than 1 MiB", answer["error"])
        # Nothing of those was stored: the next request is the store's first.
        status, answer, _ = self.g.call("POST", "/api/v1/jobs", {"jobs": [good]})
        self.assertEqual((status, answer), (201, {"requests": [1]}))

    def test_grove_publish_payloads_file_queues_one_job_per_line_in_batches(self):
        path = os.path.join(self.g.root, "payloads.jsonl")
        with open(path, "w") as f:
            f.write("".join(json.dumps({"n": n}) + "\n" + ("\n" if n == 2 else "")
                            for n in range(5)))
        r = self.g.cli("publish", "double", "--payloads-file", path, "--batch", "2",
                       "--reason", "from a file")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 5, r.stdout)
        ids = [int(line.split()[1]) for line in lines]
        for n, request_id in enumerate(ids):
            req, build = self.finished_build(request_id)
            self.assertEqual((req["result"], req["reason"]), ("success", "from a file"))
            self.assertEqual(build["steps"][0]["result_json"]["doubled"], 2 * n)
        # From stdin ("-"); a line that is not JSON sends nothing at all.
        env = dict(os.environ, GROVE_MASTER=self.g.url)
        r = subprocess.run([GROVE, "publish", "double", "--payloads-file", "-"],
                           input='{"n": 10}\n{"n": 11}\n', capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [f"request {ids[-1] + 1} queued for consumer double",
                                                 f"request {ids[-1] + 2} queued for consumer double"])
        r = subprocess.run([GROVE, "publish", "double", "--payloads-file", "-"],
                           input='{"n": 12}\n{"n": \n', capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("line 2: not valid JSON", r.stderr)
        status, _, _ = self.g.call("GET", f"/api/v1/requests/{ids[-1] + 3}")
        self.assertEqual(status, 404)

    def test_grove_publish_waits_and_prints_the_result(self):
        r = self.g.cli("publish", "double", "--payload", '{"n": 3}', "--wait")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout.strip().splitlines()[-1])["doubled"], 6)
        r = self.g.cli("publish", "double", "--payload", "{oops")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not valid JSON", r.stderr)

    def test_cron_fires_consumer_jobs_with_its_payload(self):
        g = self.start(CRON)

        def fired():
            builds = g.get("/api/v1/builders/consume:double/builds")
            items = builds if isinstance(builds, list) else builds.get("builds", [])
            done = [b for b in items if b.get("state") == "finished"]
            return done or None
        done = wait_for(fired, timeout=20, what="a cron-fired consumer job")
        build = g.build(done[0]["id"])
        self.assertEqual(build["steps"][0]["result_json"]["doubled"], 100)
        self.assertTrue(build["reason"].startswith("cron 'tick'"), build["reason"])


if __name__ == "__main__":
    unittest.main()
