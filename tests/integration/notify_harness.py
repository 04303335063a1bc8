"""Real servers for the notifier tests, started on loopback by the tests themselves: an SMTP
server (Debian's python3-aiosmtpd, smtp_server.py), a recording HTTP server, ngircd.
"""
import email
import email.policy
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from grove_harness import free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


def debian_python():
    """The python3 that has Debian's packages (aiosmtpd): /usr/bin/python3 when it exists."""
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def make_cert(directory, name="server"):
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key) paths."""
    cert = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


class SmtpServer:
    """aiosmtpd on a fixed loopback port; start() and stop() may be called again (same port)."""

    def __init__(self, root, cert=None, key=None, user=None, password=None, reject=(), delay=0):
        self.port = free_port()
        self.dir = os.path.join(root, f"smtp-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.args = ["--port", str(self.port), "--dir", self.dir]
        if cert:
            self.args += ["--cert", cert, "--key", key]
        if user:
            self.args += ["--user", user, "--password", password]
        for r in reject:
            self.args += ["--reject", r]
        if delay:
            self.args += ["--delay", str(delay)]
        self.log_path = os.path.join(root, f"smtp-{self.port}.log")
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([debian_python(), os.path.join(HERE, "smtp_server.py")] + self.args,
                                     stdout=subprocess.PIPE, stderr=log)
        log.close()
        line = self.proc.stdout.readline().decode().strip()
        if line != "ready":
            self.proc.kill()
            raise AssertionError(f"SMTP server did not start ({line!r}): see {self.log_path}")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
        self.proc = None

    def messages(self):
        """The accepted messages, oldest first, as dicts with a parsed "message" added."""
        out = []
        files = glob.glob(os.path.join(self.dir, "msg-*.json"))
        for path in sorted(files, key=lambda p: int(p.rsplit("-", 1)[1].split(".")[0])):
            with open(path) as f:
                rec = json.load(f)
            rec["message"] = email.message_from_string(rec["data"], policy=email.policy.default)
            out.append(rec)
        return out

    def wait_messages(self, n, timeout=30):
        return wait_for(lambda: len(self.messages()) >= n and self.messages(), timeout=timeout,
                        what=f"{n} mails")


def text_part(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_part(msg):
    part = msg.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else None


def notifications(grove, build_id):
    return grove.get(f"/api/v1/builds/{build_id}/notifications")


def wait_notification(grove, build_id, predicate, timeout=30, what="a notice"):
    def check():
        for n in notifications(grove, build_id):
            if predicate(n):
                return n
        return None
    return wait_for(check, timeout=timeout, interval=0.1, what=what)


class RecordingHttpServer:
    """A loopback HTTP server that records every request and answers 201 with {} — or, once per
    rule, the status a rule gives: fail_once(predicate, 503)."""

    def __init__(self):
        import http.server
        import threading
        self.requests = []
        self.rules = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = {"method": "POST", "path": self.path, "headers": dict(self.headers),
                       "body": body}
                try:
                    req["json"] = json.loads(body)
                except ValueError:
                    req["json"] = None
                status = 201
                with outer.lock:
                    for rule in outer.rules:
                        if not rule["used"] and rule["match"](req):
                            rule["used"] = True
                            status = rule["status"]
                            break
                    req["status"] = status
                    outer.requests.append(req)
                answer = b'{"message": "service unavailable"}' if status >= 500 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail_once(self, match, status=503):
        with self.lock:
            self.rules.append({"match": match, "status": status, "used": False})

    def received(self, prefix):
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(prefix)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class IrcServer:
    """A private ngircd (Debian's package) on a loopback port, in the foreground (-n)."""

    def __init__(self, root):
        self.port = free_port()
        self.dir = os.path.join(root, f"ngircd-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "ngircd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[Global]
Name = irc.grove.test
Info = Grove test server
Listen = 127.0.0.1
Ports = {self.port}
MotdPhrase = grove test server
[Limits]
MaxNickLength = 30
PingTimeout = 120
[Options]
PAM = no
Ident = no
DNS = no
""")
        self.log_path = os.path.join(root, f"ngircd-{self.port}.log")
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["/usr/sbin/ngircd", "-n", "-f", self.conf], stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"ngircd exited: see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening, timeout=20, what="ngircd to listen")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class IrcClient:
    """A person in a channel: connects, joins, records every line it receives."""

    def __init__(self, port, nick, channel):
        import threading
        self.nick = nick
        self.channel = channel
        self.lines = []
        self.lock = threading.Lock()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :{nick}")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.wait_line(lambda l: f" 001 {nick} " in l, what=f"{nick} registered")
        self.send(f"JOIN {channel}")
        self.wait_line(lambda l: f":{nick}!" in l and f"JOIN {channel}" in l.replace(":#", "#"),
                       what=f"{nick} in {channel}")

    def send(self, line):
        self.sock.sendall((line + "\r\n").encode())

    def say(self, text):
        self.send(f"PRIVMSG {self.channel} :{text}")

    def _read(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                text = line.decode("utf-8", "replace")
                if text.startswith("PING"):
                    self.send("PONG" + text[4:])
                with self.lock:
                    self.lines.append(text)

    def seen(self, predicate):
        with self.lock:
            return [l for l in self.lines if predicate(l)]

    def wait_line(self, predicate, timeout=30, what="a line"):
        return wait_for(lambda: self.seen(predicate), timeout=timeout, interval=0.05, what=what)[-1]

    def close(self):
        try:
            self.send("QUIT :bye")
        except OSError:
            pass
        self.sock.close()
