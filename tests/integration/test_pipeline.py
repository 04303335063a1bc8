"""Real pipelines (issue 4): a release pipeline against a real git repository, with JUnit test
results, properties, artifacts, publishing to a local HTTP server, secret masking, path-escape
refusal, locks and collapsing of queued requests."""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from grove_harness import GroveTestCase, wait_for

WIKI_TOKEN = "wiki-tok-" + os.urandom(6).hex()

RUN_TESTS = r'''
import os
cases = [("test_app", "test_add", None), ("test_app", "test_version", None),
         ("test_app", "test_divide", "ZeroDivisionError: division by zero"),
         ("test_app", "test_later", "skip")]
os.makedirs("reports", exist_ok=True)
with open("reports/junit.xml", "w") as f:
    f.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="pytest" tests="4">\n')
    for cls, name, msg in cases:
        f.write(f'<testcase classname="{cls}" name="{name}" time="0.01">')
        if msg == "skip":
            f.write('<skipped message="not yet"/>')
        elif msg:
            f.write(f'<failure message="{msg}">Traceback: {msg}</failure>')
        f.write('</testcase>\n')
    f.write('</testsuite></testsuites>\n')
print("ran 4 tests, 1 failed")
raise SystemExit(1)
'''


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_repo(root):
    repo = os.path.join(root, "app.git-src")
    os.makedirs(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    with open(os.path.join(repo, "app.py"), "w") as f:
        f.write("print('the app')\n")
    with open(os.path.join(repo, "VERSION"), "w") as f:
        f.write("1.2.3\n")
    with open(os.path.join(repo, "run_tests.py"), "w") as f:
        f.write(RUN_TESTS)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    with open(os.path.join(repo, "app.py"), "a") as f:
        f.write("print('second')\n")
    git(repo, "commit", "-q", "-am", "second")
    return repo


class PublishServer:
    """A local file server that checks the bearer token, fails the first upload with a 503 (so
    the step must retry) and keeps what it received."""

    def __init__(self, token):
        self.received = []
        self.calls = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer.calls += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_response(401)
                    self.end_headers()
                    self.wfile.write(b"bad credentials")
                    return
                if outer.calls == 1:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"busy, try again")
                    return
                outer.received.append((self.headers.get("Content-Type", ""), body))
                self.send_response(201)
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def pipeline_config(repo, publish_port):
    return f'''
worker "w1" {{ secret = secret "w1", tags = {{ "linux" }}, capacity = 2 }}
builder "release" {{
  tags = {{ "linux" }},
  properties = {{ channel = "stable" }},
  steps = {{
    checkout {{ repo = "{repo}", branch = "main", mode = "full", shallow = true }},
    test {{ "python3 run_tests.py", junit = "reports/*.xml", halt_on_failure = false,
           flunk_on_failure = false, warn_on_failure = true }},
    set_property {{ "cat VERSION", property = "version" }},
    shell {{ "mkdir -p dist && python3 -m zipfile -c dist/app-${{prop:version}}.zip app.py VERSION",
            name = "executable", description = "zip the app" }},
    upload {{ "dist/*.zip", to = "releases/${{prop:buildnumber}}/" }},
    download {{ "releases/${{prop:buildnumber}}/app-${{prop:version}}.zip", to = "back/app.zip" }},
    shell {{ "cmp back/app.zip dist/app-${{prop:version}}.zip", name = "compare" }},
    publish {{ "dist/*.zip", url = "http://127.0.0.1:{publish_port}/attachments", auth = secret "wiki",
              retries = 3, retry_delay_ms = 50 }},
    shell {{ "echo token is ${{secret:wiki}}; printf 'split: wiki-'; sleep 0.4; printf '%s\\n' \\"${{prop:rest}}\\"",
            name = "leak", env = {{ REST = "x" }} }},
    set_property {{ "echo ${{secret:wiki}}", property = "leaked" }},
    shell {{ "exit 3", name = "fails-softly", decode_rc = {{ [3] = "warnings" }} }},
    shell {{ "exit 1", name = "breaks" }},
    shell {{ "echo must not run", name = "skipped-after-halt" }},
    shell {{ "echo cleanup ran", name = "cleanup", always_run = true }},
  }},
}}
'''


class PipelineTest(GroveTestCase):
    def test_release_pipeline_end_to_end(self):
        server = PublishServer(WIKI_TOKEN)
        self.addCleanup(server.close)
        g = self.make("", workers=["w1"])
        repo = make_repo(g.root)
        head = git(repo, "rev-parse", "HEAD")
        g.write_config(pipeline_config(repo, server.port))
        with open(os.path.join(g.dir, "secrets", "wiki"), "w") as f:
            f.write(WIKI_TOKEN + "\n")
        g.start_master()
        g.start_worker("w1")
        # rest completes a secret split across two log chunks: "wiki-" + the rest.
        req = g.wait_request(g.force("release", properties={"rest": WIKI_TOKEN[5:]}), timeout=60)
        self.assertEqual(len(req["builds"]), 1, req)
        build = g.build(req["builds"][0]["id"])
        steps = {s["name"]: s for s in build["steps"]}

        # Checkout: the branch head, reported as got_revision.
        self.assertEqual(steps["checkout"]["result"], "success")
        props = build["properties"]
        self.assertEqual(props["got_revision"], head)
        self.assertEqual(props["buildnumber"], build["number"])
        self.assertEqual(props["buildername"], "release")
        self.assertEqual(props["workername"], "w1")
        self.assertEqual(props["channel"], "stable")
        self.assertTrue(props["builddir"].endswith("release"), props)
        self.assertEqual(props["version"], "1.2.3")

        # Tests: counted, failing test named, the step a failure that only warns the build.
        self.assertEqual(steps["test"]["result"], "failure")
        self.assertEqual(build["tests"], {"passed": 2, "failed": 1, "skipped": 1, "errors": 0,
                                          "total": 4})
        tests = g.get(f"/api/v1/builds/{build['id']}/tests")
        self.assertEqual(tests["failed"], 1)
        self.assertEqual(tests["steps"][0]["failures"][0]["name"], "test_app.test_divide")
        self.assertIn("ZeroDivisionError", tests["steps"][0]["failures"][0]["message"])

        # Artifact: listed with size and sha256, served whole and by range.
        arts = g.get(f"/api/v1/builds/{build['id']}/artifacts")
        path = f"releases/{build['number']}/app-1.2.3.zip"
        self.assertEqual([a["path"] for a in arts], [path])
        status, data, headers = g.call("GET", f"/api/v1/builds/{build['id']}/artifacts/{path}", raw=True)
        self.assertEqual(status, 200)
        self.assertEqual(len(data), arts[0]["size"])
        self.assertEqual(hashlib.sha256(data).hexdigest(), arts[0]["sha256"])
        self.assertEqual(data[:2], b"PK")
        local = os.path.join(props["builddir"], "dist", "app-1.2.3.zip")
        with open(local, "rb") as f:
            self.assertEqual(f.read(), data)
        r = urllib.request.Request(f"{g.url}/api/v1/builds/{build['id']}/artifacts/{path}",
                                   headers={"Range": "bytes=2-9"})
        with urllib.request.urlopen(r) as resp:
            self.assertEqual(resp.status, 206)
            self.assertEqual(resp.read(), data[2:10])

        self.assertEqual(steps["download"]["result"], "success")
        self.assertEqual(steps["compare"]["result"], "success")

        # Publish: retried after the 503, then the bytes arrived with the right credentials.
        self.assertEqual(steps["publish"]["result"], "success")
        self.assertEqual(server.calls, 2)
        ctype, body = server.received[0]
        self.assertTrue(ctype.startswith("multipart/form-data"), ctype)
        self.assertIn(data, body)
        self.assertIn(b'filename="app-1.2.3.zip"', body)
        publish_log, _ = g.log(build["id"], steps["publish"]["number"])
        self.assertIn("HTTP 503", publish_log)

        # Secrets: masked in the log (also when split across chunks) and in properties.
        leak_log, _ = g.log(build["id"], steps["leak"]["number"])
        self.assertNotIn(WIKI_TOKEN, leak_log)
        self.assertIn("token is ****", leak_log)
        self.assertIn("split: ****", leak_log)
        self.assertEqual(props["leaked"], "****")
        for s in build["steps"]:
            text, _ = g.log(build["id"], s["number"])
            self.assertNotIn(WIKI_TOKEN, text, s["name"])
        self.assertNotIn(WIKI_TOKEN, json.dumps(g.get(f"/api/v1/builds/{build['id']}")))

        # Results: decode_rc, halt, always_run; the build is a failure because "breaks" failed.
        self.assertEqual(steps["fails-softly"]["result"], "warnings")
        self.assertEqual(steps["breaks"]["result"], "failure")
        self.assertNotIn("skipped-after-halt", steps)
        self.assertEqual(steps["cleanup"]["result"], "success")
        self.assertEqual(build["result"], "failure")

    def test_incremental_checkout_follows_new_commits_and_source_revision(self):
        g = self.make("", workers=["w1"])
        repo = make_repo(g.root)
        first = git(repo, "rev-list", "--max-parents=0", "HEAD")
        g.write_config(f'''
worker "w1" {{ secret = secret "w1", tags = {{ "linux" }} }}
builder "co" {{ tags = {{ "linux" }}, steps = {{
  checkout {{ repo = "{repo}", branch = "main" }},
  shell {{ "git log --oneline | wc -l > count.txt; cat count.txt", name = "count" }},
  set_property {{ file = "count.txt", property = "commits" }},
  test {{ "printf '<testsuite><testcase name=x>' > bad.xml", junit = "bad.xml", name = "broken" }},
  shell {{ "yes | head -c 50000000", name = "chatty", max_output = 100000, halt_on_failure = false,
          flunk_on_failure = false }},
}} }}
''')
        g.start_master()
        g.start_worker("w1")
        req = g.wait_request(g.force("co"))
        b = g.build(req["builds"][0]["id"])
        self.assertEqual(b["result"], "warnings", b)  # the broken report
        self.assertEqual(b["properties"]["commits"], "2")
        broken = b["steps"][3]
        self.assertEqual(broken["result"], "warnings")
        text, _ = g.log(b["id"], 3)
        self.assertIn("cannot read JUnit report", text)
        self.assertIn("malformed XML", text)
        # max_output: killed and failed, without failing the build (flunk_on_failure = false).
        chatty = b["steps"][4]
        self.assertEqual(chatty["result"], "failure")
        self.assertLess(chatty["log_bytes"], 1000000)
        text, _ = g.log(b["id"], 4, tail=200)
        self.assertIn("output limit of 100000 bytes exceeded", text)
        with open(os.path.join(repo, "app.py"), "a") as f:
            f.write("print('third')\n")
        git(repo, "commit", "-q", "-am", "third")
        b = g.build(g.wait_request(g.force("co"))["builds"][0]["id"])
        self.assertEqual(b["result"], "warnings", b)
        self.assertEqual(b["properties"]["got_revision"], git(repo, "rev-parse", "HEAD"))
        self.assertEqual(b["properties"]["commits"], "3")
        # A revision property (as a change or force form would give) is what gets checked out.
        b = g.build(g.wait_request(g.force("co", properties={"revision": first}))["builds"][0]["id"])
        self.assertEqual(b["properties"]["got_revision"], first)
        self.assertEqual(b["properties"]["commits"], "1")

    def test_a_crashed_test_suite_fails_the_test_step(self):
        # The runner exits 0 but its report says the suite crashed before any test case ran
        # (Ant's shape when the forked JVM dies): counted as an error, the step fails.
        g = self.make("", workers=["w1"])
        with open(os.path.join(g.root, "crashed.xml"), "w") as f:
            f.write('<?xml version="1.0" encoding="UTF-8" ?>\n'
                    '<testsuite errors="1" failures="0" name="com.example.DbTest" tests="1">\n'
                    '  <error message="Forked Java VM exited abnormally." '
                    'type="junit.framework.AssertionFailedError">VM crashed</error>\n'
                    '  <system-err><![CDATA[SIGSEGV]]></system-err>\n</testsuite>\n')
        g.write_config(f'''
worker "w1" {{ secret = secret "w1", tags = {{ "linux" }} }}
builder "t" {{ tags = {{ "linux" }}, steps = {{
  test {{ "cp {g.root}/crashed.xml report.xml", junit = "report.xml", name = "tests" }},
}} }}
''')
        g.start_master()
        g.start_worker("w1")
        req = g.wait_request(g.force("t"))
        b = g.build(req["builds"][0]["id"])
        self.assertEqual(b["steps"][0]["result"], "failure", b)
        self.assertEqual(b["result"], "failure")
        self.assertEqual(b["tests"], {"passed": 0, "failed": 0, "skipped": 0, "errors": 1,
                                      "total": 1})
        tests = g.get(f"/api/v1/builds/{b['id']}/tests")
        self.assertEqual(tests["steps"][0]["failures"][0]["name"], "com.example.DbTest")
        text, _ = g.log(b["id"], 0)
        self.assertIn("0 passed, 0 failed, 1 errors", text)


def build_token(g, build_id):
    """The artifact token of |build_id|, as the master derives it (master/artifact_tokens.h)."""
    with open(os.path.join(g.dir, "state", "artifacts.key"), "rb") as f:
        key = f.read()
    return hmac.new(key, f"grove-artifacts:{build_id}".encode(), hashlib.sha256).hexdigest()


class ArtifactSafetyTest(GroveTestCase):
    def test_uploads_need_the_build_token_and_stay_inside_the_build(self):
        g = self.make('''
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "slow" { tags = { "linux" }, steps = { shell { "sleep 4", name = "nap" } } }
builder "linky" { tags = { "linux" }, steps = {
  shell { "mkdir -p dist && ln -sf /etc/passwd dist/passwd.zip", name = "plant" },
  upload { "dist/*.zip" },
} }
''', workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        req = g.force("slow")
        build_id = wait_for(lambda: g.get(f"/api/v1/requests/{req}")["builds"], what="the build")[0]["id"]
        base = f"{g.url}/api/v1/builds/{build_id}/artifacts/"

        def put(path, token, data=b"data"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            r = urllib.request.Request(base + path, data=data, method="PUT", headers=headers)
            try:
                with urllib.request.urlopen(r) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")

        token = build_token(g, build_id)
        self.assertEqual(put("ok/a.txt", None)[0], 401)
        self.assertEqual(put("ok/a.txt", build_token(g, build_id + 1))[0], 403)
        self.assertEqual(put("ok/a.txt", "0" * 64)[0], 403)
        status, answer = put("ok/a.txt", token, b"hello")
        self.assertEqual(status, 201, answer)
        self.assertEqual(answer["sha256"], hashlib.sha256(b"hello").hexdigest())
        for bad in ["../escape.txt", "ok/../../escape.txt", "%2E%2E/escape.txt", "a%5Cb"]:
            status, answer = put(bad, token)
            self.assertEqual(status, 400, (bad, answer))
        # A link planted in the store (by anyone with disk access) is not followed.
        os.symlink(g.root, os.path.join(g.dir, "state", "artifacts", str(build_id), "link"))
        status, answer = put("link/x.txt", token)
        self.assertEqual(status, 400, answer)
        self.assertIn("symbolic link", answer["error"])
        self.assertFalse(os.path.exists(os.path.join(g.root, "x.txt")))
        self.assertFalse(os.path.exists(os.path.join(g.dir, "state", "escape.txt")))
        self.assertEqual([a["path"] for a in g.get(f"/api/v1/builds/{build_id}/artifacts")],
                         ["ok/a.txt"])
        g.wait_request(req)
        # Once the build is over its token uploads nothing more.
        self.assertEqual(put("ok/late.txt", token)[0], 409)

        # The worker refuses to upload a symbolic link (it could point anywhere on the worker).
        req = g.wait_request(g.force("linky"))
        b = g.build(req["builds"][0]["id"])
        self.assertEqual(b["result"], "failure")
        text, _ = g.log(b["id"], 1)
        self.assertIn("symbolic link", text)
        self.assertEqual(g.get(f"/api/v1/builds/{b['id']}/artifacts"), [])


class QueueingTest(GroveTestCase):
    def test_master_lock_serialises_builds(self):
        g = self.make('''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 3 }
local db = lock.master { "db", max = 1 }
builder "migrate" { tags = { "linux" }, locks = { db }, steps = { shell { "sleep 1" } } }
builder "free" { tags = { "linux" }, steps = { shell { "sleep 1" } } }
''', workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        reqs = [g.force("migrate"), g.force("migrate"), g.force("free")]
        done = [g.wait_request(r) for r in reqs]
        a, b, free = (g.build(d["builds"][0]["id"]) for d in done)
        for x in (a, b, free):
            self.assertEqual(x["result"], "success")
        first, second = sorted([a, b], key=lambda x: x["started_at"])
        self.assertGreaterEqual(second["started_at"], first["finished_at"])
        # The build without the lock did not wait for it.
        self.assertLess(free["started_at"], first["finished_at"])

    def test_worker_lock_limits_each_worker_not_the_master(self):
        g = self.make('''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
worker "w2" { secret = secret "w2", tags = { "linux" }, capacity = 2 }
local disk = lock.worker { "disk", max = 1 }
builder "heavy" { tags = { "linux" }, locks = { disk }, steps = { shell { "sleep 1" } } }
''', workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        g.start_worker("w2")
        reqs = [g.force("heavy") for _ in range(4)]
        builds = [g.build(g.wait_request(r)["builds"][0]["id"]) for r in reqs]
        by_worker = {}
        for b in builds:
            self.assertEqual(b["result"], "success")
            by_worker.setdefault(b["worker"], []).append(b)
        self.assertEqual(sorted(by_worker), ["w1", "w2"])  # both workers were used
        for worker, bs in by_worker.items():
            bs.sort(key=lambda x: x["started_at"])
            for a, b in zip(bs, bs[1:]):
                self.assertGreaterEqual(b["started_at"], a["finished_at"], worker)

    def test_collapse_supersedes_older_queued_requests(self):
        g = self.make('''
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "ci" { tags = { "linux" }, collapse = true, steps = { shell { "echo ${prop:n}" } } }
''', workers=["w1"])
        g.start_master()  # no worker yet: everything stays queued
        r1 = g.force("ci", properties={"branch": "main", "n": "1"})
        r2 = g.force("ci", properties={"branch": "main", "n": "2"})
        other = g.force("ci", properties={"branch": "dev", "n": "3"})
        r3 = g.force("ci", properties={"branch": "main", "n": "4"})
        # Each points at the request that replaced it when it came (r1 → r2 → r3).
        for old, newer in ((r1, r2), (r2, r3)):
            info = g.get(f"/api/v1/requests/{old}")
            self.assertEqual(info["state"], "superseded")
            self.assertEqual(info["result"], "skipped")
            self.assertEqual(info["superseded_by"], newer)
        self.assertEqual(g.get(f"/api/v1/requests/{other}")["state"], "queued")
        g.start_worker("w1")
        self.assertEqual(g.wait_request(r3)["result"], "success")
        self.assertEqual(g.wait_request(other)["result"], "success")
        self.assertEqual(g.get(f"/api/v1/requests/{r1}")["builds"], [])
        self.assertEqual(len(g.get("/api/v1/builders/ci/builds")), 2)


if __name__ == "__main__":
    unittest.main()
