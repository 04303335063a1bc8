"""The walking skeleton's build tests, in distributed mode: jobs and events through RabbitMQ."""
import unittest

import test_builds
from amqp_harness import AmqpTestCase


class AmqpBuildTests(AmqpTestCase, test_builds.BuildTests):
    worker_tags = {"w1": ["linux"]}
    worker_capacity = {"w1": 2}


# Only the AMQP variant runs from this file (test_builds runs the embedded one).
del test_builds

if __name__ == "__main__":
    unittest.main()
