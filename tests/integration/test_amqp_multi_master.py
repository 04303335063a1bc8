"""Several masters in distributed mode (issue 10): three masters on one PostgreSQL store and one
RabbitMQ vhost, two workers, forced builds and consumer jobs submitted through every master.
The master consuming the events queue (the "amqp-events" lease holder) is killed with SIGKILL in
the middle of the load and started again, then a standby likewise: every request a master acknowledged ends with exactly
one successful build, each step's log has each line once, nothing stays running.

Needs GROVE_TEST_AMQP_URL and GROVE_TEST_PG_URL with GROVE_TEST_STORE=postgres (ctest's
integration.pg.test_amqp_multi_master); skipped otherwise."""
import itertools
import os
import signal
import threading
import time
import unittest

from amqp_harness import AmqpTestCase
from grove_harness import Proc, free_port, psql, store_backend, wait_for

LINES = 30
CONFIG = f'''
worker "w1" {{ secret = secret "w1", tags = {{ "linux" }}, capacity = 3 }}
worker "w2" {{ secret = secret "w2", tags = {{ "linux" }}, capacity = 3 }}
builder "lines" {{ tags = {{ "linux" }}, steps = {{
  shell {{ "for i in $(seq 1 {LINES}); do echo line-$i; sleep 0.03; done" }},
  shell {{ "echo second-step" }},
}} }}
consumer {{ "echo", tags = {{ "linux" }} }}
'''
NAMES = ["alpha", "beta", "gamma"]


class AmqpMultiMasterTests(AmqpTestCase):
    worker_tags = {"w1": ["linux"], "w2": ["linux"]}
    worker_capacity = {"w1": 3, "w2": 3}

    def setUp(self):
        super().setUp()
        if not os.environ.get("GROVE_TEST_PG_URL") or store_backend() != "postgres":
            self.skipTest("several masters need PostgreSQL: GROVE_TEST_PG_URL is not set or "
                          "GROVE_TEST_STORE is not postgres (ctest's "
                          "integration.pg.test_amqp_multi_master sets both)")

    def start_master(self, g, name):
        g.master = Proc(["master", g.dir, "--name", name, "--listen", f"127.0.0.1:{g.port}",
                         "--worker-grace", "3s"], os.path.join(g.root, f"master-{name}.log"))
        wait_for(g.ready, timeout=30, what=f"master {name} to answer")
        return g.master

    def events_holder(self, g):
        """The name of the master holding the amqp-events lease, as |g| sees it."""
        for m in g.get("/api/v1/masters")["masters"]:
            if m["state"] == "active" and "amqp-events" in m["leases"]:
                return m["name"]
        return None

    def test_active_master_killed_mid_load_every_request_one_successful_build(self):
        first = self.make(CONFIG, workers=["w1", "w2"])
        groves = [first]
        for _ in NAMES[1:]:
            g = self.make("", workers=[])
            g.pg.drop()  # every master uses the first one's database
            g.pg = None
            g.store_url = first.store_url
            g.secrets = first.secrets
            for w in ("w1", "w2"):
                with open(os.path.join(g.dir, "secrets", w), "w") as f:
                    f.write(first.secrets[w] + "\n")
            g.write_config(CONFIG)
            groves.append(g)
        by_name = dict(zip(NAMES, groves))
        for name, g in by_name.items():
            self.start_master(g, name)
        try:
            holder = wait_for(lambda: self.events_holder(first), timeout=20,
                              what="an amqp-events lease holder")
        except AssertionError:
            # A Grove without the lease (every master consumes): the outcome below tells.
            holder = None
        print(f"amqp-events lease holder: {holder}")
        gated = holder is not None
        holder = holder or NAMES[0]
        active = by_name[holder]
        # Workers are seen by the master applying events only.
        for w in ("w1", "w2"):
            first.start_worker(w, wait=False, extra=["--consumer", "echo=cat"])
        for w in ("w1", "w2"):
            wait_for(lambda: active.worker_connected(w), timeout=30, what=f"worker {w}")

        # The load: builds and consumer jobs through every master, from a thread that keeps
        # submitting while the active master is killed and restarted.
        acknowledged = []  # (kind, request id, payload)
        lock = threading.Lock()
        stop = threading.Event()
        errors = []

        def submit():
            live = itertools.cycle(NAMES)
            n = 0
            while not stop.is_set() and n < 100:
                name = next(live)
                g = by_name[name]
                if not g.master or not g.master.alive():
                    continue
                try:
                    if n % 2:
                        payload = {"n": n}
                        status, answer, _ = g.call("POST", "/api/v1/jobs",
                                                   {"consumer": "echo", "payload": payload})
                        if status == 201:
                            with lock:
                                acknowledged.append(("job", answer["request"], payload))
                    else:
                        status, answer, _ = g.call("POST", "/api/v1/builders/lines/force",
                                                   {"properties": {}})
                        if status == 201:
                            with lock:
                                acknowledged.append(("build", answer["request"], None))
                except OSError:
                    pass  # that master was just killed: not acknowledged
                except Exception as e:  # noqa: BLE001 - reported by the test
                    errors.append(repr(e))
                n += 1
                time.sleep(0.15)

        submitter = threading.Thread(target=submit)
        submitter.start()
        try:
            # Kill the events consumer while builds run (some finished, some not started).
            def some_finished():
                rows = psql(first.store_url, "SELECT count(*) FROM builds WHERE state = "
                                             "'finished'")
                return int(rows.strip() or 0) >= 4
            wait_for(some_finished, timeout=60, what="the first builds to finish")
            running = psql(first.store_url, "SELECT count(*) FROM builds WHERE state = 'running'")
            print(f"killing {holder} with {running.strip()} builds running")
            active.master.popen.send_signal(signal.SIGKILL)
            active.master.popen.wait()
            active.master.log.close()
            survivors = [g for n, g in by_name.items() if n != holder]
            new_holder = None
            if gated:
                new_holder = wait_for(
                    lambda: (h := self.events_holder(survivors[0])) and h != holder and h,
                    timeout=30, what="another master to take the events over")
                print(f"events taken over by {new_holder}")
            time.sleep(2)
            # The killed master comes back (a standby now) and the load goes on through it too.
            self.start_master(active, holder)
            # A standby killed in turn (it dispatches what is submitted through it) and restarted.
            standby = next(n for n in NAMES if n not in (holder, new_holder or NAMES[1]))
            print(f"killing standby {standby}")
            by_name[standby].master.popen.send_signal(signal.SIGKILL)
            by_name[standby].master.popen.wait()
            by_name[standby].master.log.close()
            time.sleep(2)
            self.start_master(by_name[standby], standby)
        finally:
            submitter.join(timeout=120)
            stop.set()
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(acknowledged), 50)

        def all_done():
            rows = psql(first.store_url, "SELECT count(*) FROM requests WHERE state IN "
                                         "('queued', 'claimed')")
            return int(rows.strip() or 0) == 0
        wait_for(all_done, timeout=240, what="every request to finish")

        view = survivors[0]
        results = psql(first.store_url, "SELECT result, count(*) FROM builds GROUP BY result")
        print(f"{len(acknowledged)} requests acknowledged; builds by result: "
              + results.replace("\n", ", "))
        for kind, request_id, payload in acknowledged:
            r = view.get(f"/api/v1/requests/{request_id}")
            self.assertEqual(r["state"], "finished", r)
            results = [b["result"] for b in r["builds"]]
            self.assertEqual(results.count("success"), 1, f"request {request_id}: {r}")
            # Only lost attempts ("retry") may precede the successful one.
            self.assertEqual(set(results) - {"success", "retry"}, set(), r)
            build = view.build(next(b["id"] for b in r["builds"] if b["result"] == "success"))
            self.assertEqual([s["state"] for s in build["steps"]],
                             ["finished"] * len(build["steps"]), build)
            if kind == "job":
                self.assertEqual(build["steps"][0]["result_json"], payload, build)
                continue
            log, _ = view.log(build["id"], 0)
            for i in range(1, LINES + 1):
                self.assertEqual(log.count(f"line-{i}\n"), 1, f"build {build['id']}: {log!r}")
            log, _ = view.log(build["id"], 1)
            self.assertEqual(log.count("second-step\n"), 1, log)
        for table in ("builds", "steps"):
            running = psql(first.store_url, f"SELECT count(*) FROM {table} WHERE state = "
                                            "'running'")
            self.assertEqual(running.strip(), "0", f"{table} left running")
        # Every build belongs to an acknowledged request (none made twice for one attempt).
        dup = psql(first.store_url, "SELECT count(*) FROM (SELECT request_id, attempt FROM builds "
                                    "GROUP BY request_id, attempt HAVING count(*) > 1) d")
        self.assertEqual(dup.strip(), "0")


class AmqpStopThroughStandbyTests(AmqpTestCase):
    """POST /api/v1/builds/{id}/stop through a standby is relayed to the amqp-events holder,
    which follows every job (docs/operations.md, "Running several masters")."""
    worker_tags = {"w1": ["linux"]}
    worker_capacity = {"w1": 3}
    start_master = AmqpMultiMasterTests.start_master
    events_holder = AmqpMultiMasterTests.events_holder

    def setUp(self):
        super().setUp()
        if not os.environ.get("GROVE_TEST_PG_URL") or store_backend() != "postgres":
            self.skipTest("several masters need PostgreSQL (integration.pg.test_amqp_multi_master)")

    def test_a_build_is_stopped_through_a_standby(self):
        config = '''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 3 }
builder "long" { tags = { "linux" }, steps = { shell { "echo started; sleep 300" } } }
'''
        first = self.make(config, workers=["w1"])
        second = self.make("", workers=[])
        second.pg.drop()  # both masters use the first one's database
        second.pg = None
        second.store_url = first.store_url
        second.secrets = first.secrets
        with open(os.path.join(second.dir, "secrets", "w1"), "w") as f:
            f.write(first.secrets["w1"] + "\n")
        second.write_config(config)
        by_name = {"alpha": first, "beta": second}
        for name, g in by_name.items():
            self.start_master(g, name)
        holder = wait_for(lambda: self.events_holder(first), timeout=20,
                          what="an amqp-events lease holder")
        standby_name = next(n for n in by_name if n != holder)
        active, standby = by_name[holder], by_name[standby_name]
        wait_for(lambda: self.events_holder(standby) == holder, timeout=20,
                 what="the standby to see the holder")
        first.start_worker("w1", wait=False)
        wait_for(lambda: active.worker_connected("w1"), timeout=30, what="worker w1")
        r = standby.force("long")
        build = wait_for(lambda: (b := standby.get(f"/api/v1/requests/{r}")["builds"]) and
                         b[0]["state"] == "running" and b[0], timeout=60, what="long running")
        wait_for(lambda: (s := standby.build(build["id"])["steps"]) and
                 s[0]["state"] == "running", timeout=30, what="the step to run")
        asked = time.monotonic()
        status, body, _ = standby.call("POST", f"/api/v1/builds/{build['id']}/stop", {})
        self.assertEqual((status, body), (202, {"stopping": True, "through": holder}))
        done = wait_for(lambda: (b := standby.build(build["id"]))["state"] == "finished" and b,
                        timeout=30, what="the build to end")
        print(f"stopped through standby {standby_name}: ended {time.monotonic() - asked:.1f} s "
              "after the request")
        self.assertEqual(done["result"], "cancelled", done)


if __name__ == "__main__":
    unittest.main()
