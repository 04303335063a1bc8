"""Consumer jobs (test_consumers) in distributed mode: consume steps, POST /api/v1/jobs, grove
publish and cron-fired consumer jobs through RabbitMQ."""
import unittest

import test_consumers
from amqp_harness import AmqpTestCase


class AmqpConsumerTests(AmqpTestCase, test_consumers.ConsumerTests):
    worker_tags = {"w1": ["linux"]}
    worker_capacity = {"w1": 2}


# Only the AMQP variant runs from this file (test_consumers runs the embedded one).
del test_consumers

if __name__ == "__main__":
    unittest.main()
