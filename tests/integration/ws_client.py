"""A minimal WebSocket client (RFC 6455, text frames) on Python's standard library, enough to speak
Grove's worker protocol from docs/protocol.md in tests."""
import base64
import json
import os
import signal
import socket
import struct


class WsClient:
    def __init__(self, host, port, path="/api/v1/worker", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            response += chunk
        head, self.buffer = response.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def send_text(self, text):
        self.send_frame(0x1, text.encode() if isinstance(text, str) else text)

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x80 | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv(self):
        """The next text message (skipping pings), or None when the peer closes."""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            if opcode == 0x8:
                return None
            if opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if opcode == 0x1:
                return payload.decode()

    def recv_json(self):
        text = self.recv()
        return None if text is None else json.loads(text)

    def until(self, wanted, timeout=20):
        """Messages from the master up to the first of type |wanted| (returned last)."""
        seen = []

        def late(*_):
            raise AssertionError(f"no {wanted} from the master within {timeout} s; seen {seen}")
        # The master's pings keep the socket busy: a deadline of our own.
        previous = signal.signal(signal.SIGALRM, late)
        signal.alarm(timeout)
        try:
            while True:
                m = self.recv_json()
                if m is None:
                    raise AssertionError(f"the master closed the connection; seen {seen}")
                seen.append(m)
                if m["type"] == wanted:
                    return seen
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)

    def acked(self, upto):
        """Waits for the master's cumulative ack to reach exactly |upto|."""
        while True:
            m = self.until("ack")[-1]
            if m["upto"] >= upto:
                if m["upto"] != upto:
                    raise AssertionError(f"acked up to {m['upto']}, expected {upto}")
                return

    def close(self):
        self.sock.close()
