"""Distributed mode over TLS: amqps:// broker URLs for the master and the workers, against the
TLS listener of the private RabbitMQ node (scripts/rabbitmq.sh makes its test CA)."""
import os
import subprocess
import time
import unittest
import uuid

from amqp_harness import AmqpGrove, AmqpTestCase, add_user, tls_url

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
builder "hello" {
  tags = { "linux" },
  steps = { shell { "echo hello over tls", name = "greet" } },
}
consumer { "double", tags = { "linux" } }
'''

CONSUMER = r'''
import json, sys
print(json.dumps({"doubled": json.load(sys.stdin)["n"] * 2}))
'''


def with_query(url, **params):
    """|url| with its query replaced by |params| (the vhost path is kept)."""
    base = url.split("?", 1)[0]
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return base + ("?" + query if query else "")


class AmqpTlsTests(AmqpTestCase):
    worker_tags = {"w1": ["linux"]}
    worker_capacity = {"w1": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        url = tls_url(cls.amqp_url)
        if not url:
            raise unittest.SkipTest("the RabbitMQ node has no TLS listener "
                                    "(GROVE_RABBITMQ_DIR unset or started by an older script)")
        # A user whose password is not also its name (as guest's is), to look for in the logs.
        cls.password = "pw-" + uuid.uuid4().hex
        user = "tls-" + uuid.uuid4().hex[:8]
        add_user(user, cls.password, cls.amqp_url)
        cls.tls_url = url.replace("guest:guest@", f"{user}:{cls.password}@", 1)
        cls.ca = url.split("cacertfile=", 1)[1]

    def make_tls(self, url, config=CONFIG):
        g = AmqpGrove(url, self.worker_tags, self.worker_capacity, config, ["w1"])
        self.groves.append(g)
        return g

    def other_ca(self, g):
        """A CA of its own that signed nothing the node uses."""
        path = os.path.join(g.root, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=Not the node's CA", "-keyout",
                        os.path.join(g.root, "other-ca.key"), "-out", path],
                       check=True, capture_output=True, timeout=60)
        return path

    def run_worker_to_exit(self, g, url, timeout=20):
        secret_file = os.path.join(g.root, "w1.secret")
        with open(secret_file, "w") as f:
            f.write(g.secrets["w1"] + "\n")
        start = time.monotonic()
        r = g.cli("worker", "--broker", url, "--name", "w1", "--secret-file", secret_file,
                  "--workdir", os.path.join(g.root, "wx"))
        return r, time.monotonic() - start

    def test_build_and_consumer_job_over_tls(self):
        g = self.make_tls(self.tls_url)
        script = os.path.join(g.root, "consumer.py")
        with open(script, "w") as f:
            f.write(CONSUMER)
        g.start_master()
        g.start_worker("w1", extra=["--consumer", f"double=/usr/bin/python3 {script}"])

        req = g.wait_request(g.force("hello"))
        self.assertEqual(req["result"], "success", req)
        build = g.build(req["builds"][0]["id"])
        self.assertEqual(build["worker"], "w1")
        text, _ = g.log(build["id"], 0)
        self.assertIn("hello over tls", text)

        status, answer, _ = g.call("POST", "/api/v1/jobs",
                                   {"consumer": "double", "payload": {"n": 21}})
        self.assertEqual(status, 201, answer)
        req = g.wait_request(answer["request"])
        self.assertEqual(req["result"], "success", req)
        build = g.build(req["builds"][0]["id"])
        self.assertEqual(build["steps"][0]["result_json"]["doubled"], 42)

        for name, text in (("master", g.master.output()), ("worker", g.workers["w1"].output())):
            self.assertIn("amqps://", text)  # the (redacted) broker URL is logged
            self.assertNotIn(self.password, text, f"the broker password is in the {name} log")

    def test_wrong_ca_fails_fast_with_one_line(self):
        g = self.make_tls(self.tls_url)
        url = with_query(self.tls_url, cacertfile=self.other_ca(g))
        r, took = self.run_worker_to_exit(g, url)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertLess(took, 15)
        errors = [line for line in r.stderr.splitlines() if line.startswith("grove: ")]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn("TLS handshake failed: certificate verify failed", errors[0])
        self.assertNotIn(self.password, r.stderr + r.stdout)

        # A CA file that is not there is named.
        url = with_query(self.tls_url, cacertfile="/nonexistent/grove-ca.pem")
        r, _ = self.run_worker_to_exit(g, url)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot read cacertfile /nonexistent/grove-ca.pem", r.stderr)

    def test_verify_none_connects_without_the_ca(self):
        g = self.make_tls(with_query(self.tls_url, verify="verify_none"))
        g.start_master()
        g.start_worker("w1")
        req = g.wait_request(g.force("hello"))
        self.assertEqual(req["result"], "success", req)

    def test_bad_parameters_are_usage_and_config_errors(self):
        g = self.make_tls(with_query(self.tls_url, cacertfile=self.ca, verfy="verify_none"))
        r, _ = self.run_worker_to_exit(g, g.amqp_url)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("unknown broker URL parameter 'verfy'", r.stderr)
        self.assertNotIn(self.password, r.stderr)

        r = g.cli("checkconfig", g.dir)
        self.assertNotEqual(r.returncode, 0)
        out = r.stdout + r.stderr
        self.assertIn("grove.lua:2:", out)  # the line of broker "..."
        self.assertIn("unknown broker URL parameter 'verfy'", out)
        self.assertNotIn(self.password, out)


if __name__ == "__main__":
    unittest.main()
