"""Users, roles, sessions, CSRF and API tokens of the master's HTTP API and web UI; the live
event stream; queue control (cancel, stop, rebuild, pause, resume)."""
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

from grove_harness import GROVE, GroveTestCase, Proc, wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "hello" { tags = { "linux" }, steps = { shell { "echo hello from grove" } } }
builder "slow" { tags = { "linux" }, steps = { shell { "echo started; sleep 60; echo never" } } }
'''


class Client:
    """A browser-like client: keeps the session cookie, sends the CSRF token when asked."""

    def __init__(self, grove):
        self.g = grove
        self.cookie = None
        self.csrf = None

    def call(self, method, path, body=None, csrf=True, headers=None, token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.g.port, timeout=30)
        hdrs = {"Content-Type": "application/json"}
        if self.cookie:
            hdrs["Cookie"] = self.cookie
        if csrf and self.csrf:
            hdrs["X-CSRF-Token"] = self.csrf
        if token:
            hdrs["Authorization"] = "Bearer " + token
        hdrs.update(headers or {})
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        set_cookie = resp.getheader("Set-Cookie")
        conn.close()
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = payload
        return resp.status, parsed, set_cookie

    def login(self, name, password):
        status, body, set_cookie = self.call("POST", "/api/v1/login", {"name": name, "password": password})
        if status == 200:
            self.cookie = set_cookie.split(";")[0]
            self.csrf = body["csrf"]
        return status, body, set_cookie


def add_user(g, name, role, password):
    r = subprocess.run([GROVE, "user", "add", name, "--role", role, "--dir", g.dir],
                       input=password + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


class Events:
    """Reads the master's Server-Sent Events on a thread."""

    def __init__(self, g):
        self.sock = socket.create_connection(("127.0.0.1", g.port), timeout=60)
        self.sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{g.port}\r\n\r\n".encode())
        self.events = []
        self.head = b""
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                if not self.head and b"\r\n\r\n" in buf:
                    self.head, buf = buf.split(b"\r\n\r\n", 1)
                while self.head and b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    for line in frame.decode().split("\n"):
                        if line.startswith("data: "):
                            self.events.append(json.loads(line[6:]))
        except OSError:
            return

    def close(self):
        self.sock.close()


class OpenMasterTests(GroveTestCase):
    """Without users the master stays open (as before), but refuses cross-site writes."""

    def test_open_master_and_cross_site_requests(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        c = Client(g)
        status, me, _ = c.call("GET", "/api/v1/me")
        self.assertEqual((status, me["auth_required"], me["role"]), (200, False, "admin"))
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {})
        self.assertEqual(status, 201)
        # A form post from another site: simple content type, foreign Origin.
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", b"reason=x",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 403)
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {},
                                 headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 403)
        self.assertEqual(body["error"], "cross-origin request refused: Origin 'http://evil.example' "
                         f"is not this master (Host: 127.0.0.1:{g.port})")
        # An opaque origin (sandboxed frame, data: or file: page) is no more this master's own.
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {}, headers={"Origin": "null"})
        self.assertEqual(status, 403)
        self.assertIn("Origin 'null'", body["error"])
        queued = g.get("/api/v1/status")["queued_count"]
        self.assertEqual(queued, 1)  # only the first force got through
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {},
                                 headers={"Origin": f"http://127.0.0.1:{g.port}"})
        self.assertEqual(status, 201)

    def test_event_stream_reports_a_build_live(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        ev = Events(g)
        try:
            wait_for(lambda: b"text/event-stream" in ev.head, what="the event stream to open")
            rid = g.force("hello")
            wait_for(lambda: any(e.get("type") == "build" and e.get("state") == "finished" for e in ev.events),
                     what="a build finished event")
            types = [(e.get("type"), e.get("state")) for e in ev.events]
            self.assertIn(("request", "queued"), types)
            self.assertIn(("build", "running"), types)
            self.assertIn(("step", "finished"), types)
            finished = [e for e in ev.events if e.get("type") == "build" and e.get("state") == "finished"][0]
            self.assertEqual((finished["request"], finished["result"]), (rid, "success"))
        finally:
            ev.close()


class UsersAndRolesTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1"])
        add_user(self.g, "alice", "developer", "alice-password-1")
        add_user(self.g, "victor", "viewer", "victor-password-1")
        self.g.start_master()

    def test_users_file_is_private_and_hashed(self):
        path = os.path.join(self.g.dir, "users")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        text = open(path).read()
        self.assertNotIn("alice-password-1", text)
        self.assertIn("$argon2id$", text)
        r = subprocess.run([GROVE, "user", "add", "alice", "--dir", self.g.dir], input="whatever-123\n",
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("exists already", r.stderr)
        r = subprocess.run([GROVE, "user", "add", "bob", "--role", "boss", "--dir", self.g.dir],
                           input="whatever-123\n", capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)

    def test_anonymous_viewer_reads_but_cannot_act(self):
        c = Client(self.g)
        status, body, _ = c.call("GET", "/api/v1/builders")
        self.assertEqual(status, 200)
        status, me, _ = c.call("GET", "/api/v1/me")
        self.assertEqual((me["auth_required"], me["user"], me["role"]), (True, None, "viewer"))
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {})
        self.assertEqual(status, 401)
        self.assertEqual(self.g.get("/api/v1/status")["queued_count"], 0)

    def test_login_session_csrf_and_roles(self):
        c = Client(self.g)
        status, body, _ = c.login("alice", "wrong-password")
        self.assertEqual(status, 401)
        status, body, set_cookie = c.login("alice", "alice-password-1")
        self.assertEqual((status, body["role"]), (200, "developer"))
        self.assertIn("HttpOnly", set_cookie)
        self.assertIn("SameSite=Strict", set_cookie)
        self.assertNotIn("csrf", set_cookie.lower())
        # The cookie alone is not enough to change anything.
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {}, csrf=False)
        self.assertEqual(status, 403)
        self.assertIn("CSRF", body["error"])
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {},
                                 headers={"X-CSRF-Token": "0" * 64}, csrf=False)
        self.assertEqual(status, 403)
        self.assertEqual(self.g.get("/api/v1/status")["queued_count"], 0)
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {"reason": "by alice"})
        self.assertEqual(status, 201)
        status, me, _ = c.call("GET", "/api/v1/me")
        self.assertEqual((me["user"], me["csrf"]), ("alice", c.csrf))

        viewer = Client(self.g)
        self.assertEqual(viewer.login("victor", "victor-password-1")[0], 200)
        status, body, _ = viewer.call("POST", "/api/v1/builders/hello/force", {})
        self.assertEqual(status, 403)
        status, body, _ = viewer.call("POST", "/api/v1/requests/1/cancel", {})
        self.assertEqual(status, 403)
        self.assertEqual(self.g.get("/api/v1/status")["queued_count"], 1)

        # Logging out ends the session on the master, not only in the browser.
        old_cookie = c.cookie
        status, _, set_cookie = c.call("POST", "/api/v1/logout", {})
        self.assertIn("Max-Age=0", set_cookie)
        c.cookie = old_cookie
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {})
        self.assertEqual(status, 401)

    def test_origin_null_is_refused_even_with_session_and_csrf(self):
        c = Client(self.g)
        self.assertEqual(c.login("alice", "alice-password-1")[0], 200)
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {}, headers={"Origin": "null"})
        self.assertEqual(status, 403)
        self.assertEqual(body["error"], "cross-origin request refused: Origin 'null' is not this master "
                         f"(Host: 127.0.0.1:{self.g.port})")
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {},
                                 headers={"Origin": "http://127.0.0.1.evil.example"})
        self.assertEqual(status, 403)
        self.assertEqual(self.g.get("/api/v1/status")["queued_count"], 0)
        # The master's own page sends its own origin.
        status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {},
                                 headers={"Origin": f"http://127.0.0.1:{self.g.port}"})
        self.assertEqual(status, 201)

    def test_password_change_and_removal_end_sessions(self):
        g = self.g
        alice, alice2, victor = Client(g), Client(g), Client(g)
        self.assertEqual(alice.login("alice", "alice-password-1")[0], 200)
        self.assertEqual(alice2.login("alice", "alice-password-1")[0], 200)
        self.assertEqual(victor.login("victor", "victor-password-1")[0], 200)
        r = subprocess.run([GROVE, "user", "token", "alice", "--dir", g.dir], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        time.sleep(1.1)  # the master re-reads the users file at most once a second
        self.assertEqual(alice.call("GET", "/api/v1/me")[1]["user"], "alice")
        self.assertEqual(alice.call("GET", "/api/v1/builders")[0], 200)

        r = subprocess.run([GROVE, "user", "passwd", "alice", "--dir", g.dir], input="alice-password-2\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1.1)
        # Every session of alice has ended: not even an anonymous viewer's read goes through with
        # the old cookie, which the answer clears.
        for c in (alice, alice2):
            status, body, set_cookie = c.call("GET", "/api/v1/builders")
            self.assertEqual(status, 401)
            self.assertIn("session ended", body["error"])
            self.assertIn("Max-Age=0", set_cookie)
            status, body, _ = c.call("POST", "/api/v1/builders/hello/force", {})
            self.assertEqual(status, 401)
            self.assertIsNone(c.call("GET", "/api/v1/me")[1]["user"])
        self.assertEqual(g.get("/api/v1/status")["queued_count"], 0)
        # Other users keep their sessions; alice's API token is not a session and still works.
        self.assertEqual(victor.call("GET", "/api/v1/me")[1]["user"], "victor")
        self.assertEqual(Client(g).call("POST", "/api/v1/builders/hello/force", {}, token=token)[0], 201)
        self.assertEqual(alice.login("alice", "alice-password-1")[0], 401)
        self.assertEqual(alice.login("alice", "alice-password-2")[0], 200)
        self.assertEqual(alice.call("POST", "/api/v1/builders/hello/force", {})[0], 201)

        r = subprocess.run([GROVE, "user", "remove", "alice", "--dir", g.dir], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1.1)
        status, body, _ = alice.call("GET", "/api/v1/builders")
        self.assertEqual(status, 401)
        self.assertIn("session ended", body["error"])
        self.assertEqual(alice.call("POST", "/api/v1/builders/hello/force", {})[0], 401)
        status, body, _ = Client(g).call("GET", "/api/v1/builders", token=token)
        self.assertEqual((status, body["error"]), (401, "invalid API token"))
        self.assertEqual(Client(g).call("POST", "/api/v1/builders/hello/force", {}, token=token)[0], 401)
        self.assertEqual(g.get("/api/v1/status")["queued_count"], 2)
        self.assertEqual(victor.call("GET", "/api/v1/builders")[0], 200)

    def test_login_is_rate_limited(self):
        c = Client(self.g)
        for _ in range(5):
            self.assertEqual(c.login("victor", "nope-nope")[0], 401)
        status, body, _ = c.login("victor", "victor-password-1")
        self.assertEqual(status, 429)
        # Another user from the same address is limited too (per address).
        self.assertEqual(c.login("alice", "alice-password-1")[0], 429)

    def test_api_token_for_the_cli(self):
        g = self.g
        r = g.cli("force", "hello")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("API token", r.stderr)
        r = subprocess.run([GROVE, "user", "token", "alice", "--dir", g.dir], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        self.assertTrue(token.startswith("grove_"))
        self.assertNotIn(token, open(os.path.join(g.dir, "users")).read())
        time.sleep(1.1)  # the master re-reads the users file at most once a second
        r = g.cli("force", "hello", "--token", token)
        self.assertEqual(r.returncode, 0, r.stderr)
        env = dict(os.environ, GROVE_MASTER=g.url, GROVE_TOKEN=token)
        r = subprocess.run([GROVE, "force", "hello"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        status, body, _ = Client(g).call("POST", "/api/v1/builders/hello/force", {}, token="grove_" + "0" * 64)
        self.assertEqual(status, 401)
        # Removing the user revokes its tokens.
        r = subprocess.run([GROVE, "user", "remove", "alice", "--dir", g.dir], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1.1)
        r = g.cli("force", "hello", "--token", token)
        self.assertNotEqual(r.returncode, 0)


class AnonymousNoneTests(GroveTestCase):
    def test_anonymous_none_sees_nothing(self):
        g = self.make(CONFIG, workers=["w1"])
        # The harness writes its own web { listen } line; put anonymous in it.
        with open(os.path.join(g.dir, "grove.lua")) as f:
            text = f.read()
        text = text.replace(f'web {{ listen = "127.0.0.1:{g.port}" }}',
                            f'web {{ listen = "127.0.0.1:{g.port}", anonymous = "none" }}')
        with open(os.path.join(g.dir, "grove.lua"), "w") as f:
            f.write(text)
        add_user(g, "admin", "admin", "admin-password-1")
        g.master = None
        g.master = Proc(["master", g.dir], os.path.join(g.root, "master.log"))
        c = Client(g)
        def up():
            try:
                return c.call("GET", "/api/v1/me")[0] == 200
            except OSError:
                return False
        wait_for(up, what="the master")
        self.assertEqual(c.call("GET", "/api/v1/builders")[0], 401)
        self.assertEqual(c.call("GET", "/api/v1/events")[0], 401)
        self.assertEqual(c.call("GET", "/")[0], 200)  # the login page itself loads
        self.assertEqual(c.login("admin", "admin-password-1")[0], 200)
        self.assertEqual(c.call("GET", "/api/v1/builders")[0], 200)


class QueueControlTests(GroveTestCase):
    def test_pause_cancel_resume_stop_rebuild(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        c = Client(g)
        self.assertEqual(c.call("POST", "/api/v1/workers/w1/pause", {})[0], 200)
        self.assertTrue([w for w in g.get("/api/v1/workers") if w["name"] == "w1"][0]["paused"])
        first = g.force("hello")
        second = g.force("hello")
        time.sleep(0.5)
        self.assertEqual(g.get(f"/api/v1/requests/{first}")["state"], "queued")  # paused: nothing runs
        queued = g.get("/api/v1/builders/hello/requests")
        self.assertEqual([r["id"] for r in queued], [first, second])
        self.assertEqual(c.call("POST", f"/api/v1/requests/{first}/cancel", {})[0], 200)
        r = g.get(f"/api/v1/requests/{first}")
        self.assertEqual((r["state"], r["result"]), ("finished", "cancelled"))
        self.assertEqual(c.call("POST", f"/api/v1/requests/{first}/cancel", {})[0], 409)
        self.assertEqual(c.call("POST", "/api/v1/workers/w1/resume", {})[0], 200)
        done = g.wait_request(second)
        self.assertEqual(done["result"], "success")
        self.assertEqual(g.get(f"/api/v1/requests/{first}")["builds"], [])

        slow = g.force("slow")
        def running_build():
            b = g.get(f"/api/v1/requests/{slow}")["builds"]
            return b[0]["id"] if b and g.build(b[0]["id"])["steps"] else None
        build_id = wait_for(running_build, what="the slow build to start")
        wait_for(lambda: "started" in g.log_so_far(build_id, 0), what="the step's output")
        t0 = time.time()
        self.assertEqual(c.call("POST", f"/api/v1/builds/{build_id}/stop", {})[0], 200)
        r = g.wait_request(slow, timeout=20)
        self.assertLess(time.time() - t0, 15)
        self.assertEqual(r["result"], "cancelled")
        self.assertEqual(g.build(build_id)["result"], "cancelled")
        self.assertEqual(c.call("POST", f"/api/v1/builds/{build_id}/stop", {})[0], 409)

        done_build = g.get(f"/api/v1/requests/{second}")["builds"][0]["id"]
        status, body, _ = c.call("POST", f"/api/v1/builds/{done_build}/rebuild", {})
        self.assertEqual(status, 201)
        again = g.wait_request(body["request"])
        self.assertEqual(again["result"], "success")
        self.assertIn("rebuild", again["reason"])


if __name__ == "__main__":
    unittest.main()
