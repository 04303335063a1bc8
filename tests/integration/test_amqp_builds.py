"""The walking skeleton's build tests, in distributed mode: jobs and events through RabbitMQ."""
import unittest

import test_builds
from amqp_harness import AmqpTestCase


class AmqpBuildTests(AmqpTestCase, test_builds.BuildTests):
    worker_tags = {"w1": ["linux"]}
    worker_capacity = {"w1": 2}

    def test_log_chunks_travel_as_binary_frames(self):
        """Once welcomed (welcome "v" 2), the worker publishes its log chunks as binary log
        frames (docs/protocol.md), which the master stores: the log reads back whole."""
        import pika
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            ch = conn.channel()
            spy = ch.queue_declare("", exclusive=True).method.queue
            ch.queue_bind(spy, "grove.events", "w1.log")
            req, build = self.finished_build("hello")
            self.assertEqual(req["result"], "success")
            bodies = []
            while True:
                method, props, body = ch.basic_get(spy, auto_ack=True)
                if method is None:
                    break
                bodies.append((props.content_type, body))
        finally:
            conn.close()
        self.assertTrue(bodies, "no log message was published")
        for content_type, body in bodies:
            self.assertEqual(content_type, "application/x-grove-log-frame")
            self.assertEqual(body[:4], b"GLF1")
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("hello from grove\n", log)
        self.assertIn("é ünïcode ✓", log)
        self.assertEqual(self.queue_depth("grove.deadletters"), 0)


# Only the AMQP variant runs from this file (test_builds runs the embedded one).
del test_builds

if __name__ == "__main__":
    unittest.main()
