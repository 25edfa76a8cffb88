"""Session state: CleanSession 0/1, offline queueing (MQTT 3.1.1 sections 3.1.2.4, 3.2.2.2, 4.1)."""

import time

import pytest

import rawmqtt as raw
from clients import MQTTv31, PahoClient, mosquitto_pub, unique_id


def _publish_qos(broker, topic, items):
    """Publish [(payload, qos)] with a raw client, completing every handshake."""
    with raw.RawClient(broker.host, broker.port) as pub:
        pub.connect_ok(unique_id("pub"))
        pid = 1
        for payload, qos in items:
            if qos == 0:
                pub.send(raw.publish(topic, payload))
            elif qos == 1:
                pub.publish_qos1(topic, payload, packet_id=pid)
            else:
                pub.publish_qos2(topic, payload, packet_id=pid)
            pid += 1
        pub.ping()  # everything before it has been processed
        pub.send(raw.disconnect())


def test_new_persistent_session_has_session_present_0(broker):
    """No stored session -> Session Present 0 even with CleanSession=0 (MQTT-3.2.2-3)."""
    with raw.RawClient(broker.host, broker.port) as c:
        ack = c.connect(unique_id("s"), clean=False)
        assert ack.rc == 0 and ack.session_present == 0


def test_persistent_session_keeps_subscriptions_and_queues_qos12(broker):
    """CleanSession=0: subscriptions survive and QoS 1/2 are queued while offline;
    reconnect gets Session Present 1 (MQTT-3.1.2-4, MQTT-3.1.2-5, MQTT-3.2.2-2)."""
    cid = unique_id("s")
    c = PahoClient(broker, client_id=cid, clean_session=False)
    c.connect()
    assert c.session_present == 0
    assert c.subscribe("sess/q", 2) == [2]
    c.disconnect()

    _publish_qos(broker, "sess/q", [(b"one", 1), (b"two", 2), (b"three", 1)])

    c2 = PahoClient(broker, client_id=cid, clean_session=False)
    c2.connect()
    assert c2.session_present == 1
    msgs = c2.wait_messages(3, timeout=5)
    assert sorted((m.payload, m.qos) for m in msgs) == [(b"one", 1), (b"three", 1), (b"two", 2)]
    # Delivery order for a single publisher is preserved (MQTT-4.6.0-6 for same QoS; we
    # check the QoS 1 messages relative to each other).
    q1 = [m.payload for m in msgs if m.qos == 1]
    assert q1 == [b"one", b"three"]
    # Subscription is still live after the resume.
    mosquitto_pub(broker, "sess/q", "live", qos=1)
    assert c2.wait_for(lambda m: m.payload == b"live") is not None
    c2.disconnect()


def test_persistent_session_raw_mqtt31(broker):
    """Same with raw MQTT 3.1 (MQIsdp) CONNECTs."""
    cid = unique_id("r")
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.connect_v31(cid, clean=False))
        assert c.expect(raw.CONNACK).rc == 0
        c.subscribe([("sess31/q", 1)])
        c.send(raw.disconnect())
    _publish_qos(broker, "sess31/q", [(b"queued31", 1)])
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.connect_v31(cid, clean=False))
        ack = c.expect(raw.CONNACK)
        assert ack.rc == 0
        # MQTT 3.1 has no session-present flag; only the queued message matters.
        p = c.expect(raw.PUBLISH)
        assert p.payload == b"queued31" and p.qos == 1
        c.send(raw.puback(p.packet_id))


def test_clean_session_discards_state(broker):
    """CleanSession=1 discards the previous session: Session Present 0 and no
    subscriptions or queued messages afterwards (MQTT-3.1.2-6, MQTT-3.2.2-1)."""
    cid = unique_id("s")
    with raw.RawClient(broker.host, broker.port) as c:
        assert c.connect(cid, clean=False).rc == 0
        c.subscribe([("sess/clean", 1)])
        c.send(raw.disconnect())
    _publish_qos(broker, "sess/clean", [(b"queued-before-clean", 1)])
    with raw.RawClient(broker.host, broker.port) as c:
        ack = c.connect(cid, clean=True)
        assert ack.rc == 0 and ack.session_present == 0
        c.expect_no_packet(0.5)  # the queued message was discarded with the session
        c.send(raw.disconnect())
    _publish_qos(broker, "sess/clean", [(b"after-clean", 1)])
    with raw.RawClient(broker.host, broker.port) as c:
        ack = c.connect(cid, clean=False)
        assert ack.rc == 0 and ack.session_present == 0
        c.expect_no_packet(0.7)
        # and the old subscription is gone: a live publish is not delivered either
        with raw.RawClient(broker.host, broker.port) as pub:
            pub.connect_ok(unique_id())
            pub.publish_qos1("sess/clean", b"live")
        c.expect_no_packet(0.5)


def test_clean_session_state_not_kept_after_disconnect(broker):
    """A CleanSession=1 session ends with the connection (MQTT-3.1.2-6)."""
    cid = unique_id("s")
    c = PahoClient(broker, client_id=cid, clean_session=True)
    c.connect()
    c.subscribe("sess/c1", 1)
    c.disconnect()
    with raw.RawClient(broker.host, broker.port) as r:
        ack = r.connect(cid, clean=False)
        assert ack.rc == 0 and ack.session_present == 0


def test_qos0_not_queued_for_offline_client(broker):
    """QoS 0 messages are not stored for a disconnected persistent session
    (MQTT 3.1.1 4.1: storing QoS 0 is optional; Colony and Mosquitto's default do not)."""
    cid = unique_id("s")
    with raw.RawClient(broker.host, broker.port) as c:
        assert c.connect(cid, clean=False).rc == 0
        c.subscribe([("sess/zero", 0), ("sess/zero1", 1)])
        c.send(raw.disconnect())
    _publish_qos(broker, "sess/zero", [(b"z0", 0)])
    _publish_qos(broker, "sess/zero1", [(b"z1-as-qos0", 0), (b"marker", 1)])
    with raw.RawClient(broker.host, broker.port) as c:
        ack = c.connect(cid, clean=False)
        assert ack.session_present == 1
        got = c.collect(1.0)
        payloads = [p.payload for p in got if p.type == raw.PUBLISH]
        assert payloads == [b"marker"], got


def test_paho_persistent_session_mqtt31(broker):
    """paho MQTTv31 persistent session receives queued QoS 1 on reconnect."""
    cid = unique_id("p31")
    c = PahoClient(broker, client_id=cid, clean_session=False, protocol=MQTTv31)
    c.connect()
    c.subscribe("sess/p31", 1)
    c.disconnect()
    mosquitto_pub(broker, "sess/p31", "offline31", qos=1)
    c2 = PahoClient(broker, client_id=cid, clean_session=False, protocol=MQTTv31)
    c2.connect()
    msgs = c2.wait_messages(1)
    assert [m.payload for m in msgs] == [b"offline31"]
    c2.disconnect()


@pytest.mark.broker_opts(max_queued_messages=5, max_inflight=2)
def test_offline_queue_is_bounded(broker):
    """--max-queued-messages bounds the offline queue: excess QoS 1 messages are dropped
    (Mosquitto may hold max_queued + max_inflight for an offline client)."""
    cid = unique_id("s")
    with raw.RawClient(broker.host, broker.port) as c:
        assert c.connect(cid, clean=False).rc == 0
        c.subscribe([("sess/bound", 1)])
        c.send(raw.disconnect())
    total = 30
    _publish_qos(broker, "sess/bound", [(b"m%02d" % i, 1) for i in range(total)])
    with raw.RawClient(broker.host, broker.port) as c:
        ack = c.connect(cid, clean=False)
        assert ack.session_present == 1
        received = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                p = c.recv_packet(0.6)
            except raw.NoPacket:
                break
            if p.type == raw.PUBLISH:
                received.append(p.payload)
                c.send(raw.puback(p.packet_id))
        assert 1 <= len(received) <= 5 + 2, received
        assert len(set(received)) == len(received), "duplicates: %r" % received
        # The broker keeps serving the session normally afterwards.
        with raw.RawClient(broker.host, broker.port) as pub:
            pub.connect_ok(unique_id())
            pub.publish_qos1("sess/bound", b"after")
        deadline = time.monotonic() + 3
        while True:
            p = c.recv_packet(max(0.05, deadline - time.monotonic()))
            if p.type == raw.PUBLISH and p.payload == b"after":
                break
            if p.type == raw.PUBLISH:
                c.send(raw.puback(p.packet_id))
