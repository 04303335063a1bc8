"""Distributed mode for the integration tests: the same Grove harness, with the master's broker
set to RabbitMQ and workers started with --broker (scripts/rabbitmq.sh runs the node)."""
import os
import subprocess
import unittest
import urllib.parse
import uuid

from grove_harness import Grove, GroveTestCase, Proc, wait_for

AMQP_URL = os.environ.get("GROVE_TEST_AMQP_URL", "")
RABBITMQ_DIR = os.environ.get("GROVE_RABBITMQ_DIR", "")
RABBITMQ_SH = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "rabbitmq.sh")

SKIP_REASON = "GROVE_TEST_AMQP_URL is unset (scripts/test.sh starts RabbitMQ and sets it)"


def fresh_vhost_url():
    """A vhost of its own for one test class, when the node is ours (scripts/test.sh): one of
    those `rabbitmq.sh vhost-pool` made beforehand when there is one left, else a new one."""
    if not RABBITMQ_DIR:
        return AMQP_URL
    pool = os.path.join(RABBITMQ_DIR, "vhost-pool")
    try:
        names = sorted(os.listdir(pool))
    except FileNotFoundError:
        names = []
    for name in names:
        try:
            os.unlink(os.path.join(pool, name))  # taken: exactly one test class succeeds
        except FileNotFoundError:
            continue
        return AMQP_URL.rsplit("/", 1)[0] + "/" + name
    name = "t-" + uuid.uuid4().hex[:12]
    out = subprocess.run([RABBITMQ_SH, "vhost", RABBITMQ_DIR, name], check=True,
                         capture_output=True, text=True, timeout=120)
    return out.stdout.strip()


def tls_url(plain_url):
    """The amqps:// URL (cacertfile = the node's test CA) of the same vhost as |plain_url| on
    our node (scripts/rabbitmq.sh tls-url); "" when the node is not ours or has no TLS
    listener."""
    if not RABBITMQ_DIR:
        return ""
    vhost = plain_url.rsplit("/", 1)[1]
    out = subprocess.run([RABBITMQ_SH, "tls-url", RABBITMQ_DIR, vhost], capture_output=True,
                         text=True, timeout=60)
    return out.stdout.strip() if out.returncode == 0 else ""


def add_user(name, password, plain_url):
    """A user with all rights on the vhost of |plain_url| (our node only)."""
    vhost = urllib.parse.unquote(plain_url.rsplit("/", 1)[1])
    subprocess.run([RABBITMQ_SH, "user", RABBITMQ_DIR, name, password, vhost], check=True,
                   capture_output=True, text=True, timeout=120)


class AmqpGrove(Grove):
    """A Grove whose master uses |url| as its broker; worker_tags: name -> [tags]."""
    waiting_state = "claimed"  # the master claims a request at once and publishes its job

    def __init__(self, url, worker_tags, worker_capacity, config_body, workers=None, grace="2s"):
        self.amqp_url = url
        self.worker_tags = worker_tags
        self.worker_capacity = worker_capacity
        super().__init__(config_body, workers, grace)

    def write_config(self, body):
        super().write_config(body)
        path = os.path.join(self.dir, "grove.lua")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace('broker "embedded"', f'broker "{self.amqp_url}"', 1))

    def start_worker(self, name, secret=None, extra=None, wait=True):
        secret_file = os.path.join(self.root, f"{name}.secret")
        with open(secret_file, "w") as f:
            f.write((secret if secret is not None else self.secrets[name]) + "\n")
        workdir = os.path.join(self.root, "workers", name)
        args = ["worker", "--broker", self.amqp_url, "--master", self.url, "--name", name,
                "--secret-file", secret_file, "--workdir", workdir]
        if name in self.worker_capacity:
            args += ["--capacity", str(self.worker_capacity[name])]
        tags = self.worker_tags.get(name, [])
        if tags:
            args += ["--tags", ",".join(tags)]
        proc = Proc(args + (extra or []), os.path.join(self.root, f"worker-{name}.log"))
        self.workers[name] = proc
        if wait:
            wait_for(lambda: self.worker_connected(name), what=f"worker {name} to connect")
        return proc


class AmqpTestCase(GroveTestCase):
    """make() gives AmqpGroves on one vhost per test class."""
    worker_tags = {}
    worker_capacity = {}  # the AMQP worker's --capacity (it does not read the master's config)
    amqp_url = None

    @classmethod
    def setUpClass(cls):
        if not AMQP_URL:
            raise unittest.SkipTest(SKIP_REASON)
        cls.amqp_url = fresh_vhost_url()

    def setUp(self):
        self.reset_broker()  # before the test's own setUp starts a master and workers
        super().setUp()

    def reset_broker(self):
        """Deletes the queues an earlier test of this class may have left (request ids start
        again at 1 with every new master, so a stale job or event would be mistaken for one of
        this test's)."""
        import itertools
        import pika
        names = {"grove.events.master", "grove.deadletters", "grove.jobs._any"}
        for name, tags in self.worker_tags.items():
            names.add("grove.control." + name)
            for n in range(1, len(tags) + 1):
                for sub in itertools.combinations(sorted(tags), n):
                    names.add("grove.jobs." + "+".join(sub))
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            ch = conn.channel()
            for q in sorted(names):
                ch.queue_delete(q)
        finally:
            conn.close()

    def channel(self):
        """A pika connection and channel to this class's vhost, closed when the test ends."""
        import pika
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        self.addCleanup(lambda: conn.is_open and conn.close())
        return conn, conn.channel()

    def merge_into_one_message(self, queue, n):
        """Takes every job message from |queue| (n jobs in all, one or several per message)
        and publishes the jobs back as ONE message, a JSON array of the master's job objects
        (docs/protocol.md), as the master does when jobs pile up."""
        import json
        import pika
        conn, ch = self.channel()
        jobs = []
        while True:
            method, _, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                break
            msg = json.loads(body)
            jobs.extend(msg if isinstance(msg, list) else [msg])
        self.assertEqual(len(jobs), n)
        ch.confirm_delivery()
        ch.basic_publish("grove.jobs", queue, json.dumps(jobs).encode(),
                         pika.BasicProperties(delivery_mode=2, content_type="application/json"))
        conn.close()

    def queue_depth(self, queue):
        """Messages ready in |queue| (not counting those delivered and not yet acknowledged)."""
        import pika
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            return conn.channel().queue_declare(queue, passive=True).method.message_count
        finally:
            conn.close()

    def make(self, config, workers=None, grace="2s"):
        g = AmqpGrove(self.amqp_url, self.worker_tags, self.worker_capacity, config, workers, grace)
        self.groves.append(g)
        return g
