"""Retention: 5,000 aged builds with their logs pruned in small batches while real builds run;
the newest build of a builder and what is still queued are kept; the database file shrinks;
what was pruned is in the API and /metrics."""
import os
import sqlite3
import threading
import time
import unittest
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from grove_harness import GroveTestCase, psql, store_backend, wait_for

DAY_MS = 86400 * 1000
CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
retention { logs = "30d", builds = "1y", changes = "1y" }
builder "gen" { tags = { "linux" }, steps = { shell { "true" } } }
builder "keep" { tags = { "linux" }, steps = { shell { "true" } }, retention = { builds = "forever", logs = "forever" } }
builder "live" { tags = { "linux" }, steps = { shell { "echo live; sleep 0.2" } } }
'''

OLD, RECENT = 4000, 1000  # "gen" builds aged 400 days, then 60 days


def age_builds(db_path, now_ms):
    """Writes aged builds as the store keeps them (request, build, step, a 4 KiB log chunk)."""
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA foreign_keys=ON")
    blob = os.urandom(4096)  # as incompressible as the store's zstd chunks
    rows = []
    number = 0
    for builder, count, age_days in (("gen", OLD, 400), ("gen", RECENT, 60), ("keep", 50, 400)):
        for _ in range(count):
            number += 1
            rows.append((builder, now_ms - age_days * DAY_MS + number))
    with con:
        numbers = {}
        for builder, at in rows:
            numbers[builder] = numbers.get(builder, 0) + 1
            cur = con.execute(
                "INSERT INTO requests (builder, reason, state, attempt, result, submitted_at, claimed_at,"
                " finished_at) VALUES (?, 'aged by the test', 'finished', 1, 0, ?, ?, ?)", (builder, at, at, at))
            rid = cur.lastrowid
            cur = con.execute(
                "INSERT INTO builds (request_id, attempt, builder, number, worker, state, result, started_at,"
                " finished_at) VALUES (?, 1, ?, ?, 'w1', 'finished', 0, ?, ?)",
                (rid, builder, numbers[builder], at - 1000, at))
            bid = cur.lastrowid
            con.execute("INSERT INTO steps (build_id, idx, name, state, result, started_at, finished_at, log_bytes,"
                        " log_lines) VALUES (?, 0, 'shell', 'finished', 0, ?, ?, 4096, 1)", (bid, at - 1000, at))
            con.execute("INSERT INTO log_chunks (build_id, idx, seq, byte_offset, line_offset, raw_size, lines, data)"
                        " VALUES (?, 0, 0, 0, 0, 4096, 1, ?)", (bid, blob))
        for builder, n in numbers.items():
            con.execute("INSERT INTO builder_numbers (builder, last_number) VALUES (?, ?) ON CONFLICT (builder)"
                        " DO UPDATE SET last_number = excluded.last_number", (builder, n))
        for i in range(300):  # old changes on one branch; the newest stays
            con.execute("INSERT INTO changes (source, repository, branch, revision, created_at) VALUES"
                        " ('git:x', 'x', 'main', ?, ?)", (f"{i:040x}", now_ms - 500 * DAY_MS + i))
    con.close()


def file_size(db_path):
    return sum(os.path.getsize(p) for p in (db_path, db_path + "-wal") if os.path.exists(p))


@unittest.skipIf(store_backend() == "postgres", "SQLite's file and vacuum")
class RetentionTests(GroveTestCase):
    def test_prunes_aged_builds_while_builds_run_and_gives_space_back(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()  # makes the database (auto_vacuum=INCREMENTAL)
        g.master.stop()
        db_path = os.path.join(g.dir, "state", "grove.db")
        now_ms = int(time.time() * 1000)
        age_builds(db_path, now_ms)
        con = sqlite3.connect(db_path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.assertEqual(con.execute("PRAGMA auto_vacuum").fetchone()[0], 2)  # incremental
        con.close()
        size_before = file_size(db_path)

        g.start_master()
        g.start_worker("w1")
        self.assertEqual(len(g.get("/api/v1/builders/gen/builds?limit=1000")), 1000)

        # Baseline: how long a small build takes on this (loaded) machine.
        def timed_build():
            t0 = time.monotonic()
            rid = g.force("live")
            r = g.wait_request(rid, timeout=120)
            self.assertEqual(r["result"], "success")
            return time.monotonic() - t0
        baseline = max(timed_build() for _ in range(3))

        durations, stop = [], threading.Event()
        errors = []

        def keep_building():
            try:
                while not stop.is_set():
                    durations.append(timed_build())
            except Exception as e:  # reported by the main thread
                errors.append(e)
        builder_thread = threading.Thread(target=keep_building)
        builder_thread.start()
        try:
            status, body, _ = g.call("POST", "/api/v1/retention/prune", {})
            self.assertEqual(status, 202, body)
            run = wait_for(lambda: (lambda r: r if r["last_run"] and not r["running"] else None)(
                g.get("/api/v1/retention")), timeout=300, interval=0.5, what="the pruning run")
        finally:
            stop.set()
            builder_thread.join(timeout=180)
        self.assertEqual(errors, [])
        last = run["last_run"]
        self.assertIsNone(last["error"])
        # Everything of "gen" older than a year but its newest; the logs of the 60-day-old
        # ones but the newest build's; nothing of "keep" (forever); old changes but the newest.
        self.assertEqual(last["pruned"]["builds"], OLD)
        self.assertEqual(last["pruned"]["logs"], RECENT - 1)
        self.assertEqual(last["pruned"]["changes"], 299)
        self.assertGreater(last["batches"], OLD // 200)
        self.assertEqual(run["settings"], {"logs": 30 * 86400, "builds": 365 * 86400, "artifacts": "forever",
                                           "changes": 365 * 86400})
        self.assertEqual(run["builders"]["keep"]["builds"], "forever")

        gen = g.get("/api/v1/builders/gen/builds?limit=1000")
        self.assertEqual(len(gen), RECENT)
        self.assertEqual(max(b["number"] for b in gen), OLD + RECENT)
        self.assertEqual(len(g.get("/api/v1/builders/keep/builds?limit=1000")), 50)
        # The newest build of "gen" keeps its log; the ones before lost theirs.
        con = sqlite3.connect(db_path)
        newest = max(gen, key=lambda b: b["number"])["id"]
        self.assertEqual(con.execute("SELECT COUNT(*) FROM log_chunks WHERE build_id = ?", (newest,)).fetchone()[0], 1)
        self.assertEqual(con.execute("SELECT COUNT(*) FROM log_chunks lc JOIN builds b ON b.id = lc.build_id"
                                     " WHERE b.builder = 'gen'").fetchone()[0], 1)
        self.assertEqual(con.execute("SELECT COUNT(*) FROM requests WHERE builder = 'gen'").fetchone()[0], RECENT)
        con.close()

        # Builds kept running, none slowed by more than a batch (generous: the machine is shared).
        self.assertGreater(len(durations), 0)
        self.assertLess(max(durations), baseline + 5.0, (baseline, durations))
        self.assertLess(last["longest_batch_ms"], 5000)
        print(f"\nretention: {last}, baseline {baseline:.2f}s, during {max(durations):.2f}s x{len(durations)}, size {size_before} -> {file_size(db_path)}")

        # The space is given back to the file system.
        wait_for(lambda: file_size(db_path) < size_before * 0.5, timeout=60, interval=0.5,
                 what=f"the database to shrink from {size_before} bytes (now {file_size(db_path)})")

        # And /metrics says what was pruned.
        with urllib.request.urlopen(g.url + "/metrics", timeout=30) as resp:
            text = resp.read().decode()
        pruned = {s.labels["what"]: s.value for f in text_string_to_metric_families(text)
                  for s in f.samples if s.name == "grove_retention_pruned_total"}
        self.assertEqual(pruned["builds"], OLD)
        self.assertEqual(pruned["logs"], RECENT - 1)

    def test_bad_retention_settings_are_one_clear_line(self):
        import subprocess
        from grove_harness import GROVE
        for bad, message in (('retention { logs = "90 days" }', "option 'logs' in retention: invalid duration"),
                             ('retention { logs = "10m" }', "must be at least 1h"),
                             ('retention { log = "90d" }', "log")):
            g = self.make(CONFIG.replace('retention { logs = "30d", builds = "1y", changes = "1y" }', bad),
                          workers=["w1"])
            r = subprocess.run([GROVE, "checkconfig", g.dir], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn(message, r.stderr + r.stdout, bad)
            self.assertEqual(len((r.stderr + r.stdout).strip().splitlines()), 1, r.stderr)


@unittest.skipUnless(store_backend() == "postgres", "the PostgreSQL run (integration.pg.test_retention)")
class PgRetentionTests(GroveTestCase):
    def test_prunes_aged_builds_on_postgresql(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.master.stop()
        now = int(time.time() * 1000)
        old = now - 400 * DAY_MS
        # 1,000 builds of "gen" aged 400 days, then 10 of 60 days, each with a step and a chunk.
        psql(g.pg.url, f"""
            INSERT INTO requests (builder, reason, state, attempt, result, submitted_at, claimed_at, finished_at)
              SELECT 'gen', 'aged by the test', 'finished', 1, 0, t, t, t FROM (
                SELECT {old} + i AS t FROM generate_series(1, 1000) i
                UNION ALL SELECT {now - 60 * DAY_MS} + i FROM generate_series(1, 10) i) x ORDER BY t;
            INSERT INTO builds (request_id, attempt, builder, number, worker, state, result, started_at, finished_at)
              SELECT id, 1, 'gen', row_number() OVER (ORDER BY id), 'w1', 'finished', 0, finished_at - 1000,
                     finished_at FROM requests WHERE builder = 'gen';
            INSERT INTO builder_numbers (builder, last_number) VALUES ('gen', 1010);
            INSERT INTO steps (build_id, idx, name, state, result, started_at, finished_at, log_bytes, log_lines)
              SELECT id, 0, 'shell', 'finished', 0, started_at, finished_at, 4096, 1 FROM builds;
            INSERT INTO log_chunks (build_id, idx, seq, byte_offset, line_offset, raw_size, lines, data)
              SELECT id, 0, 0, 0, 0, 4096, 1, decode(repeat('ab', 4096), 'hex') FROM builds;
        """)
        g.start_master()
        g.start_worker("w1")
        status, body, _ = g.call("POST", "/api/v1/retention/prune", {})
        self.assertEqual(status, 202, body)
        run = wait_for(lambda: (lambda r: r if r["last_run"] and not r["running"] else None)(
            g.get("/api/v1/retention")), timeout=300, interval=0.5, what="the pruning run")
        self.assertIsNone(run["last_run"]["error"])
        self.assertEqual(run["last_run"]["pruned"]["builds"], 1000)
        self.assertEqual(run["last_run"]["pruned"]["logs"], 9)  # the newest keeps its log
        self.assertEqual(len(g.get("/api/v1/builders/gen/builds?limit=1000")), 10)
        self.assertEqual(psql(g.pg.url, "SELECT COUNT(*) FROM log_chunks").strip(), "1")
        rid = g.force("live")  # the master goes on as before
        self.assertEqual(g.wait_request(rid)["result"], "success")


if __name__ == "__main__":
    unittest.main()
