"""notify.webhook (json, slack, mattermost) and notify.status (github, gitlab, gitea) against a
local HTTP server that checks method, path, headers, signature and body against each format's
documented shape; one 503 is retried."""
import hashlib
import hmac
import json
import os
import time
import unittest
import urllib.request

from grove_harness import GroveTestCase, wait_for
from notify_harness import RecordingHttpServer, notifications, wait_notification

REPO = "https://git.example/me/app.git"
SHA_OK = "a" * 40
SHA_BAD = "b" * 40
HOOK_SECRET = "hook-secret-" + os.urandom(6).hex()
TOKENS = {"ghtok": "gh-" + os.urandom(6).hex(), "gltok": "gl-" + os.urandom(6).hex(),
          "teatok": "tea-" + os.urandom(6).hex()}


def config(url):
    return f'''
project {{ name = "Hooktest", url = "http://ci.example" }}
worker "w1" {{ secret = secret "w1", tags = {{ "t" }} }}
local app = git {{ url = "{REPO}", poll = 0 }}
-- Long enough for the start notices to leave before the end supersedes them.
builder "ci" {{ tags = {{ "t" }},
  steps = {{ shell {{ "sleep 1.5; test \\"${{prop:branch}}\\" != broken", name = "check" }} }} }}
schedule.on_change {{ "ci", source = app, builders = {{ "ci" }} }}
webhooks {{ generic = "tok" }}
notify.webhook {{ name = "hook", url = "{url}/hook", secret = secret "hook", retry_delay = "1s" }}
notify.webhook {{ name = "slack", url = "{url}/slack", format = "slack" }}
notify.webhook {{ name = "mm", url = "{url}/mm", format = "mattermost", mode = {{ "failing" }} }}
notify.status {{ name = "gh", provider = "github", url = "{url}/gh", token = secret "ghtok",
                retry_delay = "1s" }}
notify.status {{ name = "gl", provider = "gitlab", url = "{url}/gl", token = secret "gltok" }}
notify.status {{ name = "tea", provider = "gitea", url = "{url}/tea", token = secret "teatok" }}
'''


class HttpNotifierTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.http = RecordingHttpServer()
        self.g = g = self.make(config(self.http.url), workers=["w1"])
        for name, value in dict(TOKENS, hook=HOOK_SECRET).items():
            with open(os.path.join(g.dir, "secrets", name), "w") as f:
                f.write(value + "\n")
        g.start_master()
        g.start_worker("w1")

    def tearDown(self):
        self.http.close()
        super().tearDown()

    def push(self, branch, sha):
        body = json.dumps({"repository": REPO, "branch": branch, "revision": sha,
                           "author": "Jane Doe <jane@example.org>", "comments": "fix things"}).encode()
        req = urllib.request.Request(f"{self.g.url}/api/v1/hooks/generic", data=body, method="POST",
                                     headers={"Authorization": "Bearer tok",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            self.assertEqual(resp.status, 200)

        def build():
            for b in self.g.get("/api/v1/builders/ci/builds"):
                if b["state"] == "finished" and b["properties"].get("revision") == sha:
                    return b
            return None
        return wait_for(build, timeout=60, what=f"the build of {sha[:8]}")

    def settled(self, build_id, count):
        def check():
            ns = notifications(self.g, build_id)
            done = [n for n in ns if n["state"] in ("sent", "failed", "superseded")]
            return ns if len(ns) == count and len(done) == count else None
        return {(n["notifier"], n["event"]): n
                for n in wait_for(check, timeout=40, what=f"{count} notices settled")}

    def test_webhooks_and_commit_statuses(self):
        # The first JSON webhook POST and the first final GitHub status answer 503.
        self.http.fail_once(lambda r: r["path"] == "/hook")
        self.http.fail_once(lambda r: r["path"].startswith("/gh/") and
                            r["json"]["state"] in ("success", "failure"))
        ok = self.push("main", SHA_OK)
        ns = self.settled(ok["id"], 8)  # hook, slack, 3 x (start + end) statuses; mm: failing only
        self.assertTrue(all(n["state"] == "sent" for n in ns.values()), ns)
        self.assertEqual(ns[("hook", "finished")]["attempts"], 2)
        self.assertEqual(ns[("gh", "finished")]["attempts"], 2)
        self.assertIn("HTTP 201", ns[("gh", "finished")]["answer"])
        url = f"http://ci.example/ui/builds/{ok['id']}"

        # JSON webhook: the 503 and its retry carry the same body, signature and delivery id.
        hooks = self.http.received("/hook")
        self.assertEqual([h["status"] for h in hooks], [503, 201])
        self.assertEqual(hooks[0]["body"], hooks[1]["body"])
        h = hooks[1]
        self.assertEqual(h["method"], "POST")
        self.assertEqual(h["headers"]["Content-Type"], "application/json")
        self.assertEqual(h["headers"]["X-Grove-Event"], "build.finished")
        self.assertEqual(h["headers"]["X-Grove-Delivery"], hooks[0]["headers"]["X-Grove-Delivery"])
        expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), h["body"], hashlib.sha256).hexdigest()
        self.assertEqual(h["headers"]["X-Grove-Signature-256"], expected)
        doc = h["json"]
        self.assertEqual(doc["event"], "build.finished")
        self.assertEqual((doc["build"]["builder"], doc["build"]["number"], doc["build"]["result"]),
                         ("ci", 1, "success"))
        self.assertEqual(doc["build"]["url"], url)
        self.assertEqual(doc["build"]["revision"], SHA_OK)
        self.assertEqual(doc["changes"][0]["author"], "Jane Doe <jane@example.org>")
        self.assertIn(url, doc["text"])
        self.assertNotIn(HOOK_SECRET.encode(), h["body"])

        slack = self.http.received("/slack")
        self.assertEqual(len(slack), 1)
        self.assertNotIn("X-Grove-Signature-256", slack[0]["headers"])
        self.assertEqual(slack[0]["json"]["text"], f"<{url}|ci #1>: success")
        self.assertEqual(slack[0]["json"]["attachments"][0]["title_link"], url)
        self.assertEqual(self.http.received("/mm"), [])

        # GitHub: POST /repos/{owner}/{repo}/statuses/{sha}, bearer token, pending then success.
        gh = [r for r in self.http.received("/gh/") if r["status"] == 201]
        self.assertEqual([r["path"] for r in gh], [f"/gh/repos/me/app/statuses/{SHA_OK}"] * 2)
        self.assertEqual([r["json"]["state"] for r in gh], ["pending", "success"])
        for r in gh:
            self.assertEqual(r["headers"]["Authorization"], f"Bearer {TOKENS['ghtok']}")
            self.assertEqual(r["headers"]["Accept"], "application/vnd.github+json")
            self.assertEqual(r["headers"]["X-GitHub-Api-Version"], "2022-11-28")
            self.assertEqual(set(r["json"]), {"state", "target_url", "description", "context"})
            self.assertEqual((r["json"]["context"], r["json"]["target_url"]), ("grove/ci", url))
        # GitLab: POST /api/v4/projects/{url-encoded path}/statuses/{sha}, PRIVATE-TOKEN.
        gl = self.http.received("/gl/")
        self.assertEqual([r["path"] for r in gl],
                         [f"/gl/api/v4/projects/me%2Fapp/statuses/{SHA_OK}"] * 2)
        self.assertEqual([r["json"]["state"] for r in gl], ["running", "success"])
        for r in gl:
            self.assertEqual(r["headers"]["PRIVATE-TOKEN"], TOKENS["gltok"])
            self.assertEqual((r["json"]["name"], r["json"]["ref"], r["json"]["target_url"]),
                             ("grove/ci", "main", url))
        # Gitea: POST /api/v1/repos/{owner}/{repo}/statuses/{sha}, "token" authorization.
        tea = self.http.received("/tea/")
        self.assertEqual([r["path"] for r in tea], [f"/tea/api/v1/repos/me/app/statuses/{SHA_OK}"] * 2)
        self.assertEqual([r["json"]["state"] for r in tea], ["pending", "success"])
        for r in tea:
            self.assertEqual(r["headers"]["Authorization"], f"token {TOKENS['teatok']}")
            self.assertEqual(r["json"]["context"], "grove/ci")

        # A failing build: failure states, the mattermost message.
        bad = self.push("broken", SHA_BAD)
        ns = self.settled(bad["id"], 9)
        self.assertTrue(all(n["state"] == "sent" for n in ns.values()), ns)
        bad_url = f"http://ci.example/ui/builds/{bad['id']}"
        last = lambda prefix: self.http.received(prefix)[-1]["json"]
        self.assertEqual(last("/gh/")["state"], "failure")
        self.assertEqual(last("/gl/")["state"], "failed")
        self.assertEqual(last("/tea/")["state"], "failure")
        self.assertIn("step 'check'", last("/gh/")["description"])
        self.assertEqual(last("/mm")["text"], f"[ci #2]({bad_url}): failure (step 'check')")
        self.assertEqual(last("/hook")["build"]["failing_step"], "check")
        out = self.g.master.output()
        for secret in list(TOKENS.values()) + [HOOK_SECRET]:
            self.assertNotIn(secret, out)
            self.assertNotIn(secret, json.dumps(notifications(self.g, ok["id"])))

    def test_a_forced_build_without_a_commit_gets_no_status(self):
        req = self.g.wait_request(self.g.force("ci", {"branch": "main"}), timeout=60)
        build = req["builds"][0]["id"]
        ns = self.settled(build, 2)  # hook + slack; no commit: no statuses
        self.assertEqual(sorted(ns), [("hook", "finished"), ("slack", "finished")])


if __name__ == "__main__":
    unittest.main()
