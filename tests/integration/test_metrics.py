"""GET /metrics: scraped with Prometheus' own parser (python3-prometheus-client) after a known
workload, its figures checked against what the API says; and who may read it."""
import http.server
import os
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from grove_harness import GROVE, GroveTestCase, Proc, wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
worker "w2" { secret = secret "w2", tags = { "solaris", "sparc" } }  -- never connects
builder "ok" { tags = { "linux" }, steps = { shell { "true" }, shell { "echo done" } } }
builder "bad" { tags = { "linux" }, steps = { shell { "exit 1" } } }
builder "nowhere" { tags = { "solaris", "sparc" }, steps = { shell { "true" } } }
'''


class Receiver:
    """A webhook receiver on a thread: answers 200 to every POST."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def set_web(g, options):
    """Replaces the harness's web { listen } line with one that also has |options|."""
    with open(g.dir + "/grove.lua") as f:
        body = f.read()
    start = body.index("web {")
    end = body.index("\n", start)
    body = body[:start] + f'web {{ listen = "127.0.0.1:{g.port}"{", " + options if options else ""} }}' + body[end:]
    with open(g.dir + "/grove.lua", "w") as f:
        f.write(body)


def scrape(g, token=None):
    req = urllib.request.Request(g.url + "/metrics")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, None, ""  # not listening yet


def samples(text):
    """{(name, frozenset(labels)): value} for every sample, and {family: type}."""
    values, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, types


def value(values, name, **labels):
    return values.get((name, frozenset(labels.items())))


class MetricsTests(GroveTestCase):
    def test_figures_match_the_api_after_a_known_workload(self):
        hook = Receiver()
        self.addCleanup(hook.close)
        g = self.make(CONFIG + f'notify.webhook {{ name = "hook", url = "{hook.url}/hook" }}\n',
                      workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        requests = [g.force("ok") for _ in range(3)] + [g.force("bad") for _ in range(2)]
        for rid in requests:
            g.wait_request(rid)
        queued = [g.force("nowhere") for _ in range(2)]

        status, ctype, text = scrape(g)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        values, types = samples(text)  # raises on anything the real parser refuses

        # Builds finished, per builder and result, as the API lists them.
        for builder in ("ok", "bad"):
            builds = g.get(f"/api/v1/builders/{builder}/builds")
            by_result = {}
            for b in builds:
                by_result[b["result"]] = by_result.get(b["result"], 0) + 1
            for result, n in by_result.items():
                self.assertEqual(value(values, "grove_builds_finished_total", builder=builder, result=result), n,
                                 (builder, result))
        self.assertEqual(types["grove_builds_finished"], "counter")
        self.assertEqual(value(values, "grove_build_duration_seconds_count", result="success"), 3)
        self.assertEqual(value(values, "grove_build_duration_seconds_count", result="failure"), 2)
        self.assertEqual(types["grove_build_duration_seconds"], "histogram")
        self.assertEqual(value(values, "grove_step_duration_seconds_count"), 3 * 2 + 2)
        self.assertEqual(value(values, "grove_queue_wait_seconds_count"), 5)
        self.assertEqual(value(values, "grove_queue_wait_seconds_bucket", le="+Inf"), 5)

        # The queue, per builder and per tag set, as /api/v1/status counts it.
        status_answer = g.get("/api/v1/status")
        self.assertEqual(status_answer["queued_count"], len(queued))
        self.assertEqual(value(values, "grove_requests_queued", builder="nowhere"), len(queued))
        self.assertEqual(value(values, "grove_requests_queued", builder="ok"), 0)
        self.assertEqual(value(values, "grove_requests_queued_by_tags", tags="solaris,sparc"), len(queued))
        self.assertEqual(value(values, "grove_builds_running"), status_answer["running_count"])

        workers = g.get("/api/v1/workers")
        self.assertEqual(value(values, "grove_workers", state="configured"), len(workers))
        self.assertEqual(value(values, "grove_workers", state="connected"),
                         sum(1 for w in workers if w["connected"]))
        self.assertEqual(value(values, "grove_workers", state="busy"), 0)
        self.assertEqual(value(values, "grove_workers", state="paused"), 0)

        # The store's commits and the process itself.
        self.assertGreater(value(values, "grove_store_commit_seconds_count"), 0)
        self.assertGreater(value(values, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(value(values, "process_cpu_seconds_total"), 0)

        # Notices delivered, as the builds' notifications say.
        def sent_per_api():
            n = 0
            for builder in ("ok", "bad"):
                for b in g.get(f"/api/v1/builders/{builder}/builds"):
                    n += sum(1 for x in g.get(f"/api/v1/builds/{b['id']}/notifications") if x["state"] == "sent")
            return n
        def agree():
            # Read /metrics first: a notice sent in between makes the API's count the larger.
            m = value(samples(scrape(g)[2])[0], "grove_notifier_deliveries_total",
                      notifier="hook", kind="webhook", outcome="sent")
            n = sent_per_api()
            return n >= 5 and m == n
        wait_for(agree, timeout=60, what="the notices delivered, in /metrics as in the API")

        # Counters only go up; a second scrape after one more build says one more.
        rid = g.force("ok")
        g.wait_request(rid)
        values2, _ = samples(scrape(g)[2])
        self.assertEqual(value(values2, "grove_builds_finished_total", builder="ok", result="success"), 4)

    def test_chart_history_is_in_the_status_answer(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        g.start_master()
        history = wait_for(lambda: g.get("/api/v1/status")["history"] or None, what="a first sample")
        self.assertEqual(sorted(history[0]), ["at", "queued", "running", "workers_busy", "workers_connected"])
        self.assertLessEqual(abs(history[-1]["at"] / 1000 - time.time()), 60)

    def test_who_may_read_metrics(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        set_web(g, 'anonymous = "none", metrics = "users"')
        r = subprocess.run([GROVE, "user", "add", "alice", "--role", "viewer", "--dir", g.dir],
                           input="alice-password-1\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([GROVE, "user", "token", "alice", "--dir", g.dir], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        g.master = Proc(["master", g.dir], os.path.join(g.root, "master.log"))
        wait_for(lambda: scrape(g, token)[0] == 200, what="the master to answer")
        self.assertEqual(scrape(g)[0], 401)  # users: the usual rules, even from this machine

        # The default: anyone on this machine, without logging in.
        set_web(g, 'anonymous = "none"')
        subprocess.run([GROVE, "reconfig", g.dir], check=True, capture_output=True, timeout=60)
        wait_for(lambda: scrape(g)[0] == 200, what="metrics to open to loopback")
        # Everything else still needs a login.
        self.assertEqual(g.call("GET", "/api/v1/builders")[0], 401)

        set_web(g, 'anonymous = "none", metrics = "off"')
        subprocess.run([GROVE, "reconfig", g.dir], check=True, capture_output=True, timeout=60)
        wait_for(lambda: scrape(g, token)[0] == 404, what="metrics to be off")

    def test_a_bad_metrics_setting_is_one_clear_line(self):
        g = self.make(CONFIG, workers=["w1", "w2"])
        set_web(g, 'metrics = "everyone"')
        r = subprocess.run([GROVE, "checkconfig", g.dir], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("invalid metrics 'everyone' in web", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
