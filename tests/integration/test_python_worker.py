"""examples/consumers/python/worker.py, a worker written from docs/protocol.md alone, against the
real broker: consumer jobs published through the master's API run on it and their result JSON
is stored with the step."""
import json
import os
import subprocess
import unittest

import pika

from amqp_harness import AmqpTestCase
from grove_harness import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_PY = os.path.join(HERE, "..", "..", "examples", "consumers", "python", "worker.py")

CONFIG = r'''
worker "py1" { secret = secret "py1" }
consumer { "double" }
consumer { "fail" }
consumer { "not-in-python" }
'''


class PythonWorkerTests(AmqpTestCase):
    worker_tags = {"py1": []}

    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["py1"])
        self.g.start_master()
        secret_file = os.path.join(self.g.root, "py1.secret")
        with open(secret_file, "w") as f:
            f.write(self.g.secrets["py1"] + "\n")
        log_path = os.path.join(self.g.root, "worker-py1.log")
        self.py_log = open(log_path, "w")
        self.py_args = ["/usr/bin/python3", WORKER_PY, "--broker", self.amqp_url, "--name", "py1",
                        "--secret-file", secret_file, "--workdir", os.path.join(self.g.root, "py1")]
        self.py_proc = subprocess.Popen(self.py_args, stdout=self.py_log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self.g.worker_connected("py1"), timeout=20,
                 what="the Python worker to say hello")

    def tearDown(self):
        self.py_proc.kill()
        self.py_proc.wait()
        self.py_log.close()
        super().tearDown()

    def job(self, consumer, payload):
        status, answer, _ = self.g.call("POST", "/api/v1/jobs",
                                        {"consumer": consumer, "payload": payload})
        self.assertEqual(status, 201, answer)
        req = self.g.wait_request(answer["request"], timeout=30)
        return req, self.g.build(req["builds"][-1]["id"])

    def test_consumer_job_result_is_stored(self):
        req, build = self.job("double", {"n": 21})
        self.assertEqual(req["result"], "success", build)
        self.assertEqual(build["worker"], "py1")
        self.assertEqual(build["steps"][0]["result_json"], {"doubled": 42, "worker": "python"})
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("doubling 21", log)
        # Several in a row: each message is acknowledged once its job.finished is confirmed.
        for n in (1, 2, 3):
            req, build = self.job("double", {"n": n})
            self.assertEqual(build["steps"][0]["result_json"]["doubled"], 2 * n)

    def test_raising_consumer_fails_with_traceback_and_unknown_is_exception(self):
        req, build = self.job("fail", {"why": "no scores today"})
        self.assertEqual(req["result"], "failure")
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("RuntimeError: no scores today", log)
        req, build = self.job("not-in-python", {})
        self.assertEqual(req["result"], "exception")

    def test_a_message_of_several_jobs_runs_them_all(self):
        # The worker says v 3: a master may send it arrays of jobs (docs/protocol.md). Here
        # the test makes one of the master's jobs, the worker stopped meanwhile.
        self.py_proc.kill()
        self.py_proc.wait()
        ids = []
        for n in range(5):
            status, answer, _ = self.g.call("POST", "/api/v1/jobs",
                                            {"consumer": "double", "payload": {"n": n}})
            self.assertEqual(status, 201, answer)
            ids.append(answer["request"])
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        ch = conn.channel()
        jobs = []

        def take():
            method, _, body = ch.basic_get("grove.jobs._any", auto_ack=True)
            if method is not None:
                msg = json.loads(body)
                jobs.extend(msg if isinstance(msg, list) else [msg])
            return len(jobs) == len(ids)
        wait_for(take, what="the jobs in RabbitMQ")
        ch.confirm_delivery()
        ch.basic_publish("grove.jobs", "grove.jobs._any", json.dumps(jobs).encode(),
                         pika.BasicProperties(delivery_mode=2, content_type="application/json"))
        conn.close()
        self.py_proc = subprocess.Popen(self.py_args, stdout=self.py_log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        for n, rid in enumerate(ids):
            req = self.g.wait_request(rid, timeout=60)
            self.assertEqual(req["result"], "success", req)
            build = self.g.build(req["builds"][-1]["id"])
            self.assertEqual(build["steps"][0]["result_json"]["doubled"], 2 * n)


if __name__ == "__main__":
    unittest.main()
