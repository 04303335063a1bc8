"""Fields of the wrong type, from anyone who reaches the master's port: a worker's hello and
events over a real WebSocket, and the body of every JSON endpoint of the HTTP API. Each is
refused with a message naming the field; the master stays up and keeps building."""
import json
import os
import struct
import subprocess
import tempfile
import unittest
import urllib.request

from grove_harness import GroveTestCase
from ws_client import WsClient

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" } }
worker "w2" { secret = secret "w2", tags = { "linux" } }
builder "hello" { tags = { "linux" }, steps = { shell { "echo hi", name = "hi" } } }
builder "secretive" { tags = { "linux" }, steps = { shell { "echo ${secret:tok}", name = "s" } } }
webhooks { generic = "tok" }
'''


class MalformedFieldTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.make(CONFIG, workers=["w1", "w2"])
        with open(os.path.join(self.g.dir, "secrets", "tok"), "w") as f:
            f.write("s3cr3t-value\n")
        self.g.start_master()

    def alive(self):
        self.assertTrue(self.g.ready(), "the master does not answer")

    def hello(self, **fields):
        msg = {"type": "hello", "v": 1, "name": "w2", "secret": self.g.secrets["w2"],
               "capacity": 1, "running": []}
        msg.update(fields)
        return msg

    def test_hellos_with_fields_of_the_wrong_type_are_refused(self):
        bad = [({"secret": 1}, "secret"), ({"type": 5}, "type"), ({"version": []}, "version"),
               ({"capacity": "x"}, "capacity"), ({"capacity": 2.5}, "capacity"),
               ({"capacity": -1}, "capacity"), ({"name": {}}, "name"), ({"name": 7}, "name"),
               ({"running": "x"}, "running"), ({"running": [5]}, "running"),
               ({"running": [{"request": "a", "attempt": 1}]}, "request"),
               ({"running": [{"request": 1, "attempt": []}]}, "attempt"),
               ({"v": "1"}, "'v'")]
        for fields, named in bad:
            with self.subTest(fields=fields):
                ws = WsClient("127.0.0.1", self.g.port)
                ws.send_json(self.hello(**fields))
                answer = ws.recv_json()
                ws.close()
                self.assertIsNotNone(answer, "closed without an answer")
                self.assertEqual(answer["type"], "refused")
                self.assertIn(named, answer["error"])
                self.alive()
        # The same worker, well-formed, is welcome.
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json(self.hello())
        self.assertEqual(ws.recv_json()["type"], "welcome")
        ws.close()

    def test_events_with_fields_of_the_wrong_type_are_rejected(self):
        rid = self.g.force("hello")
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json(self.hello())
        self.assertEqual(ws.recv_json()["type"], "welcome")
        msg = ws.recv_json()
        self.assertEqual(msg["type"], "job")
        key = {"request": rid, "attempt": 1}
        next_id = iter(range(1, 1000))
        bad = [({"id": "seven", "type": "job.started", **key}, "id"),
               ({"type": 5, **key}, "type"),
               ({"type": "step.started", "step": "x", "name": "hi", **key}, "step"),
               ({"type": "log", "step": 0, "seq": {}, "data": "x", **key}, "seq"),
               ({"type": "log", "step": 0, "seq": 0, "data": 5, **key}, "data"),
               ({"type": "step.finished", "step": 0, "result": 7, **key}, "result"),
               ({"type": "job.started", "request": "a", "attempt": 1}, "request"),
               ({"type": "job.started", "request": rid, "attempt": []}, "attempt"),
               ({"type": "step.finished", "step": 0, "result": "success", "tests": "x", **key},
                "tests"),
               ({"type": "step.finished", "step": 0, "result": "success",
                 "tests": {"passed": "x"}, **key}, "passed"),
               ({"type": "step.finished", "step": 0, "result": "success",
                 "properties": [1], **key}, "properties"),
               ({"type": "step.started", "step": 0, "name": {"a": 1}, **key}, "name"),
               ({"type": "job.started", "builddir": 5, **key}, "builddir"),
               ({"type": "log", "step": -1, "seq": 0, "data": "x", **key}, "step"),
               ({"type": "log", "step": 0, "seq": 2 ** 64, "data": "x", **key}, "seq")]
        for ev, named in bad:
            with self.subTest(event=ev):
                if "id" not in ev:
                    ev = {"id": next(next_id), **ev}
                ws.send_json(ev)
                answer = ws.recv_json()
                self.assertIsNotNone(answer, "the master closed the connection")
                self.assertEqual(answer["type"], "rejected", answer)
                self.assertIn(named, answer["error"])
                if isinstance(ev["id"], int):
                    self.assertEqual(answer["id"], ev["id"])
                    self.assertEqual(ws.recv_json(), {"type": "ack", "upto": ev["id"]})
                self.alive()
        # None of them was applied: the job is still waiting for its first event; the worker
        # finishes it properly and the build is whole.
        events = [{"type": "job.started", **key},
                  {"type": "step.started", "step": 0, "name": "hi", **key},
                  {"type": "log", "step": 0, "seq": 0, "data": "hi\n", **key},
                  {"type": "step.finished", "step": 0, "result": "success",
                   "tests": {"passed": 1, "failed": 0, "total": 1, "failures": []}, **key},
                  {"type": "job.finished", "result": "success", **key}]
        for ev in events:
            ws.send_json({"id": next(next_id), **ev})
        req = self.g.wait_request(rid)
        self.assertEqual(req["result"], "success")
        build = req["builds"][0]["id"]
        self.assertEqual(self.g.log(build, 0)[0], "hi\n")
        self.assertEqual([s["result"] for s in self.g.build(build)["steps"]], ["success"])
        ws.close()
        self.alive()

    def frame(self, header, payload=b""):
        """A binary log frame (docs/protocol.md): magic, header length, JSON header, payload."""
        h = json.dumps(header).encode() if isinstance(header, dict) else header
        return b"GLF1" + struct.pack("<I", len(h)) + h + payload

    def zstd(self, data):
        """|data| as one zstd frame that says its size (the zstd tool, from a file)."""
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            return subprocess.run(["zstd", "-1", "-q", "-c", f.name], check=True,
                                  stdout=subprocess.PIPE).stdout

    def test_malformed_binary_log_frames_are_refused(self):
        rid = self.g.force("hello")
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json(self.hello(v=2))
        welcome = ws.recv_json()
        self.assertEqual(welcome["type"], "welcome")
        self.assertGreaterEqual(welcome["v"], 2)  # this master takes binary log frames
        self.assertEqual(ws.recv_json()["type"], "job")
        key = {"request": rid, "attempt": 1}
        ws.send_json({"id": 1, "type": "job.started", **key})
        ws.send_json({"id": 2, "type": "step.started", "step": 0, "name": "hi", **key})
        self.assertEqual(ws.recv_json(), {"type": "ack", "upto": 1})
        self.assertEqual(ws.recv_json(), {"type": "ack", "upto": 2})
        log = {"type": "log", "step": 0, "seq": 0, **key}
        good = self.zstd(b"hi\n")
        bad = [({"id": 3, **log, "step": "zero"}, good, "'step' must be an integer"),
               ({"id": 4, **log, "step": -1}, good, "step"),
               ({"id": 5, **log}, b"plain text, not zstd", "not a zstd frame"),
               ({"id": 6, **log}, good[:-3], "zstd"),
               ({"id": 7, **log}, good + b"x", "not exactly one whole zstd frame"),
               ({"id": 8, **log, "data": "hi"}, good, "'data'"),
               ({"id": 9, **log, "type": "job.finished"}, good, "'type' must be \"log\""),
               ({"id": 10, "type": "log", "step": 0, **key}, good, "'seq'")]
        for header, payload, named in bad:
            with self.subTest(header=header):
                ws.send_frame(0x2, self.frame(header, payload))
                answer = ws.recv_json()
                self.assertIsNotNone(answer, "the master closed the connection")
                self.assertEqual(answer["type"], "rejected", answer)
                self.assertEqual(answer["id"], header["id"])
                self.assertIn(named, answer["error"])
                self.assertEqual(ws.recv_json(), {"type": "ack", "upto": header["id"]})
                self.alive()
        # None was applied: the well-formed chunk is seq 0, and the build is whole.
        ws.send_frame(0x2, self.frame({"id": 11, **log}, good))
        self.assertEqual(ws.recv_json(), {"type": "ack", "upto": 11})
        ws.send_json({"id": 12, "type": "step.finished", "step": 0, "result": "success",
                      "log_chunks": 1, **key})
        ws.send_json({"id": 13, "type": "job.finished", "result": "success", **key})
        req = self.g.wait_request(rid)
        self.assertEqual(req["result"], "success")
        build = req["builds"][0]["id"]
        self.assertEqual(self.g.log(build, 0)[0], "hi\n")
        # A frame whose header cannot be read has no id to be rejected by: the connection
        # closes (the worker resends after reconnecting), the master stays up.
        for garbage in [b"GLF1\x10\x00", b"GLF1" + struct.pack("<I", 99) + b"{}",
                        self.frame(b"{not json"), b"GLF1" + struct.pack("<I", 1 << 30)]:
            with self.subTest(garbage=garbage):
                ws.send_frame(0x2, garbage)
                answer = ws.recv_json()
                while answer is not None and answer["type"] == "ack":  # of the events above
                    answer = ws.recv_json()
                self.assertIsNone(answer, "the connection stayed open")
                ws.close()
                self.alive()
                ws = WsClient("127.0.0.1", self.g.port)
                ws.send_json(self.hello(v=2))
                self.assertEqual(ws.recv_json()["type"], "welcome")
        # Before the hello, a binary message is refused the same way.
        ws.close()
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_frame(0x2, self.frame({"id": 1, **log}, good))
        self.assertIsNone(ws.recv_json())
        ws.close()
        self.alive()

    def test_a_binary_frame_is_masked_on_the_master_too(self):
        """A worker must mask its job's secrets; one that does not, sending compressed frames,
        still gets nothing stored in clear: the master masks frames of jobs with secrets."""
        rid = self.g.force("secretive")
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json(self.hello(v=2))
        self.assertEqual(ws.recv_json()["type"], "welcome")
        job = ws.recv_json()
        self.assertEqual(job["type"], "job")
        self.assertEqual(job["job"]["secrets"], {"tok": "s3cr3t-value"})
        key = {"request": rid, "attempt": 1}
        ws.send_json({"id": 1, "type": "job.started", **key})
        ws.send_json({"id": 2, "type": "step.started", "step": 0, "name": "s", **key})
        ws.send_frame(0x2, self.frame({"id": 3, "type": "log", "step": 0, "seq": 0, **key},
                                      self.zstd(b"the token: s3cr3t-value\n")))
        ws.send_json({"id": 4, "type": "step.finished", "step": 0, "result": "success",
                      "log_chunks": 1, **key})
        ws.send_json({"id": 5, "type": "job.finished", "result": "success", **key})
        req = self.g.wait_request(rid)
        self.assertEqual(req["result"], "success")
        log, _ = self.g.log(req["builds"][0]["id"], 0)
        self.assertEqual(log, "the token: ****\n")
        ws.close()

    def test_deeply_nested_json_is_refused(self):
        """Code that walks JSON recurses once per level: 200000 levels once overflowed the
        master's stack (it died without a word)."""
        deep = "[" * 200000 + "]" * 200000
        status, answer = self.post("/api/v1/builders/hello/force",
                                   ('{"properties": {"x": %s}}' % deep).encode())
        self.assertEqual(status, 400, answer)
        self.alive()
        rid = self.g.force("hello")
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json(self.hello())
        self.assertEqual(ws.recv_json()["type"], "welcome")
        self.assertEqual(ws.recv_json()["type"], "job")
        ws.send_text('{"id": 1, "type": "step.finished", "step": 0, "result": "success", '
                     '"request": %d, "attempt": 1, "properties": {"x": %s}}' % (rid, deep))
        self.assertIsNone(ws.recv_json())  # refused like any message that is not JSON
        ws.close()
        self.alive()

    def post(self, path, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.g.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def test_api_bodies_with_fields_of_the_wrong_type_are_400(self):
        # A trigger call needs a job token: take a job as a hand-written worker.
        self.g.force("hello")
        ws = WsClient("127.0.0.1", self.g.port)
        ws.send_json(self.hello())
        self.assertEqual(ws.recv_json()["type"], "welcome")
        token = ws.recv_json()["job"]["api_token"]
        bearer = {"Authorization": "Bearer " + token}
        cases = [
            ("/api/v1/builders/hello/force", {"properties": 5}, None, "properties"),
            ("/api/v1/builders/hello/force", {"properties": []}, None, "properties"),
            ("/api/v1/builders/hello/force", {"reason": 5}, None, "reason"),
            ("/api/v1/builders/hello/force", [1, 2], None, ""),
            ("/api/v1/builders/hello/force", "text", None, ""),
            ("/api/v1/jobs", {"consumer": 5}, None, "consumer"),
            ("/api/v1/jobs", {"consumer": ["c"]}, None, "consumer"),
            ("/api/v1/jobs", {"consumer": "c", "reason": {}}, None, "reason"),
            ("/api/v1/jobs", 7, None, ""),
            ("/api/v1/builds/1/rebuild", {"reason": 5}, None, "reason"),
            ("/api/v1/builds/1/rebuild", [], None, ""),
            ("/api/v1/login", {"name": 5, "password": "x"}, None, "name"),
            ("/api/v1/login", {"name": "a", "password": []}, None, "password"),
            ("/api/v1/login", None, None, ""),
            ("/api/v1/trigger", {"target": 5}, bearer, "target"),
            ("/api/v1/trigger", {"target": "hello", "properties": "x"}, bearer, "properties"),
            ("/api/v1/trigger", {"target": "hello", "properties": [1]}, bearer, "properties"),
            ("/api/v1/trigger", ["hello"], bearer, ""),
            ("/api/v1/hooks/generic", {"repository": 5, "branch": "m", "revision": "1"},
             {"Authorization": "Bearer tok"}, "repository"),
            ("/api/v1/hooks/generic", {"repository": "r", "branch": "m", "revision": "1",
                                       "when": "yesterday"}, {"Authorization": "Bearer tok"},
             "when"),
            ("/api/v1/hooks/generic", {"changes": [{"repository": "r", "branch": "m",
                                                    "revision": "1", "files": [1]}]},
             {"Authorization": "Bearer tok"}, "files"),
            ("/api/v1/hooks/generic", {"changes": {"a": 1}}, {"Authorization": "Bearer tok"},
             "changes"),
        ]
        for path, body, headers, named in cases:
            with self.subTest(path=path, body=body):
                status, answer = self.post(path, b"null" if body is None else body, headers)
                self.assertEqual(status, 400, answer)
                self.assertIn(named, answer["error"])
                self.alive()
        ws.close()
        # And a real worker still builds.
        self.g.start_worker("w1")
        self.assertEqual(self.g.wait_request(self.g.force("hello"))["result"], "success")
        self.alive()


if __name__ == "__main__":
    unittest.main()
