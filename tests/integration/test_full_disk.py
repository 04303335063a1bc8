"""A full disk under the master's store loses no log and leaves no build stuck.

The master's state directory is a small tmpfs; while builds stream logs of many 64 KiB chunks,
a filler file takes every free byte, so the store's commits fail (SQLITE_FULL). Then the space
is freed. Every build must end with its complete log and its true result (or as an exception
that says why in its log), never as a success with a hole; and the master must recover by
itself: no build stays running, new builds succeed, without a restart.
"""
import errno
import hashlib
import os
import subprocess
import time
import unittest

from grove_harness import GroveTestCase, wait_for

ROUNDS, LINES = 6, 2500  # about 2 MB of log per build, 32 chunks; a round every 0.4 s


def expected_log():
    out = []
    for i in range(ROUNDS * LINES):
        h = hashlib.sha256(str(i).encode()).hexdigest()
        out.append(f"{i:06d} {h}{h[::-1]}\n")
    return "".join(out)


GENERATOR = f'''
import hashlib, sys, time
for r in range({ROUNDS}):
    for i in range(r * {LINES}, (r + 1) * {LINES}):
        h = hashlib.sha256(str(i).encode()).hexdigest()
        sys.stdout.write(f"{{i:06d}} {{h}}{{h[::-1]}}\\n")
    sys.stdout.flush()
    time.sleep(0.4)
'''


def config(generator):
    return f'''
worker "w1" {{ secret = secret "w1", capacity = 2 }}
worker "w2" {{ secret = secret "w2", capacity = 2 }}
builder "chunks" {{ steps = {{ shell {{ "python3 {generator}", name = "out" }} }} }}
'''


def fill(path):
    """Writes |path| until the file system has not one byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for block in (1 << 20, 1 << 12, 1):
            data = b"\xa5" * block
            try:
                while True:
                    os.write(fd, data)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)


class FullDiskTests(GroveTestCase):
    def mount_state(self, g):
        state = os.path.join(g.dir, "state")
        os.makedirs(state, exist_ok=True)
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a tmpfs for the master's state directory")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", state],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        # After tearDown has stopped the master: the file system goes, whatever happened.
        self.addCleanup(lambda: subprocess.run(["umount", "-l", state], capture_output=True))
        return state

    def check_request(self, g, rid, want):
        """The request ended with its whole log, or as an exception that says why."""
        req = g.get(f"/api/v1/requests/{rid}")
        self.assertIn(req["result"], ("success", "exception"), req)
        for b in req["builds"]:
            build = g.build(b["id"])
            if build["result"] not in ("success", "exception"):
                continue  # a retried attempt (lost worker): the next one counts
            log, _ = g.log(build["id"], 0, limit=16 << 20)
            if build["result"] == "success":
                self.assertEqual(build["steps"][0]["result"], "success")
                self.assertEqual(len(log), len(want), f"build {build['id']}: log length")
                self.assertTrue(log == want, f"build {build['id']}: the log differs")
            else:
                self.assertIn("[grove]", log, f"build {build['id']}: exception without a reason")
        if req["result"] == "success":
            self.assertEqual(req["builds"][-1]["result"], "success")

    def test_full_disk_loses_no_log_and_the_master_recovers(self):
        gen = None
        g = self.make(config("GEN"), workers=["w1", "w2"], grace="30s")
        gen = os.path.join(g.root, "gen.py")
        with open(gen, "w") as f:
            f.write(GENERATOR)
        g.write_config(config(gen))
        state = self.mount_state(g)
        want = expected_log()
        g.start_master()
        g.start_worker("w1")
        g.start_worker("w2")
        rids = [g.force("chunks") for _ in range(6)]

        def logging_started():
            for rid in rids:
                req = g.get(f"/api/v1/requests/{rid}")
                if req["builds"]:
                    steps = g.build(req["builds"][-1]["id"])["steps"]
                    if steps and steps[0].get("log_bytes", 0) > 0:
                        return True
            return False
        wait_for(logging_started, timeout=60, what="a build to log")

        filler = os.path.join(state, "filler")
        fill(filler)
        # The store's commits fail now (the test would prove nothing otherwise).
        wait_for(lambda: "disk is full" in g.master.output(), timeout=30,
                 what="the master's store to fail on the full disk")
        time.sleep(4)
        os.unlink(filler)

        # The master recovers by itself: every request ends, nothing stays running or claimed.
        for rid in rids:
            g.wait_request(rid, timeout=int(os.environ.get("GROVE_TEST_WAIT", "120")))
        wait_for(lambda: g.get("/api/v1/status")["running_count"] == 0, timeout=30,
                 what="no build to be running")
        for rid in rids:
            self.check_request(g, rid, want)
        self.assertTrue(any(g.get(f"/api/v1/requests/{r}")["result"] == "success" for r in rids))

        # And it goes on working, without a restart.
        more = [g.force("chunks") for _ in range(2)]
        for rid in more:
            self.assertEqual(g.wait_request(rid, timeout=120)["result"], "success")
            self.check_request(g, rid, want)
        self.assertTrue(g.master.alive())


if __name__ == "__main__":
    unittest.main()
