"""Schedulers on a real master: cron fires (and never twice for one slot across restarts),
catch_up, periodic, GET /api/v1/schedulers, force parameters and trigger steps."""
import os
import re
import signal
import subprocess
import time
import unittest

from grove_harness import GROVE, GroveTestCase, wait_for

WORKER = 'worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 4 }\n'


def queued_requests(g):
    """Every request the master has queued (no worker runs them), oldest first."""
    status = g.get("/api/v1/status")
    return sorted((g.get(f"/api/v1/requests/{q['request']}") for q in status["queued"]), key=lambda r: r["id"])


class CronTests(GroveTestCase):
    def test_seconds_cron_fires_and_restart_never_fires_a_slot_twice(self):
        g = self.make(WORKER + r'''
builder "tick" { tags = { "linux" }, steps = { shell { "true" } } }
schedule.cron { "every2s", "*/2 * * * * *", builders = { "tick" }, catch_up = "once",
                properties = { origin = "cron" } }
''', workers=["w1"])
        g.start_master()
        sched = {s["name"]: s for s in g.get("/api/v1/schedulers")}
        self.assertEqual(sched["every2s"]["kind"], "cron")
        self.assertEqual(sched["every2s"]["builders"], ["tick"])
        self.assertEqual(sched["every2s"]["next_fire_ms"] % 2000, 0)
        self.assertTrue(sched["every2s"]["next_fire"].endswith("+00:00"), sched["every2s"])
        self.assertEqual(sched["force"]["kind"], "force")

        wait_for(lambda: len(queued_requests(g)) >= 2, timeout=10, what="two cron fires")
        reqs = queued_requests(g)
        self.assertTrue(all(r["reason"].startswith("cron 'every2s' at ") for r in reqs), reqs)
        self.assertEqual(reqs[0]["properties"]["origin"], "cron")
        self.assertEqual(reqs[0]["properties"]["scheduler"], "every2s")

        # Restart twice, once at once and once after a pause that misses slots: every slot
        # appears at most once, and the missed ones are caught up exactly once.
        for pause in (0, 5):
            g.master.stop()
            time.sleep(pause)
            g.start_master()
            time.sleep(2.5)
        reqs = queued_requests(g)
        reasons = [r["reason"] for r in reqs]
        self.assertEqual(len(reasons), len(set(reasons)), reasons)
        catch_ups = [r for r in reasons if "catching up" in r]
        self.assertEqual(len(catch_ups), 1, reasons)  # only after the pause, and only once
        # Slot times only grow (a slot is never fired again after a restart).
        times = [re.search(r" at (\S+)", s).group(1) for s in reasons]
        self.assertEqual(times, sorted(times))
        self.assertEqual(len(times), len(set(times)), times)

    def test_catch_up_none_skips_missed_slots(self):
        g = self.make(WORKER + r'''
builder "tick" { tags = { "linux" }, steps = { shell { "true" } } }
schedule.cron { "every2s", "*/2 * * * * *", builders = { "tick" } }
''', workers=["w1"])
        g.start_master()
        wait_for(lambda: len(queued_requests(g)) >= 1, timeout=10, what="a cron fire")
        g.master.stop()
        time.sleep(4.5)
        g.start_master()
        time.sleep(2.5)
        reasons = [r["reason"] for r in queued_requests(g)]
        self.assertFalse([r for r in reasons if "catching up" in r], reasons)
        times = [re.search(r" at (\S+)", s).group(1) for s in reasons]
        self.assertEqual(len(times), len(set(times)), times)
        # The slots of the pause are missing: there is a gap of more than 4 s.
        gaps = [b - a for a, b in zip(
            [int(time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))) for t in times],
            [int(time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))) for t in times][1:])]
        self.assertTrue(any(gap >= 4 for gap in gaps), times)

    def test_invalid_cron_is_a_config_error_naming_the_field(self):
        g = self.make(WORKER + r'''
builder "tick" { tags = { "linux" }, steps = { shell { "true" } } }
schedule.cron { "bad", "61 * * * *", builders = { "tick" } }
''', workers=["w1"])
        r = g.cli("checkconfig", g.dir)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"grove\.lua:\d+: .*schedule\.cron 'bad'.*minute.*61")

    def test_unknown_builder_in_a_scheduler_is_a_config_error(self):
        g = self.make(WORKER + r'''
builder "tick" { tags = { "linux" }, steps = { shell { "true" } } }
schedule.periodic { "p", every = "1h", builders = { "tik" } }
''', workers=["w1"])
        r = g.cli("checkconfig", g.dir)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"grove\.lua:\d+: schedule\.periodic 'p' names unknown builder 'tik'")


class CronNextCliTests(unittest.TestCase):
    """`grove cron next` agrees with the scheduler on daylight-saving changes (cronie's rule): an
    entry whose minute or hour starts with '*' follows real time; any other names wall-clock
    times, fires once in a repeated hour and catches a skipped time up as the gap ends."""

    def next_fires(self, expr, tz, start, n):
        r = subprocess.run([GROVE, "cron", "next", expr, "--tz", tz, "--from", start, "-n", str(n)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def test_spring_forward(self):
        cases = [
            # A wildcard entry does not catch the skipped hour up...
            ("* 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
             ["2026-03-09T02:00:00-04:00", "2026-03-09T02:01:00-04:00"]),
            ("*/20 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z",
             ["2026-10-04T02:40:00+11:00", "2026-10-05T02:00:00+11:00"]),
            ("* 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
             ["2026-03-30T02:00:00+02:00", "2026-03-30T02:01:00+02:00"]),
            # ...a fixed-time entry runs once, as the gap ends.
            ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
             ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
            ("0,20,40 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z",
             ["2026-10-04T02:30:00+11:00", "2026-10-04T02:40:00+11:00", "2026-10-05T02:00:00+11:00"]),
        ]
        for expr, tz, start, want in cases:
            with self.subTest(expr=expr, tz=tz):
                self.assertEqual(self.next_fires(expr, tz, start, len(want)), want)

    def test_fall_back(self):
        cases = [
            # A wildcard entry runs in both passes of the repeated hour...
            ("*/30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
             ["2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00",
              "2026-11-01T01:30:00-05:00", "2026-11-02T01:00:00-05:00"]),
            ("*/30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
             ["2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00",
              "2026-10-25T02:30:00+01:00", "2026-10-26T02:00:00+01:00"]),
            ("*/15 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00Z",
             ["2026-04-05T01:00:00+11:00", "2026-04-05T01:15:00+11:00", "2026-04-05T01:30:00+11:00",
              "2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30"]),
            # ...a fixed-time entry in the first only.
            ("0,30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
             ["2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:00:00-05:00"]),
        ]
        for expr, tz, start, want in cases:
            with self.subTest(expr=expr, tz=tz):
                self.assertEqual(self.next_fires(expr, tz, start, len(want)), want)


class PeriodicTests(GroveTestCase):
    def test_periodic_fires_every_interval(self):
        g = self.make(WORKER + r'''
builder "tick" { tags = { "linux" }, steps = { shell { "true" } } }
schedule.periodic { "often", every = "2s", builders = { "tick" } }
''', workers=["w1"])
        g.start_master()
        sched = {s["name"]: s for s in g.get("/api/v1/schedulers")}
        self.assertEqual(sched["often"]["kind"], "periodic")
        self.assertEqual(sched["often"]["every_s"], 2)
        start = time.time()
        wait_for(lambda: len(queued_requests(g)) >= 2, timeout=10, what="two periodic fires")
        self.assertGreater(time.time() - start, 2.5)  # none at start, then every 2 s


class ForceParamTests(GroveTestCase):
    def test_force_parameters_defaults_choices_required(self):
        g = self.make(WORKER + r'''
builder "deploy" { tags = { "linux" }, steps = { shell { "true" } } }
schedule.force { "force", builders = { "deploy" }, params = {
  { name = "env", default = "staging", choices = { "staging", "production" } },
  { name = "ticket", required = true },
} }
''', workers=["w1"])
        g.start_master()
        status, body, _ = g.call("POST", "/api/v1/builders/deploy/force", {"properties": {}})
        self.assertEqual(status, 400)
        self.assertIn("ticket", body["error"])
        status, body, _ = g.call("POST", "/api/v1/builders/deploy/force",
                                 {"properties": {"ticket": "T-1", "env": "moon"}})
        self.assertEqual(status, 400)
        self.assertIn("one of: staging, production", body["error"])
        rid = g.force("deploy", {"ticket": "T-2"})
        req = g.get(f"/api/v1/requests/{rid}")
        self.assertEqual(req["properties"]["env"], "staging")
        self.assertEqual(req["properties"]["ticket"], "T-2")
        sched = {s["name"]: s for s in g.get("/api/v1/schedulers")}
        self.assertEqual([p["name"] for p in sched["force"]["params"]], ["env", "ticket"])


class TriggerTests(GroveTestCase):
    CONFIG = WORKER + r'''
builder "parent" { tags = { "linux" }, steps = {
  shell { "echo parent" },
  trigger { "downstream", wait = true, properties = { version = "1.2" } },
} }
builder "parent-nowait" { tags = { "linux" }, steps = {
  trigger { "child-ok", wait = false },
} }
builder "child-ok" { tags = { "linux" }, steps = { shell { "echo child" } } }
builder "child-bad" { tags = { "linux" }, steps = { shell { "exit 1" } } }
schedule.triggerable { "downstream", builders = { "child-ok", "child-bad" } }
'''

    def test_trigger_waits_and_takes_the_worst_result(self):
        g = self.make(self.CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        req = g.wait_request(g.force("parent"), timeout=40)
        self.assertEqual(req["result"], "failure", req)
        build = g.build(req["builds"][0]["id"])
        log, _ = g.log(build["id"], 1)
        self.assertIn("triggered 'downstream'", log)
        self.assertIn("child-bad", log)
        ids = [int(x) for x in re.search(r"requests ([\d, ]+)", log).group(1).split(", ")]
        self.assertEqual(len(ids), 2)
        children = [g.get(f"/api/v1/requests/{i}") for i in ids]
        self.assertEqual(sorted(c["builder"] for c in children), ["child-bad", "child-ok"])
        for c in children:
            self.assertEqual(c["properties"]["version"], "1.2")
            self.assertEqual(c["properties"]["parent_request"], req["id"])
            self.assertIn("triggered by parent", c["reason"])

    def test_trigger_without_wait_succeeds_at_once(self):
        g = self.make(self.CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        req = g.wait_request(g.force("parent-nowait"), timeout=30)
        self.assertEqual(req["result"], "success", req)

    def test_trigger_api_refuses_bad_tokens(self):
        g = self.make(self.CONFIG, workers=["w1"])
        g.start_master()
        for headers in ({}, {"Authorization": "Bearer 1.1.deadbeef"}):
            import json
            import urllib.request
            import urllib.error
            req = urllib.request.Request(g.url + "/api/v1/trigger", method="POST",
                                         data=json.dumps({"target": "downstream"}).encode(),
                                         headers={"Content-Type": "application/json", **headers})
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(req, timeout=10)
            self.assertEqual(cm.exception.code, 401)
        self.assertEqual(g.get("/api/v1/status")["queued_count"], 0)


if __name__ == "__main__":
    unittest.main()
