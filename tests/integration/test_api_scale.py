"""The API at scale: compressed answers (Accept-Encoding), the builders list paged, filtered and
in its lean home-page form, and the cached list following every change."""
import gzip
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import unittest
import urllib.request

from grove_harness import GroveTestCase, psql, store_backend, wait_for

BUILDERS = 30
CONFIG = f'''
worker "w1" {{ secret = secret "w1", tags = {{ "linux" }} }}
for i = 0, {BUILDERS - 1} do
  builder(string.format("b-%02d", i)) {{ tags = {{ "linux" }}, steps = {{
    shell {{ "for i in $(seq 400); do echo line $i of a log that compresses well; done" }} }} }}
end
builder "Other" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
'''


def fetch(g, path, accept=None):
    """(status, body bytes as sent, headers): urllib never decodes on its own."""
    req = urllib.request.Request(g.url + path, headers={"Accept-Encoding": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


class ApiScaleTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1"])
        self.g.start_master()

    def test_answers_are_compressed_for_clients_that_accept_it(self):
        g = self.g
        status, plain, headers = fetch(g, "/api/v1/builders")
        self.assertEqual(status, 200)
        self.assertIsNone(headers["Content-Encoding"])
        self.assertEqual(headers["Vary"], "Accept-Encoding")
        self.assertGreater(len(plain), 1024)

        status, packed, headers = fetch(g, "/api/v1/builders", "gzip, deflate")
        self.assertEqual((status, headers["Content-Encoding"], headers["Vary"]), (200, "gzip", "Accept-Encoding"))
        self.assertEqual(gzip.decompress(packed), plain)
        self.assertLess(len(packed), len(plain) / 4)
        self.assertEqual(int(headers["Content-Length"]), len(packed))

        # A browser that sends zstd gets zstd; refused codings (q=0) are never sent.
        status, packed, headers = fetch(g, "/api/v1/builders", "gzip, deflate, br, zstd")
        self.assertEqual(headers["Content-Encoding"], "zstd")
        if shutil.which("zstd"):
            self.assertEqual(subprocess.run(["zstd", "-dc"], input=packed, capture_output=True,
                                            check=True).stdout, plain)
        self.assertEqual(fetch(g, "/api/v1/builders", "zstd;q=0, gzip")[2]["Content-Encoding"], "gzip")
        self.assertIsNone(fetch(g, "/api/v1/builders", "gzip;q=0")[2]["Content-Encoding"])
        self.assertIsNone(fetch(g, "/api/v1/builders", "br, identity")[2]["Content-Encoding"])
        self.assertIsNone(fetch(g, "/api/v1/builders", "gzip;q=zz")[2]["Content-Encoding"])

        # Answers built per request (a page, the web UI's files) are compressed too; small ones
        # are not worth it.
        status, packed, headers = fetch(g, "/api/v1/builders?limit=20", "gzip")
        self.assertEqual(headers["Content-Encoding"], "gzip")
        self.assertEqual(len(__import__("json").loads(gzip.decompress(packed))), 20)
        status, packed, headers = fetch(g, "/static/app.js", "gzip")
        self.assertEqual((status, headers["Content-Encoding"]), (200, "gzip"))
        self.assertIn(b"async function home", gzip.decompress(packed))
        status, body, headers = fetch(g, "/api/v1/status", "gzip")
        self.assertEqual(status, 200)
        self.assertIsNone(headers["Content-Encoding"])
        self.assertIn(b"queued_count", body)

    def test_a_log_is_compressed_and_keeps_its_offsets(self):
        g = self.g
        g.start_worker("w1")
        rid = g.force("b-01")
        build_id = g.wait_request(rid)["builds"][0]["id"]
        text, plain_headers = g.log(build_id, 0)
        status, packed, headers = fetch(g, f"/api/v1/builds/{build_id}/steps/0/log", "gzip")
        self.assertEqual((status, headers["Content-Encoding"]), (200, "gzip"))
        self.assertEqual(gzip.decompress(packed).decode(), text)
        # Offsets count the log's bytes, whatever the coding on the wire.
        self.assertEqual(headers["X-Log-Next-Offset"], plain_headers["X-Log-Next-Offset"])
        self.assertEqual(int(headers["X-Log-Next-Offset"]), len(text.encode()))

    def test_builders_are_paged_filtered_and_summarised(self):
        g = self.g
        names = [f"b-{i:02d}" for i in range(BUILDERS)] + ["Other"]
        status, body, headers = g.call("GET", "/api/v1/builders")
        self.assertEqual([b["name"] for b in body], names)  # no parameter: every builder
        self.assertEqual(headers["X-Total-Count"], str(len(names)))

        status, body, headers = g.call("GET", "/api/v1/builders?limit=10&offset=5")
        self.assertEqual([b["name"] for b in body], names[5:15])
        self.assertEqual(headers["X-Total-Count"], str(len(names)))
        self.assertEqual(set(body[0]), {"name", "tags", "priority", "steps", "recent_builds"})
        status, body, headers = g.call("GET", "/api/v1/builders?limit=10&offset=25")
        self.assertEqual([b["name"] for b in body], names[25:])
        status, body, headers = g.call("GET", "/api/v1/builders?offset=100")
        self.assertEqual((body, headers["X-Total-Count"]), ([], str(len(names))))

        # q: a part of the name, any case; the total counts what matched.
        status, body, headers = g.call("GET", "/api/v1/builders?q=OTH")
        self.assertEqual(([b["name"] for b in body], headers["X-Total-Count"]), (["Other"], "1"))
        status, body, headers = g.call("GET", "/api/v1/builders?q=b-1&limit=3")
        self.assertEqual(([b["name"] for b in body], headers["X-Total-Count"]), (["b-10", "b-11", "b-12"], "10"))

        for bad in ("limit=0", "limit=1001", "limit=x", "offset=-1", "view=fat"):
            status, body, _ = g.call("GET", f"/api/v1/builders?{bad}")
            self.assertEqual(status, 400, bad)
            self.assertIn("invalid", body["error"])

        # The home page's form: names and the chips of the recent builds, nothing else; and it
        # follows a finished build at once (the cached list is rebuilt after each change).
        g.start_worker("w1")
        rid = g.force("b-02")
        build = g.wait_request(rid)["builds"][0]
        status, body, _ = g.call("GET", "/api/v1/builders?view=summary&q=b-02")
        self.assertEqual(body, [{"name": "b-02", "recent_builds": [
            {"id": build["id"], "number": 1, "state": "finished", "result": "success"}]}])
        status, body, _ = g.call("GET", "/api/v1/builders?limit=3&offset=2")
        self.assertEqual(body[0]["recent_builds"][0]["result"], "success")
        self.assertEqual(body[0]["recent_builds"][0]["id"], build["id"])

    def test_the_cached_list_follows_changes_under_concurrent_reads(self):
        g = self.g
        g.start_worker("w1")
        from concurrent.futures import ThreadPoolExecutor
        for n in range(1, 4):
            rid = g.force("b-03")
            g.wait_request(rid)
            # Many readers at once right after the change: every one sees it.
            with ThreadPoolExecutor(8) as ex:
                seen = list(ex.map(lambda _: g.get("/api/v1/builders?q=b-03&view=summary")[0]
                                   ["recent_builds"][0]["number"], range(16)))
            self.assertEqual(seen, [n] * 16)


MANY = 100  # builders: the whole list is made of two separately deflated pieces (64 a piece)
MANY_CONFIG = f"""
worker "w1" {{ secret = secret "w1", tags = {{ "linux" }}, capacity = 4 }}
for i = 0, {MANY - 1} do
  builder(string.format("m-%03d", i)) {{ tags = {{ "linux" }}, steps = {{ shell {{ "seq 1 3000" }} }} }}
end
"""


def unzstd(packed):
    return subprocess.run(["zstd", "-dc"], input=packed, capture_output=True, check=True).stdout


class WholeListTests(GroveTestCase):
    """The whole list is kept between changes: a change re-reads only the builders it names and
    recompresses only their piece of the answer."""

    def setUp(self):
        super().setUp()
        self.g = self.make(MANY_CONFIG, workers=["w1"])
        self.g.start_master()
        self.g.start_worker("w1")

    def whole(self, path="/api/v1/builders"):
        """The list as sent plain, checked against the gzip and zstd answers."""
        status, plain, _ = fetch(self.g, path)
        self.assertEqual(status, 200)
        status, packed, headers = fetch(self.g, path, "gzip")
        self.assertEqual(headers["Content-Encoding"], "gzip")
        self.assertEqual(gzip.decompress(packed), plain)
        if shutil.which("zstd"):
            status, packed, headers = fetch(self.g, path, "zstd")
            self.assertEqual(headers["Content-Encoding"], "zstd")
            self.assertEqual(unzstd(packed), plain)
        return json.loads(plain)

    def test_a_browser_gets_the_whole_list_as_gzip_pieces_that_follow_changes(self):
        """A browser says it reads zstd and gzip: the whole list (kept as deflated pieces, a
        change re-deflating one) goes out in gzip, one valid member whose length is announced;
        a page with a limit, made whole per change, still goes out in zstd."""
        g = self.g
        browser = "gzip, deflate, br, zstd"
        for n, name in enumerate([None, "m-000", "m-070"]):
            if name:
                g.wait_request(g.force(name))
            for path in ("/api/v1/builders", "/api/v1/builders?view=summary"):
                _, plain, _ = fetch(g, path)
                status, packed, headers = fetch(g, path, browser)
                self.assertEqual(status, 200)
                self.assertEqual(headers["Content-Encoding"], "gzip", (n, path))
                self.assertEqual(int(headers["Content-Length"]), len(packed))
                self.assertEqual(headers["Vary"], "Accept-Encoding")
                self.assertEqual(gzip.decompress(packed), plain, (n, path))
                if name:
                    entry = {b["name"]: b for b in json.loads(plain)}[name]
                    self.assertEqual(entry["recent_builds"][0]["state"], "finished", (n, path))
        if shutil.which("zstd"):
            status, packed, headers = fetch(g, "/api/v1/builders?limit=50", browser)
            self.assertEqual(headers["Content-Encoding"], "zstd")
            self.assertEqual(len(json.loads(unzstd(packed))), 50)

    def test_the_whole_list_follows_changes_in_every_coding(self):
        g = self.g
        self.assertEqual(len(self.whole()), MANY)
        self.whole("/api/v1/builders?view=summary")
        for n, name in enumerate(["m-000", "m-050", "m-099", "m-050", "m-063", "m-064"]):
            build = g.wait_request(g.force(name))
            for path in ("/api/v1/builders", "/api/v1/builders?view=summary"):
                entry = {b["name"]: b for b in self.whole(path)}[name]
                self.assertEqual(entry["recent_builds"][0]["state"], "finished", (n, path))
                self.assertEqual(entry["recent_builds"][0]["result"], "success", (n, path))
        self.assertEqual(len({b["name"]: b for b in self.whole()}["m-050"]["recent_builds"]), 2)
        # What the cache made change by change is what a restarted master reads in one go.
        kept = self.whole()
        g.master.stop()
        g.start_master()
        self.assertEqual(self.whole(), kept)

    def test_a_reader_that_saw_a_build_event_gets_a_list_with_that_build(self):
        """The web UI re-reads the list when the event stream says a build changed: the list it
        gets must never be older than the event, even while other readers keep the cache busy."""
        g = self.g
        sock = socket.create_connection(("127.0.0.1", g.port), timeout=60)
        sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{g.port}\r\n\r\n".encode())
        stale, seen, done = [], [], threading.Event()

        def follow():
            buf = b""
            while not done.is_set():
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    for line in frame.decode(errors="replace").split("\n"):
                        if not line.startswith("data: {\""):
                            continue
                        event = json.loads(line[6:])
                        if event.get("type") != "build" or "id" not in event:
                            continue
                        seen.append(event)
                        entry = {b["name"]: b for b in g.get("/api/v1/builders")}[event["builder"]]
                        mine = [b for b in entry["recent_builds"] if b["id"] == event["id"]]
                        if not mine or (event["state"] == "finished" and mine[0]["state"] != "finished"):
                            stale.append((event, entry["recent_builds"]))

        def hammer():
            while not done.is_set():
                fetch(g, "/api/v1/builders", "gzip")

        threads = [threading.Thread(target=follow)] + [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            rids = [g.force(f"m-{i * 7 % MANY:03d}") for i in range(12)]
            for rid in rids:
                g.wait_request(rid)
            wait_for(lambda: len(seen) >= 2 * len(rids), timeout=30, what="every build's events")
        finally:
            done.set()
            sock.close()
            for t in threads:
                t.join(timeout=30)
        self.assertEqual(stale, [])


PRUNE_CONFIG = r"""
worker "w1" { secret = secret "w1", tags = { "linux" } }
retention { builds = "1y" }
builder "old" { tags = { "linux" }, steps = { shell { "true" } } }
"""


class PrunedBuildsTests(GroveTestCase):
    def test_builds_pruned_leave_the_cached_list(self):
        """Pruning changes the list without any build event: it says so, and the list follows."""
        g = self.make(PRUNE_CONFIG, workers=["w1"])
        g.start_master()
        g.master.stop()
        at = int(time.time() * 1000) - 400 * 86400 * 1000
        sql = ""
        for n in range(1, 6):  # five builds aged 400 days; pruning keeps the newest
            sql += (f"INSERT INTO requests (builder, reason, state, attempt, result, submitted_at, claimed_at,"
                    f" finished_at) VALUES ('old', 'aged', 'finished', 1, 0, {at + n}, {at + n}, {at + n});"
                    f"INSERT INTO builds (request_id, attempt, builder, number, worker, state, result, started_at,"
                    f" finished_at) VALUES ((SELECT MAX(id) FROM requests), 1, 'old', {n}, 'w1', 'finished', 0,"
                    f" {at + n}, {at + n});")
        sql += "INSERT INTO builder_numbers (builder, last_number) VALUES ('old', 5);"
        if store_backend() == "postgres":
            psql(g.pg.url, sql)
        else:
            con = sqlite3.connect(os.path.join(g.dir, "state", "grove.db"))
            con.executescript(sql)
            con.close()
        g.start_master()
        numbers = lambda: [b["number"] for b in g.get("/api/v1/builders")[0]["recent_builds"]]  # noqa: E731
        self.assertEqual(numbers(), [5, 4, 3, 2, 1])  # and now kept in the cache
        status, body, _ = g.call("POST", "/api/v1/retention/prune", {})
        self.assertEqual(status, 202, body)
        run = wait_for(lambda: (lambda r: r if r["last_run"] and not r["running"] else None)(
            g.get("/api/v1/retention")), timeout=120, interval=0.2, what="the pruning run")
        self.assertEqual(run["last_run"]["pruned"]["builds"], 4, run)
        self.assertEqual(numbers(), [5])


if __name__ == "__main__":
    unittest.main()
