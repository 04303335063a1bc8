"""The API tests (test_api.ApiTests) in distributed mode: the same answers with RabbitMQ as the
broker; a request made before any worker exists waits in RabbitMQ, not in the master."""
import unittest

import test_api
from amqp_harness import AmqpTestCase
from grove_harness import wait_for


class AmqpApiTests(AmqpTestCase, test_api.ApiTests):
    worker_tags = {"w1": ["linux"]}

    def test_a_request_is_durable_and_queued_without_workers(self):
        # In distributed mode the master claims the request at once with no worker (RabbitMQ
        # picks one), allocates its build (so buildnumber is known) and publishes its job,
        # which waits in the tag's queue until a worker comes (docs/protocol.md).
        rid = self.g.force("hello", properties={"a": "b"}, reason="testing")
        req = self.g.get(f"/api/v1/requests/{rid}")
        self.assertEqual((req["state"], req["reason"], req["properties"]), ("claimed", "testing", {"a": "b"}))
        self.assertEqual([(b["attempt"], b["worker"]) for b in req["builds"]], [(1, "")])
        wait_for(lambda: self.queue_depth("grove.jobs.linux") == 1, what="the job in RabbitMQ")
        workers = self.g.get("/api/v1/workers")
        self.assertEqual([(w["name"], w["connected"], w["tags"]) for w in workers], [("w1", False, ["linux"])])
        # The first worker to come runs it.
        self.g.start_worker("w1")
        done = self.g.wait_request(rid)
        self.assertEqual(done["result"], "success")
        self.assertEqual([b["id"] for b in done["builds"]], [b["id"] for b in req["builds"]])
        self.assertEqual(self.g.build(done["builds"][0]["id"])["worker"], "w1")


# Only the AMQP variant runs from this file (test_api runs the embedded one and the config checks,
# which do not depend on the broker).
del test_api

if __name__ == "__main__":
    unittest.main()
