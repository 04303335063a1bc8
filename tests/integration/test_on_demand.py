"""On-demand workers (issue 13): the master starts instances of a declared worker with the
operator's start command when requests wait, stops them when idle, keeps `min` warm, backs off
failed starts, and finds its instances again after a restart.

The start command here launches a local `grove worker` in the background and writes its pid to
a file named by GROVE_INSTANCE; the stop command kills that pid and waits for it to be gone.
"""
import os
import signal
import threading
import time
import unittest

from grove_harness import GroveTestCase, wait_for
from on_demand_harness import Pool, config, connected_instances, pool_info


class OnDemandTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.pools = []

    def tearDown(self):
        for pool in self.pools:  # before the directories go
            pool.kill_all()
        super().tearDown()

    def make_pool(self, **kw):
        g = self.make("", workers=["burst"])
        pool = Pool(g.root)
        self.pools.append(pool)
        g.write_config(config(pool.dir, **kw))
        return g, pool

    def test_burst_of_requests_never_exceeds_max_and_all_instances_stop_when_idle(self):
        g, pool = self.make_pool(max_=4, idle="2s")
        g.start_master()
        self.assertEqual(pool_info(g)["instances"], [])
        most = {"alive": 0, "api": 0}
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                most["alive"] = max(most["alive"], len(pool.alive()))
                try:
                    most["api"] = max(most["api"], len(pool_info(g)["instances"]))
                except Exception:
                    pass
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        t0 = time.time()
        ids = [g.force("job") for _ in range(200)]
        for rid in ids:
            self.assertEqual(g.wait_request(rid, timeout=240)["result"], "success")
        drained = time.time() - t0
        # Idle 2 s after the queue drains: every instance is stopped by its stop command.
        wait_for(lambda: not pool_info(g)["instances"], timeout=60, what="the instances to stop")
        stop.set()
        watcher.join()
        self.assertLessEqual(most["alive"], 4)
        self.assertLessEqual(most["api"], 4)
        self.assertGreaterEqual(len(pool.started()), 1)
        self.assertEqual(sorted(pool.started()), sorted(pool.stopped()))
        self.assertEqual(pool.alive(), {})
        workers = {b["worker"] for rid in ids[:: 20] for b in g.get(f"/api/v1/requests/{rid}")["builds"]}
        self.assertTrue(all(w.startswith("burst-") for w in workers), workers)
        info = pool_info(g)
        self.assertEqual(info["failures"], 0)
        kinds = {c["kind"] for c in info["commands"]}
        self.assertEqual(kinds, {"start", "stop"})
        log = g.master.output()
        self.assertIn("on-demand burst-1 start> start burst-1 instance", log)
        print(f"FIGURE on-demand: 200 requests, max 4: {drained:.1f} s, "
              f"{len(pool.started())} instances started, at most {most['alive']} alive")

    def test_time_from_waiting_to_an_instance_taking_it(self):
        g, pool = self.make_pool(max_=1, idle="30s")
        g.start_master()
        rid = g.force("job")
        req = g.wait_request(rid, timeout=60)
        self.assertEqual(req["result"], "success")
        build = g.build(req["builds"][0]["id"])
        waited_ms = build["started_at"] - req["submitted_at"]
        self.assertEqual(build["worker"], "burst-1")
        print(f"FIGURE on-demand: request waiting -> local instance took it: {waited_ms} ms")

    def test_min_is_kept_warm(self):
        g, pool = self.make_pool(max_=3, min_=1, idle="1s")
        g.start_master()
        wait_for(lambda: connected_instances(g) == ["burst-1"], timeout=30,
                 what="the warm instance to connect")
        time.sleep(4)  # well past idle: the min stays
        self.assertEqual(connected_instances(g), ["burst-1"])
        self.assertEqual(len(pool.started()), 1)
        self.assertEqual(pool.stopped(), [])
        rid = g.force("job")
        self.assertEqual(g.wait_request(rid, timeout=30)["result"], "success")
        self.assertEqual(len(pool.started()), 1)  # the warm one took it

    def test_failed_start_backs_off_is_reported_and_others_still_serve(self):
        g, pool = self.make_pool(max_=3, min_=1, idle="30s", step="sleep 0.3")
        g.start_master()
        wait_for(lambda: connected_instances(g) == ["burst-1"], timeout=30,
                 what="the warm instance to connect")
        pool.flag("fail-start")
        ids = [g.force("job") for _ in range(6)]

        def failed():
            info = pool_info(g)
            return info if info["failures"] >= 1 else None

        info = wait_for(failed, timeout=30, what="a failed start to be reported")
        self.assertIn("exited with code 3", info["last_error"])
        self.assertIsNotNone(info["backoff_until"])
        outputs = [c["output"] for c in info["commands"] if c["kind"] == "start"]
        self.assertTrue(any("refusing to start" in o for o in outputs), outputs)
        # burst-1 serves every request meanwhile.
        for rid in ids:
            self.assertEqual(g.wait_request(rid, timeout=60)["result"], "success")
        # Backing off: far fewer attempts than requests.
        self.assertLessEqual(len(pool.started()), 4)
        self.assertIn("on-demand burst-2: start command failed: exited with code 3",
                      g.master.output())
        self.assertNotIn(g.secrets["burst"], g.master.output())

    def test_instance_that_never_connects_is_stopped_then_a_probe_succeeds(self):
        g, pool = self.make_pool(max_=2, start_timeout="3s", idle="30s")
        g.start_master()
        pool.flag("no-connect")
        rid = g.force("job")

        def timed_out():
            info = pool_info(g)
            return info if info["last_error"] and "did not connect within 3s" in info["last_error"] else None

        info = wait_for(timed_out, timeout=30, what="the start timeout to be reported")
        self.assertEqual(info["failures"], 1)
        wait_for(lambda: pool.stopped(), timeout=20, what="the failed instance's stop command")
        self.assertEqual(len(pool.started()), 1)  # one probe at a time, and a backoff
        pool.flag("no-connect", on=False)
        # After the 5 s backoff a new start succeeds and the request runs.
        self.assertEqual(g.wait_request(rid, timeout=60)["result"], "success")
        self.assertEqual(pool_info(g)["failures"], 0)

    def test_instance_killed_mid_job_has_its_job_retried(self):
        g, pool = self.make_pool(max_=1, idle="30s", step="echo begun; sleep 4; echo done")
        g.start_master()
        rid = g.force("job")

        def running():
            req = g.get(f"/api/v1/requests/{rid}")
            if not req["builds"]:
                return None
            b = g.build(req["builds"][-1]["id"])
            return b if b["steps"] and b["steps"][0]["state"] == "running" else None

        wait_for(running, timeout=60, what="the build to run")
        first = pool.started()[0]
        os.kill(pool.pids()[first], signal.SIGKILL)
        req = g.wait_request(rid, timeout=90)
        self.assertEqual(req["result"], "success")
        self.assertEqual([b["attempt"] for b in req["builds"]], [1, 2])
        self.assertEqual(g.build(req["builds"][0]["id"])["result"], "retry")
        # The dead instance was stopped (its machine cleaned up) and a new one started.
        self.assertIn(first, pool.stopped())
        self.assertEqual(len(pool.started()), 2)

    def test_restarted_master_adopts_its_instances_and_stops_the_lost_ones(self):
        g, pool = self.make_pool(max_=2, idle="60s", start_timeout="15s", step="sleep 1")
        g.start_master()
        ids = [g.force("job") for _ in range(2)]
        for rid in ids:
            g.wait_request(rid, timeout=60)
        wait_for(lambda: len(connected_instances(g)) == 2, timeout=30, what="two instances")
        started = pool.started()
        self.assertEqual(len(started), 2)
        g.master.stop()
        # While the master is down, one instance dies.
        by_name = {i.rsplit("-", 2)[0]: i for i in started}
        os.kill(pool.pids()[by_name["burst-2"]], signal.SIGKILL)
        g.start_master()
        wait_for(lambda: connected_instances(g) == ["burst-1"], timeout=30,
                 what="burst-1 to be adopted")
        info = pool_info(g)
        self.assertEqual(sorted(i["name"] for i in info["instances"]), ["burst-1", "burst-2"])
        # burst-2 does not come back: stopped once the start timeout passes.
        wait_for(lambda: by_name["burst-2"] in pool.stopped(), timeout=40,
                 what="the lost instance to be stopped")
        self.assertNotIn(by_name["burst-1"], pool.stopped())
        self.assertEqual(pool_info(g)["failures"], 0)
        # Work goes to the adopted instance; no duplicate of it was started.
        rid = g.force("job")
        self.assertEqual(g.wait_request(rid, timeout=60)["result"], "success")
        self.assertNotIn("burst-1", [s.rsplit("-", 2)[0] for s in pool.started()[2:]])
        self.assertIn("found from before the restart", g.master.output())

    def test_strangers_and_the_declared_name_are_refused(self):
        g, pool = self.make_pool(max_=2)
        g.start_master()
        # The right secret, but an instance the master did not start.
        rogue = g.start_worker("burst-2", secret=g.secrets["burst"], wait=False)
        self.assertEqual(rogue.popen.wait(timeout=20), 1)
        plain = g.start_worker("burst", wait=False)
        self.assertEqual(plain.popen.wait(timeout=20), 1)
        log = g.master.output()
        self.assertIn("was not started by the master", log)
        self.assertIn("is on-demand", log)
        self.assertEqual(pool_info(g)["instances"], [])


if __name__ == "__main__":
    unittest.main()
