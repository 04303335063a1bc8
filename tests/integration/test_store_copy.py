"""grove store copy: a master with 10,000 builds and a 100 MB log moves from SQLite to PostgreSQL
(and back), then runs on PostgreSQL and shows them all.

Needs GROVE_TEST_PG_URL (scripts/test.sh starts a server); skipped without it.
"""
import concurrent.futures
import hashlib
import os
import time
import unittest

from grove_harness import GroveTestCase, PgDatabase, wait_for

BUILDS = 10_000
BIG_LINES = 12_500_000  # `seq 1 N`: about 101 MB
CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 8 }
builder "quick" { tags = { "linux" }, steps = { shell { "true", name = "t" } } }
builder "big" { tags = { "linux" }, steps = { shell { "seq 1 %d", name = "print" } } }
''' % BIG_LINES


def all_builds(g, builder):
    out, before = [], 0
    while True:
        page = g.get(f"/api/v1/builders/{builder}/builds?limit=1000&before={before}")
        out += page
        if len(page) < 1000:
            return out
        before = page[-1]["number"]


def log_digest(g, build_id):
    h, offset, size = hashlib.sha256(), 0, None
    while size is None or offset < size:
        status, body, headers = g.call(
            "GET", f"/api/v1/builds/{build_id}/steps/0/log?offset={offset}&limit={16 << 20}", raw=True)
        assert status == 200, (status, body[:200])
        h.update(body)
        size = int(headers["X-Log-Size"])
        offset = int(headers["X-Log-Next-Offset"])
    return h.hexdigest(), size


class StoreCopyTests(GroveTestCase):
    def test_sqlite_to_postgresql_with_10000_builds_and_a_100mb_log(self):
        pg = PgDatabase()
        self.addCleanup(pg.drop)
        g = self.make(CONFIG, workers=["w1"])
        g.store_url = "sqlite:state/grove.db"  # whatever GROVE_TEST_STORE says
        g.write_config(CONFIG)
        g.start_master()
        g.start_worker("w1")
        big = g.force("big")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda _: g.force("quick"), range(BUILDS)))
        g.wait_request(big, timeout=300)
        wait_for(lambda: g.get(f"/api/v1/requests/{ids[-1]}")["state"] == "finished" and
                 g.get("/api/v1/status")["running_count"] == 0, timeout=600,
                 interval=0.5, what="10,000 builds")
        before = all_builds(g, "quick")
        self.assertEqual(len(before), BUILDS)
        big_build = g.get(f"/api/v1/requests/{big}")["builds"][0]["id"]
        digest, size = log_digest(g, big_build)
        self.assertGreater(size, 100_000_000)
        g.master.stop()

        # Copy, then refuse to copy into the now non-empty database.
        t0 = time.monotonic()
        r = g.cli("store", "copy", "--dir", g.dir, "sqlite:state/grove.db", pg.url, env_master=False)
        print(f"\n  copy of {BUILDS + 1} builds and a {size / 1e6:.0f} MB log to PostgreSQL: "
              f"{time.monotonic() - t0:.1f} s")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"builds: {BUILDS + 1} rows", r.stdout)
        self.assertIn("every table checked", r.stdout)
        self.assertNotIn(pg.url.split("@")[0].rsplit(":", 1)[1], r.stdout + r.stderr)  # password
        again = g.cli("store", "copy", "--dir", g.dir, "sqlite:state/grove.db", pg.url,
                      env_master=False)
        self.assertEqual(again.returncode, 2, again.stdout + again.stderr)
        self.assertIn("not empty", again.stderr)

        # The master on PostgreSQL shows the same history, and goes on numbering after it.
        g.store_url = pg.url
        g.write_config(CONFIG)
        g.start_master()
        self.assertEqual(all_builds(g, "quick"), before)
        self.assertEqual(log_digest(g, big_build), (digest, size))
        # The worker, still running, comes back by itself.
        wait_for(lambda: g.worker_connected("w1"), timeout=60, what="the worker to reconnect")
        req = g.wait_request(g.force("quick"), timeout=60)
        self.assertEqual(req["result"], "success")
        self.assertEqual(g.build(req["builds"][0]["id"])["number"], BUILDS + 1)
        g.master.stop()

        # And back to SQLite.
        back = g.cli("store", "copy", "--dir", g.dir, pg.url, "sqlite:state/back.db",
                     env_master=False)
        self.assertEqual(back.returncode, 0, back.stdout + back.stderr)
        self.assertIn(f"builds: {BUILDS + 2} rows", back.stdout)
        self.assertTrue(os.path.exists(os.path.join(g.dir, "state", "back.db")))


if __name__ == "__main__":
    unittest.main()
