"""Change sources on a real master: the git poller on real repositories (commits, branches,
a force-push) and the builds that follow, and the webhook receivers with right and wrong
credentials."""
import hashlib
import hmac
import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from grove_harness import GroveTestCase, wait_for

WORKER = 'worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 4 }\n'


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="Ada Lovelace", GIT_AUTHOR_EMAIL="ada@example.org",
               GIT_COMMITTER_NAME="Ada Lovelace", GIT_COMMITTER_EMAIL="ada@example.org")
    return subprocess.run(["git"] + list(args), cwd=cwd, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def commit(work, path, text, message):
    full = os.path.join(work, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)
    git(work, "add", path)
    git(work, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD")


class GitPollerTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = g = self.make("", workers=["w1"])
        self.origin = os.path.join(g.root, "origin.git")
        self.work = os.path.join(g.root, "work")
        git(g.root, "init", "-q", "--bare", "-b", "main", self.origin)
        git(g.root, "clone", "-q", self.origin, self.work)
        git(self.work, "checkout", "-q", "-b", "main")
        self.first = commit(self.work, "README", "hello\n", "first commit")
        git(self.work, "push", "-q", "origin", "main")
        g.write_config(WORKER + f'''
local app = git {{ url = "{self.origin}", branches = {{ "main", "feature/*" }}, poll = "1s" }}
builder "ci" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
builder "docs" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
schedule.on_change {{ "ci", source = app, branches = {{ "main", "feature/*" }},
                      builders = {{ "ci" }} }}
schedule.on_change {{ "docs", source = app, files = {{ "docs/*" }}, builders = {{ "docs" }} }}
''')

    def changes(self):
        return self.g.get("/api/v1/changes")

    def builds(self, builder):
        return self.g.get(f"/api/v1/builders/{builder}/builds")

    def test_poller_records_commits_and_builds_follow(self):
        g = self.g
        g.start_master()
        g.start_worker("w1")
        # The first poll records the heads only: no history flood, no build.
        wait_for(lambda: "first poll" in g.master.output(), timeout=10, what="the first poll")
        time.sleep(1.5)
        self.assertEqual(self.changes(), [])
        self.assertEqual(self.builds("ci"), [])

        b = commit(self.work, "src/a.c", "int a;\n", "add a\n\nwith a body")
        c = commit(self.work, "docs/guide.md", "# guide\n", "document")
        git(self.work, "push", "-q", "origin", "main")
        wait_for(lambda: len(self.changes()) == 2, timeout=15, what="two changes")
        ch = self.changes()
        self.assertEqual([x["revision"] for x in ch], [c, b])  # newest first
        self.assertEqual(ch[1]["branch"], "main")
        self.assertEqual(ch[1]["repository"], self.origin)
        self.assertEqual(ch[1]["author"], "Ada Lovelace <ada@example.org>")
        self.assertEqual(ch[1]["comments"], "add a\n\nwith a body")
        self.assertEqual(ch[1]["files"], ["src/a.c"])
        self.assertGreater(ch[1]["committed_at"], 1_600_000_000_000)

        # One build of the newest commit for "ci", linked to both changes; "docs" only because
        # a file under docs/ changed.
        wait_for(lambda: self.builds("ci") and self.builds("ci")[0]["state"] == "finished",
                 timeout=20, what="the ci build")
        build = g.build(self.builds("ci")[0]["id"])
        self.assertEqual(build["source"]["revision"], c)
        self.assertEqual(build["source"]["branch"], "main")
        self.assertEqual(build["source"]["repository"], self.origin)
        self.assertEqual(sorted(x["revision"] for x in build["changes"]), sorted([b, c]))
        wait_for(lambda: self.builds("docs"), timeout=20, what="the docs build")
        self.assertEqual(len(self.builds("ci")), 1)

        # A new branch: only its own commit, not the history it shares with main.
        git(self.work, "checkout", "-q", "-b", "feature/x")
        d = commit(self.work, "src/x.c", "int x;\n", "feature x")
        git(self.work, "push", "-q", "origin", "feature/x")
        wait_for(lambda: len(self.changes()) == 3, timeout=15, what="the feature change")
        self.assertEqual(self.changes()[0]["revision"], d)
        self.assertEqual(self.changes()[0]["branch"], "feature/x")

        # A force-push that rewrites main: only the new commit, old ones are not replayed.
        git(self.work, "checkout", "-q", "main")
        git(self.work, "reset", "-q", "--hard", b)
        e = commit(self.work, "src/e.c", "int e;\n", "rewritten")
        git(self.work, "push", "-q", "-f", "origin", "main")
        wait_for(lambda: len(self.changes()) >= 4, timeout=15, what="the force-push change")
        time.sleep(2.5)  # a few more polls: nothing else may appear
        revs = [x["revision"] for x in self.changes()]
        self.assertEqual(revs, [e, d, c, b])
        wait_for(lambda: len(self.builds("ci")) == 3, timeout=20, what="builds for d and e")
        newest = g.build(self.builds("ci")[0]["id"])
        self.assertIn(newest["source"]["revision"], (d, e))

    def test_restart_neither_loses_nor_repeats_commits(self):
        g = self.g
        g.start_master()
        wait_for(lambda: "first poll" in g.master.output(), timeout=10, what="the first poll")
        b = commit(self.work, "src/b.c", "b\n", "b")
        git(self.work, "push", "-q", "origin", "main")
        wait_for(lambda: len(self.changes()) == 1, timeout=15, what="one change")
        g.master.stop()
        c = commit(self.work, "src/c.c", "c\n", "c while the master is down")
        git(self.work, "push", "-q", "origin", "main")
        g.start_master()
        wait_for(lambda: len(self.changes()) == 2, timeout=15, what="the change made while down")
        time.sleep(2.5)
        self.assertEqual([x["revision"] for x in self.changes()], [c, b])


def sign(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


REPO = "https://github.com/octo/app.git"


def github_push(after="a" * 40):
    # Shaped like GitHub's documented push event (trimmed).
    return {
        "ref": "refs/heads/main", "before": "0" * 39 + "1", "after": after, "created": False,
        "deleted": False, "forced": False,
        "repository": {"id": 1, "name": "app", "full_name": "octo/app",
                       "html_url": "https://github.com/octo/app",
                       "clone_url": "https://github.com/octo/app.git",
                       "ssh_url": "git@github.com:octo/app.git"},
        "pusher": {"name": "octo", "email": "octo@example.org"},
        "commits": [
            {"id": "1" * 40, "message": "fix the thing", "timestamp": "2026-01-02T03:04:05+01:00",
             "author": {"name": "Octo Cat", "email": "octo@example.org", "username": "octo"},
             "committer": {"name": "Octo Cat", "email": "octo@example.org"},
             "added": ["new.txt"], "removed": [], "modified": ["README.md"]},
            {"id": after, "message": "second", "timestamp": "2026-01-02T03:05:05Z",
             "author": {"name": "Octo Cat", "email": "octo@example.org"},
             "added": [], "removed": ["old.txt"], "modified": []},
        ],
        "head_commit": {"id": after},
    }


class WebhookTests(GroveTestCase):
    SECRETS = {"gh": "github-secret", "gl": "gitlab-token", "gt": "gitea-secret", "gen": "generic-token"}

    def setUp(self):
        super().setUp()
        self.g = g = self.make(WORKER + f'''
local app = git {{ url = "{REPO}", poll = 0 }}
builder "ci" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
schedule.on_change {{ "ci", source = app, builders = {{ "ci" }} }}
webhooks {{ github = secret "gh", gitlab = secret "gl", gitea = secret "gt", generic = secret "gen" }}
''', workers=["w1"])
        for name, value in self.SECRETS.items():
            with open(os.path.join(g.dir, "secrets", name), "w") as f:
                f.write(value)
        g.start_master()

    def post(self, provider, body, headers):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.g.url}/api/v1/hooks/{provider}", data=data,
                                     method="POST",
                                     headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def changes(self):
        return self.g.get("/api/v1/changes")

    def test_github_signature(self):
        body = json.dumps(github_push()).encode()
        good = "sha256=" + sign(self.SECRETS["gh"], body)
        bad = "sha256=" + sign("not-the-secret", body)
        for headers in ({"X-GitHub-Event": "push"},
                        {"X-GitHub-Event": "push", "X-Hub-Signature-256": bad},
                        {"X-GitHub-Event": "push", "X-Hub-Signature-256": good[:-1] + "0"}):
            status, _ = self.post("github", body, headers)
            self.assertEqual(status, 401, headers)
        self.assertEqual(self.changes(), [])
        # Signed but malformed: 400, nothing recorded.
        junk = b"{not json"
        status, _ = self.post("github", junk, {"X-GitHub-Event": "push",
                                               "X-Hub-Signature-256": "sha256=" + sign(self.SECRETS["gh"], junk)})
        self.assertEqual(status, 400)
        ping = json.dumps({"zen": "Keep it simple.", "hook_id": 1}).encode()
        status, answer = self.post("github", ping, {"X-GitHub-Event": "ping",
                                                    "X-Hub-Signature-256": "sha256=" + sign(self.SECRETS["gh"], ping)})
        self.assertEqual((status, answer["ping"]), (200, True))
        self.assertEqual(self.changes(), [])

        status, answer = self.post("github", body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": good})
        self.assertEqual((status, answer["changes"]), (200, 2))
        ch = self.changes()
        self.assertEqual([c["revision"] for c in ch], ["a" * 40, "1" * 40])
        self.assertEqual(ch[1]["repository"], REPO)
        self.assertEqual(ch[1]["branch"], "main")
        self.assertEqual(ch[1]["author"], "Octo Cat <octo@example.org>")
        self.assertEqual(ch[1]["files"], ["README.md", "new.txt"])
        self.assertEqual(ch[1]["committed_at"], 1767319445000)
        self.assertEqual(ch[1]["source"], "github")
        # The on_change scheduler of the matching git source queued one build of the head.
        queued = self.g.get("/api/v1/status")["queued"]
        self.assertEqual(len(queued), 1)
        req = self.g.get(f"/api/v1/requests/{queued[0]['request']}")
        self.assertEqual(req["source"], {"repository": REPO, "branch": "main", "revision": "a" * 40})

    def test_gitea_signature(self):
        body = json.dumps(github_push("b" * 40)).encode()  # Gitea's push payload has the same shape
        status, _ = self.post("gitea", body, {"X-Gitea-Event": "push",
                                              "X-Gitea-Signature": sign("wrong", body)})
        self.assertEqual(status, 401)
        self.assertEqual(self.changes(), [])
        status, answer = self.post("gitea", body, {"X-Gitea-Event": "push",
                                                   "X-Gitea-Signature": sign(self.SECRETS["gt"], body)})
        self.assertEqual((status, answer["changes"]), (200, 2))
        self.assertEqual(self.changes()[0]["source"], "gitea")

    def test_gitlab_token(self):
        body = {  # GitLab's documented "Push Hook" (trimmed)
            "object_kind": "push", "event_name": "push", "before": "0" * 40, "after": "c" * 40,
            "ref": "refs/heads/develop", "checkout_sha": "c" * 40, "user_name": "John Smith",
            "project": {"name": "app", "web_url": "https://gitlab.example/mike/app",
                        "git_http_url": "https://gitlab.example/mike/app.git",
                        "git_ssh_url": "git@gitlab.example:mike/app.git"},
            "commits": [{"id": "c" * 40, "message": "Update Catalan translation\n",
                         "timestamp": "2011-12-12T14:27:31+02:00",
                         "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
                         "added": ["CHANGELOG"], "modified": ["app/controller/application.rb"],
                         "removed": []}],
            "total_commits_count": 1,
        }
        for token in (None, "wrong"):
            headers = {"X-Gitlab-Event": "Push Hook"}
            if token:
                headers["X-Gitlab-Token"] = token
            status, _ = self.post("gitlab", body, headers)
            self.assertEqual(status, 401)
        self.assertEqual(self.changes(), [])
        status, answer = self.post("gitlab", body, {"X-Gitlab-Event": "Push Hook",
                                                    "X-Gitlab-Token": self.SECRETS["gl"]})
        self.assertEqual((status, answer["changes"]), (200, 1))
        c = self.changes()[0]
        self.assertEqual((c["branch"], c["revision"], c["repository"]),
                         ("develop", "c" * 40, "https://gitlab.example/mike/app.git"))
        self.assertEqual(c["files"], ["CHANGELOG", "app/controller/application.rb"])

    def test_generic_bearer(self):
        change = {"repository": REPO, "branch": "release", "revision": "d" * 40,
                  "author": "Bot <bot@example.org>", "comments": "nightly", "files": ["x"]}
        status, _ = self.post("generic", change, {})
        self.assertEqual(status, 401)
        status, _ = self.post("generic", change, {"Authorization": "Bearer nope"})
        self.assertEqual(status, 401)
        self.assertEqual(self.changes(), [])
        auth = {"Authorization": "Bearer " + self.SECRETS["gen"]}
        status, _ = self.post("generic", {"branch": "x"}, auth)
        self.assertEqual(status, 400)
        status, answer = self.post("generic", {"changes": [change]}, auth)
        self.assertEqual((status, answer["changes"]), (200, 1))
        self.assertEqual(self.changes()[0]["branch"], "release")
        status, _ = self.post("bitbucket", change, auth)
        self.assertEqual(status, 404)


def one_commit_push(after, message="one commit", ref="refs/heads/main"):
    return {
        "ref": ref, "before": "0" * 39 + "1", "after": after,
        "repository": {"clone_url": REPO, "html_url": "https://github.com/octo/app"},
        "commits": [{"id": after, "message": message, "timestamp": "2026-01-02T03:04:05Z",
                     "author": {"name": "Octo Cat", "email": "octo@example.org"},
                     "added": [], "removed": [], "modified": ["README.md"]}],
        "head_commit": {"id": after},
    }


class WebhookDeliveryTests(GroveTestCase):
    """Replays, redeliveries and the forms GitHub and Gitea really send (issue 15)."""
    SECRETS = WebhookTests.SECRETS

    def setUp(self):
        super().setUp()
        self.g = g = self.make(WORKER + f'''
local app = git {{ url = "{REPO}", poll = 0 }}
builder "ci" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
schedule.on_change {{ "ci", source = app, builders = {{ "ci" }} }}
builder "src" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
schedule.on_change {{ "src", source = app, files = {{ "src/*" }}, builders = {{ "src" }} }}
webhooks {{ github = secret "gh", gitea = secret "gt" }}
''', workers=["w1"])
        for name, value in self.SECRETS.items():
            with open(os.path.join(g.dir, "secrets", name), "w") as f:
                f.write(value)
        g.start_master()

    post = WebhookTests.post

    def github(self, body, delivery, form=False, secret=None):
        data = json.dumps(body).encode()
        headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery}
        if form:
            data = urllib.parse.urlencode({"payload": data.decode()}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["X-Hub-Signature-256"] = "sha256=" + sign(secret or self.SECRETS["gh"], data)
        return self.post("github", data, headers)

    def changes(self):
        return self.g.get("/api/v1/changes")

    def requests(self, builder="ci"):
        """The requests queued (no worker runs: each request stays queued), oldest first."""
        reqs = [self.g.get(f"/api/v1/requests/{q['request']}")
                for q in self.g.get("/api/v1/status")["queued"]]
        return sorted((r for r in reqs if r["builder"] == builder), key=lambda r: r["id"])

    def test_a_files_filter_still_builds_the_head(self):
        # The push's last commit touches no file under src/, an earlier one does: the "src"
        # scheduler builds, and builds what was pushed, not the older commit.
        push = one_commit_push("b" * 40)
        push["commits"].insert(0, {"id": "a" * 40, "message": "code", "added": ["src/a.c"],
                                   "removed": [], "modified": []})
        push["commits"][1]["modified"] = ["docs/guide.md"]
        self.assertEqual(self.github(push, "f-1")[0], 200)
        self.assertEqual([r["source"]["revision"] for r in self.requests("src")], ["b" * 40])

    def test_replayed_delivery_records_and_builds_once(self):
        push = one_commit_push("a" * 40)
        answers = [self.github(push, "72d3162e-cc78-11e3-81ab-4c9367dc0958") for _ in range(3)]
        self.assertEqual([a[0] for a in answers], [200, 200, 200])
        self.assertEqual(len(self.changes()), 1)
        self.assertEqual(len(self.requests()), 1)
        self.assertEqual(answers[0][1]["changes"], 1)
        self.assertFalse(answers[0][1]["duplicate"])
        for _, answer in answers[1:]:
            self.assertEqual((answer["changes"], answer["duplicate"]), (0, True))
            self.assertIn("duplicate delivery", answer["message"])
        self.assertEqual(len(self.changes()), 1)
        self.assertEqual(len(self.requests()), 1)

        # A push that moves the branch on, then back to the first revision (a revert by
        # force-push): both are new pushes and build.
        self.assertEqual(self.github(one_commit_push("b" * 40), "d-b")[1]["changes"], 1)
        status, answer = self.github(one_commit_push("a" * 40, "revert"), "d-revert")
        self.assertEqual((status, answer["changes"]), (200, 1))
        self.assertEqual([r["source"]["revision"] for r in self.requests()],
                         ["a" * 40, "b" * 40, "a" * 40])

    def test_same_push_under_another_delivery_id_builds_once(self):
        # Gitea's "replay", or two webhooks on one repository: another delivery id, the same
        # repository, branch and revision.
        push = one_commit_push("a" * 40)
        self.assertEqual(self.github(push, "first-delivery")[0], 200)
        status, answer = self.github(push, "another-delivery")
        self.assertEqual(status, 200)
        self.assertEqual(len(self.changes()), 1)
        self.assertEqual(len(self.requests()), 1)
        self.assertEqual((answer["changes"], answer["duplicate"]), (0, True))
        self.assertIn("already recorded", answer["message"])

    def test_delivery_ids_survive_a_master_restart(self):
        self.assertEqual(self.github(one_commit_push("a" * 40), "d-1")[1]["changes"], 1)
        self.assertEqual(self.github(one_commit_push("b" * 40), "d-2")[1]["changes"], 1)
        self.g.master.stop()
        self.g.start_master()
        # d-1 again: its revision is no longer the branch's newest, so only the remembered
        # delivery id tells it from a push back to that revision.
        status, answer = self.github(one_commit_push("a" * 40), "d-1")
        self.assertEqual(len(self.changes()), 2)
        self.assertEqual(len(self.requests()), 2)
        self.assertEqual((status, answer["changes"], answer["duplicate"]), (200, 0, True))

    def test_gitea_push_builds_its_head_not_its_oldest_commit(self):
        commits = [  # Gitea lists commits newest first
            {"id": c * 40, "message": f"commit {c}", "timestamp": f"2026-01-02T03:0{i}:00Z",
             "author": {"name": "Gitea User", "email": "u@gitea.example"},
             "added": [f"{c}.txt"], "removed": [], "modified": []}
            for i, c in ((3, "3"), (2, "2"), (1, "1"))]
        body = json.dumps({
            "ref": "refs/heads/main", "before": "0" * 39 + "1", "after": "3" * 40,
            "compare_url": "", "commits": commits, "total_commits": 3, "head_commit": commits[0],
            "repository": {"clone_url": REPO, "html_url": "https://github.com/octo/app"},
        }).encode()
        status, answer = self.post("gitea", body, {
            "X-Gitea-Event": "push", "X-Gitea-Delivery": "g-1",
            "X-Gitea-Signature": sign(self.SECRETS["gt"], body)})
        self.assertEqual(status, 200)
        reqs = self.requests()
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0]["source"]["revision"], "3" * 40)
        self.assertEqual(answer["changes"], 3)
        self.assertEqual([c["revision"] for c in self.changes()],
                         ["3" * 40, "2" * 40, "1" * 40])  # newest first
        self.assertEqual(self.changes()[0]["files"], ["3.txt"])

    def test_github_form_encoded_push(self):
        push = one_commit_push("f" * 40, "a message with spaces & symbols: 100% + more")
        status, _ = self.github(push, "form-bad", form=True, secret="not-the-secret")
        self.assertEqual(status, 401)
        self.assertEqual(self.changes(), [])
        status, answer = self.github(push, "form-1", form=True)
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["changes"], 1)
        change = self.changes()[0]
        self.assertEqual(change["comments"], "a message with spaces & symbols: 100% + more")
        self.assertEqual(change["revision"], "f" * 40)
        self.assertEqual([r["source"]["revision"] for r in self.requests()], ["f" * 40])


class PollerAndWebhookTests(GroveTestCase):
    """One commit reported by both change sources is one change and one build."""

    def test_poller_and_webhook_record_a_revision_once(self):
        g = self.make("", workers=["w1"])
        origin = os.path.join(g.root, "origin.git")
        work = os.path.join(g.root, "work")
        git(g.root, "init", "-q", "--bare", "-b", "main", origin)
        git(g.root, "clone", "-q", origin, work)
        git(work, "checkout", "-q", "-b", "main")
        commit(work, "README", "hello\n", "first commit")
        git(work, "push", "-q", "origin", "main")
        g.write_config(WORKER + f'''
local app = git {{ url = "{origin}", poll = "1s" }}
builder "ci" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
schedule.on_change {{ "ci", source = app, builders = {{ "ci" }} }}
webhooks {{ generic = "tok" }}
''')
        g.start_master()
        wait_for(lambda: "first poll" in g.master.output(), timeout=10, what="the first poll")

        def hook(revision):
            req = urllib.request.Request(
                g.url + "/api/v1/hooks/generic", method="POST",
                data=json.dumps({"repository": origin, "branch": "main",
                                 "revision": revision}).encode(),
                headers={"Authorization": "Bearer tok", "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())

        def ci_requests():
            reqs = [g.get(f"/api/v1/requests/{q['request']}") for q in g.get("/api/v1/status")["queued"]]
            return [r for r in reqs if r["builder"] == "ci"]

        # The webhook first, then the poller finds the same head: no second change or build.
        b = commit(work, "b.txt", "b\n", "b")
        self.assertEqual(hook(b)["changes"], 1)
        git(work, "push", "-q", "origin", "main")
        wait_for(lambda: "changes: 1 of 1 already recorded" in g.master.output()
                 or len(g.get("/api/v1/changes")) > 1, timeout=15, what="the poller seeing b")
        self.assertEqual(len(g.get("/api/v1/changes")), 1)
        # The poller first, then the webhook: answered as a duplicate.
        c = commit(work, "c.txt", "c\n", "c")
        git(work, "push", "-q", "origin", "main")
        wait_for(lambda: len(g.get("/api/v1/changes")) == 2, timeout=15, what="the poller seeing c")
        answer = hook(c)
        self.assertEqual((answer["changes"], answer["duplicate"]), (0, True))
        time.sleep(2.5)  # a few more polls: nothing else may appear
        self.assertEqual([x["revision"] for x in g.get("/api/v1/changes")], [c, b])
        self.assertEqual(sorted(r["source"]["revision"] for r in ci_requests()), sorted([b, c]))


class TreeStableAndOnlyIfChangedTests(GroveTestCase):
    def test_tree_stable_builds_once_after_quiet_and_periodic_waits_for_changes(self):
        g = self.make(WORKER + f'''
local app = git {{ url = "{REPO}", poll = 0 }}
builder "ci" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
builder "nightly" {{ tags = {{ "linux" }}, steps = {{ shell {{ "true" }} }} }}
schedule.on_change {{ "ci", source = app, branch = "main", tree_stable = "2s", builders = {{ "ci" }} }}
schedule.periodic {{ "p", every = "1s", only_if_changed = app, builders = {{ "nightly" }} }}
webhooks {{ generic = "tok" }}
''', workers=["w1"])
        g.start_master()
        time.sleep(2.5)  # periodic fires find no change: nothing queued
        self.assertEqual(g.get("/api/v1/status")["queued_count"], 0)
        auth = {"Authorization": "Bearer tok", "Content-Type": "application/json"}
        for i in range(3):
            body = {"repository": REPO, "branch": "main", "revision": f"{i}" * 40}
            req = urllib.request.Request(g.url + "/api/v1/hooks/generic", method="POST",
                                         data=json.dumps(body).encode(), headers=auth)
            urllib.request.urlopen(req, timeout=10).read()
            time.sleep(0.7)
        # Still within 2 s of the last change: no ci request yet.
        queued = [g.get(f"/api/v1/requests/{q['request']}") for q in g.get("/api/v1/status")["queued"]]
        self.assertEqual([q for q in queued if q["builder"] == "ci"], [])

        def ci_requests():
            qs = [g.get(f"/api/v1/requests/{q['request']}") for q in g.get("/api/v1/status")["queued"]]
            return [q for q in qs if q["builder"] == "ci"]
        wait_for(ci_requests, timeout=5, what="the tree-stable build")
        time.sleep(1)
        ci = ci_requests()
        self.assertEqual(len(ci), 1)
        self.assertEqual(ci[0]["source"]["revision"], "2" * 40)
        self.assertIn("3 changes", ci[0]["reason"])
        # The periodic scheduler (every second) fired while changes came in, and stops firing
        # once there is nothing new.
        def nightly():
            return len([q for q in g.get("/api/v1/status")["queued"] if q["builder"] == "nightly"])
        fired = nightly()
        self.assertIn(fired, (1, 2, 3))
        time.sleep(2.5)
        self.assertEqual(nightly(), fired)


if __name__ == "__main__":
    unittest.main()
