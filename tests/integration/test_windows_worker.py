"""The Windows worker: grove-worker.exe (cross-built by scripts/build-windows.sh) under Debian's
Wine, headless, driven by a real Linux master over the embedded broker.

The exe is found in $GROVE_WINDOWS_WORKER (set by ctest), else build-windows/grove-worker.exe.
These tests are skipped only when Wine cannot start here; a missing exe is a failure (the test
command builds it). Wine's prefix (its C: drive) is kept next to the exe, so only the first run
pays for creating it.
"""
import hashlib
import io
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest
import urllib.request
import zipfile

from grove_harness import GroveTestCase, wait_for

SOURCE = os.environ.get("GROVE_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
EXE = os.environ.get("GROVE_WINDOWS_WORKER") or os.path.join(SOURCE, "build-windows",
                                                             "grove-worker.exe")
WINE = shutil.which("wine64") or "/usr/lib/wine/wine64"
PREFIX = os.environ.get("GROVE_WINEPREFIX") or os.path.join(
    os.path.dirname(os.path.abspath(EXE)), "wineprefix")


def wine_env():
    env = dict(os.environ, WINEPREFIX=PREFIX, WINEDEBUG="-all",
               # No Mono or Gecko installers (dialogs) when the prefix is made.
               WINEDLLOVERRIDES="mscoree=;mshtml=")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


def winpath(path):
    """A Linux path as Wine's Z: drive shows it to Windows programs."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def linuxpath(path):
    assert path[:2].upper() == "Z:", path
    return path[2:].replace("\\", "/")


def lua_escape(text):
    return text.replace("\\", "\\\\")


def setUpModule():
    if not os.path.exists(EXE):
        raise AssertionError(f"{EXE} is missing: build it with scripts/build-windows.sh")
    if not os.access(WINE, os.X_OK):
        raise unittest.SkipTest("Wine cannot start here: wine64 is not installed")
    try:
        # The first start creates the prefix: slow on a loaded machine.
        out = subprocess.run([WINE, "cmd", "/c", "echo", "grove-wine-ok"], env=wine_env(),
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise unittest.SkipTest("Wine cannot start here: `wine64 cmd` did not answer in 300 s")
    if b"grove-wine-ok" not in out.stdout:
        raise unittest.SkipTest("Wine cannot start here: " +
                                (out.stderr or out.stdout).decode(errors="replace")[-300:])


class TlsProxy:
    """A TLS-terminating proxy in front of the master (what nginx does in production)."""

    def __init__(self, target_port, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = target_port
        self.handshakes = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
            self.handshakes += 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
        except (OSError, ssl.SSLError):
            conn.close()
            return

        def pump(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        back = threading.Thread(target=pump, args=(upstream, tls), daemon=True)
        back.start()
        pump(tls, upstream)
        back.join()
        tls.close()
        upstream.close()

    def close(self):
        self.listener.close()


def make_certs(directory):
    """A CA, a server certificate it signed (localhost, 127.0.0.1), and a self-signed one."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=directory)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "ca.key",
        "-out", "ca.pem", "-subj", "/CN=Grove Test CA", "-addext",
        "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "self.key",
        "-out", "self.pem", "-subj", "/CN=localhost", "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1")
    return {name: os.path.join(directory, name) for name in
            ("ca.pem", "server.pem", "server.key", "self.pem", "self.key")}


def trust_in_wine(ca_pem):
    """Adds |ca_pem| to the prefix's trusted roots, as `certutil -addstore Root` would."""
    with open(ca_pem) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    thumb = hashlib.sha1(der).hexdigest().upper()
    # A serialized certificate store element: property 32 (the certificate), flags 1, length.
    blob = (32).to_bytes(4, "little") + (1).to_bytes(4, "little") + len(der).to_bytes(4, "little") + der
    reg = os.path.join(os.path.dirname(ca_pem), "ca.reg")
    with open(reg, "w", newline="\r\n") as f:
        f.write("REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\Software\\Microsoft\\SystemCertificates\\Root"
                f"\\Certificates\\{thumb}]\n\"Blob\"=hex:" + ",".join(f"{b:02x}" for b in blob) + "\n")
    out = subprocess.run([WINE, "reg", "import", winpath(reg)], env=wine_env(),
                         capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert out.returncode == 0, out


class WineWorker:
    """grove-worker.exe under Wine, in a session of its own (its Windows children too)."""

    def __init__(self, g, name, secret=None, extra=(), master=None):
        secret_file = os.path.join(g.root, f"{name}.secret")
        with open(secret_file, "w", newline="") as f:
            f.write((secret if secret is not None else g.secrets[name]) + "\r\n")
        self.workdir = os.path.join(g.root, "workers", name)
        self.log_path = os.path.join(g.root, f"worker-{name}.log")
        self.log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            [WINE, EXE, "--master", master or g.url, "--name", name, "--secret-file", winpath(secret_file),
             "--workdir", winpath(self.workdir)] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=wine_env(),
            start_new_session=True)
        self.pid = self.popen.pid

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.popen.poll() is None

    def kill_group(self):
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self.log.close()


def processes_with(marker):
    """Linux processes whose command line has |marker| (Wine shows a Windows process's own)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


class WindowsWorkerTest(GroveTestCase):
    def start(self, config, workers=("win",), linux=()):
        g = self.make(config, workers=list(workers) + list(linux))
        g.start_master()
        for name in linux:
            g.start_worker(name)
        for name in workers:
            g.workers[name] = WineWorker(g, name)
            wait_for(lambda: g.worker_connected(name) or self.exited(g.workers[name]),
                     timeout=120, what=f"Windows worker {name} to connect")
        return g

    def exited(self, worker):
        if not worker.alive():
            raise AssertionError("grove-worker.exe exited:\n" + worker.output())
        return False

    def run_build(self, g, builder, timeout=120):
        req = g.wait_request(g.force(builder), timeout=timeout)
        build = g.build(req["builds"][-1]["id"])
        return build, {s["name"]: s for s in build["steps"]}

    def test_cmd_steps_run_with_env_workdir_exit_codes_and_the_os_tag(self):
        g = self.start("""
worker "win" { secret = secret "win" }
worker "lin" { secret = secret "lin" }
builder "cmds" { tags = { "os:windows" }, steps = {
  shell { "echo hello& echo gr\u00fc\u00dfe", name = "echo" },
  shell { "echo %GREETING%& cd", name = "env", env = { GREETING = "hi there" },
          workdir = "sub\\\\dir" },
  shell { "exit 3", name = "three", halt_on_failure = false },
  shell { argv = { "cmd", "/d", "/c", "echo argv form" }, name = "argv" },
  shell { "echo never", name = "bad-dir", workdir = "out\\\\con" },
  checkout { repo = "https://git.example/app.git", name = "checkout", always_run = true },
} }
builder "on-linux" { tags = { "os:linux" }, steps = { shell { "uname -s", name = "uname" } } }
""", linux=("lin",))
        workers = {w["name"]: w for w in g.get("/api/v1/workers")}
        self.assertEqual(workers["win"]["os"], "windows")
        self.assertEqual(workers["lin"]["os"], "linux")

        build, steps = self.run_build(g, "cmds")
        self.assertEqual(build["worker"], "win")
        self.assertEqual(build["result"], "exception")
        self.assertEqual(steps["echo"]["result"], "success")
        # As the program printed it: CRLF kept; cmd's OEM code page decoded to UTF-8.
        log = g.log(build["id"], 0)[0]
        self.assertEqual(log, "hello\r\ngr\u00fc\u00dfe\r\n")
        self.assertEqual(steps["env"]["result"], "success")
        log = g.log(build["id"], 1)[0]
        self.assertIn("hi there\r\n", log)
        builddir = build["properties"]["builddir"]
        self.assertTrue(builddir.startswith("Z:\\"), builddir)
        self.assertIn(builddir + "\\sub\\dir\r\n", log)
        self.assertEqual(steps["three"]["result"], "failure")
        self.assertIn("exited with code 3", g.log(build["id"], 2)[0])
        self.assertEqual(steps["argv"]["result"], "success")
        self.assertIn("argv form", g.log(build["id"], 3)[0])
        # A name Windows reserves: refused by the worker with the reason, nothing run.
        self.assertEqual(steps["bad-dir"]["result"], "exception")
        self.assertIn("'con' is a device name that Windows reserves", g.log(build["id"], 4)[0])
        # No git.exe in Wine's PATH: a clear error.
        self.assertEqual(steps["checkout"]["result"], "exception")
        self.assertIn("cannot run 'git'", g.log(build["id"], 5)[0])

        build, _ = self.run_build(g, "on-linux")
        self.assertEqual(build["worker"], "lin")
        self.assertEqual(build["result"], "success")

    def test_a_timeout_kills_the_child_and_the_grandchild(self):
        # The step's cmd.exe starts a cmd.exe (child) that starts ping (grandchild), which
        # sleeps; a unique address marks them in the process list.
        marker = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
        g = self.start(f"""
worker "win" {{ secret = secret "win" }}
builder "tree" {{ steps = {{
  shell {{ 'cmd /d /c "ping -n 600 -w 500 {marker} >nul"', name = "sleepy", timeout = 2 }},
}} }}
""")
        request = g.force("tree")
        # Both are seen running first, so their absence below means they were killed.
        wait_for(lambda: len(processes_with(marker)) >= 2, timeout=60,
                 what="the child and the grandchild to run")
        started = time.monotonic()
        req = g.wait_request(request, timeout=60)
        self.assertLess(time.monotonic() - started, 30)
        build = g.build(req["builds"][0]["id"])
        self.assertEqual(build["steps"][0]["result"], "failure")
        self.assertIn("timed out after 2s", g.log(build["id"], 0)[0])
        wait_for(lambda: not processes_with(marker), timeout=15,
                 what=f"no process left with {marker}: {processes_with(marker)}")

    def test_a_zip_goes_up_and_comes_back_byte_identical(self):
        # Bytes that a text-mode copy or a CRLF conversion would change.
        payload = bytes(range(256)) * 64 + b"line\r\nline\n\x1a" + os.urandom(100_000)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("app/app.exe", payload)
            z.writestr("app/readme.txt", "hello\r\n")
        data = buf.getvalue()
        g = self.make("", workers=["win"])
        source = os.path.join(g.root, "made.zip")
        with open(source, "wb") as f:
            f.write(data)
        # Windows paths in the steps: backslashes in the glob, the prefix and the destination.
        g.write_config(f"""
worker "win" {{ secret = secret "win" }}
builder "zip" {{ steps = {{
  shell {{ 'mkdir dist& copy /b "{lua_escape(winpath(source))}" dist\\\\release.zip',
          name = "make" }},
  upload {{ "dist\\\\*.zip", to = "releases\\\\${{prop:buildnumber}}\\\\" }},
  download {{ "releases/${{prop:buildnumber}}/release.zip", to = "back\\\\release.zip",
              name = "download" }},
  download {{ "releases/${{prop:buildnumber}}/release.zip", to = "out\\\\aux.zip",
              name = "reserved", halt_on_failure = false }},
}} }}
""")
        g.start_master()
        g.workers["win"] = WineWorker(g, "win")
        wait_for(lambda: g.worker_connected("win") or self.exited(g.workers["win"]), timeout=120,
                 what="the Windows worker to connect")
        build, steps = self.run_build(g, "zip")
        self.assertEqual(steps["make"]["result"], "success", g.log(build["id"], 0)[0])
        self.assertEqual(steps["upload"]["result"], "success", g.log(build["id"], 1)[0])
        arts = g.get(f"/api/v1/builds/{build['id']}/artifacts")
        self.assertEqual([a["path"] for a in arts], ["releases/1/release.zip"])
        self.assertEqual(arts[0]["sha256"], hashlib.sha256(data).hexdigest())
        with urllib.request.urlopen(
                f"{g.url}/api/v1/builds/{build['id']}/artifacts/releases/1/release.zip") as r:
            self.assertEqual(r.read(), data)
        self.assertEqual(steps["download"]["result"], "success", g.log(build["id"], 2)[0])
        back = os.path.join(linuxpath(build["properties"]["builddir"]), "back", "release.zip")
        with open(back, "rb") as f:
            self.assertEqual(f.read(), data)
        with zipfile.ZipFile(back) as z:
            self.assertEqual(z.read("app/app.exe"), payload)
        self.assertEqual(steps["reserved"]["result"], "failure")
        self.assertIn("'aux.zip' is a device name that Windows reserves",
                      g.log(build["id"], 3)[0])

    def test_the_build_finishes_across_a_master_restart(self):
        g = self.start("""
worker "win" { secret = secret "win" }
builder "slow" { steps = {
  shell { "echo before& ping -n 9 127.0.0.1 >nul& echo after", name = "slow" },
  shell { "echo next step", name = "next" },
} }
""")
        request = g.force("slow")
        wait_for(lambda: "before" in self.first_log(g, request), timeout=60,
                 what="the step to start")
        self.assertEqual(g.master.stop(), 0)
        time.sleep(1)
        g.start_master()
        req = g.wait_request(request, timeout=120)
        self.assertEqual(req["result"], "success")
        self.assertEqual(len(req["builds"]), 1, "the same attempt finished: not run again")
        build = g.build(req["builds"][0]["id"])
        log = g.log(build["id"], 0)[0]
        self.assertEqual(log.count("before"), 1)
        self.assertIn("after", log)
        self.assertIn("next step", g.log(build["id"], 1)[0])

    def first_log(self, g, request):
        builds = g.get(f"/api/v1/requests/{request}").get("builds") or []
        if not builds:
            return ""
        try:
            return g.log(builds[0]["id"], 0)[0]
        except AssertionError:
            return ""

    def test_a_wrong_secret_is_refused(self):
        g = self.make('worker "win" { secret = secret "win" }\n', workers=["win"])
        g.start_master()
        w = WineWorker(g, "win", secret="not-the-secret")
        g.workers["win"] = w
        w.popen.wait(timeout=120)
        self.assertEqual(w.popen.returncode, 1, w.output())
        self.assertIn("master refused this worker", w.output())
        self.assertNotIn("not-the-secret", w.output())
        self.assertFalse(g.worker_connected("win"))
        self.assertIn("wrong secret", g.master.output())

    def test_wss_through_a_tls_proxy_with_a_trusted_ca_and_not_without(self):
        g = self.make(
            'worker "win" { secret = secret "win" }\n'
            'builder "b" { steps = { shell { "echo over tls> out.txt& type out.txt" },'
            ' upload { "*.txt" } } }\n', workers=["win"])
        g.start_master()
        certs = make_certs(g.root)
        trust_in_wine(certs["ca.pem"])
        good = TlsProxy(g.port, certs["server.pem"], certs["server.key"])
        untrusted = TlsProxy(g.port, certs["self.pem"], certs["self.key"])
        self.addCleanup(good.close)
        self.addCleanup(untrusted.close)

        # A certificate no trusted CA signed: refused, and the worker keeps trying.
        w = WineWorker(g, "win", master=f"https://localhost:{untrusted.port}")
        g.workers["win-untrusted"] = w
        wait_for(lambda: "retrying" in w.output() or self.exited(w), timeout=60,
                 what="the untrusted certificate to be refused")
        self.assertFalse(g.worker_connected("win"))
        # ERROR_WINHTTP_SECURE_FAILURE on Windows; Wine reports the failed handshake as
        # ERROR_WINHTTP_SECURE_CHANNEL_ERROR.
        self.assertRegex(w.output(), r"TLS .*\((12175|12157)\)")
        w.kill_group()

        w = WineWorker(g, "win", master=f"https://localhost:{good.port}")
        g.workers["win"] = w
        wait_for(lambda: g.worker_connected("win") or self.exited(w), timeout=60,
                 what="the worker to connect over wss://")
        self.assertGreater(good.handshakes, 0)
        # The build's events, and its artifact upload (WinHTTP over https), go through TLS.
        req = g.wait_request(g.force("b"), timeout=60)
        self.assertEqual(req["result"], "success")
        build = req["builds"][0]["id"]
        self.assertIn("over tls", g.log(build, 0)[0])
        self.assertEqual([a["path"] for a in g.get(f"/api/v1/builds/{build}/artifacts")],
                         ["out.txt"])

    def test_it_runs_as_a_windows_service(self):
        g = self.make(
            'worker "win" { secret = secret "win" }\n'
            'builder "b" { steps = { shell { "echo from the service" } } }\n', workers=["win"])
        g.start_master()
        secret_file = os.path.join(g.root, "win.secret")
        with open(secret_file, "w") as f:
            f.write(g.secrets["win"] + "\n")
        workdir = os.path.join(g.root, "service-work")
        name = "grove-test-" + os.urandom(4).hex()

        def wine(*args):
            return subprocess.run([WINE] + list(args), env=wine_env(), capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=120)

        # Wine ends its services when the last ordinary process exits: keep one alive.
        keeper = subprocess.Popen([WINE, "cmd", "/c", "ping -n 300 127.0.0.1 >nul"],
                                  env=wine_env(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            out = wine(EXE, "service", "install", "--service-name", name, "--master", g.url,
                       "--name", "win", "--secret-file", winpath(secret_file), "--workdir",
                       winpath(workdir))
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn(f"service '{name}' installed", out.stdout.decode())
            out = wine("net", "start", name)
            wait_for(lambda: g.worker_connected("win"), timeout=60,
                     what="the service to connect")
            req = g.wait_request(g.force("b"), timeout=60)
            self.assertEqual(req["result"], "success")
            out = wine("net", "stop", name)
            wait_for(lambda: not g.worker_connected("win"), timeout=60,
                     what="the service to stop")
            with open(os.path.join(workdir, "grove-worker.log"), errors="replace") as f:
                log = f.read()
            self.assertIn("connected to master", log)
            self.assertIn("handing running jobs back and stopping", log)
        finally:
            out = wine(EXE, "service", "uninstall", "--service-name", name)
            try:
                os.killpg(keeper.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            keeper.wait()
        self.assertEqual(out.returncode, 0, out.stderr)



if __name__ == "__main__":
    unittest.main()
