"""The C++ consumer SDK (issue 5, include/grove/sdk.h): the example worker binary
(examples/consumers/cpp, built in-tree as grove-example-consumer) serves consume steps from
compiled-in consumers on the embedded broker (here) and over RabbitMQ (AmqpCppSdkTests): results
stored with the step, failure outcomes, a throwing consumer, cancellation of a long consumer,
step timeouts, command consumers alongside. InstalledSdkTests installs the SDK to a temporary
prefix and builds the example out of tree against it with pkg-config."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from amqp_harness import AmqpGrove, AmqpTestCase
from grove_harness import GROVE, GroveTestCase, wait_for

BUILD_DIR = os.environ.get("GROVE_BUILD_DIR") or os.path.dirname(
    os.path.dirname(os.path.abspath(GROVE)))
EXAMPLE = os.environ.get("GROVE_EXAMPLE_CONSUMER") or os.path.join(
    BUILD_DIR, "examples", "consumers", "cpp", "grove-example-consumer")
SOURCE_DIR = os.environ.get("GROVE_SOURCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")

CONFIG = r'''
worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }
builder "count" {
  tags = { "linux" },
  steps = { consume { "wordcount", payload = { text = "to be or not to be" }, name = "count" } },
}
builder "empty" {
  tags = { "linux" },
  steps = { consume { "wordcount", payload = { text = "   " } } },
}
builder "bad" {
  tags = { "linux" },
  steps = { consume { "wordcount", payload = { text = 42 } } },
}
builder "long" {
  tags = { "linux" },
  steps = { consume { "wordcount", payload = { text = "tick", passes = 100000, pause_ms = 20 } } },
}
builder "short-fuse" {
  tags = { "linux" },
  steps = { consume { "wordcount", payload = { text = "tick", passes = 100000, pause_ms = 20 },
                      timeout = "1s" } },
}
builder "mixed" {
  tags = { "linux" },
  steps = {
    consume { "echo", payload = { greeting = "hi" }, name = "in-process" },
    consume { "shout", payload = { word = "hey" }, name = "command" },
  },
}
consumer { "echo", tags = { "linux" } }
'''


class CppSdkTests(GroveTestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(EXAMPLE):
            self.skipTest(f"{EXAMPLE} is not built (target grove-example-consumer)")
        self.g = self.make(CONFIG, workers=["w1"])
        self.g.start_master()
        script = os.path.join(self.g.root, "shout.py")
        with open(script, "w") as f:
            f.write("import json, sys\nprint(json.dumps({'loud': json.load(sys.stdin)['word'].upper()}))\n")
        self.worker = self.start_cpp_worker(
            self.g, "w1", ["--consumer", f"shout=/usr/bin/python3 {script}"])

    def start_cpp_worker(self, g, name, extra=()):
        """The example binary, with the flags the harness gives `grove worker`."""
        secret_file = os.path.join(g.root, f"{name}.secret")
        with open(secret_file, "w") as f:
            f.write(g.secrets[name] + "\n")
        args = [EXAMPLE, "--master", g.url, "--name", name, "--secret-file", secret_file,
                "--workdir", os.path.join(g.root, "workers", name)]
        if isinstance(g, AmqpGrove):
            args += ["--broker", g.amqp_url, "--tags", ",".join(g.worker_tags[name]),
                     "--capacity", str(g.worker_capacity[name])]
        log = open(os.path.join(g.root, f"worker-{name}.log"), "ab")
        proc = subprocess.Popen(args + list(extra), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()

        def cleanup():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.addCleanup(cleanup)
        wait_for(lambda: g.worker_connected(name), what=f"worker {name} to connect")
        return proc

    def finished_build(self, request_id, timeout=30):
        req = self.g.wait_request(request_id, timeout=timeout)
        self.assertTrue(req["builds"], req)
        return req, self.g.build(req["builds"][-1]["id"])

    def test_result_of_a_consumer_is_stored_with_its_step(self):
        req, build = self.finished_build(self.g.force("count"))
        self.assertEqual(req["result"], "success", build)
        step = build["steps"][0]
        self.assertEqual(step["name"], "count")
        self.assertEqual(step["result_json"]["words"], 6)
        self.assertEqual(step["result_json"]["counts"], {"be": 2, "not": 1, "or": 1, "to": 2})
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("pass 1/1: 6 words so far", log)

    def test_echo_consumer_job_through_the_api(self):
        payload = {"n": 7, "nested": {"list": [1, "two", None]}, "text": "h\u00e9"}
        status, answer, _ = self.g.call("POST", "/api/v1/jobs",
                                        {"consumer": "echo", "payload": payload})
        self.assertEqual(status, 201, answer)
        req, build = self.finished_build(answer["request"])
        self.assertEqual(req["result"], "success", build)
        self.assertEqual(build["steps"][0]["result_json"], payload)

    def test_failure_outcome_fails_the_step_with_its_message_logged(self):
        req, build = self.finished_build(self.g.force("empty"))
        self.assertEqual(req["result"], "failure", build)
        self.assertNotIn("result_json", build["steps"][0])
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("no words in payload.text", log)

    def test_throwing_consumer_is_an_exception_and_the_worker_lives_on(self):
        req, build = self.finished_build(self.g.force("bad"))
        self.assertEqual(req["result"], "exception", build)
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("consumer threw: payload.text must be a string", log)
        self.assertIsNone(self.worker.poll(), "the worker died")
        req, _ = self.finished_build(self.g.force("count"))
        self.assertEqual(req["result"], "success")

    def test_stopping_a_long_consumer_cancels_it(self):
        request = self.g.force("long")

        def running_build():
            r = self.g.get(f"/api/v1/requests/{request}")
            if not r["builds"]:
                return None
            build_id = r["builds"][-1]["id"]
            try:
                log, _ = self.g.log(build_id, 0)
            except AssertionError:
                return None
            return build_id if "pass 3/100000" in log else None
        build_id = wait_for(running_build, timeout=20, what="the long consumer to make progress")
        started = time.monotonic()
        status, answer, _ = self.g.call("POST", f"/api/v1/builds/{build_id}/stop", {})
        self.assertIn(status, (200, 202), answer)
        req, build = self.finished_build(request, timeout=20)
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(build["result"], "cancelled", build)
        self.assertEqual(build["steps"][0]["result"], "cancelled")
        log, _ = self.g.log(build_id, 0)
        self.assertIn("cancelled after", log)
        self.assertNotIn("pass 100000/100000", log)
        # The worker is free again: the cancelled consumer really returned.
        req, _ = self.finished_build(self.g.force("count"))
        self.assertEqual(req["result"], "success")

    def test_two_long_consumers_run_side_by_side(self):
        # capacity 2: both run at once on the worker's pool, neither waits for the other.
        requests = [self.g.force("long"), self.g.force("long")]

        def both_progressing():
            ids = []
            for request in requests:
                r = self.g.get(f"/api/v1/requests/{request}")
                if not r["builds"]:
                    return None
                try:
                    if "pass 3/" not in self.g.log(r["builds"][-1]["id"], 0)[0]:
                        return None
                except AssertionError:
                    return None
                ids.append(r["builds"][-1]["id"])
            return ids
        for build_id in wait_for(both_progressing, timeout=20, what="both consumers to run"):
            self.g.call("POST", f"/api/v1/builds/{build_id}/stop", {})
        for request in requests:
            req, build = self.finished_build(request, timeout=20)
            self.assertEqual(build["result"], "cancelled", build)

    def test_sigterm_stops_a_running_consumer_and_the_worker_exits(self):
        request = self.g.force("long")

        def progressing():
            r = self.g.get(f"/api/v1/requests/{request}")
            if not r["builds"]:
                return False
            try:
                return "pass 2/" in self.g.log(r["builds"][-1]["id"], 0)[0]
            except AssertionError:
                return False
        wait_for(progressing, timeout=20, what="the long consumer to make progress")
        started = time.monotonic()
        self.worker.terminate()
        self.assertEqual(self.worker.wait(timeout=15), 0)
        self.assertLess(time.monotonic() - started, 10)

    def test_step_timeout_asks_the_consumer_to_stop(self):
        req, build = self.finished_build(self.g.force("short-fuse"), timeout=20)
        self.assertEqual(req["result"], "failure", build)
        log, _ = self.g.log(build["id"], 0)
        self.assertIn("timed out after 1s", log)
        self.assertIn("cancelled after", log)

    def test_command_consumers_still_work_beside_compiled_ones(self):
        req, build = self.finished_build(self.g.force("mixed"))
        self.assertEqual(req["result"], "success", build)
        first, second = build["steps"]
        self.assertEqual(first["result_json"]["greeting"], "hi")
        self.assertEqual(second["result_json"], {"loud": "HEY"})

    def test_flags_are_those_of_grove_worker(self):
        out = subprocess.run([EXAMPLE, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        for flag in ("--master", "--broker", "--name", "--secret-file", "--capacity", "--tags",
                     "--workdir", "--consumer"):
            self.assertIn(flag, out.stdout)
        self.assertIn("Consumers: echo, wordcount", out.stdout)
        out = subprocess.run([EXAMPLE, "--name", "x", "--secret-file", "/nonexistent"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("cannot read secret file /nonexistent", out.stderr)
        out = subprocess.run([EXAMPLE, "--name", "x", "--secret-file", "s", "--capacity", "0"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)


class AmqpCppSdkTests(AmqpTestCase, CppSdkTests):
    worker_tags = {"w1": ["linux"]}
    worker_capacity = {"w1": 2}

    def test_flags_are_those_of_grove_worker(self):
        self.skipTest("broker-independent: runs in CppSdkTests")


class InstalledSdkTests(unittest.TestCase):
    """`cmake --install` gives a header, a library and a pkg-config file that a project of its
    own builds against: the example's CMakeLists.txt, out of tree."""

    def test_example_builds_against_the_installed_sdk(self):
        if not os.path.exists(os.path.join(BUILD_DIR, "CMakeCache.txt")):
            self.skipTest(f"no CMake build directory at {BUILD_DIR}")
        tmp = tempfile.mkdtemp(prefix="grove-sdk-install-")
        self.addCleanup(shutil.rmtree, tmp, True)
        prefix = os.path.join(tmp, "prefix")

        def run(*args, **kw):
            r = subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kw)
            self.assertEqual(r.returncode, 0, f"{args}:\n{r.stdout}\n{r.stderr}")
            return r
        run("cmake", "--install", BUILD_DIR, "--prefix", prefix)
        self.assertTrue(os.path.exists(os.path.join(prefix, "include", "grove", "sdk.h")))
        self.assertTrue(os.access(os.path.join(prefix, "bin", "grove"), os.X_OK))
        pc_dirs = [os.path.join(root) for root, _, files in os.walk(prefix) if "grove-sdk.pc" in files]
        self.assertEqual(len(pc_dirs), 1, pc_dirs)
        env = dict(os.environ, PKG_CONFIG_PATH=pc_dirs[0])
        flags = run("pkg-config", "--cflags", "--libs", "grove-sdk", env=env).stdout
        self.assertIn("-lgrove-sdk", flags)
        self.assertIn("/include", flags)
        build = os.path.join(tmp, "build")
        run("cmake", "-S", os.path.join(SOURCE_DIR, "examples", "consumers", "cpp"), "-B", build,
            "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={prefix}")
        run("cmake", "--build", build)
        binary = os.path.join(build, "grove-example-consumer")
        out = run(binary, "--help")
        self.assertIn("Consumers: echo, wordcount", out.stdout)
        # Only the SDK's own symbols are exported by the library.
        lib = [os.path.join(root, f) for root, _, files in os.walk(prefix) for f in files
               if f.startswith("libgrove-sdk.so")]
        self.assertTrue(lib, "libgrove-sdk.so not installed")
        syms = run("nm", "-D", "--defined-only", "-C", lib[0]).stdout.splitlines()
        leaked = [s for s in syms if " T " in s and "grove::sdk::" not in s]
        self.assertEqual(leaked, [], "\n".join(leaked[:20]))


if __name__ == "__main__":
    unittest.main()
