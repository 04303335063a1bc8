"""Live updates across several masters on one PostgreSQL store (issue 10): a build forced and run
through master A appears on master B's event stream (GET /api/v1/events) within 1 s of A's own
stream, B's API lists it, and after B's listening connection to the database is cut the stream
says "resync" and carries on. Needs GROVE_TEST_PG_URL; skipped without it."""
import json
import os
import socket
import threading
import time
import unittest

from grove_harness import GroveTestCase, PrivatePostgres, Proc, psql, store_backend, wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
builder "hello" { tags = { "linux" }, steps = { shell { "echo hello" }, shell { "sleep 0.3" } } }
'''


class Events:
    """Reads a master's Server-Sent Events on a thread, with the time each event arrived."""

    def __init__(self, g):
        self.sock = socket.create_connection(("127.0.0.1", g.port), timeout=120)
        self.sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{g.port}\r\n\r\n".encode())
        self.events = []  # (time.monotonic(), time.time(), event)
        self.hello = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()
        if not self.hello.wait(30):
            raise AssertionError("no hello on the event stream")

    def read(self):
        buf, head = b"", b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                now, wall = time.monotonic(), time.time()
                buf += chunk
                if not head and b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                while head and b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    for line in frame.decode().split("\n"):
                        if line.startswith("event: hello"):
                            self.hello.set()
                        if line.startswith("data: ") and line != "data: {}":
                            with self.lock:
                                self.events.append((now, wall, json.loads(line[6:])))
        except OSError:
            return

    def find(self, match):
        """The arrival time and event of the first event |match| accepts, or None."""
        with self.lock:
            return next(((t, w, e) for t, w, e in self.events if match(e)), None)

    def close(self):
        self.sock.close()


def build_event(request, state):
    return lambda e: e.get("type") == "build" and e.get("request") == request and e.get("state") == state


class MultiMasterLiveTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        if not os.environ.get("GROVE_TEST_PG_URL") or store_backend() != "postgres":
            self.skipTest("several masters need PostgreSQL: GROVE_TEST_PG_URL is not set or "
                          "GROVE_TEST_STORE is not postgres (ctest's "
                          "integration.pg.test_multi_master_live sets both)")

    def two_masters(self, store_url=None):
        a = self.make(CONFIG, workers=["w1"])
        if store_url:  # a database of the test's own
            a.pg.drop()
            a.pg = None
            a.store_url = store_url
            a.write_config(CONFIG)
        b = self.make("", workers=[])
        b.pg.drop()  # B uses A's database
        b.pg = None
        b.store_url, b.secrets = a.store_url, a.secrets
        with open(os.path.join(b.dir, "secrets", "w1"), "w") as f:
            f.write(a.secrets["w1"] + "\n")
        # The same grove.lua on both (the listen address comes from --listen): equal hashes.
        with open(os.path.join(a.dir, "grove.lua")) as src, \
                open(os.path.join(b.dir, "grove.lua"), "w") as dst:
            dst.write(src.read())
        for g, name in ((a, "alpha"), (b, "beta")):
            g.name = name
            g.master = Proc(["master", g.dir, "--name", name, "--listen", f"127.0.0.1:{g.port}",
                             "--worker-grace", "2s"], os.path.join(g.root, f"master-{name}.log"))
            wait_for(g.ready, timeout=30, what=f"master {name} to answer")
        return a, b

    def events_of(self, stream, since=0):
        with stream.lock:
            return [e for _, _, e in stream.events[since:]]

    def run_and_measure(self, a, b, on_a, on_b):
        """Forces a build on A; returns its request and how long after A's stream B's got each
        of the build's start and finish (A publishes right after its commit), and how long after
        the build's recorded finish (taken before A's commit) B got that."""
        request = a.force("hello")
        r = a.wait_request(request, timeout=60)
        self.assertEqual(r["builds"][-1]["result"], "success", r)
        lags = {}
        for state in ("running", "finished"):
            at_a = wait_for(lambda: on_a.find(build_event(request, state)), timeout=10,
                            what=f"A's event for the build {state}")
            at_b = wait_for(lambda: on_b.find(build_event(request, state)), timeout=10,
                            what=f"B's event for the build {state}")
            self.assertEqual(at_b[2].get("from"), a.name, at_b[2])  # relayed, not B's own
            lags[state] = at_b[0] - at_a[0]
        finished_at = a.build(r["builds"][-1]["id"])["finished_at"] / 1000.0
        lags["since_finished_at"] = on_b.find(build_event(request, "finished"))[1] - finished_at
        return request, lags

    def test_build_through_one_master_is_live_on_the_other(self):
        a, b = self.two_masters()
        a.start_worker("w1")
        on_a, on_b = Events(a), Events(b)
        try:
            # B's cached builders answer (kept while its EventHub generation stands) is made now.
            self.assertEqual({x["name"]: x for x in b.get("/api/v1/builders")}["hello"]
                             ["recent_builds"], [])
            request, lags = self.run_and_measure(a, b, on_a, on_b)
            print(f"live update A -> B: build started +{lags['running'] * 1000:.0f} ms, "
                  f"finished +{lags['finished'] * 1000:.0f} ms after A's own stream; "
                  f"{lags['since_finished_at'] * 1000:.0f} ms after the build's finished_at")
            for state in ("running", "finished"):
                lag = lags[state]
                self.assertLess(lag, 1.0, f"B saw the build {state} {lag:.3f} s after A")
            # B's API lists the build, and the cached builders answer is fresh (the relayed
            # event moved B's generation on).
            build_id = a.get(f"/api/v1/requests/{request}")["builds"][-1]["id"]
            self.assertEqual(b.build(build_id)["result"], "success")
            builds = b.get("/api/v1/builders/hello/builds")
            rows = builds.get("builds", builds) if isinstance(builds, dict) else builds
            self.assertIn(build_id, [x["id"] for x in rows])
            recent = {x["name"]: x for x in b.get("/api/v1/builders")}["hello"]["recent_builds"]
            self.assertEqual(recent[0]["id"], build_id, recent)
            # A's events are not echoed back into A's own stream.
            self.assertFalse([e for e in self.events_of(on_a) if "from" in e])

            # Cut every live-update connection to the database (both masters'): each master
            # reconnects, tells its pages to re-read ("resync"), and the stream carries on.
            before = len(on_b.events)
            # Only this test's database: tests running beside it share the server.
            cut = psql(a.store_url, "SELECT count(pg_terminate_backend(pid)) FROM "
                                    "pg_stat_activity WHERE application_name = 'grove-events' "
                                    "AND datname = current_database()")
            self.assertEqual(cut.strip(), "2", cut)
            wait_for(lambda: any(e.get("type") == "resync" for e in self.events_of(on_b, before)),
                     timeout=15, what="a resync event on B after its connection was cut")

            def listening_again():
                n = psql(a.store_url, "SELECT count(*) FROM pg_stat_activity "
                                      "WHERE application_name = 'grove-events' "
                                      "AND datname = current_database()")
                return n.strip() == "2"
            wait_for(listening_again, timeout=15, what="both masters to listen again")
            request2, lags2 = self.run_and_measure(a, b, on_a, on_b)
            print(f"after the reconnect: started +{lags2['running'] * 1000:.0f} ms, "
                  f"finished +{lags2['finished'] * 1000:.0f} ms")
            for state in ("running", "finished"):
                lag = lags2[state]
                self.assertLess(lag, 1.0, f"B saw the build {state} {lag:.3f} s after A")
        finally:
            on_a.close()
            on_b.close()

    def test_database_restart_resyncs_and_the_stream_carries_on(self):
        pg = PrivatePostgres()
        self.addCleanup(pg.stop)  # after tearDown has stopped the masters
        a, b = self.two_masters(pg.createdb("grove_live"))
        a.start_worker("w1")
        on_b = Events(b)
        try:
            before = len(on_b.events)
            pg.down()
            time.sleep(1)
            pg.up()
            wait_for(lambda: any(e.get("type") == "resync" for e in self.events_of(on_b, before)),
                     timeout=30, what="a resync event on B after the database restarted")

            def listening():
                try:
                    n = psql(a.store_url, "SELECT count(*) FROM pg_stat_activity "
                                          "WHERE application_name = 'grove-events'")
                except AssertionError:
                    return False
                return n.strip() == "2"
            wait_for(listening, timeout=30, what="both masters to listen again")
            on_a = Events(a)
            try:
                # A's store connection comes back on its next use: the force may first get 503.
                request = wait_for(lambda: a.call("POST", "/api/v1/builders/hello/force",
                                                  {})[1].get("request"),
                                   timeout=30, what="A to take a force again")
                r = a.wait_request(request, timeout=60)
                self.assertEqual(r["builds"][-1]["result"], "success", r)
                at_a = wait_for(lambda: on_a.find(build_event(request, "finished")), timeout=10,
                                what="A's event for the build finished")
                at_b = wait_for(lambda: on_b.find(build_event(request, "finished")), timeout=10,
                                what="B's event for the build finished, on the same stream")
                print(f"after a database restart: finished +{(at_b[0] - at_a[0]) * 1000:.0f} ms")
                self.assertLess(at_b[0] - at_a[0], 1.0)
            finally:
                on_a.close()
        finally:
            on_b.close()

    def test_masters_summary_in_status_and_masters_event(self):
        a, b = self.two_masters()
        on_b = Events(b)
        try:
            wait_for(lambda: b.get("/api/v1/status")["masters"]["active"] == 2, timeout=15,
                     what="two active masters in B's status")
            self.assertFalse(b.get("/api/v1/status")["masters"]["config_hashes_differ"])
            # A reloads a different grove.lua: B's status flags it, and B's pages are told.
            before = len(on_b.events)
            with open(os.path.join(a.dir, "grove.lua"), "a") as f:
                f.write('builder "extra" { tags = { "linux" }, steps = { shell { "true" } } }\n')
            r = a.cli("reconfig", a.dir)
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_for(lambda: b.get("/api/v1/status")["masters"]["config_hashes_differ"],
                     timeout=15, what="B's status to flag the differing configurations")
            wait_for(lambda: any(e.get("type") == "masters" for e in self.events_of(on_b, before)),
                     timeout=10, what="a masters event on B")
        finally:
            on_b.close()


if __name__ == "__main__":
    unittest.main()
