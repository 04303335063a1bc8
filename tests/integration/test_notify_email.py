"""notify.email against a real SMTP server (Debian's python3-aiosmtpd) on loopback: one mail per
failing build with the right subject, recipients, link, log tail and no secret; STARTTLS and
AUTH; mode "problem"; a server that is down for a while; a master SIGKILLed after the build's
end; refused logins and recipients."""
import email.utils
import os
import shutil
import signal
import time
import unittest

from grove_harness import GroveTestCase, wait_for
from notify_harness import (SmtpServer, html_part, make_cert, notifications, text_part,
                            wait_notification)

# One step: 40 log lines, a secret echoed (the worker masks it, the mail must not show it), and
# a result chosen by the "outcome" property.
BUILDER = r'''
project { name = "Mailtest", url = "http://ci.example/" }
worker "w1" { secret = secret "w1", tags = { "t" } }
builder "hello" {
  tags = { "t" },
  steps = {
    shell { "for i in $(seq 1 40); do echo log line $i; done; echo token ${secret:tok}; test \"${prop:outcome:-pass}\" = pass",
            name = "check" },
  },
}
'''

TOKEN = "tok-" + os.urandom(6).hex()
SMTP_PASSWORD = "smtp-pw-" + os.urandom(6).hex()


class EmailTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        super().tearDown()

    def smtp(self, **kw):
        s = SmtpServer(self.tmp, **kw)
        self.servers.append(s)
        return s

    def run_build(self, g, outcome):
        req = g.wait_request(g.force("hello", {"outcome": outcome}), timeout=60)
        self.assertEqual(req["result"], "success" if outcome == "pass" else "failure", req)
        return req["builds"][0]["id"]

    def test_failing_build_sends_one_mail_over_starttls_with_auth(self):
        g = self.make(BUILDER, workers=["w1"])
        self.tmp = g.root
        cert, key = make_cert(self.tmp)
        smtp = self.smtp(cert=cert, key=key, user="grove", password=SMTP_PASSWORD).start()
        shutil.copy(cert, os.path.join(g.dir, "smtp-ca.pem"))
        for name, value in (("tok", TOKEN), ("smtp", SMTP_PASSWORD)):
            with open(os.path.join(g.dir, "secrets", name), "w") as f:
                f.write(value + "\n")
        g.write_config(BUILDER + f'''
notify.email {{
  to = {{ "dev@example.org", "qa@example.org" }},
  from = "Grove CI <grove@example.org>",
  smtp = {{ host = "127.0.0.1", port = {smtp.port}, tls = "starttls", user = "grove",
           password = secret "smtp", ca_file = "smtp-ca.pem" }},
  mode = {{ "failing" }},
}}
''')
        g.start_master()
        g.start_worker("w1")

        passed = self.run_build(g, "pass")
        failed = self.run_build(g, "fail")
        mails = smtp.wait_messages(1)
        time.sleep(2)  # nothing else may come: the passing build is not reported, nor twice
        mails = smtp.messages()
        self.assertEqual(len(mails), 1, [m["message"]["Subject"] for m in mails])
        m = mails[0]
        msg = m["message"]
        self.assertTrue(m["tls"], "the mail went over STARTTLS")
        self.assertEqual(m["user"], "grove")
        self.assertEqual(m["mail_from"], "grove@example.org")
        self.assertEqual(sorted(m["rcpt_tos"]), ["dev@example.org", "qa@example.org"])
        self.assertEqual(msg["Subject"], "[Mailtest] hello #2: failure")
        self.assertEqual(msg["From"], "Grove CI <grove@example.org>")
        self.assertIn("dev@example.org", msg["To"])
        self.assertIsNotNone(email.utils.parsedate_to_datetime(msg["Date"]))
        self.assertRegex(msg["Message-ID"], r"^<grove\.n\d+\.b\d+\.\d+@example\.org>$")
        text = text_part(msg)
        self.assertIn(f"http://ci.example/ui/builds/{failed}", text)
        self.assertIn("step 'check'", text)
        self.assertIn("log line 40", text)
        # log_lines = 20 by default: lines 24..40, the token line, and the worker's exit line.
        self.assertIn("log line 24\n", text)
        self.assertNotIn("log line 23\n", text)
        self.assertIn("command exited with code 1", text)
        html = html_part(msg)
        self.assertIsNotNone(html)
        self.assertIn(f'<a href="http://ci.example/ui/builds/{failed}">', html)
        for secret in (TOKEN, SMTP_PASSWORD):
            self.assertNotIn(secret, m["data"])
            self.assertNotIn(secret, text)
        self.assertIn("token ****", text)

        n = wait_notification(g, failed, lambda n: n["state"] == "sent", what="the sent record")
        self.assertEqual((n["notifier"], n["kind"], n["event"], n["attempts"]),
                         ("email", "email", "finished", 1))
        self.assertIn("250 2.0.0 Ok: queued", n["answer"])
        self.assertEqual(notifications(g, passed), [])
        self.assertNotIn(SMTP_PASSWORD, g.master.output())

    def test_problem_mode_mails_only_on_the_passing_to_failing_edge(self):
        g = self.make(BUILDER, workers=["w1"])
        self.tmp = g.root
        smtp = self.smtp().start()
        with open(os.path.join(g.dir, "secrets", "tok"), "w") as f:
            f.write(TOKEN + "\n")
        g.write_config(BUILDER + f'''
notify.email {{
  to = {{ "dev@example.org" }}, from = "grove@example.org",
  smtp = {{ host = "127.0.0.1", port = {smtp.port}, tls = "none" }},
  mode = {{ "problem" }}, subject = "${{build.builder}} #${{build.number}} ${{build.result}}",
}}
''')
        g.start_master()
        g.start_worker("w1")
        builds = [self.run_build(g, o) for o in ("pass", "fail", "fail", "pass", "fail")]
        smtp.wait_messages(2)
        time.sleep(2)
        subjects = [m["message"]["Subject"] for m in smtp.messages()]
        self.assertEqual(subjects, ["hello #2 failure", "hello #5 failure"])
        self.assertEqual([len(notifications(g, b)) for b in builds], [0, 1, 0, 0, 1])

    def test_mail_arrives_after_the_server_comes_back(self):
        g = self.make(BUILDER, workers=["w1"])
        self.tmp = g.root
        smtp = self.smtp()  # its port is reserved, nothing listens yet
        with open(os.path.join(g.dir, "secrets", "tok"), "w") as f:
            f.write(TOKEN + "\n")
        g.write_config(BUILDER + f'''
notify.email {{
  to = {{ "dev@example.org" }}, from = "grove@example.org",
  smtp = {{ host = "127.0.0.1", port = {smtp.port}, tls = "none" }},
  mode = {{ "failing" }}, retry_delay = "1s", max_retry_delay = "2s", max_attempts = 100,
}}
''')
        g.start_master()
        g.start_worker("w1")
        build = self.run_build(g, "fail")
        n = wait_notification(g, build, lambda n: n["state"] == "retrying" and n["attempts"] >= 2,
                              what="two failed attempts")
        self.assertIn(f"smtp 127.0.0.1:{smtp.port}", n["answer"])
        self.assertIsNotNone(n["next_attempt_at"])
        # Builds go on meanwhile: the notifier never blocks them.
        self.run_build(g, "pass")
        smtp.start()
        smtp.wait_messages(1)
        n = wait_notification(g, build, lambda n: n["state"] == "sent", what="the sent record")
        self.assertGreaterEqual(n["attempts"], 3)
        time.sleep(2)
        self.assertEqual(len(smtp.messages()), 1)
        self.assertIn("retrying in", g.master.output())

    def test_mail_survives_a_master_killed_right_after_the_build_failed(self):
        g = self.make(BUILDER, workers=["w1"])
        self.tmp = g.root
        smtp = self.smtp()  # down while the build fails: the notice cannot leave before the kill
        with open(os.path.join(g.dir, "secrets", "tok"), "w") as f:
            f.write(TOKEN + "\n")
        g.write_config(BUILDER + f'''
notify.email {{
  to = {{ "dev@example.org" }}, from = "grove@example.org",
  smtp = {{ host = "127.0.0.1", port = {smtp.port}, tls = "none" }},
  mode = {{ "failing" }}, retry_delay = "1s", max_retry_delay = "1s", max_attempts = 100,
}}
''')
        g.start_master()
        g.start_worker("w1")
        build = self.run_build(g, "fail")
        g.master.kill_group()  # SIGKILL, right after the build's end was acknowledged
        smtp.start()
        g.start_master()
        smtp.wait_messages(1)
        wait_notification(g, build, lambda n: n["state"] == "sent", what="the sent record")
        time.sleep(3)
        mails = smtp.messages()
        self.assertEqual(len(mails), 1)
        self.assertEqual(mails[0]["message"]["Subject"], "[Mailtest] hello #1: failure")

    def test_reconfig_fixes_the_server_and_removing_a_notifier_fails_its_notices(self):
        g = self.make(BUILDER, workers=["w1"])
        self.tmp = g.root
        smtp = self.smtp().start()
        with open(os.path.join(g.dir, "secrets", "tok"), "w") as f:
            f.write(TOKEN + "\n")
        wrong_port = SmtpServer(self.tmp).port  # nothing listens there
        body = '''
notify.email {{ name = "{name}", to = {{ "dev@example.org" }}, from = "grove@example.org",
  smtp = {{ host = "127.0.0.1", port = {port}, tls = "none" }}, mode = {{ "failing" }},
  retry_delay = "1s", max_retry_delay = "1s", max_attempts = 100 }}
'''
        g.write_config(BUILDER + body.format(name="ops", port=wrong_port) +
                       body.format(name="gone", port=wrong_port))
        g.start_master()
        g.start_worker("w1")
        build = self.run_build(g, "fail")
        wait_notification(g, build, lambda n: n["notifier"] == "ops" and n["state"] == "retrying")
        # The administrator fixes the port of "ops" and drops "gone": SIGHUP.
        g.write_config(BUILDER + body.format(name="ops", port=smtp.port))
        g.master.popen.send_signal(signal.SIGHUP)
        smtp.wait_messages(1)
        wait_notification(g, build, lambda n: n["notifier"] == "ops" and n["state"] == "sent")
        n = wait_notification(g, build, lambda n: n["notifier"] == "gone" and n["state"] == "failed")
        self.assertEqual(n["answer"], "notifier 'gone' was removed from grove.lua")
        time.sleep(1.5)
        self.assertEqual(len(smtp.messages()), 1)

    def test_refused_login_and_recipient_are_failed_with_the_servers_answer(self):
        g = self.make(BUILDER, workers=["w1"])
        self.tmp = g.root
        cert, key = make_cert(self.tmp)
        shutil.copy(cert, os.path.join(g.dir, "smtp-ca.pem"))
        smtp = self.smtp(cert=cert, key=key, user="grove", password=SMTP_PASSWORD,
                         reject=["nobody@example.org"]).start()
        for name, value in (("tok", TOKEN), ("smtp", SMTP_PASSWORD), ("wrong", "not-the-password")):
            with open(os.path.join(g.dir, "secrets", name), "w") as f:
                f.write(value + "\n")
        common = f'''from = "grove@example.org", mode = {{ "failing" }}, retry_delay = "1s",
  smtp = {{ host = "127.0.0.1", port = {smtp.port}, tls = "starttls", ca_file = "smtp-ca.pem",
           user = "grove", password = secret "%s" }}'''
        g.write_config(BUILDER + f'''
notify.email {{ name = "bad-login", to = {{ "dev@example.org" }}, {common % "wrong"} }}
notify.email {{ name = "bad-rcpt", to = {{ "nobody@example.org" }}, {common % "smtp"} }}
notify.email {{ name = "good", to = {{ "dev@example.org" }}, {common % "smtp"} }}
''')
        g.start_master()
        g.start_worker("w1")
        build = self.run_build(g, "fail")

        def settled():
            ns = {n["notifier"]: n for n in notifications(g, build)}
            return ns if len(ns) == 3 and all(n["state"] in ("sent", "failed") for n in ns.values()) else None
        ns = wait_for(settled, timeout=30, what="three notices settled")
        self.assertEqual(ns["good"]["state"], "sent")
        self.assertEqual(ns["bad-login"]["state"], "failed")
        self.assertIn("login refused", ns["bad-login"]["answer"])
        self.assertIn("535", ns["bad-login"]["answer"])
        self.assertEqual(ns["bad-rcpt"]["state"], "failed")
        self.assertIn("550", ns["bad-rcpt"]["answer"])
        self.assertIn("nobody@example.org", ns["bad-rcpt"]["answer"])
        self.assertEqual(ns["bad-login"]["attempts"], 1)  # permanent: not tried again
        self.assertEqual(len(smtp.messages()), 1)
        out = g.master.output()
        self.assertIn("notify bad-rcpt: finished notice of build", out)
        self.assertNotIn("not-the-password", out)
        self.assertTrue(g.master.alive())


if __name__ == "__main__":
    unittest.main()
