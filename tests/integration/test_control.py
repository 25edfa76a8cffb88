"""UNSUBSCRIBE/UNSUBACK, PINGREQ/PINGRESP, DISCONNECT (MQTT 3.1.1 sections 3.10-3.14)."""

import subprocess

import rawmqtt as raw
from clients import MOSQUITTO_SUB, MQTTv31, MosquittoSub, PahoClient, mosquitto_pub, unique_id


def test_unsuback_same_packet_id(broker):
    """UNSUBACK carries the UNSUBSCRIBE's packet id (MQTT-3.10.4-4)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.subscribe([("un/a", 0)])
        c.send(raw.unsubscribe(0x7A7A, ["un/a"]))
        ack = c.expect(raw.UNSUBACK)
        assert ack.packet_id == 0x7A7A and ack.flags == 0 and len(ack.body) == 2


def test_unsuback_even_without_matching_subscription(broker):
    """UNSUBACK is sent even if nothing was unsubscribed (MQTT-3.10.4-5)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.send(raw.unsubscribe(9, ["never/subscribed"]))
        assert c.expect(raw.UNSUBACK).packet_id == 9


def test_unsubscribe_stops_delivery(broker):
    """After UNSUBACK no new messages are delivered for that filter (MQTT-3.10.4-2),
    other subscriptions are unaffected, and several filters get one UNSUBACK (MQTT-3.10.4-6)."""
    with raw.RawClient(broker.host, broker.port) as c, raw.RawClient(broker.host, broker.port) as pub:
        c.connect_ok(unique_id())
        c.subscribe([("un/x", 1), ("un/y", 1), ("un/keep", 1)])
        pub.connect_ok(unique_id())
        pub.publish_qos1("un/x", b"before")
        p = c.expect(raw.PUBLISH)
        assert p.payload == b"before"
        c.send(raw.puback(p.packet_id))
        c.send(raw.unsubscribe(5, ["un/x", "un/y"]))
        assert c.expect(raw.UNSUBACK).packet_id == 5
        pub.publish_qos1("un/x", b"after-x", packet_id=2)
        pub.publish_qos1("un/y", b"after-y", packet_id=3)
        pub.publish_qos1("un/keep", b"kept", packet_id=4)
        p = c.expect(raw.PUBLISH)
        assert p.payload == b"kept"
        c.send(raw.puback(p.packet_id))
        c.expect_no_packet(0.5)


def test_unsubscribe_wildcard_filter_is_literal(broker):
    """UNSUBSCRIBE compares filters character by character: 'un/+' does not remove 'un/a'."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.subscribe([("unw/a", 0)])
        c.unsubscribe(["unw/+"], packet_id=2)
        c.send(raw.publish("unw/a", b"still"))
        assert c.expect(raw.PUBLISH).payload == b"still"


def test_unsubscribe_paho_mqtt31(broker):
    """paho 3.1 unsubscribe then no delivery."""
    c = PahoClient(broker, protocol=MQTTv31)
    c.connect()
    c.subscribe("un/p", 1)
    c.unsubscribe("un/p")
    mosquitto_pub(broker, "un/p", "x", qos=1)
    mosquitto_pub(broker, "un/other", "y", qos=1)
    c.subscribe("un/other2", 0)
    c.client.publish("un/other2", b"barrier")
    msgs = c.wait_messages(1)
    assert [m.payload for m in msgs] == [b"barrier"]
    c.disconnect()


def test_unsubscribe_bad_flags_closes(broker):
    """UNSUBSCRIBE fixed header flags must be 0010 (MQTT-3.10.1-1)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.send(raw.unsubscribe(1, ["x"], flags=0))
        c.expect_closed(5)


def test_pingreq_pingresp(broker):
    """PINGREQ is answered by PINGRESP (MQTT-3.12.4-1), repeatedly."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        for _ in range(3):
            c.send(raw.pingreq())
        for _ in range(3):
            r = c.expect(raw.PINGRESP)
            assert r.flags == 0 and r.body == b""


def test_disconnect_closes_connection(broker):
    """After DISCONNECT the server closes the network connection (MQTT-3.14.4-1 client side;
    the server must not send anything)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.send(raw.disconnect())
        got = c.expect_closed(5)
        assert got == []


def test_disconnect_with_nonzero_flags_closes(broker):
    """DISCONNECT fixed-header flags must be 0 (MQTT-3.14.1-1)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.send(raw.packet(raw.DISCONNECT, 0x1))
        c.expect_closed(5)


def test_disconnect_does_not_affect_other_clients(broker):
    """One client's DISCONNECT leaves others connected; mosquitto_sub keeps receiving."""
    with MosquittoSub(broker, "dc/t", qos=1) as sub:
        with raw.RawClient(broker.host, broker.port) as c:
            c.connect_ok(unique_id())
            c.send(raw.disconnect())
            c.expect_closed(5)
        mosquitto_pub(broker, "dc/t", "after", qos=1)
        msgs = sub.wait_messages(1)
        assert [m[3] for m in msgs] == ["after"]


def test_mosquitto_sub_count_exits(broker):
    """mosquitto_sub -C 1 receives one message and DISCONNECTs cleanly (exit 0)."""
    proc = subprocess.Popen([MOSQUITTO_SUB, "-h", broker.host, "-p", str(broker.port),
                             "-t", "dc/once", "-C", "1", "-W", "5", "-q", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # publish repeatedly until the subscriber (which may still be subscribing) gets one
        import time
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            mosquitto_pub(broker, "dc/once", "hello", qos=1)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.decode().strip() == "hello"
