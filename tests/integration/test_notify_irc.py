"""notify.irc against a private ngircd (Debian's package) on loopback: a person in the channel
sees the announcement; force from an allowed nick queues a build, from another nick is
refused; status, last and help answer; the bot rejoins after the server restarts and delivers
what finished meanwhile."""
import os
import time
import unittest

from grove_harness import GroveTestCase, wait_for
from notify_harness import IrcClient, IrcServer, notifications, wait_notification

CONFIG = r'''
project { name = "Irctest", url = "http://ci.example" }
worker "w1" { secret = secret "w1", tags = { "t" } }
builder "hello" { tags = { "t" }, steps = { shell { "echo hi", name = "greet" } } }
notify.irc { server = "127.0.0.1", port = %d, nick = "grovebot", channels = { "#ci" },
             allow_force = { "alice" }, mode = { "all" }, retry_delay = "1s",
             max_retry_delay = "2s", max_attempts = 100 }
'''


class IrcTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.clients = []
        self.g = self.make("", workers=["w1"])
        self.irc = IrcServer(self.g.root).start()
        self.g.write_config(CONFIG % self.irc.port)

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.irc.stop()
        super().tearDown()

    def client(self, nick):
        c = IrcClient(self.irc.port, nick, "#ci")
        self.clients.append(c)
        return c

    def bot_in_channel(self, c):
        c.send("NAMES #ci")
        return c.seen(lambda l: " 353 " in l and "grovebot" in l)

    def replies(self, c, text):
        return c.seen(lambda l: l.startswith(":grovebot!") and "PRIVMSG" in l and text in l)

    def test_announces_answers_commands_and_rejoins(self):
        alice = self.client("alice")
        self.g.start_master()
        self.g.start_worker("w1")
        wait_for(lambda: self.bot_in_channel(alice), timeout=30, interval=0.5, what="the bot in #ci")

        req = self.g.wait_request(self.g.force("hello"))
        build = req["builds"][0]["id"]
        line = alice.wait_line(lambda l: l.startswith(":grovebot!") and "PRIVMSG #ci :hello #1: success" in l,
                               what="the announcement")
        self.assertIn(f"http://ci.example/ui/builds/{build}", line)
        n = wait_notification(self.g, build, lambda n: n["state"] == "sent")
        self.assertEqual(n["answer"], "said in #ci")

        alice.say("grovebot: force hello release candidate")
        line = alice.wait_line(lambda l: "alice: build of hello queued (request" in l, what="force reply")
        forced = int(line.rsplit("request ", 1)[1].rstrip(")"))
        r = self.g.wait_request(forced)
        self.assertEqual(r["reason"], "release candidate (alice on IRC)")
        self.assertEqual(r["result"], "success")

        mallory = self.client("mallory")
        before = self.g.get("/api/v1/builders/hello/builds")
        mallory.say("!force hello")
        mallory.wait_line(lambda l: "mallory: sorry, mallory may not force builds" in l, what="refusal")
        alice.say("!force nosuch")
        alice.wait_line(lambda l: "alice: no such builder: nosuch" in l, what="unknown builder")
        time.sleep(1)
        self.assertEqual(len(self.g.get("/api/v1/builders/hello/builds")), len(before))

        alice.say("grovebot: last hello")
        alice.wait_line(lambda l: "alice: hello #2: success http://ci.example/ui/builds/" in l,
                        what="last reply")
        alice.say("grovebot, status")
        alice.wait_line(lambda l: "alice: 0 queued, 0 running, 1 workers connected" in l,
                        what="status reply")
        alice.say("!help")
        alice.wait_line(lambda l: "alice: commands: status" in l, what="help reply")
        alice.say("just talking, nothing for the bot")
        time.sleep(0.5)
        self.assertEqual(self.replies(alice, "just talking"), [])

        # The server goes away: a build that ends meanwhile is announced once the bot is back.
        for c in self.clients:
            c.close()
        self.clients = []
        self.irc.stop()
        req = self.g.wait_request(self.g.force("hello"))
        build = req["builds"][0]["id"]
        wait_notification(self.g, build, lambda n: n["state"] == "retrying",
                          what="the notice waiting for the server")
        self.irc.start()
        bob = self.client("bob")
        wait_for(lambda: self.bot_in_channel(bob), timeout=60, interval=0.5, what="the bot back in #ci")
        bob.wait_line(lambda l: "PRIVMSG #ci :hello #3: success" in l, timeout=30,
                      what="the delayed announcement")
        wait_notification(self.g, build, lambda n: n["state"] == "sent")
        out = self.g.master.output()
        self.assertIn("refused 'force' from mallory", out)
        self.assertIn("reconnecting in", out)


if __name__ == "__main__":
    unittest.main()
