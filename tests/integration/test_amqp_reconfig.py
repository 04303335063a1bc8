"""Reconfig (test_reconfig) in distributed mode: a changed grove.lua applies whole or not at all,
and a build running through RabbitMQ is not dropped."""
import unittest

import test_reconfig
from amqp_harness import AmqpTestCase


class AmqpReconfigTests(AmqpTestCase, test_reconfig.ReconfigTests):
    worker_tags = {"w1": ["linux"]}


# Only the AMQP variant runs from this file (test_reconfig runs the embedded one).
del test_reconfig

if __name__ == "__main__":
    unittest.main()
