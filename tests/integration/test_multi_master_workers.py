"""Several masters share their workers (issue 10, embedded broker): a worker given several master
URLs connects to one and moves to the next when it is lost; a request made through any master
runs on a free worker connected to any other; when a master dies, the builds running through it
are finished through another master (their workers reconnect there with their outboxes) or
retried after the grace by one survivor: never lost, never run twice to success. (Three masters
and four workers under kills, the longest test, is test_multi_master_chaos: a ctest entry of its
own, run beside this one.)

Real processes on one real PostgreSQL database. Needs GROVE_TEST_PG_URL and GROVE_TEST_STORE=
postgres (ctest's integration.pg.test_multi_master_workers); skipped without them."""
import os
import tempfile
import signal
import subprocess
import time
import unittest
import urllib.error

from grove_harness import GROVE, GroveTestCase, Proc, free_port, psql, store_backend, wait_for


class Cluster:
    """Masters named |names| on one database, each with a directory of its own and the same
    grove.lua (the first Grove's database and secrets)."""

    def __init__(self, case, names, workers, grace="3s"):
        self.case = case
        self.grace = grace
        self.first = case.make("", workers=workers)
        self.groves = {}
        for i, name in enumerate(names):
            g = self.first if i == 0 else case.make("", workers=[])
            if g is not self.first:
                g.pg.drop()  # every master uses the first one's database
                g.pg = None
                g.store_url = self.first.store_url
                g.secrets = self.first.secrets
                for w, secret in self.first.secrets.items():
                    with open(os.path.join(g.dir, "secrets", w), "w") as f:
                        f.write(secret + "\n")
            g.port = free_port()
            g.url = f"http://127.0.0.1:{g.port}"
            g.name = name
            self.groves[name] = g
        self.procs = {}

    def write_config(self, body):
        for g in self.groves.values():
            g.write_config(body)

    def start(self, name):
        g = self.groves[name]
        proc = Proc(["master", g.dir, "--name", name, "--listen", f"127.0.0.1:{g.port}",
                     "--worker-grace", self.grace], os.path.join(g.root, f"master-{name}.log"))
        self.procs.setdefault(name, []).append(proc)
        g.master = proc
        wait_for(g.ready, timeout=30, what=f"master {name} to answer")
        return proc

    def kill(self, name):
        proc = self.procs[name][-1]
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait()
        proc.log.close()
        self.groves[name].master = None

    def start_worker(self, name, masters, extra=None):
        first = self.first
        secret_file = os.path.join(first.root, f"{name}.secret")
        with open(secret_file, "w") as f:
            f.write(first.secrets[name] + "\n")
        urls = ",".join(self.groves[m].url for m in masters)
        proc = Proc(["worker", "--master", urls, "--name", name, "--secret-file", secret_file,
                     "--workdir", os.path.join(first.root, "workers", name)] + (extra or []),
                    os.path.join(first.root, f"worker-{name}.log"))
        first.workers[name] = proc
        return proc

    def live(self):
        return [g for n, g in self.groves.items() if g.master and g.master.alive()]

    def views(self, name):
        """Master |name|'s /api/v1/workers: {worker: (connected, master)}."""
        return {w["name"]: (w["connected"], w["master"])
                for w in self.groves[name].get("/api/v1/workers")}

    def holds(self, name, worker):
        """Whether |worker| is connected to master |name| (every master lists it connected)."""
        return self.views(name).get(worker) == (True, name)

    def connected_to(self, worker):
        """The master the worker is connected to now (by the masters' own views)."""
        for g in self.live():
            try:
                if self.holds(g.name, worker):
                    return g.name
            except (AssertionError, urllib.error.URLError, ConnectionError, OSError):
                pass
        return None

    def lease_holder(self, lease="schedulers"):
        for g in self.live():
            try:
                for m in g.get("/api/v1/masters")["masters"]:
                    if m["state"] == "active" and lease in m["leases"]:
                        return m["name"]
            except (AssertionError, urllib.error.URLError, ConnectionError, OSError):
                pass
        return None

    def sql(self, query):
        return [r for r in psql(self.first.store_url, query).split("\n") if r.strip()]

    def stop(self):
        for procs in self.procs.values():
            for p in procs:
                if p.alive():
                    p.stop()
        for g in self.groves.values():
            g.master = None


class MasterListFlagTests(unittest.TestCase):
    def test_a_bad_url_in_the_master_list_is_a_usage_error_naming_it(self):
        with tempfile.NamedTemporaryFile("w", suffix=".secret") as secret:
            secret.write("s\n")
            secret.flush()
            for masters, named in [("http://127.0.0.1:1,ftp://elsewhere", "'ftp://elsewhere'"),
                                   ("http://127.0.0.1:1,,http://127.0.0.1:2", "an empty URL")]:
                r = subprocess.run([GROVE, "worker", "--master", masters, "--name", "w1",
                                    "--secret-file", secret.name],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--master: " + named, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


class ClusterTestCase(GroveTestCase):
    """Tests of masters made by cluster() on one PostgreSQL database (no test of its own:
    test_multi_master_chaos imports it)."""

    def setUp(self):
        super().setUp()
        if not os.environ.get("GROVE_TEST_PG_URL") or store_backend() != "postgres":
            self.skipTest("several masters need PostgreSQL: GROVE_TEST_PG_URL is not set or "
                          "GROVE_TEST_STORE is not postgres (ctest's "
                          f"integration.pg.{type(self).__module__} sets both)")
        self.clusters = []

    def cluster(self, names, workers):
        c = Cluster(self, names, workers)
        self.clusters.append(c)
        return c

    def tearDown(self):
        # The masters stop before the harness drops the database under them.
        for c in getattr(self, "clusters", []):
            c.stop()
        super().tearDown()


class MultiMasterWorkersTests(ClusterTestCase):

    def test_worker_with_two_masters_survives_its_masters_death(self):
        c = self.cluster(["alpha", "beta"], workers=["w1"])
        c.write_config('''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
builder "quick" { tags = { "linux" }, steps = { shell { "echo quick" } } }
builder "slow" { tags = { "linux" }, steps = {
  shell { "for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 1; done", name = "count" },
  shell { "echo after", name = "after" },
} }
''')
        c.start("alpha")
        c.start("beta")
        alpha, beta = c.groves["alpha"], c.groves["beta"]
        c.start_worker("w1", ["alpha", "beta"])
        wait_for(lambda: c.holds("alpha", "w1"), timeout=30, what="w1 to connect to alpha")
        # Both masters see each other before the cross-master claim is asked of them.
        wait_for(lambda: len([m for m in beta.get("/api/v1/masters")["masters"]
                              if m["state"] == "active"]) == 2, timeout=20, what="2 masters")

        # Made through beta, which has no worker: alpha's free worker runs it.
        r = beta.force("quick")
        done = beta.wait_request(r, timeout=60)
        self.assertEqual([b["result"] for b in done["builds"]], ["success"], done)
        self.assertEqual(beta.build(done["builds"][0]["id"])["worker"], "w1")

        # A slow build through alpha; alpha dies while it runs.
        r = alpha.force("slow")
        build = wait_for(lambda: (b := alpha.get(f"/api/v1/requests/{r}")["builds"]) and
                         b[0]["state"] == "running" and b[0], timeout=30, what="slow running")
        wait_for(lambda: "line 2" in alpha.log_so_far(build["id"], 0), timeout=30,
                 what="the build's log to flow")
        c.kill("alpha")
        killed_at = time.monotonic()
        wait_for(lambda: c.holds("beta", "w1"), timeout=30, what="w1 to move to beta")
        moved = time.monotonic() - killed_at
        done = beta.wait_request(r, timeout=90)
        print(f"w1 reconnected to beta {moved:.1f} s after kill -9 of alpha")
        # The same build, finished through beta: no retry, no second build.
        self.assertEqual([(b["id"], b["result"]) for b in done["builds"]],
                         [(build["id"], "success")], done)
        log = beta.log(build["id"], 0)[0]
        for i in range(1, 9):
            self.assertEqual(log.count(f"line {i}\n"), 1, log)
        self.assertIn("after", beta.log(build["id"], 1)[0])
        self.assertIn("adopted", c.procs["beta"][-1].output())
        # w1 keeps working through beta.
        r = beta.force("quick")
        self.assertEqual([b["result"] for b in beta.wait_request(r, timeout=60)["builds"]],
                         ["success"])

    def test_every_master_lists_every_worker_with_the_master_it_is_connected_to(self):
        c = self.cluster(["alpha", "beta"], workers=["w1", "w2"])
        c.write_config('''
worker "w1" { secret = secret "w1", tags = { "linux" } }
worker "w2" { secret = secret "w2", tags = { "linux", "b" } }
builder "slow" { tags = { "b" }, steps = { shell { "sleep 20" } } }
''')
        c.start("alpha")
        c.start("beta")
        alpha, beta = c.groves["alpha"], c.groves["beta"]
        c.start_worker("w1", ["alpha"])
        c.start_worker("w2", ["beta"])
        both = {"w1": (True, "alpha"), "w2": (True, "beta")}
        for name in ("alpha", "beta"):
            wait_for(lambda name=name: c.views(name) == both, timeout=30,
                     what=f"{name} to list both workers with their masters")
        # What w2 runs through beta is known to alpha through the store.
        r = beta.force("slow")
        wait_for(lambda: (b := beta.get(f"/api/v1/requests/{r}")["builds"]) and
                 b[0]["state"] == "running", timeout=30, what="slow running on w2")
        w2 = next(w for w in alpha.get("/api/v1/workers") if w["name"] == "w2")
        self.assertEqual([j["request"] for j in w2["running"]], [r], w2)

        # alpha dies and comes back: its recovery leaves beta's worker connected.
        c.kill("alpha")
        c.start("alpha")
        wait_for(lambda: c.holds("alpha", "w1"), timeout=30, what="w1 back on alpha")
        self.assertEqual(c.sql("SELECT connected, master FROM workers WHERE name = 'w2'"),
                         ["1|beta"])
        for name in ("alpha", "beta"):
            self.assertEqual(c.views(name), both, name)

    def test_master_and_worker_dead_together_the_build_is_retried_by_a_survivor(self):
        c = self.cluster(["alpha", "beta"], workers=["w1", "w2"])
        c.write_config('''
worker "w1" { secret = secret "w1", tags = { "linux" } }
worker "w2" { secret = secret "w2", tags = { "linux" } }
builder "slow" { tags = { "linux" }, steps = { shell { "echo start; sleep 5; echo end" } } }
''')
        c.start("alpha")
        c.start("beta")
        alpha, beta = c.groves["alpha"], c.groves["beta"]
        lone = c.start_worker("w2", ["alpha"])  # knows alpha only
        wait_for(lambda: alpha.worker_connected("w2"), timeout=30, what="w2 on alpha")
        r = alpha.force("slow")
        build = wait_for(lambda: (b := alpha.get(f"/api/v1/requests/{r}")["builds"]) and
                         b[0]["state"] == "running" and b[0], timeout=30, what="slow running")
        self.assertEqual(build["worker"], "w2", build)
        # alpha and its worker die together: nobody will bring the build back.
        c.kill("alpha")
        lone.kill_group()
        killed_at = time.monotonic()
        c.start_worker("w1", ["beta"])
        done = beta.wait_request(r, timeout=120)
        took = time.monotonic() - killed_at
        print(f"retried through beta and finished {took:.1f} s after alpha and w2 died")
        self.assertEqual([(b["result"], b["worker"]) for b in done["builds"]],
                         [("retry", "w2"), ("success", "w1")], done)
        self.assertIn("is gone: request", c.procs["beta"][-1].output())
        self.assertEqual(c.sql("SELECT count(*) FROM builds WHERE state = 'running'"), ["0"])

class StopThroughAnyMasterTests(ClusterTestCase):
    """POST /api/v1/builds/{id}/stop through a master whose workers do not run the build: it is
    relayed to the master that does (docs/api.md)."""

    def test_a_build_running_on_another_masters_worker_is_stopped_through_this_one(self):
        c = self.cluster(["alpha", "beta"], workers=["w1"])
        c.write_config('''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 1 }
builder "long" { tags = { "linux" }, steps = { shell { "echo started; sleep 300" } } }
builder "quick" { tags = { "linux" }, steps = { shell { "echo quick" } } }
''')
        c.start("alpha")
        c.start("beta")
        alpha, beta = c.groves["alpha"], c.groves["beta"]
        c.start_worker("w1", ["alpha"])  # knows alpha only: the build runs through alpha
        wait_for(lambda: alpha.worker_connected("w1"), timeout=30, what="w1 on alpha")
        wait_for(lambda: len([m for m in beta.get("/api/v1/masters")["masters"]
                              if m["state"] == "active"]) == 2, timeout=20, what="2 masters")
        r = alpha.force("long")
        build = wait_for(lambda: (b := alpha.get(f"/api/v1/requests/{r}")["builds"]) and
                         b[0]["state"] == "running" and b[0], timeout=30, what="long running")
        wait_for(lambda: "started" in alpha.log_so_far(build["id"], 0), timeout=30,
                 what="the step to run")

        asked = time.monotonic()
        status, body, _ = beta.call("POST", f"/api/v1/builds/{build['id']}/stop", {})
        self.assertEqual((status, body), (202, {"stopping": True, "through": "alpha"}))
        done = wait_for(lambda: (b := beta.build(build["id"]))["state"] == "finished" and b,
                        timeout=30, what="the build to end")
        took = time.monotonic() - asked
        print(f"stopped through beta: build ended {took:.1f} s after the request")
        self.assertEqual(done["result"], "cancelled", done)
        self.assertLess(took, 15)
        self.assertIn("stopped as master 'beta' asked", c.procs["alpha"][-1].output())
        # Once finished, the stop is refused as before, through either master.
        for g in (alpha, beta):
            self.assertEqual(g.call("POST", f"/api/v1/builds/{build['id']}/stop", {})[0], 409)
        # w1 (capacity 1) is free again: a build made through beta runs on it.
        r = beta.force("quick")
        self.assertEqual([b["result"] for b in beta.wait_request(r, timeout=60)["builds"]],
                         ["success"])


if __name__ == "__main__":
    unittest.main()
