"""Starts real Grove masters and workers on loopback for the integration tests and benchmarks.

Only Python's standard library is used, so Debian's python3 runs it as is.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

GROVE = os.environ.get("GROVE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "cli", "grove")


# Ports free_port() handed out: to this process, and (one empty file per port) to every test
# process of the machine in the last PORT_HOLD seconds. The port is free when probed, but only
# bound later, by a master or a test server: without this, ctest's parallel test processes were
# seen to get the same port, one test's master answering another's SMTP greeting.
_HANDED_OUT = set()
PORT_DIR = os.path.join(tempfile.gettempdir(), "grove-test-ports")
PORT_HOLD = 900


def free_port():
    os.makedirs(PORT_DIR, exist_ok=True)
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in _HANDED_OUT:
            continue
        path = os.path.join(PORT_DIR, str(port))
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            try:
                if time.time() - os.path.getmtime(path) < PORT_HOLD:
                    continue  # another test process has it
                os.utime(path)  # an old claim: this port is ours now
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("free_port: no port left unclaimed in 200 tries")


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    """True while |pid| exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


# --- PostgreSQL ------------------------------------------------------------------------------
# GROVE_TEST_STORE=postgres makes every master the harness starts use a fresh PostgreSQL database
# on the server of GROVE_TEST_PG_URL (scripts/test.sh starts one with scripts/postgres.sh).

def store_backend():
    return os.environ.get("GROVE_TEST_STORE", "sqlite")


def pg_url_with_database(url, name):
    """|url| (postgresql://USER:PW@HOST:PORT/DB?...) naming database |name| instead."""
    scheme, rest = url.split("://", 1)
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
        query = "?" + query
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}{query}"


def psql(url, sql, timeout=60):
    """Runs |sql| on the database of |url| with psql; returns its output (unaligned, no headers)."""
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"psql: {r.stderr.strip()}")
    return r.stdout


class PgDatabase:
    """A database of its own on the test server, so that tests run in parallel."""

    def __init__(self, base_url=None):
        self.base_url = base_url or os.environ.get("GROVE_TEST_PG_URL")
        if not self.base_url:
            raise unittest.SkipTest("GROVE_TEST_PG_URL is not set (scripts/test.sh sets it)")
        self.name = f"grove_it_{os.getpid()}_{os.urandom(4).hex()}"
        psql(self.base_url, f"CREATE DATABASE {self.name}")
        self.url = pg_url_with_database(self.base_url, self.name)

    def drop(self):
        if self.name:
            try:
                psql(self.base_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            except Exception as e:  # noqa: BLE001 - a leftover database must not fail the test
                print(f"could not drop {self.name}: {e}")
            self.name = None


SOURCE_DIR = os.environ.get("GROVE_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")


class PrivatePostgres:
    """A PostgreSQL server of the test's own (scripts/postgres.sh), for tests that stop it."""

    def __init__(self):
        self.script = os.path.join(SOURCE_DIR, "scripts", "postgres.sh")
        self.dir = tempfile.mkdtemp(prefix="grove-pg-")
        self.url = self._run("start")

    def _run(self, *args):
        r = subprocess.run(["bash", self.script, args[0], self.dir] + list(args[1:]),
                           capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise AssertionError(f"postgres.sh {args[0]}: {r.stderr.strip()}")
        return r.stdout.strip()

    def down(self):
        self._run("down")

    def up(self):
        self._run("start")

    def createdb(self, name):
        return self._run("createdb", name)

    def stop(self):
        try:
            self._run("stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Proc:
    """A grove process with its output in a log file."""

    def __init__(self, args, log_path, cwd=None):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.popen = subprocess.Popen([GROVE] + args, stdout=self.log, stderr=subprocess.STDOUT,
                                      cwd=cwd, start_new_session=True)

    @property
    def pid(self):
        return self.popen.pid

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.popen.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()
        return self.popen.returncode

    def kill_group(self):
        """SIGKILL the process and everything it started (its session)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self.log.close()


class Grove:
    """A master directory with its master and workers."""
    # The state of a request that waits for a worker (distributed mode: claimed, in RabbitMQ).
    waiting_state = "queued"

    def __init__(self, config_body, workers=None, grace="2s"):
        self.root = tempfile.mkdtemp(prefix="grove-test-")
        self.dir = os.path.join(self.root, "master")
        os.makedirs(os.path.join(self.dir, "secrets"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.grace = grace
        self.workers = {}
        self.master = None
        self.secrets = {}
        self.pg = PgDatabase() if store_backend() == "postgres" else None
        self.store_url = self.pg.url if self.pg else "sqlite:state/grove.db"
        self.store_line = None  # a whole store declaration, instead of store "store_url"
        for name in workers or []:
            self.secrets[name] = f"secret-of-{name}-" + os.urandom(8).hex()
            with open(os.path.join(self.dir, "secrets", name), "w") as f:
                f.write(self.secrets[name] + "\n")
        self.write_config(config_body)

    def write_config(self, body):
        with open(os.path.join(self.dir, "grove.lua"), "w") as f:
            store = self.store_line or f'store "{self.store_url}"'
            f.write(f'{store}\nbroker "embedded"\nweb {{ listen = "127.0.0.1:{self.port}" }}\n')
            f.write(body)

    def start_master(self, extra=None):
        self.master = Proc(["master", self.dir, "--worker-grace", self.grace] + (extra or []),
                           os.path.join(self.root, "master.log"))
        wait_for(self.ready, timeout=20, what="the master to answer")
        return self.master

    def ready(self):
        if self.master and not self.master.alive():
            raise AssertionError("master exited:\n" + self.master.output())
        try:
            self.get("/api/v1/status")
            return True
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def start_worker(self, name, secret=None, extra=None, wait=True):
        secret_file = os.path.join(self.root, f"{name}.secret")
        with open(secret_file, "w") as f:
            f.write((secret if secret is not None else self.secrets[name]) + "\n")
        workdir = os.path.join(self.root, "workers", name)
        proc = Proc(["worker", "--master", self.url, "--name", name, "--secret-file", secret_file,
                     "--workdir", workdir] + (extra or []),
                    os.path.join(self.root, f"worker-{name}.log"))
        self.workers[name] = proc
        if wait:
            wait_for(lambda: self.worker_connected(name), what=f"worker {name} to connect")
        return proc

    def worker_connected(self, name):
        return any(w["name"] == name and w["connected"] for w in self.get("/api/v1/workers"))

    # -- API ------------------------------------------------------------------------------
    def call(self, method, path, body=None, raw=False):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                payload = resp.read()
                return resp.status, (payload if raw else json.loads(payload)), dict(resp.headers)
        except urllib.error.HTTPError as e:
            payload = e.read()
            return e.code, (payload if raw else json.loads(payload or b"null")), dict(e.headers)

    def get(self, path):
        status, body, _ = self.call("GET", path)
        if status != 200:
            raise AssertionError(f"GET {path} -> {status} {body}")
        return body

    def force(self, builder, properties=None, reason=None):
        body = {"properties": properties or {}}
        if reason:
            body["reason"] = reason
        status, answer, _ = self.call("POST", f"/api/v1/builders/{builder}/force", body)
        if status != 201:
            raise AssertionError(f"force {builder} -> {status} {answer}")
        return answer["request"]

    def wait_request(self, request_id, timeout=30):
        def done():
            r = self.get(f"/api/v1/requests/{request_id}")
            return r if r["state"] in ("finished", "cancelled") else None
        return wait_for(done, timeout=timeout, what=f"request {request_id} to finish")

    def build(self, build_id):
        return self.get(f"/api/v1/builds/{build_id}")

    def log(self, build_id, step, **query):
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        status, body, headers = self.call("GET", f"/api/v1/builds/{build_id}/steps/{step}/log?{qs}", raw=True)
        if status != 200:
            raise AssertionError(f"log {build_id}/{step} -> {status} {body}")
        return body.decode("utf-8", "replace"), headers

    def log_so_far(self, build_id, step):
        """The step's log text, or "" while the step has not started (404): for polling."""
        status, body, _ = self.call("GET", f"/api/v1/builds/{build_id}/steps/{step}/log", raw=True)
        if status == 404:
            return ""
        if status != 200:
            raise AssertionError(f"log {build_id}/{step} -> {status} {body}")
        return body.decode("utf-8", "replace")

    def cli(self, *args, env_master=True):
        env = dict(os.environ)
        if env_master:
            env["GROVE_MASTER"] = self.url
        return subprocess.run([GROVE] + list(args), capture_output=True, text=True, env=env, timeout=120)

    def close(self):
        for w in self.workers.values():
            w.kill_group()
        if self.master:
            self.master.stop()
        if self.pg:
            self.pg.drop()
        if os.environ.get("GROVE_KEEP_TEST_DIRS"):
            print("kept", self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


class GroveTestCase(unittest.TestCase):
    """Closes every Grove the test made, and shows their logs when the test fails."""

    def setUp(self):
        self.groves = []

    def make(self, config, workers=None, grace="2s"):
        g = Grove(config, workers, grace)
        self.groves.append(g)
        return g

    def tearDown(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        failed = bool(result) and any(t is self for t, _ in result.errors + result.failures)
        for g in self.groves:
            if failed or os.environ.get("GROVE_SHOW_LOGS"):
                for name in os.listdir(g.root):
                    if name.endswith(".log"):
                        with open(os.path.join(g.root, name), errors="replace") as f:
                            print(f"----- {name} -----\n{f.read()[-4000:]}")
            g.close()
