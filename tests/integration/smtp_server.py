"""A real SMTP server for the notifier tests: Debian's python3-aiosmtpd, on a loopback port.

Every accepted message is written to DIR/msg-<n>.json as {"mail_from", "rcpt_tos", "data",
"user", "tls"}. Prints "ready" once it listens. Run with Debian's python3 (the one that has
aiosmtpd):

  /usr/bin/python3 smtp_server.py --port P --dir DIR [--cert C --key K] [--user U --password W]
                                  [--reject ADDR] [--delay S]
"""
import argparse
import asyncio
import itertools
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, args):
        self.args = args
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.args.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected: user unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.delay:
            await asyncio.sleep(self.args.delay)
        with self.lock:
            n = next(self.counter)
            while os.path.exists(os.path.join(self.args.dir, f"msg-{n}.json")):
                n = next(self.counter)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "user": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "tls": session.ssl is not None,
            "peer": list(session.peer) if session.peer else None,
        }
        tmp = os.path.join(self.args.dir, f".msg-{n}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.args.dir, f"msg-{n}.json"))
        return f"250 2.0.0 Ok: queued as M{n}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--delay", type=float, default=0)
    args = ap.parse_args()

    kwargs = {}
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if args.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
                  and auth_data.password.decode() == args.password)
            # handled=False: aiosmtpd then answers 535 itself.
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=bool(args.cert))
    controller = Controller(Handler(args), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
