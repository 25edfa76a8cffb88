"""A raw WebSocket (RFC 6455) client for broker tests, standard library only.

``WsClient`` is a ``rawmqtt.RawClient`` whose bytes travel in WebSocket frames: every
``send`` is one masked binary frame and received binary frames feed the MQTT parser, so all
RawClient helpers (connect_ok, subscribe, expect, expect_closed, ...) work over WebSocket.
``send_frame`` sends any frame (split packets, several packets per frame, text, ping, close);
control frames received are kept in ``control`` as (opcode, payload).

``http_request`` sends one plain HTTP request and returns (status, headers, body).
"""

import base64
import hashlib
import os
import socket
import ssl
import struct
import time

import rawmqtt as raw

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def _connect(host, port, timeout, tls):
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        ctx = tls if isinstance(tls, ssl.SSLContext) else _insecure_context()
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    return sock


def _insecure_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _read_http_head(sock, timeout):
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def http_request(host, port, request, tls=None, timeout=5.0):
    """Sends raw request bytes; returns (status, headers, body, closed) where ``closed``
    tells whether the server closed the connection afterwards."""
    sock = _connect(host, port, timeout, tls)
    try:
        sock.sendall(request)
        status, headers, body = _read_http_head(sock, timeout)
        deadline = time.monotonic() + timeout
        closed = False
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(4096)
            except socket.timeout:
                break
            except (ConnectionResetError, ssl.SSLError, OSError):
                closed = True
                break
            if not chunk:
                closed = True
                break
            body += chunk
        return status, headers, body, closed
    finally:
        sock.close()


class HandshakeRefused(AssertionError):
    def __init__(self, status, headers, body):
        super().__init__("WebSocket upgrade refused: HTTP %d %r" % (status, body[:200]))
        self.status = status
        self.headers = headers
        self.body = body


class WsClient(raw.RawClient):
    def __init__(self, host, port, path="/mqtt", protocols=("mqtt",), headers=(), tls=None,
                 timeout=5.0):
        self.sock = _connect(host, port, timeout, tls)
        self.buf = bytearray()
        self.closed_by_peer = False
        self.wsbuf = bytearray()
        self.control = []
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        lines += list(headers)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, hdrs, rest = _read_http_head(self.sock, timeout)
        self.status = status
        self.headers = hdrs
        if status != 101:
            self.sock.close()
            raise HandshakeRefused(status, hdrs, rest)
        expect = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        assert hdrs.get("sec-websocket-accept") == expect, hdrs
        self.subprotocol = hdrs.get("sec-websocket-protocol")
        self.wsbuf += rest

    # -- frames --------------------------------------------------------------
    def send_frame(self, opcode, payload=b"", fin=True):
        payload = bytes(payload)
        head = bytearray([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head.append(0x80 | n)
        elif n < 65536:
            head.append(0x80 | 126)
            head += struct.pack("!H", n)
        else:
            head.append(0x80 | 127)
            head += struct.pack("!Q", n)
        mask = os.urandom(4)
        head += mask
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.settimeout(10.0)
        self.sock.sendall(bytes(head) + masked)

    def send(self, data):
        self.send_frame(OP_BINARY, data)

    def _parse_frame(self):
        b = self.wsbuf
        if len(b) < 2:
            return None
        fin = bool(b[0] & 0x80)
        opcode = b[0] & 0x0F
        masked = bool(b[1] & 0x80)
        n = b[1] & 0x7F
        pos = 2
        if n == 126:
            if len(b) < 4:
                return None
            (n,) = struct.unpack_from("!H", b, 2)
            pos = 4
        elif n == 127:
            if len(b) < 10:
                return None
            (n,) = struct.unpack_from("!Q", b, 2)
            pos = 10
        assert not masked, "server frames must not be masked (RFC 6455 5.1)"
        if len(b) < pos + n:
            return None
        payload = bytes(b[pos:pos + n])
        del b[:pos + n]
        return fin, opcode, payload

    def recv_frame(self, timeout=5.0):
        """Next frame (fin, opcode, payload); raises ConnectionClosed on EOF, NoPacket on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse_frame()
            if f is not None:
                return f
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise raw.NoPacket("no WebSocket frame within %.1fs" % timeout)
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, ssl.SSLError):
                self.closed_by_peer = True
                raise raw.ConnectionClosed("connection reset")
            if not data:
                self.closed_by_peer = True
                raise raw.ConnectionClosed("connection closed")
            self.wsbuf += data

    def _read_some(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            fin, opcode, payload = self.recv_frame(remaining)
        except raw.NoPacket:
            return False
        if opcode in (OP_BINARY, OP_CONT):
            self.buf += payload
            return True
        self.control.append((opcode, payload))
        if opcode == OP_PING:
            self.send_frame(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            raise raw.ConnectionClosed("WebSocket close frame %r" % payload[:2])
        return True

    def close_codes(self):
        """Status codes of the close frames received."""
        return [struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
                for (op, p) in self.control if op == OP_CLOSE]
