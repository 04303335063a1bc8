"""The API's answers to bad requests, and the configuration checks users see first."""
import os
import subprocess
import threading
import unittest

from grove_harness import GROVE, GroveTestCase, PgDatabase, psql, wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "hello" { tags = { "linux" }, steps = { shell { "echo hi" } } }
'''


class ApiTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1"])
        self.g.start_master()

    def test_errors_are_json_with_the_right_status(self):
        g = self.g
        status, body, _ = g.call("POST", "/api/v1/builders/nope/force", {})
        self.assertEqual((status, body), (404, {"error": "no such builder: nope"}))
        status, body, _ = g.call("POST", "/api/v1/builders/hello/force", b"{not json")
        self.assertEqual(status, 400)
        self.assertIn("malformed JSON", body["error"])
        status, body, _ = g.call("POST", "/api/v1/builders/hello/force", {"properties": [1, 2]})
        self.assertEqual(status, 400)
        status, body, _ = g.call("GET", "/api/v1/builds/999")
        self.assertEqual(status, 404)
        self.assertIn("error", body)
        status, body, _ = g.call("GET", "/api/v1/builds/abc")
        self.assertEqual(status, 400)
        status, body, _ = g.call("GET", "/api/v1/requests/12345")
        self.assertEqual(status, 404)
        status, body, _ = g.call("GET", "/api/v1/nothing-here")
        self.assertEqual(status, 404)
        status, body, _ = g.call("DELETE", "/api/v1/builders")
        self.assertEqual(status, 405)
        status, body, _ = g.call("GET", "/api/v1/builders/nope/builds")
        self.assertEqual(status, 404)
        status, body, _ = g.call("GET", "/api/v1/builders/hello/builds?limit=-3")
        self.assertEqual(status, 400)

    def test_a_request_is_durable_and_queued_without_workers(self):
        rid = self.g.force("hello", properties={"a": "b"}, reason="testing")
        req = self.g.get(f"/api/v1/requests/{rid}")
        self.assertEqual(req["state"], "queued")
        self.assertEqual(req["reason"], "testing")
        self.assertEqual(req["properties"], {"a": "b"})
        self.assertEqual(req["builds"], [])
        self.assertEqual(self.g.get("/api/v1/status")["queued_count"], 1)
        workers = self.g.get("/api/v1/workers")
        self.assertEqual([(w["name"], w["connected"], w["tags"]) for w in workers], [("w1", False, ["linux"])])

    def test_web_ui_is_served(self):
        status, body, headers = self.g.call("GET", "/", raw=True)
        self.assertEqual(status, 200)
        self.assertIn("text/html", headers["Content-Type"])
        self.assertIn(b"Grove", body)


class ConfigCheckTests(GroveTestCase):
    def test_checkconfig_names_file_and_line(self):
        g = self.make('worker "w1" { secret = "s" }\nbuilder "b" {\n  steps = { shell { "true", tiemout = 3 } },\n}\n')
        res = g.cli("checkconfig", g.dir)
        self.assertEqual(res.returncode, 2)  # invalid input (docs/operations.md)
        line = res.stderr.strip()
        self.assertEqual(len(line.splitlines()), 1, line)
        self.assertRegex(line, r"grove\.lua:6: .*tiemout")
        # The master refuses to start on it, with the same message.
        master = subprocess.run([GROVE, "master", g.dir], capture_output=True, text=True, timeout=30)
        self.assertEqual(master.returncode, 2)
        self.assertIn("tiemout", master.stderr)

    def test_checkconfig_accepts_a_good_config(self):
        g = self.make(CONFIG, workers=["w1"])
        res = g.cli("checkconfig", g.dir)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("OK (1 builders, 1 workers)", res.stdout)

    def test_init_makes_a_master_that_checks(self):
        g = self.make("")
        target = os.path.join(g.root, "fresh")
        res = g.cli("init", target)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(os.path.exists(os.path.join(target, "secrets", "local")))
        self.assertEqual(oct(os.stat(os.path.join(target, "secrets", "local")).st_mode & 0o777), "0o600")
        res = g.cli("checkconfig", target)
        self.assertEqual(res.returncode, 0, res.stderr)
        again = g.cli("init", target)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already exists", again.stderr)

    def test_usage_errors_exit_2(self):
        res = subprocess.run([GROVE, "force"], capture_output=True, text=True)
        self.assertEqual(res.returncode, 2)
        res = subprocess.run([GROVE, "--help"], capture_output=True, text=True)
        self.assertEqual(res.returncode, 0)
        for cmd in ("init", "master", "worker", "checkconfig", "force", "status", "reconfig", "cron"):
            res = subprocess.run([GROVE, cmd, "--help"], capture_output=True, text=True)
            self.assertEqual(res.returncode, 0, cmd)


SLOW_COMMIT = r'''
CREATE FUNCTION slow_commit() RETURNS trigger AS $$
BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER slow_finish AFTER UPDATE ON requests DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.state = 'finished') EXECUTE FUNCTION slow_commit();
CREATE FUNCTION slow_write() RETURNS trigger AS $$
BEGIN PERFORM pg_sleep(0.003); RETURN NULL; END $$ LANGUAGE plpgsql;
''' + "".join(f"CREATE TRIGGER slow_{t} BEFORE INSERT OR UPDATE ON {t} FOR EACH STATEMENT "
                 "EXECUTE FUNCTION slow_write();\n"
                 for t in ("builds", "steps", "workers", "worker_events", "log_chunks"))


class StatusConsistencyTests(GroveTestCase):
    """GET /api/v1/status and /api/v1/workers say what the store has committed."""

    def test_status_says_idle_only_when_the_store_agrees(self):
        # They answered from the core loop's memory, which runs ahead of its batch's commit: a
        # script that waits for "nothing running" then read its request as still running. A
        # commit that takes 0.4 s (a deferred trigger on PostgreSQL) holds that window open.
        db = PgDatabase()
        self.addCleanup(db.drop)
        g = self.make(CONFIG, workers=["w1"])
        g.store_url = db.url
        g.write_config(CONFIG)
        g.start_master()
        psql(db.url, SLOW_COMMIT)
        g.start_worker("w1")
        stop = threading.Event()

        def poll():  # status tasks join the core loop's batches, as a busy home page's do
            while not stop.is_set():
                g.get("/api/v1/status")
        pollers = [threading.Thread(target=poll) for _ in range(4)]
        for t in pollers:
            t.start()
        try:
            for _ in range(5):
                rid = g.force("hello")
                wait_for(lambda: g.get(f"/api/v1/requests/{rid}")["builds"], timeout=30,
                         what="the build to start")
                wait_for(lambda: g.get("/api/v1/status")["running_count"] == 0, timeout=30,
                         interval=0.001, what="status to show nothing running")
                self.assertEqual(g.get(f"/api/v1/requests/{rid}")["state"], "finished")
                self.assertEqual(g.get("/api/v1/workers")[0]["running"], [])
                self.assertEqual(g.get(f"/api/v1/requests/{rid}")["state"], "finished")
        finally:
            stop.set()
            for t in pollers:
                t.join()


if __name__ == "__main__":
    unittest.main()
