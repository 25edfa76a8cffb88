"""A tiny raw-byte MQTT 3.1/3.1.1 client for black-box broker tests.

Written independently of any MQTT library: every packet is packed by hand
with ``struct`` so the tests can send exactly the bytes a real client never
would (reserved flags, malformed lengths, half packets, duplicate packet ids,
never-acknowledged QoS 1 messages, ...).

Builders return ``bytes``; ``RawClient`` sends them and reads back exactly
one packet at a time with a deadline.
"""

import socket
import struct
import time

# Control packet types (MQTT 3.1.1 section 2.2.1).
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

TYPE_NAMES = {
    CONNECT: "CONNECT", CONNACK: "CONNACK", PUBLISH: "PUBLISH",
    PUBACK: "PUBACK", PUBREC: "PUBREC", PUBREL: "PUBREL",
    PUBCOMP: "PUBCOMP", SUBSCRIBE: "SUBSCRIBE", SUBACK: "SUBACK",
    UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBACK: "UNSUBACK", PINGREQ: "PINGREQ",
    PINGRESP: "PINGRESP", DISCONNECT: "DISCONNECT",
}


# --------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------

def encode_varint(value):
    """Remaining Length encoding (MQTT 3.1.1 section 2.2.3)."""
    if value < 0 or value > 268435455:
        raise ValueError("remaining length out of range: %r" % value)
    out = bytearray()
    while True:
        digit = value % 128
        value //= 128
        if value:
            digit |= 0x80
        out.append(digit)
        if not value:
            return bytes(out)


def _b(data):
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


def mqtt_string(data):
    """Two-byte length prefixed string (bytes are sent verbatim)."""
    data = _b(data)
    return struct.pack("!H", len(data)) + data


def packet(ptype, flags, body=b""):
    """Fixed header + body.  ``flags`` is the low nibble of byte 1."""
    return bytes([((ptype & 0x0F) << 4) | (flags & 0x0F)]) + encode_varint(len(body)) + bytes(body)


# --------------------------------------------------------------------------
# Packet builders
# --------------------------------------------------------------------------

def connect(client_id="", clean=True, keepalive=60, will=None, username=None,
            password=None, proto_name="MQTT", proto_level=4, flags=None,
            reserved_bit=False):
    """Build a CONNECT packet.

    will: None or dict(topic=..., payload=b"", qos=0, retain=False)
    flags: override the computed connect-flags byte entirely.
    reserved_bit: set connect-flags bit 0 (must be zero, MQTT-3.1.2-3).
    """
    cflags = 0
    if clean:
        cflags |= 0x02
    if will is not None:
        cflags |= 0x04
        cflags |= (will.get("qos", 0) & 0x03) << 3
        if will.get("retain"):
            cflags |= 0x20
    if password is not None:
        cflags |= 0x40
    if username is not None:
        cflags |= 0x80
    if reserved_bit:
        cflags |= 0x01
    if flags is not None:
        cflags = flags
    body = mqtt_string(proto_name) + bytes([proto_level, cflags]) + struct.pack("!H", keepalive)
    body += mqtt_string(client_id)
    if will is not None:
        body += mqtt_string(will["topic"]) + mqtt_string(will.get("payload", b""))
    if username is not None:
        body += mqtt_string(username)
    if password is not None:
        body += mqtt_string(password)
    return packet(CONNECT, 0, body)


def connect_v31(client_id, **kw):
    """MQTT 3.1 CONNECT: protocol name "MQIsdp", level 3."""
    return connect(client_id, proto_name="MQIsdp", proto_level=3, **kw)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, packet_id=None, flags=None):
    fl = ((qos & 0x03) << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    if flags is not None:
        fl = flags
    body = mqtt_string(topic)
    if qos > 0 or (flags is not None and (flags >> 1) & 3):
        body += struct.pack("!H", 1 if packet_id is None else packet_id)
    body += _b(payload)
    return packet(PUBLISH, fl, body)


def puback(packet_id):
    return packet(PUBACK, 0, struct.pack("!H", packet_id))


def pubrec(packet_id):
    return packet(PUBREC, 0, struct.pack("!H", packet_id))


def pubrel(packet_id, flags=0x02):
    return packet(PUBREL, flags, struct.pack("!H", packet_id))


def pubcomp(packet_id):
    return packet(PUBCOMP, 0, struct.pack("!H", packet_id))


def subscribe(packet_id, filters, flags=0x02):
    """filters: list of (filter, qos) tuples or plain filter strings (QoS 0)."""
    body = struct.pack("!H", packet_id)
    for f in filters:
        if isinstance(f, (tuple, list)):
            topic, qos = f
        else:
            topic, qos = f, 0
        body += mqtt_string(topic) + bytes([qos])
    return packet(SUBSCRIBE, flags, body)


def unsubscribe(packet_id, filters, flags=0x02):
    body = struct.pack("!H", packet_id)
    for f in filters:
        body += mqtt_string(f)
    return packet(UNSUBSCRIBE, flags, body)


def pingreq():
    return packet(PINGREQ, 0)


def disconnect():
    return packet(DISCONNECT, 0)


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

class Packet:
    """One decoded control packet received from the broker."""

    def __init__(self, first_byte, body):
        self.type = first_byte >> 4
        self.flags = first_byte & 0x0F
        self.body = bytes(body)
        self.packet_id = None
        if self.type == CONNACK and len(body) >= 2:
            self.session_present = body[0] & 0x01
            self.rc = body[1]
        elif self.type == PUBLISH:
            self.qos = (self.flags >> 1) & 0x03
            self.dup = bool(self.flags & 0x08)
            self.retain = bool(self.flags & 0x01)
            (tlen,) = struct.unpack_from("!H", body, 0)
            self.topic = body[2:2 + tlen].decode("utf-8", "replace")
            pos = 2 + tlen
            if self.qos:
                (self.packet_id,) = struct.unpack_from("!H", body, pos)
                pos += 2
            self.payload = bytes(body[pos:])
        elif self.type in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK) and len(body) >= 2:
            (self.packet_id,) = struct.unpack_from("!H", body, 0)
        elif self.type == SUBACK and len(body) >= 2:
            (self.packet_id,) = struct.unpack_from("!H", body, 0)
            self.codes = list(body[2:])

    @property
    def name(self):
        return TYPE_NAMES.get(self.type, "TYPE%d" % self.type)

    def __repr__(self):
        extra = ""
        if self.type == PUBLISH:
            extra = " topic=%r qos=%d dup=%d retain=%d pid=%r payload=%r" % (
                self.topic, self.qos, self.dup, self.retain, self.packet_id, self.payload[:40])
        elif self.type == CONNACK:
            extra = " sp=%d rc=%d" % (self.session_present, self.rc)
        elif self.type == SUBACK:
            extra = " pid=%r codes=%r" % (self.packet_id, self.codes)
        elif self.packet_id is not None:
            extra = " pid=%r" % self.packet_id
        return "<%s flags=0x%x%s>" % (self.name, self.flags, extra)


class ConnectionClosed(Exception):
    """The broker closed (or reset) the connection."""


class NoPacket(AssertionError):
    """No complete packet arrived before the deadline."""


class RawClient:
    """A blocking TCP connection that speaks raw MQTT bytes."""

    def __init__(self, host, port, timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Must be set before connect() to shrink the advertised window.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed_by_peer = False

    # -- context manager --------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending -----------------------------------------------------------
    def send(self, data):
        self.sock.settimeout(10.0)
        self.sock.sendall(data)

    # -- receiving ---------------------------------------------------------
    def _try_parse(self):
        """Return a Packet if the buffer holds a complete one, else None."""
        if len(self.buf) < 2:
            return None
        mult, value, pos = 1, 0, 1
        while True:
            if pos >= len(self.buf):
                return None
            digit = self.buf[pos]
            value += (digit & 0x7F) * mult
            pos += 1
            if not digit & 0x80:
                break
            mult *= 128
            if pos > 4:
                raise AssertionError("broker sent a malformed remaining length: %r" % bytes(self.buf[:6]))
        if len(self.buf) < pos + value:
            return None
        pkt = Packet(self.buf[0], self.buf[pos:pos + value])
        del self.buf[:pos + value]
        return pkt

    def _read_some(self, deadline):
        """Read more bytes into the buffer; False on timeout, raise on close."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            self.closed_by_peer = True
            raise ConnectionClosed("connection reset by broker")
        if not data:
            self.closed_by_peer = True
            raise ConnectionClosed("connection closed by broker")
        self.buf += data
        return True

    def recv_packet(self, timeout=5.0):
        """Read exactly one packet; raise NoPacket on timeout, ConnectionClosed on EOF."""
        deadline = time.monotonic() + timeout
        while True:
            pkt = self._try_parse()
            if pkt is not None:
                return pkt
            if not self._read_some(deadline):
                raise NoPacket("no packet within %.1fs (buffered %d bytes)" % (timeout, len(self.buf)))

    def expect(self, ptype, timeout=5.0):
        """Read one packet and assert its type."""
        pkt = self.recv_packet(timeout)
        assert pkt.type == ptype, "expected %s, got %r" % (TYPE_NAMES[ptype], pkt)
        return pkt

    def expect_no_packet(self, timeout=1.0):
        """Assert that nothing (and no close) arrives within ``timeout``."""
        try:
            pkt = self.recv_packet(timeout)
        except NoPacket:
            return
        raise AssertionError("unexpected packet %r" % pkt)

    def expect_closed(self, timeout=5.0):
        """Assert the broker closes the connection within ``timeout``.

        Returns the list of packets received before the close.
        """
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                pkt = self._try_parse()
                if pkt is not None:
                    got.append(pkt)
                    continue
                if not self._read_some(deadline):
                    raise AssertionError(
                        "connection still open after %.1fs (packets received: %r)" % (timeout, got))
            except ConnectionClosed:
                return got

    def collect(self, duration):
        """Gather every packet that arrives within ``duration`` seconds."""
        deadline = time.monotonic() + duration
        got = []
        while True:
            pkt = self._try_parse()
            if pkt is not None:
                got.append(pkt)
                continue
            if not self._read_some(deadline):
                return got

    # -- conveniences ------------------------------------------------------
    def connect(self, client_id="", timeout=5.0, **kw):
        """Send CONNECT and return the CONNACK packet."""
        self.send(connect(client_id, **kw))
        return self.expect(CONNACK, timeout)

    def connect_ok(self, client_id="", **kw):
        ack = self.connect(client_id, **kw)
        assert ack.rc == 0, "CONNACK return code %d" % ack.rc
        return ack

    def subscribe(self, filters, packet_id=1, timeout=5.0):
        """Send SUBSCRIBE and return the SUBACK (other packets are skipped)."""
        self.send(subscribe(packet_id, filters))
        return self._await(SUBACK, packet_id, timeout)

    def unsubscribe(self, filters, packet_id=1, timeout=5.0):
        self.send(unsubscribe(packet_id, filters))
        return self._await(UNSUBACK, packet_id, timeout)

    def _await(self, ptype, packet_id, timeout):
        deadline = time.monotonic() + timeout
        while True:
            pkt = self.recv_packet(max(0.0, deadline - time.monotonic()))
            if pkt.type == ptype and pkt.packet_id == packet_id:
                return pkt
            self.skipped = getattr(self, "skipped", []) + [pkt]

    def publish_qos1(self, topic, payload, packet_id=1, retain=False, timeout=5.0):
        self.send(publish(topic, payload, qos=1, packet_id=packet_id, retain=retain))
        return self._await(PUBACK, packet_id, timeout)

    def publish_qos2(self, topic, payload, packet_id=1, retain=False, timeout=5.0):
        self.send(publish(topic, payload, qos=2, packet_id=packet_id, retain=retain))
        self._await(PUBREC, packet_id, timeout)
        self.send(pubrel(packet_id))
        return self._await(PUBCOMP, packet_id, timeout)

    def ping(self, timeout=5.0):
        self.send(pingreq())
        return self.expect(PINGRESP, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Close with RST (SO_LINGER 0): an abrupt network failure."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()
