"""What a network or a broken worker can send never takes the master down or corrupts state."""
import socket
import unittest

from grove_harness import GroveTestCase, wait_for
from ws_client import WsClient

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "hello" { tags = { "linux" }, steps = { shell { "echo hi", name = "hi" } } }
'''


class RobustnessTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1"])
        self.g.start_master()

    def raw(self, data):
        with socket.create_connection(("127.0.0.1", self.g.port), timeout=5) as s:
            s.sendall(data)
            try:
                return s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                return b""

    def test_garbage_http_is_refused_and_the_master_lives(self):
        self.raw(b"\x00\xff garbage \r\n\r\n")
        self.raw(b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n")
        # A body over the limit is refused from its Content-Length, before it is read.
        too_big = self.raw(b"POST /api/v1/builders/hello/force HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 99999999999\r\n\r\n{")
        self.assertIn(b" 413 ", too_big.split(b"\r\n")[0])
        answer = self.raw(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertIn(b"200", answer.split(b"\r\n")[0])
        status, body, _ = self.g.call("POST", "/api/v1/builders/hello/force", b"x" * 100000)
        self.assertEqual(status, 400)
        self.assertTrue(self.g.ready())

    def test_worker_endpoint_refuses_strangers_and_garbage(self):
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_text("not json at all")
        self.assertIsNone(ws.recv())  # closed
        ws.close()
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json({"type": "job.started", "request": 1, "attempt": 1})  # no hello first
        answer = ws.recv_json()
        self.assertEqual(answer["type"], "refused")
        ws.close()
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json({"type": "hello", "v": 1, "name": "w1", "secret": "wrong", "capacity": 1, "running": []})
        self.assertEqual(ws.recv_json()["type"], "refused")
        ws.close()
        self.assertTrue(self.g.ready())

    def test_a_worker_written_from_the_protocol_doc(self):
        """A hand-written worker: hello, take the job, send events (some twice, some malformed)."""
        rid = self.g.force("hello")
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json({"type": "hello", "v": 1, "name": "w1", "secret": self.g.secrets["w1"],
                      "capacity": 1, "running": []})
        self.assertEqual(ws.recv_json()["type"], "welcome")
        msg = ws.recv_json()
        self.assertEqual(msg["type"], "job")
        job = msg["job"]
        self.assertEqual((job["request"], job["attempt"], job["builder"]), (rid, 1, "hello"))
        key = {"request": rid, "attempt": 1}
        events = [
            {"type": "job.started", **key},
            {"type": "step.started", "step": 0, "name": "hi", **key},
            {"type": "log", "step": 0, "seq": 0, "data": "hello ", **key},
            {"type": "log", "step": 0, "seq": 0, "data": "hello ", **key},  # a resend: stored once
            {"type": "log", "step": "zero", "seq": [], "data": 5, **key},     # malformed: ignored
            {"type": "no.such.event", **key},
            {"type": "log", "step": 0, "seq": 1, "data": "world\n", **key},
            {"type": "step.finished", "step": 0, "result": "success", **key},
            {"type": "job.finished", "result": "success", **key},
        ]
        for i, ev in enumerate(events, 1):
            ws.send_json({"id": i, **ev})
        acked = 0
        while acked < len(events):
            m = ws.recv_json()
            self.assertIsNotNone(m, "the master closed the connection")
            if m["type"] == "ack":
                acked = m["upto"]
        req = self.g.wait_request(rid)
        self.assertEqual(req["result"], "success")
        log, _ = self.g.log(req["builds"][0]["id"], 0)
        self.assertEqual(log, "hello world\n")
        ws.close()
        self.assertTrue(self.g.ready())


if __name__ == "__main__":
    unittest.main()
