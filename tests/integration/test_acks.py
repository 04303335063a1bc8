"""Acknowledgements and resends, from a worker written from docs/protocol.md.

The master applies a worker's events strictly in id order and acknowledges only what it
stored: an event after a hole in the ids, or a log chunk after a hole in a step's seq, is not
applied; the master asks for a resend, and a log chunk that a resend does not bring ends the
build as an exception that says why in the log (never a success with part of the log missing).
"""
import unittest

from grove_harness import GroveTestCase
from ws_client import WsClient

CONFIG = r'''
worker "w1" { secret = secret "w1" }
builder "hello" { steps = { shell { "echo hi", name = "hi" } } }
'''


class AckTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1"])
        self.g.start_master()
        self.rid = self.g.force("hello")
        self.ws = WsClient("127.0.0.1", self.g.port)
        self.addCleanup(self.ws.close)
        self.ws.send_json({"type": "hello", "v": 1, "name": "w1", "secret": self.g.secrets["w1"],
                           "capacity": 1, "running": []})
        self.assertEqual(self.ws.recv_json()["type"], "welcome")
        msg = self.ws.recv_json()
        self.assertEqual(msg["type"], "job")
        self.key = {"request": self.rid, "attempt": 1}

    def send(self, id_, type_, **fields):
        self.ws.send_json({"id": id_, "type": type_, **self.key, **fields})

    def test_an_event_after_a_hole_in_the_ids_is_not_applied_and_asked_again(self):
        self.send(1, "job.started")
        self.send(2, "step.started", step=0, name="hi")
        self.send(4, "log", step=0, seq=0, data="lost?\n")  # 3 never sent
        resend = self.ws.until("resend")[-1]
        self.assertEqual(resend["from"], 3)
        self.send(3, "log", step=0, seq=0, data="hello\n")
        self.send(4, "log", step=0, seq=1, data="world\n")
        self.send(5, "step.finished", step=0, result="success", log_chunks=2)
        self.send(6, "job.finished", result="success")
        self.ws.acked(6)
        req = self.g.wait_request(self.rid)
        self.assertEqual(req["result"], "success")
        log, _ = self.g.log(req["builds"][0]["id"], 0)
        self.assertEqual(log, "hello\nworld\n")

    def test_a_log_chunk_after_a_gap_is_refused_then_the_build_ends_as_exception(self):
        self.send(1, "job.started")
        self.send(2, "step.started", step=0, name="hi")
        self.send(3, "log", step=0, seq=0, data="first\n")
        self.send(4, "log", step=0, seq=2, data="third\n")  # chunk 1 never sent
        seen = self.ws.until("resend")
        self.assertEqual(seen[-1]["from"], 4)
        self.assertNotIn(4, [m.get("upto") for m in seen if m["type"] == "ack"])
        # The resend does not bring chunk 1 either: it is lost, and the build says so.
        self.send(4, "log", step=0, seq=2, data="third\n")
        self.ws.until("cancel")
        self.send(5, "step.finished", step=0, result="success", log_chunks=3)
        self.send(6, "job.finished", result="success")
        self.ws.acked(6)
        req = self.g.wait_request(self.rid)
        self.assertEqual(req["result"], "exception")
        build = self.g.build(req["builds"][0]["id"])
        self.assertEqual(build["result"], "exception")
        self.assertEqual(build["steps"][0]["result"], "exception")
        log, _ = self.g.log(build["id"], 0)
        self.assertTrue(log.startswith("first\n"), log)
        self.assertIn("[grove] log chunks 1 to 1 of step 0 never reached the master", log)
        self.assertNotIn("third", log)

    def test_a_step_finished_before_its_last_chunks_is_refused(self):
        self.send(1, "job.started")
        self.send(2, "step.started", step=0, name="hi")
        self.send(3, "log", step=0, seq=0, data="one\n")
        self.send(4, "step.finished", step=0, result="success", log_chunks=2)
        self.assertEqual(self.ws.until("resend")[-1]["from"], 4)
        # The resend brings the missing chunk first this time: all is well.
        self.send(4, "log", step=0, seq=1, data="two\n")
        self.send(5, "step.finished", step=0, result="success", log_chunks=2)
        self.send(6, "job.finished", result="success")
        self.ws.acked(6)
        req = self.g.wait_request(self.rid)
        self.assertEqual(req["result"], "success")
        log, _ = self.g.log(req["builds"][0]["id"], 0)
        self.assertEqual(log, "one\ntwo\n")


if __name__ == "__main__":
    unittest.main()
