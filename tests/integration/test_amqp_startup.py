"""Distributed mode and RabbitMQ at start-up (docs/operations.md, "RabbitMQ down"): master and
worker started while the node is down stay up and retry (the master answers the API and keeps
the requests), and run them once it is up; a worker started without --tags or --capacity takes
them from grove.lua; configuration errors (a refused login, a missing CA file, a malformed URL)
still end the start at once with one line.

Each test has a RabbitMQ node of its own (scripts/rabbitmq.sh on a temp dir, ports chosen up
front), so it can keep it down without disturbing the tests that share the suite's node."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from amqp_harness import AMQP_URL, RABBITMQ_SH, SKIP_REASON, AmqpGrove
from grove_harness import GROVE, GroveTestCase, free_port, wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 3 }
builder "quick" {
  tags = { "linux" },
  steps = { shell { "echo ran", name = "work" } },
}
builder "slow" {
  tags = { "linux" },
  steps = { shell { "sleep 3", name = "work" } },
}
'''


class AmqpStartupTests(GroveTestCase):
    def setUp(self):
        if not AMQP_URL:
            self.skipTest(SKIP_REASON)
        super().setUp()
        # The node's state dir with its ports fixed now: its URL is known before it runs.
        self.node_dir = tempfile.mkdtemp(prefix="grove-rmq-startup-")
        amqp = free_port()
        dist = free_port()
        tls = free_port()
        with open(os.path.join(self.node_dir, "ports"), "w") as f:
            f.write(f"AMQP_PORT={amqp}\nDIST_PORT={dist}\nTLS_PORT={tls}\n")
        self.url = f"amqp://guest:guest@127.0.0.1:{amqp}/%2f"
        self.node_started = False

    def tearDown(self):
        super().tearDown()  # the Groves first: nothing reconnects while the node stops
        if self.node_started:
            subprocess.run([RABBITMQ_SH, "stop", self.node_dir], capture_output=True, timeout=180)
        shutil.rmtree(self.node_dir, ignore_errors=True)

    def start_node(self):
        subprocess.run([RABBITMQ_SH, "start", self.node_dir], check=True, capture_output=True,
                       timeout=300)
        self.node_started = True

    def make(self, url, worker_tags=None, worker_capacity=None, config=CONFIG):
        g = AmqpGrove(url, worker_tags or {}, worker_capacity or {}, config, ["w1"])
        self.groves.append(g)
        return g

    def test_master_and_worker_started_while_rabbitmq_is_down_run_builds_once_it_is_up(self):
        g = self.make(self.url, {"w1": ["linux"]}, {"w1": 3})
        g.start_master()  # waits for the API: before the fix the master exited 1
        worker = g.start_worker("w1", wait=False)
        # The API answers meanwhile; a forced build is stored and waits.
        names = [b["name"] for b in g.get("/api/v1/builders")]
        self.assertIn("quick", names)
        rid = g.force("quick")
        self.assertIn(g.get(f"/api/v1/requests/{rid}")["state"], ("queued", "claimed"))
        # What needs RabbitMQ says so at once instead of hanging.
        start = time.monotonic()
        status, body, _ = g.call("GET", "/api/v1/deadletters")
        self.assertEqual(status, 503, body)
        self.assertIn("RabbitMQ is not reachable", body["error"])
        self.assertLess(time.monotonic() - start, 10)
        time.sleep(3)
        self.assertTrue(g.master.alive(), g.master.output())
        self.assertTrue(worker.alive(), worker.output())

        self.start_node()
        req = g.wait_request(rid, timeout=120)
        self.assertEqual(req["result"], "success", req)
        self.assertEqual(g.build(req["builds"][0]["id"])["worker"], "w1")
        wait_for(lambda: g.worker_connected("w1"), timeout=30, what="w1 shown connected")
        req = g.wait_request(g.force("quick"), timeout=60)
        self.assertEqual(req["result"], "success", req)

        # One line per attempt, with a backoff: a handful of lines, not a flood; no password.
        for proc in (g.master, worker):
            text = proc.output()
            self.assertIn("RabbitMQ is not reachable", text)
            retries = [line for line in text.splitlines() if "next attempt in" in line]
            self.assertGreater(len(retries), 0, text)
            self.assertLess(len(retries), 40, text)
            self.assertNotIn("guest:guest@", text)

    def test_a_worker_without_tags_or_capacity_takes_those_of_grove_lua(self):
        self.start_node()
        g = self.make(self.url)  # no --tags, no --capacity
        g.start_master()
        worker = g.start_worker("w1")
        # "slow" has tag linux: its queue is grove.jobs.linux, not the untagged one. Capacity 3:
        # three at once.
        ids = [g.force("slow") for _ in range(3)]
        spans = []
        for rid in ids:
            req = g.wait_request(rid, timeout=60)
            self.assertEqual(req["result"], "success", req)
            b = g.build(req["builds"][0]["id"])
            spans.append((b["started_at"], b["finished_at"]))
        self.assertLess(max(s for s, _ in spans), min(f for _, f in spans),
                        f"the three builds did not run at once: {spans}")
        self.assertIn("tags { linux } and capacity 3 (from grove.lua)", worker.output())

    def run_to_exit(self, args, timeout=60):
        start = time.monotonic()
        r = subprocess.run([GROVE] + args, capture_output=True, text=True, timeout=timeout)
        return r, time.monotonic() - start

    def one_error_line(self, r):
        errors = [line for line in r.stderr.splitlines() if line.startswith("grove: ")]
        self.assertEqual(len(errors), 1, r.stderr)
        return errors[0]

    def test_configuration_errors_still_end_the_start(self):
        self.start_node()
        port = self.url.split(":")[-1].split("/")[0]
        wrong = f"amqp://guest:wrong-pw-1234@127.0.0.1:{port}/%2f"
        not_pem = os.path.join(self.node_dir, "not-a-ca.pem")
        with open(not_pem, "w") as f:
            f.write("not a certificate\n")
        cases = [
            # (url, exit code, words of the one-line error)
            (wrong, 1, "ACCESS_REFUSED"),
            (f"amqp://guest:guest@127.0.0.1:{port}/no-such-vhost", 1, "vhost"),
            (f"amqps://guest:guest@127.0.0.1:{port}/%2f?cacertfile=/nonexistent/ca.pem", 1,
             "cannot read cacertfile /nonexistent/ca.pem"),
            (f"amqps://guest:guest@127.0.0.1:{port}/%2f?cacertfile={not_pem}", 1,
             "holds no usable CA certificate"),
        ]
        for url, code, words in cases:
            with self.subTest(url=url):
                g = self.make(url)
                r, took = self.run_to_exit(["master", g.dir])
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertLess(took, 30)
                self.assertIn(words, self.one_error_line(r))
                self.assertNotIn("wrong-pw-1234", r.stderr + r.stdout)
                secret = os.path.join(g.root, "w1.secret")
                with open(secret, "w") as f:
                    f.write(g.secrets["w1"] + "\n")
                r, took = self.run_to_exit(["worker", "--broker", url, "--name", "w1",
                                            "--secret-file", secret, "--workdir",
                                            os.path.join(g.root, "wd")])
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertLess(took, 30)
                self.assertIn(words, self.one_error_line(r))
                self.assertNotIn("wrong-pw-1234", r.stderr + r.stdout)
        # A malformed URL: a usage error for the worker, a config error for the master.
        g = self.make("amqp://guest:guest@127.0.0.1:notaport/%2f")
        r, _ = self.run_to_exit(["master", g.dir])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("malformed broker URL", self.one_error_line(r))
        r, _ = self.run_to_exit(["worker", "--broker", "amqp://h:notaport/", "--name", "w1",
                                 "--secret-file", os.path.join(g.dir, "secrets", "w1")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("malformed broker URL", self.one_error_line(r))


if __name__ == "__main__":
    unittest.main()
