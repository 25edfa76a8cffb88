"""Will messages (MQTT 3.1.1 section 3.1.2.5 - 3.1.2.7, 3.14.4)."""

import socket
import time

import pytest

import rawmqtt as raw
from broker import keepalive_deadline
from clients import PahoClient, unique_id


def _watcher(broker, topic, qos=2):
    w = raw.RawClient(broker.host, broker.port)
    w.connect_ok(unique_id("watch"))
    assert w.subscribe([(topic, qos)]).codes == [qos]
    return w


def _will_client(broker, topic, payload=b"gone", qos=0, retain=False, keepalive=60, cid=None):
    c = raw.RawClient(broker.host, broker.port)
    c.connect_ok(cid or unique_id("will"), keepalive=keepalive,
                 will=dict(topic=topic, payload=payload, qos=qos, retain=retain))
    return c


def test_will_on_socket_close_without_disconnect(broker):
    """Network connection closed without DISCONNECT -> Will published (MQTT-3.1.2-8)."""
    with _watcher(broker, "will/close") as w:
        c = _will_client(broker, "will/close", b"closed-abruptly")
        c.close()
        p = w.expect(raw.PUBLISH, timeout=5)
        assert p.topic == "will/close" and p.payload == b"closed-abruptly"


def test_will_on_tcp_reset(broker):
    """Connection reset (RST) -> Will published (MQTT-3.1.2-8)."""
    with _watcher(broker, "will/rst") as w:
        c = _will_client(broker, "will/rst", b"reset")
        c.abort()
        p = w.expect(raw.PUBLISH, timeout=5)
        assert p.payload == b"reset"


def test_will_on_keepalive_expiry(broker):
    """Keepalive expired (no packets for 1.5 x keepalive) -> connection closed and Will
    published (MQTT-3.1.2-8, MQTT-3.1.2-24)."""
    with _watcher(broker, "will/ka") as w:
        c = _will_client(broker, "will/ka", b"timed-out", keepalive=1)
        t0 = time.monotonic()
        p = w.expect(raw.PUBLISH, timeout=keepalive_deadline(1) + 1)
        elapsed = time.monotonic() - t0
        assert p.payload == b"timed-out"
        assert 0.9 <= elapsed <= keepalive_deadline(1), elapsed
        c.expect_closed(2)
        c.close()


@pytest.mark.parametrize("violation", [
    pytest.param(raw.packet(0, 0), id="reserved-type-0"),
    # Mosquitto 2.0.11 deviation: on a second CONNECT it closes without publishing the Will.
    pytest.param(raw.connect("again"), id="second-connect",
                 marks=pytest.mark.colony_only(reason="Mosquitto drops the Will on a second CONNECT")),
    pytest.param(raw.pubrel(1, flags=0), id="pubrel-bad-flags"),
])
def test_will_on_protocol_error(broker, violation):
    """Server closes on protocol error -> Will published (MQTT-3.1.2-8, MQTT-4.8.0-1)."""
    with _watcher(broker, "will/proto") as w:
        c = _will_client(broker, "will/proto", b"protocol-error")
        c.send(violation)
        c.expect_closed(5)
        p = w.expect(raw.PUBLISH, timeout=5)
        assert p.payload == b"protocol-error"
        c.close()


def test_no_will_after_disconnect(broker):
    """DISCONNECT discards the Will (MQTT-3.1.2-10, MQTT-3.14.4-3)."""
    with _watcher(broker, "will/none") as w:
        c = _will_client(broker, "will/none", b"must-not-appear")
        c.send(raw.disconnect())
        c.expect_closed(5)
        c.close()
        w.expect_no_packet(1.0)


def test_no_will_after_paho_disconnect(broker):
    """paho client with a will that disconnects cleanly: no will."""
    with _watcher(broker, "will/paho") as w:
        c = PahoClient(broker, will=dict(topic="will/paho", payload=b"x", qos=1))
        c.connect()
        c.disconnect()
        w.expect_no_packet(1.0)


def test_will_qos_honoured(broker):
    """The Will is published at the Will QoS (MQTT-3.1.2-14 range; delivered at min(will QoS, granted))."""
    with _watcher(broker, "will/qos", qos=2) as w2, _watcher(broker, "will/qos", qos=0) as w0:
        c = _will_client(broker, "will/qos", b"q1", qos=1)
        c.close()
        p = w2.expect(raw.PUBLISH)
        assert p.qos == 1 and p.payload == b"q1"
        w2.send(raw.puback(p.packet_id))
        p0 = w0.expect(raw.PUBLISH)
        assert p0.qos == 0


def test_will_qos2(broker):
    with _watcher(broker, "will/q2", qos=2) as w:
        c = _will_client(broker, "will/q2", b"q2", qos=2)
        c.close()
        p = w.expect(raw.PUBLISH)
        assert p.qos == 2


def test_will_retain_honoured(broker):
    """Will Retain=1 -> the Will is published as a retained message (MQTT-3.1.2-17)."""
    c = _will_client(broker, "will/ret", b"last-words", qos=1, retain=True)
    c.close()
    deadline = time.monotonic() + 5
    # Poll with fresh subscribers until the retained will shows up.
    while True:
        with raw.RawClient(broker.host, broker.port) as s:
            s.connect_ok(unique_id())
            s.send(raw.subscribe(1, [("will/ret", 1)]))
            got = [p for p in s.collect(0.3) if p.type == raw.PUBLISH]
        if got or time.monotonic() > deadline:
            break
    assert [(p.payload, p.retain) for p in got] == [(b"last-words", True)], got


def test_will_not_retained_when_retain_0(broker):
    """Will Retain=0 -> not retained (MQTT-3.1.2-16)."""
    with _watcher(broker, "will/nret") as w:
        c = _will_client(broker, "will/nret", b"x", retain=False)
        c.close()
        p = w.expect(raw.PUBLISH)
        assert not p.retain
    with raw.RawClient(broker.host, broker.port) as s:
        s.connect_ok(unique_id())
        s.send(raw.subscribe(1, [("will/nret", 1)]))
        got = [p for p in s.collect(0.4) if p.type == raw.PUBLISH]
        assert got == []


def test_will_mqtt31_paho(broker):
    """A paho MQTT 3.1 client's will fires when its socket dies."""
    from clients import MQTTv31
    with _watcher(broker, "will/p31") as w:
        c = PahoClient(broker, protocol=MQTTv31, will=dict(topic="will/p31", payload=b"bye31", qos=1))
        c.connect()
        # Cut the connection under paho without a DISCONNECT.
        c.client.socket().shutdown(socket.SHUT_RDWR)
        p = w.expect(raw.PUBLISH, timeout=5)
        assert p.payload == b"bye31"
        assert c.disconnected.wait(5)
        c.client.loop_stop()
