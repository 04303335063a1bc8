"""test_full_disk over RabbitMQ: what the master cannot store is requeued and delivered again."""
import unittest

import test_full_disk
from amqp_harness import AmqpTestCase


class AmqpFullDiskTests(AmqpTestCase, test_full_disk.FullDiskTests):
    worker_capacity = {"w1": 2, "w2": 2}


# Only the AMQP variant runs from this file (test_full_disk runs the embedded one).
del test_full_disk

if __name__ == "__main__":
    unittest.main()
