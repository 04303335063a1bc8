"""A grove.lua that loops, backtracks, sleeps or eats memory cannot hang or exhaust the master.

grove.lua is evaluated in a child process under a wall-clock, CPU and memory limit; the error
names the limit, `checkconfig` exits 2, and a running master keeps serving its API and workers
while it evaluates (off the network thread), keeps its config on any error, and applies a good
one afterwards. Every wait here is bounded, so that the unfixed master (which hangs) fails the
tests instead of hanging them.
"""
import os
import resource
import signal
import subprocess
import time
import unittest
import urllib.request
import uuid
from unittest import mock

from grove_harness import GROVE, GroveTestCase, wait_for

TIME_LIMIT = 3  # seconds, for the tests (the default is 10)
MEMORY_LIMIT = 64  # MiB (the default is 512)
# The parent's deadline is the limit + 1 s; the rest is room for a loaded machine.
MARGIN = 4

BASE = r'''
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "quick" { tags = { "linux" }, steps = { shell { "echo quick" } } }
'''

SLEEP_MARK = "60." + str(uuid.uuid4().int % 10**9)  # a duration no other process uses

HOSTILE = {
    "pcall": ("while true do pcall(function() while true do end end) end\n", "time limit"),
    "xpcall": ("while true do xpcall(function() while true do end end, "
               "function(e) return e end) end\n", "time limit"),
    # Exponential backtracking inside one C call: no Lua hook ever runs.
    "find": ('string.find(string.rep("a", 30), string.rep("a*", 30) .. "b")\n',
             "(time|CPU) limit"),
    "sleep": (f'os.execute("sleep {SLEEP_MARK}")\n', "time limit"),
    "memory": ('local t = {} while true do t[#t+1] = string.rep("x", 1e6) end\n',
               f"memory limit of {MEMORY_LIMIT} MiB"),
}


def run_bounded(args, timeout, env=None):
    """Runs grove |args| in a session of its own; on timeout kills the session. Returns
    (returncode or None, stdout, stderr, seconds)."""
    start = time.monotonic()
    p = subprocess.Popen([GROVE] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err, time.monotonic() - start
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return None, out, err, time.monotonic() - start


def sleepers():
    """Pids of processes still running `sleep SLEEP_MARK` (or a shell running it)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if SLEEP_MARK.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def limited_env():
    env = dict(os.environ)
    env["GROVE_CONFIG_TIME_LIMIT"] = f"{TIME_LIMIT}s"
    env["GROVE_CONFIG_MEMORY_LIMIT"] = str(MEMORY_LIMIT)
    return env


class CheckconfigTests(GroveTestCase):
    def tearDown(self):
        for pid in sleepers():
            os.kill(pid, signal.SIGKILL)
        super().tearDown()

    def test_each_hostile_config_stops_at_its_limit_with_exit_2(self):
        g = self.make(BASE, workers=["w1"])
        for name, (lua, limit) in HOSTILE.items():
            with self.subTest(config=name):
                g.write_config(lua)
                rc, _, err, seconds = run_bounded(["checkconfig", g.dir], timeout=60,
                                                  env=limited_env())
                self.assertIsNotNone(rc, f"{name}: checkconfig still running after 60 s")
                self.assertEqual(rc, 2, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertRegex(err, r"grove\.lua(:\d+)?: evaluation exceeded the " + limit)
                self.assertLess(seconds, TIME_LIMIT + MARGIN, f"{name} took {seconds:.1f} s")
                if name == "sleep":
                    self.assertEqual(sleepers(), [], "the config's sleep outlived the evaluation")
        # The memory bomb grew to the limit, not beyond: the largest process waited for (the
        # evaluation child, by grove) stayed within the Lua budget plus the binary's own.
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        self.assertLess(peak_mib, MEMORY_LIMIT + 200)

    def test_flags_set_the_limits_and_a_cpu_limit_is_named(self):
        g = self.make(HOSTILE["find"][0])
        rc, _, err, seconds = run_bounded(
            ["checkconfig", g.dir, "--config-time-limit", "60s", "--config-cpu-limit", "2s"],
            timeout=60)
        self.assertEqual(rc, 2, err)
        self.assertIn("grove.lua: evaluation exceeded the CPU limit of 2 s", err)
        self.assertLess(seconds, 30)
        rc, _, err, _ = run_bounded(["checkconfig", g.dir, "--config-memory-limit", "lots"],
                                    timeout=60)
        self.assertEqual(rc, 2)
        self.assertIn("memory limit", err)

    def test_config_output_does_not_corrupt_the_result(self):
        # print and os.execute write to stderr; the evaluated config still comes through whole.
        g = self.make('print("hello from grove.lua")\nos.execute("echo from a child")\n' + BASE,
                      workers=["w1"])
        rc, out, err, _ = run_bounded(["checkconfig", g.dir], timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertIn("OK (1 builders, 1 workers)", out)
        self.assertIn("hello from grove.lua", err)
        self.assertIn("from a child", err)

    def test_master_refuses_to_start_on_a_hostile_config(self):
        g = self.make(HOSTILE["pcall"][0])
        rc, _, err, seconds = run_bounded(["master", g.dir], timeout=60, env=limited_env())
        self.assertEqual(rc, 2, err)
        self.assertIn(f"evaluation exceeded the time limit of {TIME_LIMIT} s", err)
        self.assertLess(seconds, TIME_LIMIT + MARGIN)

    def test_reconfig_command_refuses_a_hostile_config(self):
        g = self.make(BASE, workers=["w1"])
        g.start_master()
        g.write_config(HOSTILE["memory"][0])
        rc, _, err, _ = run_bounded(["reconfig", g.dir], timeout=60, env=limited_env())
        self.assertEqual(rc, 2, err)
        self.assertIn(f"memory limit of {MEMORY_LIMIT} MiB", err)
        self.assertNotIn("reconfig: evaluating", g.master.output())  # never signalled


class MasterReconfigTests(GroveTestCase):
    def tearDown(self):
        for pid in sleepers():
            os.kill(pid, signal.SIGKILL)
        super().tearDown()

    def api_latency(self, g):
        start = time.monotonic()
        try:
            with urllib.request.urlopen(g.url + "/api/v1/status", timeout=15) as r:
                r.read()
        except OSError:
            return float("inf")
        return time.monotonic() - start

    def test_master_keeps_serving_and_its_config_through_hostile_reconfigs(self):
        g = self.make(BASE, workers=["w1"])
        with mock.patch.dict(os.environ, limited_env()):
            g.start_master()
        g.start_worker("w1")
        refusals = 0
        for name, (lua, limit) in HOSTILE.items():
            with self.subTest(config=name):
                g.write_config(BASE + 'builder "extra" { tags = { "linux" }, '
                               'steps = { shell { "true" } } }\n' + lua)
                os.kill(g.master.pid, signal.SIGHUP)
                # While the child evaluates, the API answers at once and the worker builds.
                request = g.force("quick")
                latencies = []
                deadline = time.monotonic() + TIME_LIMIT + 1
                while time.monotonic() < deadline:
                    latencies.append(self.api_latency(g))
                    time.sleep(0.05)
                self.assertLess(max(latencies), 1.0,
                                f"{name}: the API stalled during the evaluation")
                self.assertEqual(g.wait_request(request, timeout=30)["result"], "success")
                refusals += 1
                wait_for(lambda: g.master.output().count("reconfig refused") >= refusals,
                         timeout=TIME_LIMIT + MARGIN + 10, what=f"{name}: the refusal")
                last = [l for l in g.master.output().splitlines() if "reconfig refused" in l][-1]
                self.assertRegex(last, "the running configuration is unchanged: "
                                 r"grove\.lua(:\d+)?: evaluation exceeded the " + limit)
                self.assertEqual([b["name"] for b in g.get("/api/v1/builders")], ["quick"])
                if name == "sleep":
                    wait_for(lambda: not sleepers(), timeout=5, what="the sleep to be killed")
        self.assertTrue(g.worker_connected("w1"))

        # A good config afterwards applies as usual.
        g.write_config(BASE + 'builder "added" { tags = { "linux" }, steps = { shell { "echo new" } } }\n')
        os.kill(g.master.pid, signal.SIGHUP)
        wait_for(lambda: "added" in [b["name"] for b in g.get("/api/v1/builders")],
                 timeout=TIME_LIMIT + MARGIN + 10, what="the good config")
        self.assertEqual(g.wait_request(g.force("added"))["result"], "success")
        # The secret reached the master through the child's pipe, never through the log.
        self.assertNotIn(g.secrets["w1"], g.master.output())

    def test_hups_during_an_evaluation_are_merged_and_stop_ends_it(self):
        g = self.make(BASE, workers=["w1"])
        g.start_master(["--config-time-limit", "30s"])
        g.write_config(HOSTILE["sleep"][0])
        for _ in range(5):
            os.kill(g.master.pid, signal.SIGHUP)
        wait_for(lambda: sleepers(), timeout=10, what="the evaluation to start")
        self.assertLess(self.api_latency(g), 1.0)
        # Stopping the master kills the evaluation in progress and whatever it started.
        start = time.monotonic()
        self.assertEqual(g.master.stop(timeout=20), 0)
        self.assertLess(time.monotonic() - start, 10)
        wait_for(lambda: not sleepers(), timeout=5, what="the sleep to be killed")
        self.assertEqual(g.master.output().count("reconfig: evaluating"), 1)


if __name__ == "__main__":
    unittest.main()
