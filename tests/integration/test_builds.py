"""A master and real workers on loopback: builds pass, fail, time out and run side by side."""
import os
import time
import unittest

from grove_harness import GroveTestCase, pid_alive, wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
builder "hello" {
  tags = { "linux" },
  properties = { greeting = "hi" },
  steps = {
    shell { "echo hello from grove; echo to stderr >&2; printf 'é ünïcode ✓\n'", name = "greet" },
    shell { "for i in 1 2 3; do echo line $i; done", name = "count" },
  },
}
builder "halts" {
  tags = { "linux" },
  steps = {
    shell { "echo before; exit 3", name = "breaks" },
    shell { "echo must not run", name = "after" },
  },
}
builder "keeps-going" {
  tags = { "linux" },
  steps = {
    shell { "exit 1", name = "soft", halt_on_failure = false },
    shell { "echo still ran", name = "after" },
  },
}
builder "slow" {
  tags = { "linux" },
  steps = {
    shell { "sleep 300 & echo $! > grandchild.pid; sleep 300", name = "hang", timeout = 1 },
  },
}
builder "pair" {
  tags = { "linux" },
  steps = { shell { "sleep 1.5", name = "nap" } },
}
'''


class BuildTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1"])
        self.g.start_master()
        self.g.start_worker("w1")

    def finished_build(self, builder):
        req = self.g.wait_request(self.g.force(builder))
        self.assertEqual(len(req["builds"]), 1, req)
        return req, self.g.build(req["builds"][0]["id"])

    def test_passing_build_keeps_its_log(self):
        req, build = self.finished_build("hello")
        self.assertEqual(req["result"], "success")
        self.assertEqual(build["result"], "success")
        self.assertEqual(build["number"], 1)
        self.assertEqual(build["worker"], "w1")
        self.assertEqual([s["name"] for s in build["steps"]], ["greet", "count"])
        self.assertTrue(all(s["result"] == "success" for s in build["steps"]))
        log, headers = self.g.log(build["id"], 0)
        self.assertIn("hello from grove\n", log)
        self.assertIn("to stderr\n", log)
        self.assertIn("é ünïcode ✓", log)
        self.assertEqual(int(headers["X-Log-Size"]), len(log.encode()))
        log1, _ = self.g.log(build["id"], 1)
        self.assertEqual(log1, "line 1\nline 2\nline 3\n")
        # Tailing: from an offset, and the last bytes.
        part, h = self.g.log(build["id"], 1, offset=7)
        self.assertEqual(part, "line 2\nline 3\n")
        self.assertEqual(int(h["X-Log-Next-Offset"]), len(log1))
        tail, _ = self.g.log(build["id"], 1, tail=7)
        self.assertEqual(tail, "line 3\n")
        self.assertEqual(build["properties"]["greeting"], "hi")
        # A second build gets the next number.
        _, second = self.finished_build("hello")
        self.assertEqual(second["number"], 2)
        builds = self.g.get("/api/v1/builders/hello/builds")
        self.assertEqual([b["number"] for b in builds], [2, 1])

    def test_failing_step_halts_the_build(self):
        req, build = self.finished_build("halts")
        self.assertEqual(req["result"], "failure")
        self.assertEqual(build["result"], "failure")
        self.assertEqual([s["name"] for s in build["steps"]], ["breaks"])
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("before", log)
        self.assertIn("exited with code 3", log)

    def test_failure_without_halt_runs_the_rest(self):
        _, build = self.finished_build("keeps-going")
        self.assertEqual(build["result"], "failure")
        self.assertEqual([s["result"] for s in build["steps"]], ["failure", "success"])

    def test_timeout_kills_grandchildren(self):
        started = time.monotonic()
        _, build = self.finished_build("slow")
        self.assertLess(time.monotonic() - started, 15)
        self.assertEqual(build["result"], "failure")
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("timed out", log)
        pid_file = os.path.join(self.g.root, "workers", "w1", "slow", "grandchild.pid")
        with open(pid_file) as f:
            grandchild = int(f.read())
        wait_for(lambda: not pid_alive(grandchild), timeout=5, what="the grandchild to die")

    def test_capacity_two_runs_builds_concurrently(self):
        a, b = self.g.force("pair"), self.g.force("pair")
        ra, rb = self.g.wait_request(a), self.g.wait_request(b)
        ba, bb = self.g.build(ra["builds"][0]["id"]), self.g.build(rb["builds"][0]["id"])
        sa, sb = ba["steps"][0], bb["steps"][0]
        # Each 1.5 s step started before the other one finished: they overlapped.
        self.assertLess(sa["started_at"], sb["finished_at"])
        self.assertLess(sb["started_at"], sa["finished_at"])
        self.assertEqual({ba["result"], bb["result"]}, {"success"})

    def test_cli_force_wait_and_status(self):
        ok = self.g.cli("force", "hello", "--wait", "--prop", "x=1", "--reason", "from the CLI")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("success", ok.stdout)
        bad = self.g.cli("force", "halts", "--wait")
        self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
        missing = self.g.cli("force", "nope")
        self.assertEqual(missing.returncode, 2)
        self.assertEqual(missing.stderr.strip(), "grove: no such builder: nope")
        status = self.g.cli("status")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("hello", status.stdout)
        self.assertIn("w1", status.stdout)
        self.assertIn("connected", status.stdout)


if __name__ == "__main__":
    unittest.main()
