"""A master on PostgreSQL when the database is down: at start, and restarted while builds run.

Each test starts a PostgreSQL server of its own (scripts/postgres.sh), since it stops it.
"""
import re
import time
import unittest

from grove_harness import GroveTestCase, PrivatePostgres, free_port, wait_for

LINES = 20
CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 4 }
builder "count" {
  tags = { "linux" },
  steps = {
    shell { "for i in $(seq 1 %d); do echo line-$i; sleep 0.1; done", name = "count" },
    shell { "echo done", name = "after" },
  },
}
''' % LINES


class StoreFaultTests(GroveTestCase):
    def test_database_down_at_start_is_one_line_and_exit_code_4(self):
        g = self.make(CONFIG, workers=["w1"])
        port = free_port()  # nothing listens there
        g.store_url = f"postgresql://grove:hunter2-secret@127.0.0.1:{port}/grove"
        g.write_config(CONFIG)
        r = g.cli("master", g.dir, env_master=False)
        self.assertEqual(r.returncode, 4, r.stdout + r.stderr)
        errors = [line for line in r.stderr.splitlines() if line.startswith("grove: ")]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn(f"postgresql://grove:***@127.0.0.1:{port}/grove", errors[0])
        self.assertIn("cannot connect", errors[0])
        self.assertNotIn("hunter2-secret", r.stdout + r.stderr)

    def test_password_from_a_secret(self):
        pg = PrivatePostgres()
        self.addCleanup(pg.stop)
        m = re.match(r"postgresql://grove:([^@]+)@(.*)$", pg.url)
        password, rest = m.group(1), m.group(2)
        g = self.make(CONFIG, workers=["w1"])
        with open(f"{g.dir}/secrets/db", "w") as f:
            f.write(password + "\n")
        g.store_line = f'store {{ url = "postgresql://grove@{rest}", password = secret "db" }}'
        g.write_config(CONFIG)
        g.start_master()
        g.start_worker("w1")
        req = g.wait_request(g.force("count"), timeout=60)
        self.assertEqual(req["result"], "success")
        self.assertNotIn(password, g.master.output())

    def test_database_restarted_while_builds_run(self):
        pg = PrivatePostgres()
        self.addCleanup(pg.stop)
        g = self.make(CONFIG, workers=["w1"])
        g.store_url = pg.url
        g.write_config(CONFIG)
        g.start_master()
        g.start_worker("w1")
        requests = [g.force("count") for _ in range(10)]

        def running():
            return g.get("/api/v1/status")["running_count"] >= 2
        wait_for(running, timeout=30, what="builds to run")
        time.sleep(0.5)  # some log lines stored, more to come
        pg.down()

        # Meanwhile the API answers 503 (not 500, not a hang) for what needs the database.
        seen = set()

        def unavailable():
            status, body, _ = g.call("GET", f"/api/v1/requests/{requests[0]}")
            seen.add(status)
            return status == 503
        wait_for(unavailable, timeout=20, what="the API to answer 503")
        status, body, _ = g.call("POST", "/api/v1/builders/count/force", {})
        self.assertEqual(status, 503, body)
        self.assertTrue(g.master.alive())
        time.sleep(3)  # builds go on on the worker; their events wait in its outbox
        pg.up()

        for rid in requests:
            req = g.wait_request(rid, timeout=120)
            self.assertEqual(req["result"], "success", req)
            # Each build's log has every line exactly once: no event lost or applied twice.
            for b in req["builds"]:
                build = g.build(b["id"])
                if build["result"] != "success":
                    continue
                log, _ = g.log(b["id"], 0)
                self.assertEqual(log, "".join(f"line-{i}\n" for i in range(1, LINES + 1)),
                                 f"build {b['id']}")
                self.assertEqual([s["result"] for s in build["steps"]], ["success", "success"])
        # Every request ran to success once; a retried attempt is the only other build allowed.
        status = g.get("/api/v1/status")
        self.assertEqual(status["running_count"], 0)
        log = g.master.output()
        self.assertIn("work waits until it is back", log)
        self.assertIn("store: available again", log)
        self.assertNotIn(pg.url.split("@")[0].split(":")[-1], log)  # the password


if __name__ == "__main__":
    unittest.main()
