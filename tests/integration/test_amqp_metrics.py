"""GET /metrics in distributed mode: RabbitMQ's queue depths, read by the master with a passive
declare off its core loop, as RabbitMQ itself reports them."""
import unittest
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from amqp_harness import AmqpTestCase
from grove_harness import wait_for

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "hello" { tags = { "linux" }, steps = { shell { "true" } } }
'''


def depths(g):
    with urllib.request.urlopen(g.url + "/metrics", timeout=30) as resp:
        text = resp.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "grove_amqp_queue_messages":
                out[s.labels["queue"]] = s.value
            elif s.name == "grove_amqp_dead_letters":
                out["(dead letters)"] = s.value
    return out


class AmqpMetricsTests(AmqpTestCase):
    worker_tags = {"w1": ["linux"]}

    def test_queue_depths_match_rabbitmq(self):
        g = self.make(CONFIG, workers=["w1"])
        g.start_master()
        for _ in range(3):
            g.force("hello")  # no worker yet: the jobs wait in RabbitMQ
        wait_for(lambda: self.queue_depth("grove.jobs.linux") == 3, what="the jobs in RabbitMQ")
        # A scrape asks for fresh depths (at most every 5 s); a later one shows them.
        d = wait_for(lambda: (lambda d: d if d.get("grove.jobs.linux") == 3 else None)(depths(g)),
                     timeout=30, interval=1, what="the job queue's depth in /metrics")
        self.assertEqual(d["(dead letters)"], self.queue_depth("grove.deadletters"))
        self.assertIn("grove.events.master", d)
        g.start_worker("w1")
        wait_for(lambda: self.queue_depth("grove.jobs.linux") == 0, timeout=60, what="the jobs to run")
        wait_for(lambda: depths(g).get("grove.jobs.linux") == 0, timeout=30, interval=1,
                 what="the depth back to 0 in /metrics")


if __name__ == "__main__":
    unittest.main()
