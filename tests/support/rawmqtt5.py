"""A tiny raw-byte MQTT 5.0 client for black-box broker tests.

Companion of rawmqtt.py (MQTT 3.1.1): packets are packed by hand with
``struct`` so that tests see and send exactly the bytes on the wire
(properties, reason codes, topic aliases, never-acknowledged messages, ...).

Properties are given as a list of ``(property_id, value)`` pairs (or a dict),
kept in order; User Property values are ``(name, value)`` tuples and may
repeat.  Received packets expose ``props`` (a ``Props``).
"""

import socket
import struct
import time

from rawmqtt import (  # noqa: F401  (re-exported for the tests)
    CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK,
    UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, ConnectionClosed, NoPacket,
    encode_varint, mqtt_string, packet, pingreq)

AUTH = 15

TYPE_NAMES = {
    CONNECT: "CONNECT", CONNACK: "CONNACK", PUBLISH: "PUBLISH",
    PUBACK: "PUBACK", PUBREC: "PUBREC", PUBREL: "PUBREL",
    PUBCOMP: "PUBCOMP", SUBSCRIBE: "SUBSCRIBE", SUBACK: "SUBACK",
    UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBACK: "UNSUBACK", PINGREQ: "PINGREQ",
    PINGRESP: "PINGRESP", DISCONNECT: "DISCONNECT", AUTH: "AUTH",
}

# --------------------------------------------------------------------------
# Properties (MQTT 5.0 section 2.2.2.2)
# --------------------------------------------------------------------------

PAYLOAD_FORMAT_INDICATOR = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTHENTICATION_METHOD = 0x15
AUTHENTICATION_DATA = 0x16
REQUEST_PROBLEM_INFORMATION = 0x17
WILL_DELAY_INTERVAL = 0x18
REQUEST_RESPONSE_INFORMATION = 0x19
RESPONSE_INFORMATION = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A

_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)

PROPERTY_TYPES = {
    PAYLOAD_FORMAT_INDICATOR: _BYTE,
    MESSAGE_EXPIRY_INTERVAL: _U32,
    CONTENT_TYPE: _STR,
    RESPONSE_TOPIC: _STR,
    CORRELATION_DATA: _BIN,
    SUBSCRIPTION_IDENTIFIER: _VARINT,
    SESSION_EXPIRY_INTERVAL: _U32,
    ASSIGNED_CLIENT_IDENTIFIER: _STR,
    SERVER_KEEP_ALIVE: _U16,
    AUTHENTICATION_METHOD: _STR,
    AUTHENTICATION_DATA: _BIN,
    REQUEST_PROBLEM_INFORMATION: _BYTE,
    WILL_DELAY_INTERVAL: _U32,
    REQUEST_RESPONSE_INFORMATION: _BYTE,
    RESPONSE_INFORMATION: _STR,
    SERVER_REFERENCE: _STR,
    REASON_STRING: _STR,
    RECEIVE_MAXIMUM: _U16,
    TOPIC_ALIAS_MAXIMUM: _U16,
    TOPIC_ALIAS: _U16,
    MAXIMUM_QOS: _BYTE,
    RETAIN_AVAILABLE: _BYTE,
    USER_PROPERTY: _PAIR,
    MAXIMUM_PACKET_SIZE: _U32,
    WILDCARD_SUBSCRIPTION_AVAILABLE: _BYTE,
    SUBSCRIPTION_IDENTIFIER_AVAILABLE: _BYTE,
    SHARED_SUBSCRIPTION_AVAILABLE: _BYTE,
}

# Reason codes used by the tests (MQTT 5.0 section 2.4).
RC_SUCCESS = 0x00
RC_NO_MATCHING_SUBSCRIBERS = 0x10
RC_NO_SUBSCRIPTION_EXISTED = 0x11
RC_DISCONNECT_WITH_WILL = 0x04
RC_UNSPECIFIED = 0x80
RC_MALFORMED = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_BAD_AUTH_METHOD = 0x8C
RC_SERVER_SHUTTING_DOWN = 0x8B
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_FILTER_INVALID = 0x8F
RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95
RC_PAYLOAD_FORMAT_INVALID = 0x99
RC_SHARED_NOT_SUPPORTED = 0x9E


def _b(data):
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


def _items(props):
    if props is None:
        return []
    if isinstance(props, dict):
        return list(props.items())
    return list(props)


def encode_properties(props):
    """Property Length (varint) + properties."""
    out = bytearray()
    for pid, value in _items(props):
        kind = PROPERTY_TYPES[pid]
        out += encode_varint(pid)
        if kind == _BYTE:
            out.append(value)
        elif kind == _U16:
            out += struct.pack("!H", value)
        elif kind == _U32:
            out += struct.pack("!I", value)
        elif kind == _VARINT:
            out += encode_varint(value)
        elif kind in (_STR, _BIN):
            out += mqtt_string(value)
        elif kind == _PAIR:
            out += mqtt_string(value[0]) + mqtt_string(value[1])
    return encode_varint(len(out)) + bytes(out)


def decode_varint(data, pos):
    mult, value = 1, 0
    for _ in range(4):
        digit = data[pos]
        pos += 1
        value += (digit & 0x7F) * mult
        if not digit & 0x80:
            return value, pos
        mult *= 128
    raise AssertionError("malformed variable byte integer")


class Props:
    """Decoded properties: ordered list of (id, value)."""

    def __init__(self, items=()):
        self.items = list(items)

    def get(self, pid, default=None):
        for k, v in self.items:
            if k == pid:
                return v
        return default

    def all(self, pid):
        return [v for k, v in self.items if k == pid]

    def __contains__(self, pid):
        return any(k == pid for k, _ in self.items)

    @property
    def user_properties(self):
        return self.all(USER_PROPERTY)

    def __repr__(self):
        return "Props(%r)" % self.items


def decode_properties(data, pos):
    """Return (Props, position after the properties)."""
    length, pos = decode_varint(data, pos)
    end = pos + length
    items = []
    while pos < end:
        pid, pos = decode_varint(data, pos)
        kind = PROPERTY_TYPES.get(pid)
        if kind is None:
            raise AssertionError("broker sent unknown property id 0x%02x" % pid)
        if kind == _BYTE:
            value = data[pos]
            pos += 1
        elif kind == _U16:
            (value,) = struct.unpack_from("!H", data, pos)
            pos += 2
        elif kind == _U32:
            (value,) = struct.unpack_from("!I", data, pos)
            pos += 4
        elif kind == _VARINT:
            value, pos = decode_varint(data, pos)
        elif kind in (_STR, _BIN):
            (n,) = struct.unpack_from("!H", data, pos)
            value = bytes(data[pos + 2:pos + 2 + n])
            if kind == _STR:
                value = value.decode("utf-8")
            pos += 2 + n
        else:
            (n,) = struct.unpack_from("!H", data, pos)
            name = bytes(data[pos + 2:pos + 2 + n]).decode("utf-8")
            pos += 2 + n
            (m,) = struct.unpack_from("!H", data, pos)
            val = bytes(data[pos + 2:pos + 2 + m]).decode("utf-8")
            pos += 2 + m
            value = (name, val)
        items.append((pid, value))
    if pos != end:
        raise AssertionError("property length mismatch")
    return Props(items), end


# --------------------------------------------------------------------------
# Packet builders
# --------------------------------------------------------------------------

def connect(client_id="", clean_start=True, keepalive=60, props=None, will=None,
            username=None, password=None):
    """MQTT 5.0 CONNECT.

    will: None or dict(topic=..., payload=b"", qos=0, retain=False, props=[...])
    """
    cflags = 0
    if clean_start:
        cflags |= 0x02
    if will is not None:
        cflags |= 0x04 | ((will.get("qos", 0) & 0x03) << 3)
        if will.get("retain"):
            cflags |= 0x20
    if password is not None:
        cflags |= 0x40
    if username is not None:
        cflags |= 0x80
    body = mqtt_string("MQTT") + bytes([5, cflags]) + struct.pack("!H", keepalive)
    body += encode_properties(props)
    body += mqtt_string(client_id)
    if will is not None:
        body += encode_properties(will.get("props"))
        body += mqtt_string(will["topic"]) + mqtt_string(will.get("payload", b""))
    if username is not None:
        body += mqtt_string(username)
    if password is not None:
        body += mqtt_string(password)
    return packet(CONNECT, 0, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, packet_id=None, props=None):
    fl = ((qos & 0x03) << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = mqtt_string(topic)
    if qos > 0:
        body += struct.pack("!H", 1 if packet_id is None else packet_id)
    body += encode_properties(props)
    body += _b(payload)
    return packet(PUBLISH, fl, body)


def _ack(ptype, flags, packet_id, rc=0, props=None):
    body = struct.pack("!H", packet_id)
    if rc != 0 or props:
        body += bytes([rc])
        if props:
            body += encode_properties(props)
    return packet(ptype, flags, body)


def puback(packet_id, rc=0, props=None):
    return _ack(PUBACK, 0, packet_id, rc, props)


def pubrec(packet_id, rc=0, props=None):
    return _ack(PUBREC, 0, packet_id, rc, props)


def pubrel(packet_id, rc=0, props=None):
    return _ack(PUBREL, 2, packet_id, rc, props)


def pubcomp(packet_id, rc=0, props=None):
    return _ack(PUBCOMP, 0, packet_id, rc, props)


def sub_options(qos=0, no_local=False, retain_as_published=False, retain_handling=0):
    """Subscription Options byte (MQTT 5.0 section 3.8.3.1)."""
    return (qos & 3) | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0) \
        | ((retain_handling & 3) << 4)


def subscribe(packet_id, filters, props=None):
    """filters: list of (filter, options_byte) or plain filters (QoS 0)."""
    body = struct.pack("!H", packet_id) + encode_properties(props)
    for f in filters:
        if isinstance(f, (tuple, list)):
            topic, opts = f
        else:
            topic, opts = f, 0
        body += mqtt_string(topic) + bytes([opts])
    return packet(SUBSCRIBE, 2, body)


def unsubscribe(packet_id, filters, props=None):
    body = struct.pack("!H", packet_id) + encode_properties(props)
    for f in filters:
        body += mqtt_string(f)
    return packet(UNSUBSCRIBE, 2, body)


def disconnect(rc=0, props=None):
    if rc == 0 and not props:
        return packet(DISCONNECT, 0)
    return packet(DISCONNECT, 0, bytes([rc]) + encode_properties(props))


def auth(rc=0, props=None):
    return packet(AUTH, 0, bytes([rc]) + encode_properties(props))


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

class Packet:
    """One decoded MQTT 5.0 control packet received from the broker."""

    def __init__(self, first_byte, body):
        self.type = first_byte >> 4
        self.flags = first_byte & 0x0F
        self.body = body = bytes(body)
        self.packet_id = None
        self.rc = None
        self.props = Props()
        if self.type == CONNACK:
            self.session_present = body[0] & 0x01
            self.rc = body[1]
            if len(body) > 2:
                self.props, _ = decode_properties(body, 2)
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
            self.props, pos = decode_properties(body, pos)
            self.payload = body[pos:]
        elif self.type in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            (self.packet_id,) = struct.unpack_from("!H", body, 0)
            self.rc = body[2] if len(body) > 2 else 0
            if len(body) > 3:
                self.props, _ = decode_properties(body, 3)
        elif self.type in (SUBACK, UNSUBACK):
            (self.packet_id,) = struct.unpack_from("!H", body, 0)
            self.props, pos = decode_properties(body, 2)
            self.codes = list(body[pos:])
        elif self.type in (DISCONNECT, AUTH):
            self.rc = body[0] if body else 0
            if len(body) > 1:
                self.props, _ = decode_properties(body, 1)

    @property
    def name(self):
        return TYPE_NAMES.get(self.type, "TYPE%d" % self.type)

    @property
    def size(self):
        """Total encoded size of the packet (fixed header included)."""
        return 1 + len(encode_varint(len(self.body))) + len(self.body)

    def __repr__(self):
        extra = ""
        if self.type == PUBLISH:
            extra = " topic=%r qos=%d dup=%d retain=%d pid=%r payload=%r" % (
                self.topic, self.qos, self.dup, self.retain, self.packet_id, self.payload[:40])
        elif self.type == CONNACK:
            extra = " sp=%d rc=0x%02x" % (self.session_present, self.rc)
        elif self.type in (SUBACK, UNSUBACK):
            extra = " pid=%r codes=%r" % (self.packet_id, ["0x%02x" % c for c in self.codes])
        else:
            if self.packet_id is not None:
                extra += " pid=%r" % self.packet_id
            if self.rc is not None:
                extra += " rc=0x%02x" % self.rc
        if self.props.items:
            extra += " %r" % self.props
        return "<%s flags=0x%x%s>" % (self.name, self.flags, extra)


class Client:
    """A blocking TCP connection that speaks raw MQTT 5.0 bytes."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed_by_peer = False
        self.skipped = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.settimeout(10.0)
        self.sock.sendall(data)

    def _try_parse(self):
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
                raise AssertionError("broker sent a malformed remaining length")
        if len(self.buf) < pos + value:
            return None
        pkt = Packet(self.buf[0], self.buf[pos:pos + value])
        del self.buf[:pos + value]
        return pkt

    def _read_some(self, deadline):
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
        deadline = time.monotonic() + timeout
        while True:
            pkt = self._try_parse()
            if pkt is not None:
                return pkt
            if not self._read_some(deadline):
                raise NoPacket("no packet within %.1fs (buffered %d bytes)" % (timeout, len(self.buf)))

    def expect(self, ptype, timeout=5.0):
        pkt = self.recv_packet(timeout)
        assert pkt.type == ptype, "expected %s, got %r" % (TYPE_NAMES[ptype], pkt)
        return pkt

    def expect_no_packet(self, timeout=1.0):
        try:
            pkt = self.recv_packet(timeout)
        except NoPacket:
            return
        raise AssertionError("unexpected packet %r" % pkt)

    def collect(self, duration):
        """Every packet arriving within ``duration`` s (stops early at a close)."""
        deadline = time.monotonic() + duration
        got = []
        while True:
            pkt = self._try_parse()
            if pkt is not None:
                got.append(pkt)
                continue
            try:
                if not self._read_some(deadline):
                    return got
            except ConnectionClosed:
                return got

    def expect_closed(self, timeout=5.0):
        """Assert the broker closes the connection; return the packets received before."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                pkt = self._try_parse()
                if pkt is not None:
                    got.append(pkt)
                    continue
                if not self._read_some(deadline):
                    raise AssertionError("connection still open after %.1fs (packets: %r)" % (timeout, got))
            except ConnectionClosed:
                return got

    def expect_disconnect(self, rc, timeout=5.0):
        """Assert a DISCONNECT with reason ``rc`` arrives and the connection then closes."""
        got = self.expect_closed(timeout)
        discs = [p for p in got if p.type == DISCONNECT]
        assert discs and discs[-1].rc == rc, \
            "expected DISCONNECT 0x%02x before the close, got %r" % (rc, got)
        return discs[-1]

    # -- conveniences ------------------------------------------------------
    def connect(self, client_id="", timeout=5.0, **kw):
        self.send(connect(client_id, **kw))
        return self.expect(CONNACK, timeout)

    def connect_ok(self, client_id="", **kw):
        ack = self.connect(client_id, **kw)
        assert ack.rc == 0, "CONNACK reason code 0x%02x" % ack.rc
        return ack

    def await_packet(self, ptype, packet_id=None, timeout=5.0):
        """Wait for a packet of ``ptype`` (and id); others are kept in ``skipped``."""
        for i, pkt in enumerate(self.skipped):
            if pkt.type == ptype and (packet_id is None or pkt.packet_id == packet_id):
                return self.skipped.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            pkt = self.recv_packet(max(0.0, deadline - time.monotonic()))
            if pkt.type == ptype and (packet_id is None or pkt.packet_id == packet_id):
                return pkt
            self.skipped.append(pkt)

    def subscribe(self, filters, packet_id=1, props=None, timeout=5.0):
        self.send(subscribe(packet_id, filters, props))
        return self.await_packet(SUBACK, packet_id, timeout)

    def unsubscribe(self, filters, packet_id=1, timeout=5.0):
        self.send(unsubscribe(packet_id, filters))
        return self.await_packet(UNSUBACK, packet_id, timeout)

    def publish_qos1(self, topic, payload, packet_id=1, retain=False, props=None, timeout=5.0):
        self.send(publish(topic, payload, qos=1, packet_id=packet_id, retain=retain, props=props))
        return self.await_packet(PUBACK, packet_id, timeout)

    def publish_qos2(self, topic, payload, packet_id=1, retain=False, props=None, timeout=5.0):
        self.send(publish(topic, payload, qos=2, packet_id=packet_id, retain=retain, props=props))
        rec = self.await_packet(PUBREC, packet_id, timeout)
        self.send(pubrel(packet_id))
        self.await_packet(PUBCOMP, packet_id, timeout)
        return rec

    def ping(self, timeout=5.0):
        """PINGREQ/PINGRESP round trip: everything sent before has been processed."""
        self.send(pingreq())
        return self.await_packet(PINGRESP, timeout=timeout)

    def publishes(self, duration):
        """PUBLISH packets arriving within ``duration`` s (plus any skipped ones)."""
        got = [p for p in self.skipped if p.type == PUBLISH]
        self.skipped = [p for p in self.skipped if p.type != PUBLISH]
        return got + [p for p in self.collect(duration) if p.type == PUBLISH]

    def wait_publishes(self, n, timeout=3.0, settle=0.3):
        """Gather PUBLISHes until ``n`` arrived (or ``timeout``), then ``settle`` s more
        to catch any unexpected extra ones.  Other packets are kept in ``skipped``."""
        got = [p for p in self.skipped if p.type == PUBLISH]
        self.skipped = [p for p in self.skipped if p.type != PUBLISH]
        deadline = time.monotonic() + timeout
        while len(got) < n:
            try:
                pkt = self.recv_packet(max(0.0, deadline - time.monotonic()))
            except (NoPacket, ConnectionClosed):
                break
            if pkt.type == PUBLISH:
                got.append(pkt)
            else:
                self.skipped.append(pkt)
        for pkt in self.collect(settle):
            if pkt.type == PUBLISH:
                got.append(pkt)
            else:
                self.skipped.append(pkt)
        return got

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def connected(broker, client_id, **kw):
    """A Client connected to ``broker`` (CONNACK 0x00 asserted); ``.connack`` holds the CONNACK."""
    c = Client(broker.host, broker.port)
    c.connack = c.connect_ok(client_id, **kw)
    return c
