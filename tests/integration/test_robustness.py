"""Robustness against malformed, oversized, truncated and abusive traffic (raw bytes).

Every loop here is bounded both in iterations and in wall-clock time.
"""

import socket
import struct
import threading
import time

import pytest

import rawmqtt as raw
from broker import keepalive_deadline
from clients import PahoClient, unique_id, wait_until


def assert_broker_serves(broker, tag="probe"):
    """A fresh client can connect, subscribe and get its own message back."""
    with raw.RawClient(broker.host, broker.port, timeout=5) as c:
        ack = c.connect(unique_id(tag), timeout=5)
        assert ack.rc == 0
        c.subscribe([("probe/" + tag, 1)])
        c.send(raw.publish("probe/" + tag, b"alive", qos=1, packet_id=9))
        got = [c.recv_packet(5), c.recv_packet(5)]
        assert sorted(p.type for p in got) == [raw.PUBLISH, raw.PUBACK], got


def _connected(broker):
    c = raw.RawClient(broker.host, broker.port)
    c.connect_ok(unique_id("mal"))
    return c


# -- malformed packets ----------------------------------------------------------

def test_remaining_length_varint_too_long_closes(broker):
    """A Remaining Length with more than 4 bytes is malformed (section 2.2.3) -> close."""
    with _connected(broker) as c:
        c.send(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"\x00" * 8)
        c.expect_closed(5)
    assert_broker_serves(broker)


def test_remaining_length_varint_too_long_before_connect(broker):
    """Same malformed length as the very first bytes of a connection."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(bytes([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]))
        assert c.expect_closed(5) == []
    assert_broker_serves(broker)


@pytest.mark.parametrize("data", [
    pytest.param(raw.pubrel(1, flags=0x00), id="PUBREL-flags-0000"),               # MQTT-3.6.1-1
    pytest.param(raw.subscribe(1, [("a", 0)], flags=0x00), id="SUBSCRIBE-flags-0000"),  # MQTT-3.8.1-1
    pytest.param(raw.publish("a", b"x", flags=0x06, packet_id=1), id="PUBLISH-qos3"),  # MQTT-3.3.1-4
    # Mosquitto 2.0.11 deviation: ignores reserved flag bits of PINGREQ/PUBACK.
    pytest.param(raw.packet(raw.PINGREQ, 0x1), id="PINGREQ-flags-0001",            # MQTT-2.2.2-2
                 marks=pytest.mark.colony_only(reason="Mosquitto ignores PINGREQ flags")),
    pytest.param(raw.packet(raw.PUBACK, 0x2, b"\x00\x01"), id="PUBACK-flags-0010",  # MQTT-2.2.2-2
                 marks=pytest.mark.colony_only(reason="Mosquitto ignores PUBACK flags")),
    pytest.param(raw.packet(0, 0), id="reserved-type-0"),
    pytest.param(raw.packet(15, 0), id="reserved-type-15"),
    pytest.param(raw.packet(raw.CONNACK, 0, b"\x00\x00"), id="CONNACK-from-client"),
    pytest.param(raw.packet(raw.SUBSCRIBE, 0x2, b"\x00\x01\x00\x05ab"), id="SUBSCRIBE-truncated-string"),
    pytest.param(raw.publish("", b"x"), id="PUBLISH-empty-topic"),                   # MQTT-4.7.3-1
    pytest.param(raw.publish(b"bad\xff\xfeutf8", b"x"), id="PUBLISH-invalid-utf8"),  # MQTT-1.5.3-1
    pytest.param(raw.publish(b"nul\x00topic", b"x"), id="PUBLISH-NUL-in-topic"),     # MQTT-1.5.3-2
    pytest.param(raw.publish("a", b"", qos=1, packet_id=0), id="PUBLISH-packet-id-0"),  # MQTT-2.3.1-1
])
def test_malformed_packet_after_connect_closes(broker, data):
    """Malformed packets / reserved flags close the connection (MQTT-4.8.0-1);
    the broker keeps serving other clients."""
    with _connected(broker) as c:
        c.send(data)
        got = c.expect_closed(5)
        assert all(p.type != raw.PUBLISH for p in got), got
    assert_broker_serves(broker)


def test_publish_qos1_without_packet_id_bytes_closes(broker):
    """A QoS 1 PUBLISH whose body ends after the topic (no packet id) is malformed."""
    with _connected(broker) as c:
        c.send(raw.packet(raw.PUBLISH, 0x2, raw.mqtt_string("a")))
        c.expect_closed(5)
    assert_broker_serves(broker)


def test_string_length_beyond_packet_closes(broker):
    """A CONNECT whose protocol-name length runs past the packet end is malformed."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.packet(raw.CONNECT, 0, b"\x00\x40MQTT\x04\x02\x00\x3c\x00\x00"))
        assert all(p.type != raw.CONNACK or p.rc != 0 for p in c.expect_closed(5))
    assert_broker_serves(broker)


# -- sizes ---------------------------------------------------------------------

@pytest.mark.broker_opts(max_packet_size=1024)
def test_packet_larger_than_max_packet_size_closes(broker):
    """A packet above --max-packet-size closes that connection only."""
    with _connected(broker) as ok, _connected(broker) as big:
        ok.subscribe([("size/t", 0)])
        big.send(raw.publish("size/t", b"s" * 200))  # under the limit: delivered
        assert ok.expect(raw.PUBLISH).payload == b"s" * 200
        big.send(raw.publish("size/t", b"B" * 4096))
        big.expect_closed(5)
        ok.expect_no_packet(0.3)
        ok.ping()
    assert_broker_serves(broker)


@pytest.mark.broker_opts(max_packet_size=1024)
def test_oversized_remaining_length_header_closes_before_body(broker):
    """Only the header of a huge packet is sent: the broker must close without waiting
    for (or buffering) the announced 200 MB."""
    with _connected(broker) as c:
        c.send(bytes([0x30]) + raw.encode_varint(200 * 1024 * 1024) + b"\x00\x01a")
        c.expect_closed(5)
    assert_broker_serves(broker)


# -- truncated packets ------------------------------------------------------------

def test_half_connect_then_close(broker):
    """Half a CONNECT then close: the broker shrugs and keeps serving others."""
    full = raw.connect(unique_id("half"), keepalive=30)
    for cut in (1, 2, 5, len(full) // 2, len(full) - 1):
        s = socket.create_connection((broker.host, broker.port), timeout=5)
        s.sendall(full[:cut])
        s.close()
    assert_broker_serves(broker)


def test_half_publish_then_close(broker):
    """Half a PUBLISH after CONNECT then close: nothing is delivered, broker still serves."""
    with _connected(broker) as sub:
        sub.subscribe([("half/t", 0)])
        c = _connected(broker)
        c.send(raw.publish("half/t", b"p" * 100)[:40])
        c.close()
        sub.expect_no_packet(0.5)
        sub.ping()
    assert_broker_serves(broker)


def test_half_publish_then_silence_closed_by_keepalive(broker):
    """Half a PUBLISH then silence: closed within ~1.5 x keepalive (MQTT-3.1.2-24)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("stall"), keepalive=1)
        t0 = time.monotonic()
        c.send(raw.publish("half/s", b"p" * 100)[:30])
        c.expect_closed(keepalive_deadline(1) + 1)
        assert time.monotonic() - t0 <= keepalive_deadline(1)
    assert_broker_serves(broker)


@pytest.mark.colony_only(reason="--connect-timeout has no Mosquitto equivalent")
@pytest.mark.broker_opts(connect_timeout=1)
def test_half_connect_then_silence_closed_by_connect_timeout(broker):
    """Half a CONNECT then silence: closed by --connect-timeout."""
    with raw.RawClient(broker.host, broker.port) as c:
        t0 = time.monotonic()
        c.send(raw.connect(unique_id("hc"))[:7])
        assert c.expect_closed(6) == []
        assert time.monotonic() - t0 <= 5.0
    assert_broker_serves(broker)


# -- abuse ---------------------------------------------------------------------------

def test_flood_of_qos0_publishes(broker):
    """10,000 QoS 0 PUBLISHes from one client: the broker survives, serves other
    clients meanwhile, and the flooder's connection stays usable."""
    n = 10000
    watcher = PahoClient(broker)
    watcher.connect()
    watcher.subscribe("flood/other", 1)
    counter = PahoClient(broker)
    counter.connect()
    counter.subscribe("flood/t", 0)
    flooder = _connected(broker)
    batch = b"".join(raw.publish("flood/t", b"%05d" % i) for i in range(n))
    done = threading.Event()
    errors = []

    def blast():
        try:
            for off in range(0, len(batch), 64 * 1024):
                flooder.send(batch[off:off + 64 * 1024])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        done.set()

    t = threading.Thread(target=blast, daemon=True)
    t0 = time.monotonic()
    t.start()
    # While flooding, a different client gets a QoS 1 round trip through.
    other = PahoClient(broker)
    other.connect(timeout=10)
    other.publish("flood/other", b"hello", qos=1, timeout=10)
    assert watcher.wait_messages(1, timeout=10), "other clients starved during the flood"
    other.disconnect()
    assert done.wait(25), "flood could not be written within 25 s"
    assert not errors, errors
    t.join(5)
    flooder.sock.settimeout(10)
    assert flooder.ping(timeout=15).type == raw.PINGRESP
    elapsed = time.monotonic() - t0
    assert elapsed < 30, elapsed
    wait_until(lambda: counter.count() >= n, 10)
    # QoS 0 may be dropped under pressure, but the vast majority should arrive here.
    assert counter.count() >= n * 0.5, counter.count()
    flooder.close()
    counter.disconnect()
    watcher.disconnect()
    assert_broker_serves(broker)


def test_many_connections_dropped_mid_connect(broker):
    """300 connections that send part of a CONNECT and vanish (FIN or RST)."""
    full = raw.connect("midconnect-client", keepalive=10)
    deadline = time.monotonic() + 20
    opened = 0
    socks = []
    for i in range(300):
        if time.monotonic() > deadline:
            break
        s = socket.create_connection((broker.host, broker.port), timeout=5)
        s.sendall(full[: 1 + i % (len(full) - 1)])
        socks.append(s)
        opened += 1
        if len(socks) >= 50:  # keep at most 50 open at once
            for j, old in enumerate(socks):
                if j % 2:
                    old.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                old.close()
            socks = []
    for s in socks:
        s.close()
    assert opened >= 100
    assert_broker_serves(broker)


def test_many_full_connects_and_abrupt_drops(broker):
    """200 complete CONNECTs with abrupt RSTs right after CONNACK; broker stays healthy."""
    deadline = time.monotonic() + 20
    n = 0
    for i in range(200):
        if time.monotonic() > deadline:
            break
        c = raw.RawClient(broker.host, broker.port)
        c.connect_ok("churn-%d" % (i % 20), keepalive=5, clean=bool(i % 2))
        c.abort()
        n += 1
    assert n >= 50
    assert_broker_serves(broker)


def test_garbage_bytes_before_connect(broker):
    """Random non-MQTT bytes (e.g. an HTTP request) are rejected by closing."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        c.expect_closed(5)
    assert_broker_serves(broker)
