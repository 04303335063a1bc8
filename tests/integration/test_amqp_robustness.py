"""Robustness (test_robustness) in distributed mode: garbage on the master's HTTP port changes
nothing with RabbitMQ as the broker either."""
import unittest

import test_robustness
from amqp_harness import AmqpTestCase

WS_ONLY = "about the embedded broker's WebSocket endpoint (AMQP workers never use it)"


class AmqpRobustnessTests(AmqpTestCase, test_robustness.RobustnessTests):
    worker_tags = {"w1": ["linux"]}

    @unittest.skip(WS_ONLY)
    def test_worker_endpoint_refuses_strangers_and_garbage(self):
        pass

    @unittest.skip(WS_ONLY)
    def test_a_worker_written_from_the_protocol_doc(self):
        pass


# Only the AMQP variant runs from this file (test_robustness runs the embedded one).
del test_robustness

if __name__ == "__main__":
    unittest.main()
