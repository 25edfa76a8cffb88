"""CONNECT / CONNACK handling (MQTT 3.1.1 section 3.1, 3.2)."""

import time

import pytest

import rawmqtt as raw
from clients import MQTTv31, MQTTv311, PahoClient, mosquitto_pub, mosquitto_sub_collect, unique_id


def test_connack_accepted_mqtt311(broker):
    """A valid 3.1.1 CONNECT gets CONNACK rc 0 (MQTT-3.2.0-1: first packet from server is CONNACK)."""
    with raw.RawClient(broker.host, broker.port) as c:
        ack = c.connect(unique_id(), clean=True)
        assert ack.rc == 0
        assert ack.session_present == 0
        assert ack.flags == 0
        c.ping()


def test_bad_protocol_level_connack_0x01_then_close(broker):
    """Unsupported protocol level -> CONNACK 0x01 and close (MQTT-3.1.2-2)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.connect(unique_id(), proto_name="MQTT", proto_level=9))
        got = c.expect_closed(5)
        assert len(got) == 1, got
        assert got[0].type == raw.CONNACK and got[0].rc == 0x01, got


def test_mqtt31_mqisdp_raw(broker):
    """MQTT 3.1 ("MQIsdp", level 3) CONNECT is accepted and usable."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.connect_v31(unique_id()))
        ack = c.expect(raw.CONNACK)
        assert ack.rc == 0
        suback = c.subscribe([("v31/raw", 1)])
        assert suback.codes == [1]
        c.send(raw.publish("v31/raw", b"hello31", qos=1, packet_id=5))
        pkts = [c.recv_packet(), c.recv_packet()]
        types = sorted(p.type for p in pkts)
        assert types == [raw.PUBLISH, raw.PUBACK], pkts
        pub = [p for p in pkts if p.type == raw.PUBLISH][0]
        assert pub.payload == b"hello31" and pub.qos == 1


def test_mqtt31_paho_roundtrip(broker):
    """paho MQTTv31 client: connect, subscribe, publish QoS 0/1/2 round trip."""
    sub = PahoClient(broker, protocol=MQTTv31)
    sub.connect()
    assert sub.subscribe("v31/paho", 2) == [2]
    pub = PahoClient(broker, protocol=MQTTv31)
    pub.connect()
    for q in (0, 1, 2):
        pub.publish("v31/paho", b"m%d" % q, qos=q)
    msgs = sub.wait_messages(3)
    assert sorted((m.payload, m.qos) for m in msgs) == [(b"m0", 0), (b"m1", 1), (b"m2", 2)]
    pub.disconnect()
    sub.disconnect()


def test_mqtt31_and_mqtt311_interoperate(broker):
    """A 3.1 subscriber receives a 3.1.1 publisher's message (mosquitto clients)."""
    sub = PahoClient(broker, protocol=MQTTv31)
    sub.connect()
    sub.subscribe("mixed/t", 1)
    mosquitto_pub(broker, "mixed/t", "from311", qos=1, version="mqttv311")
    msgs = sub.wait_messages(1)
    assert [m.payload for m in msgs] == [b"from311"]
    sub.disconnect()
    mosquitto_pub(broker, "mixed/r", "from31", qos=1, retain=True, version="mqttv31")
    got = mosquitto_sub_collect(broker, "mixed/r", 1, qos=1, wait_s=3, version="mqttv311")
    assert got == [("mixed/r", 1, 1, "from31")]


def test_zero_length_client_id_clean_session_accepted(broker):
    """Zero-byte ClientId with CleanSession=1 is accepted with an assigned id (MQTT-3.1.3-6, -7)."""
    with raw.RawClient(broker.host, broker.port) as a, raw.RawClient(broker.host, broker.port) as b:
        assert a.connect("", clean=True).rc == 0
        # Two anonymous clients coexist: their assigned ids are distinct (no takeover).
        assert b.connect("", clean=True).rc == 0
        a.subscribe([("anon/t", 0)])
        b.send(raw.publish("anon/t", b"x"))
        p = a.expect(raw.PUBLISH)
        assert p.payload == b"x"
        b.ping()


def test_zero_length_client_id_persistent_session_rejected(broker):
    """Zero-byte ClientId with CleanSession=0 -> CONNACK 0x02 then close (MQTT-3.1.3-8)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.connect("", clean=False))
        got = c.expect_closed(5)
        assert len(got) == 1 and got[0].type == raw.CONNACK, got
        assert got[0].rc == 0x02


@pytest.mark.parametrize("first", [
    pytest.param(raw.pingreq(), id="PINGREQ"),
    pytest.param(raw.publish("x/y", b"p"), id="PUBLISH"),
    pytest.param(raw.subscribe(1, [("x/#", 0)]), id="SUBSCRIBE"),
    pytest.param(raw.disconnect(), id="DISCONNECT"),
])
def test_first_packet_not_connect_closes(broker, first):
    """The first packet from a client must be CONNECT, else close (MQTT-3.1.0-1)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(first)
        got = c.expect_closed(5)
        assert got == [], "broker answered a pre-CONNECT packet: %r" % got


@pytest.mark.colony_only(reason="--connect-timeout has no Mosquitto equivalent")
@pytest.mark.broker_opts(connect_timeout=1)
def test_no_connect_within_connect_timeout_closes(broker):
    """A socket that never sends CONNECT is closed after --connect-timeout."""
    with raw.RawClient(broker.host, broker.port) as c:
        t0 = time.monotonic()
        got = c.expect_closed(6)
        elapsed = time.monotonic() - t0
        assert got == []
        assert 0.5 <= elapsed <= 5.0, elapsed
    # The broker still serves others.
    with raw.RawClient(broker.host, broker.port) as c:
        assert c.connect(unique_id()).rc == 0


def test_second_connect_is_protocol_violation(broker):
    """A second CONNECT on the same connection closes it (MQTT-3.1.0-2)."""
    with raw.RawClient(broker.host, broker.port) as c:
        cid = unique_id()
        assert c.connect(cid).rc == 0
        c.send(raw.connect(cid))
        got = c.expect_closed(5)
        assert all(p.type != raw.CONNACK for p in got), got


def test_connect_reserved_flag_bit_closes(broker):
    """CONNECT flags bit 0 is reserved and must be 0, else disconnect (MQTT-3.1.2-3)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.connect(unique_id(), reserved_bit=True))
        got = c.expect_closed(5)
        assert all(p.type != raw.CONNACK or p.rc != 0 for p in got), got


def test_connect_fixed_header_reserved_flags_close(broker):
    """CONNECT fixed header flags must be 0000 (MQTT-2.2.2-2)."""
    with raw.RawClient(broker.host, broker.port) as c:
        pkt = bytearray(raw.connect(unique_id()))
        pkt[0] |= 0x01
        c.send(bytes(pkt))
        got = c.expect_closed(5)
        assert all(p.type != raw.CONNACK or p.rc != 0 for p in got), got


def test_will_qos_3_closes(broker):
    """Will QoS 3 is invalid (MQTT-3.1.2-14)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.connect(unique_id(), will=dict(topic="w/t", payload=b"x", qos=3)))
        got = c.expect_closed(5)
        assert all(p.type != raw.CONNACK or p.rc != 0 for p in got), got


def test_will_flags_without_will_flag_close(broker):
    """Will flag 0 requires Will QoS 0 and Will Retain 0 (MQTT-3.1.2-11, -13, -15)."""
    with raw.RawClient(broker.host, broker.port) as c:
        # clean + will retain without will flag
        c.send(raw.connect(unique_id(), flags=0x02 | 0x20))
        got = c.expect_closed(5)
        assert all(p.type != raw.CONNACK or p.rc != 0 for p in got), got


def test_same_client_id_takes_over(broker):
    """A new connection with an existing ClientId closes the old one (MQTT-3.1.4-2)."""
    cid = unique_id("dup")
    first = raw.RawClient(broker.host, broker.port)
    second = raw.RawClient(broker.host, broker.port)
    try:
        assert first.connect(cid).rc == 0
        assert second.connect(cid).rc == 0
        first.expect_closed(5)
        # The new connection is fully usable.
        second.subscribe([("takeover/t", 0)])
        second.send(raw.publish("takeover/t", b"mine"))
        assert second.expect(raw.PUBLISH).payload == b"mine"
        second.ping()
    finally:
        first.close()
        second.close()


def test_takeover_keeps_persistent_session(broker):
    """Takeover with CleanSession=0 resumes the existing session (MQTT-3.1.4-2, MQTT-3.2.2-2)."""
    cid = unique_id("tk")
    first = raw.RawClient(broker.host, broker.port)
    second = raw.RawClient(broker.host, broker.port)
    try:
        assert first.connect(cid, clean=False).rc == 0
        first.subscribe([("takeover/s", 1)])
        ack = second.connect(cid, clean=False)
        assert ack.rc == 0 and ack.session_present == 1
        first.expect_closed(5)
        with raw.RawClient(broker.host, broker.port) as pub:
            pub.connect_ok(unique_id())
            pub.publish_qos1("takeover/s", b"still-subscribed")
        p = second.expect(raw.PUBLISH)
        assert p.payload == b"still-subscribed"
    finally:
        first.close()
        second.close()


def test_username_password_accepted_anonymous_broker(broker):
    """Username/password fields are parsed (MQTT-3.1.2-19, -21); anonymous config accepts them."""
    with raw.RawClient(broker.host, broker.port) as c:
        assert c.connect(unique_id(), username="user", password=b"secret\x00\xff").rc == 0
        c.ping()


def test_paho_mqtt311_connect(broker):
    """paho MQTTv311 client connects with session present 0 on a clean session."""
    c = PahoClient(broker, protocol=MQTTv311)
    flags, rc = c.connect()
    assert rc == 0 and c.session_present == 0
    c.disconnect()


@pytest.mark.parametrize("together", [True, False], ids=["one-write", "separate-writes"])
def test_packets_sent_before_connack_are_handled_after_it(broker, together):
    """A client may send packets right after CONNECT without waiting for CONNACK
    (MQTT-3.1.4 / 4.6: the server processes them in order once the CONNECT is accepted).
    Sent in the CONNECT's own write, or in writes of their own that arrive while the server
    is deciding the CONNECT; repeated, so that some land in each window."""
    for i in range(40):
        topic = "pre/connack/%d" % i
        with raw.RawClient(broker.host, broker.port) as c:
            first = raw.connect(unique_id("pre"))
            rest = [raw.subscribe(7, [(topic, 1)]), raw.publish(topic, b"mine", qos=1, packet_id=9)]
            if together:
                c.send(first + b"".join(rest))
            else:
                c.send(first)
                for p in rest:
                    c.send(p)
            assert c.expect(raw.CONNACK).body[1] == 0
            got = {}
            for _ in range(3):
                p = c.recv_packet(timeout=5.0)
                got[p.name] = p
            assert got["SUBACK"].packet_id == 7
            assert got["PUBACK"].packet_id == 9
            assert got["PUBLISH"].payload == b"mine"


def test_connects_waiting_in_the_accept_queue_are_all_answered(broker):
    """A burst of connections, each sending its CONNECT right after the TCP handshake, mostly
    before the broker has accepted it (Colony waits for readability right after accept instead
    of reading first): every one is answered."""
    n = 60
    clients = []
    try:
        for i in range(n):
            c = raw.RawClient(broker.host, broker.port)
            c.send(raw.connect(unique_id("burst%d" % i), clean=True))
            clients.append(c)
        for c in clients:
            ack = c.expect(raw.CONNACK, timeout=10)
            assert ack.rc == 0
        for c in clients:
            c.ping()
    finally:
        for c in clients:
            c.close()
