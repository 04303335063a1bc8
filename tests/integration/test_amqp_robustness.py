"""Robustness (test_robustness) in distributed mode: garbage on the master's HTTP port changes
nothing with RabbitMQ as the broker either."""
import json
import unittest

import pika

import test_robustness
from amqp_harness import AmqpTestCase
from grove_harness import wait_for

WS_ONLY = "about the embedded broker's WebSocket endpoint (AMQP workers never use it)"


class AmqpRobustnessTests(AmqpTestCase, test_robustness.RobustnessTests):
    worker_tags = {"w1": ["linux"]}

    @unittest.skip(WS_ONLY)
    def test_worker_endpoint_refuses_strangers_and_garbage(self):
        pass

    @unittest.skip(WS_ONLY)
    def test_a_worker_written_from_the_protocol_doc(self):
        pass


class AmqpMessageRobustnessTests(AmqpTestCase):
    """What anyone with access to the vhost can publish does not stop the master."""
    worker_tags = {"w1": ["linux"]}

    def test_events_with_fields_of_the_wrong_type_are_dead_lettered(self):
        g = self.make('worker "w1" { secret = secret "w1", tags = { "linux" } }\n'
                      'builder "b" { tags = { "linux" }, steps = { shell { "true" } } }\n',
                      workers=["w1"])
        g.start_master()
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.addCleanup(conn.close)
        ch = conn.channel()
        bad = [{"worker": "w1", "type": "job.started", "id": "seven", "request": 1},
               {"worker": "w1", "type": "hello", "instance": 5},
               [{"worker": "w1", "type": "log", "id": 1}, {"worker": "w2", "type": "log"}],
               {"worker": "w1", "type": "hello", "instance": "x", "capacity": "two",
                "secret": ["no"], "running": "none"}]
        for body in bad:
            ch.basic_publish("grove.events", "w1.x", json.dumps(body).encode(),
                             pika.BasicProperties(delivery_mode=2))
        wait_for(lambda: self.queue_depth("grove.deadletters") >= 3, what="the dead letters")
        # The master still consumes events: a real worker connects and builds.
        g.start_worker("w1")
        self.assertEqual(g.wait_request(g.force("b"), timeout=30)["result"], "success")
        self.assertTrue(g.master.alive())
        # Nor does garbage on the worker's control queue stop the worker.
        for body in [{"type": 5}, {"type": "cancel", "request": "x", "attempt": []},
                     {"type": "welcome", "instance": {}}, "just a string", [1, 2]]:
            ch.basic_publish("grove.control", "w1", json.dumps(body).encode())
        wait_for(lambda: self.queue_depth("grove.control.w1") == 0, what="the control queue read")
        self.assertEqual(g.wait_request(g.force("b"), timeout=30)["result"], "success")
        self.assertTrue(g.workers["w1"].alive())

    def test_a_hello_with_a_field_of_the_wrong_type_is_refused(self):
        g = self.make('worker "w1" { secret = secret "w1", tags = { "linux" } }\n'
                      'builder "b" { tags = { "linux" }, steps = { shell { "true" } } }\n',
                      workers=["w1"])
        g.start_master()
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.addCleanup(conn.close)
        ch = conn.channel()
        control = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(control, "grove.control", "w1")
        hello = {"worker": "w1", "type": "hello", "v": 1, "instance": "i1",
                 "secret": g.secrets["w1"], "capacity": 1, "running": [{"request": "a"}]}
        ch.basic_publish("grove.events", "w1.hello", json.dumps(hello).encode())

        def answer():
            _, _, body = ch.basic_get(control, auto_ack=True)
            return json.loads(body) if body else None
        refused = wait_for(answer, what="the answer to the hello")
        self.assertEqual((refused["type"], refused["instance"]), ("refused", "i1"))
        self.assertIn("'request' must be an integer", refused["error"])
        g.start_worker("w1")
        self.assertEqual(g.wait_request(g.force("b"), timeout=30)["result"], "success")
        self.assertTrue(g.master.alive())

    def test_malformed_event_arrays_of_a_connected_worker_are_dead_lettered_without_loss(self):
        """The master reads a connected worker's usual events without a JSON tree
        (core/event_parse.h); a message with any event or field out of place still goes the
        checked way and is dead-lettered, alone: the worker's own events around it are all
        applied."""
        g = self.make('worker "w1" { secret = secret "w1", tags = { "linux" } }\n'
                      'builder "b" { tags = { "linux" }, steps = { shell { "true" } } }\n',
                      workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        first = [g.force("b") for _ in range(5)]
        for rid in first:
            self.assertEqual(g.wait_request(rid, timeout=30)["result"], "success")
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.addCleanup(conn.close)
        ch = conn.channel()
        ok = {"worker": "w1", "type": "job.started", "request": 999999, "attempt": 1,
              "step": 0, "name": "x"}
        deep = "1"
        for _ in range(101):
            deep = '{"a":' + deep + "}"
        bad = [json.dumps([ok, {**ok, "type": "job.finished", "id": "x"}]),
               json.dumps([ok, {**ok, "worker": "w2"}]),
               json.dumps([ok, 5]),
               json.dumps([{**ok, "step": -1}]),
               json.dumps([{**ok, "attempt": 2 ** 31}]),
               json.dumps({**ok, "type": "job.finished", "result": 7}),
               json.dumps([{**ok, "type": "job.finished", "properties": [1]}]),
               json.dumps([{**ok, "worker": None}]),
               '{"worker": "w1", "type": "job.started", "type": 5}',
               '[{"worker": "w1", "type": "job.finished", "result_json": ' + deep + "}]",
               '[{"worker": "w1", "type": "job.started"',
               "[]"]
        for body in bad:
            ch.basic_publish("grove.events", "w1.job.started", body.encode(),
                             pika.BasicProperties(delivery_mode=2))
        later = [g.force("b") for _ in range(5)]
        wait_for(lambda: self.queue_depth("grove.deadletters") >= len(bad),
                 what="the dead letters")
        for rid in first + later:
            req = g.wait_request(rid, timeout=30)
            self.assertEqual(req["result"], "success", req)
            build = g.build(req["builds"][0]["id"])
            self.assertEqual(build["worker"], "w1")
            self.assertEqual([(s["state"], s["result"]) for s in build["steps"]],
                             [("finished", "success")])
        self.assertEqual(self.queue_depth("grove.deadletters"), len(bad))
        log = g.master.output()
        self.assertIn("events of more than one worker", log)
        self.assertIn("'step' must be between 0 and", log)
        self.assertTrue(g.master.alive())
        self.assertTrue(g.workers["w1"].alive())


# Only the AMQP variant runs from this file (test_robustness runs the embedded one).
del test_robustness

if __name__ == "__main__":
    unittest.main()
