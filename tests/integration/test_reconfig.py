"""A reconfig applies a changed grove.lua whole, or not at all, without dropping running builds."""
import os
import signal
import unittest

from grove_harness import GroveTestCase, wait_for

BASE = r'''
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "long" { tags = { "linux" }, steps = { shell { "sleep 2; echo survived", name = "nap" } } }
'''


class ReconfigTests(GroveTestCase):
    def test_reconfig_applies_whole_or_not_at_all(self):
        g = self.make(BASE, workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        running = g.force("long")
        wait_for(lambda: g.get(f"/api/v1/requests/{running}")["state"] == "claimed", what="the build to start")

        g.write_config(BASE + 'builder "added" { tags = { "linux" }, steps = { shell { "echo new" } } }\n')
        res = g.cli("reconfig", g.dir)
        self.assertEqual(res.returncode, 0, res.stderr)
        wait_for(lambda: "added" in [b["name"] for b in g.get("/api/v1/builders")], what="the new builder")
        self.assertEqual(g.wait_request(g.force("added"))["result"], "success")

        # A broken file changes nothing: the command refuses it, and so does the master on SIGHUP.
        g.write_config(BASE + 'builder "broken" { tags = { "linux" }, steps = { shell { "true", bogus = 1 } } }\n')
        res = g.cli("reconfig", g.dir)
        self.assertEqual(res.returncode, 2)  # invalid input (docs/operations.md)
        self.assertIn("bogus", res.stderr)
        os.kill(g.master.pid, signal.SIGHUP)
        wait_for(lambda: "reconfig refused" in g.master.output(), what="the master to refuse the reconfig")
        self.assertEqual(sorted(b["name"] for b in g.get("/api/v1/builders")), ["added", "long"])

        # The build that ran through both reconfigs finished normally.
        req = g.wait_request(running)
        self.assertEqual(req["result"], "success")
        log, _ = g.log(req["builds"][0]["id"], 0)
        self.assertEqual(log, "survived\n")


if __name__ == "__main__":
    unittest.main()
