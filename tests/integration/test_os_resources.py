"""The master and the operating system: descriptors, child processes, connection limits and file
modes (issue 15, defects 4, 5 and 14).

- Every descriptor of the master and the worker is close-on-exec. A crashed master's git child
  must neither keep the port busy (no inherited socket) nor live on without a bound of its own.
- A flood of idle connections that exhausts the open-file limit must not make the master spin;
  once the flood goes, it serves again and workers connect.
- Idle and hello-less connections are closed after a short time.
- The state directory and the store are private to the master's user.
"""
import os
import resource
import signal
import socket
import stat
import subprocess
import threading
import time
import unittest

from grove_harness import GROVE, GroveTestCase, Proc, pid_alive, wait_for
from ws_client import WsClient

WORKER = 'worker "w1" { secret = secret "w1", tags = { "linux" }, capacity = 2 }\n'
BUILDER = 'builder "b" { tags = { "linux" }, steps = { shell { "echo built" } } }\n'


def cpu_seconds(pid):
    """User + system CPU time of |pid| so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def socket_inodes(pid):
    """The socket inodes among |pid|'s descriptors."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            out.add(target)
    return out


def inheritable_descriptors(pid):
    """|pid|'s descriptors above stderr that are not close-on-exec, as "fd -> target"."""
    out = []
    for fd in sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd")):
        if fd <= 2:
            continue
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = next(line for line in f if line.startswith("flags:")).split()[1]
        except (OSError, StopIteration):
            continue  # closed meanwhile
        if not int(flags, 8) & 0o2000000:  # O_CLOEXEC
            out.append(f"{fd} -> {target}")
    return out


def processes_with(text):
    """Pids of the processes whose command line contains |text|, with their argv."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if any(text in a for a in argv) and pid_alive(int(name)):
            found[int(name)] = argv
    return found


class SilentGitServer:
    """A git:// "server" that accepts connections and never answers: a fetch from it hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.conns:
            c.close()


class LimitedProc(Proc):
    """A grove process started with RLIMIT_NOFILE = |nofile|."""

    def __init__(self, args, log_path, nofile):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        limit = (nofile, nofile)
        self.popen = subprocess.Popen(
            [GROVE] + args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))


class GitChildTests(GroveTestCase):
    def test_master_restarts_at_once_while_a_git_fetch_hangs(self):
        server = SilentGitServer()
        self.addCleanup(server.close)
        url = f"git://127.0.0.1:{server.port}/hangs.git"
        g = self.make(WORKER + BUILDER + f'''
local app = git {{ url = "{url}", poll = "1s" }}
schedule.on_change {{ "ci", source = app, builders = {{ "b" }} }}
''', workers=["w1"])
        g.start_master()
        wait_for(lambda: server.conns, timeout=20, what="git to connect to the silent server")
        gits = wait_for(lambda: {p: a for p, a in processes_with(url).items()
                                 if os.path.basename(a[0]) == "git"},
                        timeout=10, what="the git process")
        children = processes_with(url)  # git and what bounds it
        # No descriptor of the master in git (the listening socket kept the port busy).
        master_sockets = socket_inodes(g.master.pid)
        self.assertTrue(master_sockets)
        for pid in children:
            leaked = socket_inodes(pid) & master_sockets
            self.assertEqual(leaked, set(), f"{children[pid]} holds the master's sockets")
            fds = sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
            for fd in fds:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                self.assertNotIn("grove.db", target, f"{children[pid]} holds the store open")

        # The master dies mid-fetch; a new one takes the port at once.
        os.kill(g.master.pid, signal.SIGKILL)
        g.master.popen.wait()
        g.master.log.close()
        started = time.monotonic()
        g.start_master()
        self.assertLess(time.monotonic() - started, 10)

        # The old fetch ends on its own (SIGTERM when its master died; SIGKILL 5 s later at most).
        wait_for(lambda: not any(pid_alive(p) for p in children), timeout=20,
                 what="the dead master's git to end")
        for pid in gits:
            self.assertFalse(pid_alive(pid))

        # A clean stop does not wait for the new master's hanging fetch either.
        wait_for(lambda: len(server.conns) >= 2, timeout=20, what="the new master's fetch")
        new_children = set(processes_with(url)) - set(children)
        started = time.monotonic()
        self.assertEqual(g.master.stop(timeout=30), 0)
        self.assertLess(time.monotonic() - started, 10)
        wait_for(lambda: not any(pid_alive(p) for p in new_children), timeout=15,
                 what="the stopped master's git to end")


class CloseOnExecTests(GroveTestCase):
    def test_every_descriptor_of_master_and_worker_is_close_on_exec(self):
        g = self.make(WORKER + BUILDER, workers=["w1"])
        g.start_master()
        g.start_worker("w1")
        request = g.force("b")
        self.assertEqual(g.wait_request(request)["result"], "success")
        idle = socket.create_connection(("127.0.0.1", g.port), timeout=10)
        self.addCleanup(idle.close)
        time.sleep(0.5)
        # Sockets (listening, accepted, to the master), the store's files, pipes, event fds.
        self.assertEqual(inheritable_descriptors(g.master.pid), [])
        self.assertEqual(inheritable_descriptors(g.workers["w1"].pid), [])


class ConnectionFloodTests(GroveTestCase):
    NOFILE = 128

    def flood(self, g, count):
        conns = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
            conns.append(s)
        return conns

    def check_flood(self, g):
        """Idle connections beyond the descriptor limit, held for 5 s: the master stays calm,
        then serves again and takes a worker."""
        pid = g.master.pid
        conns = self.flood(g, 3 * self.NOFILE)
        try:
            time.sleep(0.5)
            cpu0, log0 = cpu_seconds(pid), os.path.getsize(g.master.log_path)
            time.sleep(5)
            cpu1, log1 = cpu_seconds(pid), os.path.getsize(g.master.log_path)
        finally:
            for s in conns:
                s.close()
        print(f"flood: master cpu {cpu1 - cpu0:.2f} s, log +{log1 - log0} bytes")
        self.assertLess(cpu1 - cpu0, 0.5, "the master spins while out of descriptors")
        self.assertLess(log1 - log0, 4096, "the master floods its log")
        wait_for(g.ready, timeout=15, what="the master to serve again")
        # The connected worker stayed; a worker that connects now is taken as well.
        self.assertTrue(g.worker_connected("w1"))
        g.start_worker("w2")
        request = g.force("b")
        self.assertEqual(g.wait_request(request)["result"], "success")

    def test_flood_at_the_connection_cap(self):
        # The limit is known at start: the cap stays below it, accepting pauses at the cap.
        g = self.make(WORKER + BUILDER + WORKER.replace("w1", "w2"), workers=["w1", "w2"])
        g.master = LimitedProc(["master", g.dir], os.path.join(g.root, "master.log"), self.NOFILE)
        wait_for(g.ready, timeout=20, what="the master to answer")
        g.start_worker("w1")
        self.check_flood(g)
        self.assertIn("connections open, the most allowed", g.master.output())

    def test_flood_when_descriptors_run_out(self):
        # The limit drops after start: accept() fails with EMFILE and must back off.
        g = self.make(WORKER + BUILDER + WORKER.replace("w1", "w2"), workers=["w1", "w2"])
        g.start_master()
        g.start_worker("w1")
        resource.prlimit(g.master.pid, resource.RLIMIT_NOFILE, (self.NOFILE, self.NOFILE))
        self.check_flood(g)
        self.assertIn("Too many open files", g.master.output())

    def test_idle_and_helloless_connections_are_closed(self):
        g = self.make(WORKER, workers=["w1"])
        g.start_master()
        idle = socket.create_connection(("127.0.0.1", g.port), timeout=40)
        partial = socket.create_connection(("127.0.0.1", g.port), timeout=40)
        partial.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")  # never finished
        ws = WsClient("127.0.0.1", g.port, timeout=40)  # upgraded, but says no hello
        started = time.monotonic()
        closed_after = {}

        def wait_closed(name, fn):
            try:
                while fn():
                    pass
            except socket.timeout:
                return  # still open after 40 s
            except (ConnectionError, OSError):
                pass
            closed_after[name] = time.monotonic() - started

        threads = [threading.Thread(target=wait_closed, args=a) for a in [
            ("idle", lambda: idle.recv(4096)),
            ("partial", lambda: partial.recv(4096)),
            ("websocket", lambda: ws.recv() is not None)]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for s in (idle, partial, ws.sock):
            s.close()
        # Closed after 15 s (header timeout) and 10 s (hello timeout), with room for a slow box.
        self.assertLess(closed_after.get("idle", 99), 25, closed_after)
        self.assertLess(closed_after.get("partial", 99), 25, closed_after)
        self.assertLess(closed_after.get("websocket", 99), 20, closed_after)
        self.assertTrue(g.ready())


class PrivateFilesTests(GroveTestCase):
    def test_state_is_private_after_a_build(self):
        g = self.make(WORKER + BUILDER, workers=["w1"])
        # A state directory left open by an older version, with an (empty) store in it.
        state = os.path.join(g.dir, "state")
        os.makedirs(state)
        os.chmod(state, 0o755)
        db = os.path.join(state, "grove.db")
        open(db, "w").close()
        os.chmod(db, 0o644)
        os.chmod(os.path.join(g.dir, "secrets"), 0o755)
        os.chmod(os.path.join(g.dir, "secrets", "w1"), 0o644)
        old_umask = os.umask(0o022)
        try:
            g.start_master()
        finally:
            os.umask(old_umask)
        g.start_worker("w1")
        request = g.force("b")
        self.assertEqual(g.wait_request(request)["result"], "success")

        self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o700)
        for name in ("grove.db", "grove.db-wal", "grove.db-shm"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(state, name)).st_mode), 0o600,
                             name)
        for root, dirs, files in os.walk(state):
            for name in dirs + files:
                mode = stat.S_IMODE(os.lstat(os.path.join(root, name)).st_mode)
                self.assertEqual(mode & 0o077, 0, f"{os.path.join(root, name)} is {mode:o}")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(g.dir, "secrets")).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(g.dir, "secrets", "w1")).st_mode),
                         0o600)
        self.assertIn("private to its owner (mode 0755 -> 0700)", g.master.output())


if __name__ == "__main__":
    unittest.main()
