"""MQTT 5.0 PUBLISH: basic flows, properties forwarded (user properties, payload format,
content type, response topic, correlation data), topic aliases in both directions,
Maximum Packet Size, Receive Maximum flow control, and 3.1.1/5.0 interoperation
(MQTT 5.0 sections 3.3, 4.9, 4.13)."""

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import rawmqtt as raw
import rawmqtt5 as v5
from broker import is_mosquitto
from clients import unique_id


def _sub(broker, filters, prefix="sub", **kw):
    c = v5.connected(broker, unique_id(prefix), **kw)
    if isinstance(filters, str):
        filters = [(filters, v5.sub_options(2))]
    ack = c.subscribe(filters)
    assert all(code < 0x80 for code in ack.codes), ack
    return c


def _ok(rc):
    # 0x10 (No matching subscribers) is a success code too (section 3.4.2.1).
    return rc in (v5.RC_SUCCESS, v5.RC_NO_MATCHING_SUBSCRIBERS)


# ---------------------------------------------------------------------------
# Basic flows
# ---------------------------------------------------------------------------

def test_basic_pubsub_qos_0_1_2(broker):
    """MQTT 5 publisher and subscriber: QoS 0/1/2 delivered at the published QoS; PUBACK/
    PUBREC/PUBCOMP carry success reason codes (sections 3.4.2.1, 3.5.2.1, 3.7.2.1)."""
    with _sub(broker, "v5/basic") as s, v5.connected(broker, unique_id("pub")) as pub:
        pub.send(v5.publish("v5/basic", b"q0"))
        assert _ok(pub.publish_qos1("v5/basic", b"q1", packet_id=1).rc)
        assert _ok(pub.publish_qos2("v5/basic", b"q2", packet_id=2).rc)
        got = s.wait_publishes(3)
        assert [(p.payload, p.qos) for p in got] == [(b"q0", 0), (b"q1", 1), (b"q2", 2)], got
        s.send(v5.puback(got[1].packet_id))
        s.send(v5.pubrec(got[2].packet_id))
        assert s.expect(v5.PUBREL).packet_id == got[2].packet_id
        s.send(v5.pubcomp(got[2].packet_id))
        s.ping()


def test_publish_without_subscribers_acked(broker):
    """A QoS 1 PUBLISH nobody subscribes to is still acknowledged, with 0x00 or 0x10."""
    with v5.connected(broker, unique_id("pub")) as pub:
        assert _ok(pub.publish_qos1("v5/nobody/here", b"x").rc)


def test_paho_v5_pubsub(broker):
    """paho-mqtt MQTT 5 clients exchange a QoS 1 message, properties intact."""
    got = []
    ev = threading.Event()
    sub = mqtt.Client(unique_id("ps"), protocol=mqtt.MQTTv5)

    def on_message(c, u, m):
        got.append(m)
        ev.set()
    subscribed = threading.Event()
    sub.on_message = on_message
    sub.on_subscribe = lambda c, u, mid, rcs, props: subscribed.set()
    sub.connect(broker.host, broker.port, 30)
    sub.loop_start()
    pub = mqtt.Client(unique_id("pp"), protocol=mqtt.MQTTv5)
    pub.connect(broker.host, broker.port, 30)
    pub.loop_start()
    try:
        sub.subscribe("v5/paho", options=mqtt.SubscribeOptions(qos=1))
        assert subscribed.wait(5)
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("k", "v")
        props.ContentType = "text/plain"
        pub.publish("v5/paho", b"hello-v5", qos=1, properties=props).wait_for_publish()
        assert ev.wait(5)
        m = got[0]
        assert (m.topic, m.payload, m.qos) == ("v5/paho", b"hello-v5", 1)
        assert m.properties.UserProperty == [("k", "v")]
        assert m.properties.ContentType == "text/plain"
    finally:
        for c in (sub, pub):
            c.disconnect()
            c.loop_stop()


# ---------------------------------------------------------------------------
# Properties forwarded unaltered
# ---------------------------------------------------------------------------

def test_user_properties_forwarded_in_order(broker):
    """User Properties (including repeated names) are forwarded unaltered and in order
    (MQTT-3.3.2-17, MQTT-3.3.2-18)."""
    ups = [("b", "2"), ("a", "1"), ("a", "3"), ("z", ""), ("unicode", "\u00e9\u4e2d")]
    props = [(v5.USER_PROPERTY, up) for up in ups]
    with _sub(broker, "v5/up") as s, v5.connected(broker, unique_id("pub")) as pub:
        pub.publish_qos1("v5/up", b"x", props=props)
        pub.send(v5.publish("v5/up", b"y", qos=0, props=props))
        for payload in (b"x", b"y"):
            p = s.expect(v5.PUBLISH)
            assert p.payload == payload
            assert p.props.user_properties == ups, p.props
            if p.qos:
                s.send(v5.puback(p.packet_id))


@pytest.mark.parametrize("pfi", [0, 1])
def test_payload_format_indicator_forwarded(broker, pfi):
    """The Payload Format Indicator is sent unaltered to every subscriber (MQTT-3.3.2-4)."""
    with _sub(broker, "v5/pfi") as s, v5.connected(broker, unique_id("pub")) as pub:
        pub.publish_qos1("v5/pfi", "h\u00e9llo".encode("utf-8"),
                         props=[(v5.PAYLOAD_FORMAT_INDICATOR, pfi)])
        p = s.expect(v5.PUBLISH)
        assert p.payload == "h\u00e9llo".encode("utf-8")
        assert p.props.get(v5.PAYLOAD_FORMAT_INDICATOR, 0) == pfi, p


# Validating the payload is optional ("MAY", section 3.3.2.3.2); Mosquitto 2.0.11 does not
# and forwards the message.
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 does not validate PFI=1 payloads")
def test_invalid_utf8_payload_with_pfi_1_refused_0x99(broker):
    """PFI=1 with a payload that is not valid UTF-8: the server validates it and answers
    PUBACK 0x99 (Payload format invalid); the message is not delivered (section 3.3.2.3.2)."""
    with _sub(broker, "v5/pfibad") as s, v5.connected(broker, unique_id("pub")) as pub:
        ack = pub.publish_qos1("v5/pfibad", b"\xff\xfe\xc3(", props=[(v5.PAYLOAD_FORMAT_INDICATOR, 1)])
        assert ack.rc == v5.RC_PAYLOAD_FORMAT_INVALID, ack
        # The same bytes flagged as unspecified (PFI 0) are fine.
        assert _ok(pub.publish_qos1("v5/pfibad", b"\xff\xfe\xc3(", packet_id=2,
                                    props=[(v5.PAYLOAD_FORMAT_INDICATOR, 0)]).rc)
        got = s.wait_publishes(1)
        assert [p.payload for p in got] == [b"\xff\xfe\xc3("], got
        assert got[0].props.get(v5.PAYLOAD_FORMAT_INDICATOR, 0) == 0


def test_content_type_response_topic_correlation_data_forwarded(broker):
    """Content Type, Response Topic and Correlation Data are forwarded unaltered
    (MQTT-3.3.2-20, MQTT-3.3.2-15, MQTT-3.3.2-16)."""
    corr = bytes(range(256))
    props = [(v5.CONTENT_TYPE, "application/json; charset=utf-8"),
             (v5.RESPONSE_TOPIC, "v5/reply/\u00e9"), (v5.CORRELATION_DATA, corr)]
    with _sub(broker, "v5/ct") as s, v5.connected(broker, unique_id("pub")) as pub:
        pub.publish_qos1("v5/ct", b"{}", props=props)
        p = s.expect(v5.PUBLISH)
        assert p.props.get(v5.CONTENT_TYPE) == "application/json; charset=utf-8"
        assert p.props.get(v5.RESPONSE_TOPIC) == "v5/reply/\u00e9"
        assert p.props.get(v5.CORRELATION_DATA) == corr


def test_request_response_round_trip(broker):
    """Request/response (section 4.10): the responder answers on the request's Response
    Topic echoing its Correlation Data; the requester matches them up."""
    requester = _sub(broker, "v5/rr/reply/req1", prefix="req")
    responder = _sub(broker, "v5/rr/service", prefix="svc")
    try:
        for i, corr in enumerate([b"id-1", b"id-2"]):
            requester.publish_qos1("v5/rr/service", b"ask%d" % i, packet_id=10 + i, props=[
                (v5.RESPONSE_TOPIC, "v5/rr/reply/req1"), (v5.CORRELATION_DATA, corr)])
        for _ in range(2):
            req = responder.await_packet(v5.PUBLISH)
            responder.send(v5.puback(req.packet_id))
            responder.publish_qos1(req.props.get(v5.RESPONSE_TOPIC), b"re:" + req.payload,
                                   packet_id=req.packet_id + 100,
                                   props=[(v5.CORRELATION_DATA, req.props.get(v5.CORRELATION_DATA))])
        answers = []
        for _ in range(2):
            a = requester.await_packet(v5.PUBLISH)
            requester.send(v5.puback(a.packet_id))
            answers.append((a.props.get(v5.CORRELATION_DATA), a.payload))
        assert sorted(answers) == [(b"id-1", b"re:ask0"), (b"id-2", b"re:ask1")]
    finally:
        requester.close()
        responder.close()


# ---------------------------------------------------------------------------
# Topic aliases, client -> server
# ---------------------------------------------------------------------------

def _alias_max(c):
    m = c.connack.props.get(v5.TOPIC_ALIAS_MAXIMUM, 0)
    assert m > 0, "server accepts no topic aliases: %r" % c.connack
    return m


def test_client_topic_alias_set_then_used(broker):
    """Client -> server Topic Alias: a PUBLISH with topic + alias sets the mapping; later
    PUBLISHes with an empty topic + alias go to that topic; re-mapping an alias works
    (section 3.3.2.3.4, MQTT-3.3.2-12). Subscribers always see the full topic name."""
    with _sub(broker, "v5/alias/#") as s, v5.connected(broker, unique_id("pub")) as pub:
        amax = _alias_max(pub)
        pub.publish_qos1("v5/alias/one", b"1", packet_id=1, props=[(v5.TOPIC_ALIAS, 1)])
        pub.publish_qos1("", b"2", packet_id=2, props=[(v5.TOPIC_ALIAS, 1)])
        pub.send(v5.publish("", b"3", props=[(v5.TOPIC_ALIAS, 1)]))
        pub.publish_qos1("v5/alias/max", b"4", packet_id=3, props=[(v5.TOPIC_ALIAS, amax)])
        pub.publish_qos1("", b"5", packet_id=4, props=[(v5.TOPIC_ALIAS, amax)])
        pub.publish_qos1("v5/alias/two", b"6", packet_id=5, props=[(v5.TOPIC_ALIAS, 1)])
        pub.publish_qos1("", b"7", packet_id=6, props=[(v5.TOPIC_ALIAS, 1)])
        got = s.wait_publishes(7)
        assert [(p.topic, p.payload) for p in got] == [
            ("v5/alias/one", b"1"), ("v5/alias/one", b"2"), ("v5/alias/one", b"3"),
            ("v5/alias/max", b"4"), ("v5/alias/max", b"5"),
            ("v5/alias/two", b"6"), ("v5/alias/two", b"7")], got
        assert all(v5.TOPIC_ALIAS not in p.props for p in got), got


def test_client_topic_alias_above_maximum_disconnect_0x94(broker):
    """Topic Alias greater than the CONNACK Topic Alias Maximum -> DISCONNECT 0x94 (Topic
    Alias invalid) (MQTT-3.3.2-9, section 3.3.2.3.4)."""
    with _sub(broker, "v5/abig") as s, v5.connected(broker, unique_id("pub")) as pub:
        amax = _alias_max(pub)
        pub.send(v5.publish("v5/abig", b"x", qos=1, packet_id=1, props=[(v5.TOPIC_ALIAS, amax + 1)]))
        pub.expect_disconnect(v5.RC_TOPIC_ALIAS_INVALID, 5)
        s.expect_no_packet(0.3)


def test_client_topic_alias_zero_disconnect(broker):
    """Topic Alias 0 is not allowed (MQTT-3.3.2-8): DISCONNECT and close.  The spec ties
    0x94 (Topic Alias invalid) to aliases above the maximum, so 0x82 (Protocol Error) is
    accepted as well.  Mosquitto 2.0.11 answers 0x81 (Malformed Packet), also an error
    close; Colony must use 0x82 or 0x94."""
    with v5.connected(broker, unique_id("pub")) as pub:
        pub.send(v5.publish("v5/azero", b"x", qos=1, packet_id=1, props=[(v5.TOPIC_ALIAS, 0)]))
        got = pub.expect_closed(5)
        assert got and got[-1].type == v5.DISCONNECT, got
        if is_mosquitto():
            assert got[-1].rc >= 0x80, got
        else:
            assert got[-1].rc in (v5.RC_PROTOCOL_ERROR, v5.RC_TOPIC_ALIAS_INVALID), got


def test_empty_topic_without_alias_is_protocol_error(broker):
    """Zero-length Topic Name and no Topic Alias is a Protocol Error (section 3.3.2.1)."""
    with v5.connected(broker, unique_id("pub")) as pub:
        pub.send(v5.publish("", b"x", qos=1, packet_id=1))
        pub.expect_disconnect(v5.RC_PROTOCOL_ERROR, 5)


def test_client_topic_alias_not_carried_to_new_connection(broker):
    """Topic Alias mappings do not survive the connection (MQTT-3.3.2-7): using alias 1
    with an empty topic on a new connection of the same session is an error."""
    cid = unique_id("acarry")
    with _sub(broker, "v5/acarry") as s:
        with v5.connected(broker, cid, clean_start=False, props=[(v5.SESSION_EXPIRY_INTERVAL, 60)]) as pub:
            pub.publish_qos1("v5/acarry", b"set", props=[(v5.TOPIC_ALIAS, 1)])
        assert s.expect(v5.PUBLISH).payload == b"set"
        with v5.connected(broker, cid, clean_start=False, props=[(v5.SESSION_EXPIRY_INTERVAL, 60)]) as pub:
            pub.send(v5.publish("", b"stale", qos=1, packet_id=2, props=[(v5.TOPIC_ALIAS, 1)]))
            got = pub.expect_closed(5)
            assert got and got[-1].type == v5.DISCONNECT and got[-1].rc >= 0x80, got
        s.expect_no_packet(0.3)


# ---------------------------------------------------------------------------
# Topic aliases, server -> client
# ---------------------------------------------------------------------------

def test_no_server_topic_alias_without_client_maximum(broker):
    """Client sent no Topic Alias Maximum: the server MUST NOT send any Topic Alias
    (MQTT-3.1.2-27)."""
    with _sub(broker, "v5/noalias") as s, v5.connected(broker, unique_id("pub")) as pub:
        for i in range(3):
            pub.publish_qos1("v5/noalias", b"%d" % i, packet_id=i + 1)
        got = s.wait_publishes(3)
        assert len(got) == 3
        assert all(p.topic == "v5/noalias" and v5.TOPIC_ALIAS not in p.props for p in got), got


# Mosquitto 2.0.11 never assigns Topic Aliases towards clients (it is optional).
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 sends no server-to-client Topic Aliases")
def test_server_topic_alias_used_for_repeated_topic(broker):
    """Client CONNECT Topic Alias Maximum 10: the broker's first PUBLISH on a topic carries
    the topic and an alias in 1..10 (MQTT-3.3.2-11), the next ones on that topic an empty
    Topic Name and the same alias (section 3.3.2.3.4)."""
    with _sub(broker, "v5/salias/#", props=[(v5.TOPIC_ALIAS_MAXIMUM, 10)]) as s, \
            v5.connected(broker, unique_id("pub")) as pub:
        for i in range(3):
            pub.publish_qos1("v5/salias/a", b"a%d" % i, packet_id=i + 1)
        pub.publish_qos1("v5/salias/b", b"b0", packet_id=4)
        pub.publish_qos1("v5/salias/b", b"b1", packet_id=5)
        got = s.wait_publishes(5)
        assert [p.payload for p in got] == [b"a0", b"a1", b"a2", b"b0", b"b1"], got
        alias_a = got[0].props.get(v5.TOPIC_ALIAS)
        alias_b = got[3].props.get(v5.TOPIC_ALIAS)
        assert got[0].topic == "v5/salias/a" and alias_a is not None, got[0]
        assert got[3].topic == "v5/salias/b" and alias_b is not None, got[3]
        assert 1 <= alias_a <= 10 and 1 <= alias_b <= 10 and alias_a != alias_b
        for p in (got[1], got[2]):
            assert p.topic == "" and p.props.get(v5.TOPIC_ALIAS) == alias_a, p
        assert got[4].topic == "" and got[4].props.get(v5.TOPIC_ALIAS) == alias_b, got[4]
        for p in got:
            s.send(v5.puback(p.packet_id))


@pytest.mark.colony_only(reason="Mosquitto 2.0.11 sends no server-to-client Topic Aliases")
def test_server_topic_alias_maximum_respected(broker):
    """Topic Alias Maximum 2 and five topics: every alias the server sends is 1 or 2
    (MQTT-3.3.2-11), and each PUBLISH resolves to the right topic when the client applies
    the mappings it is given (MQTT-3.3.2-10)."""
    with _sub(broker, "v5/smax/#", props=[(v5.TOPIC_ALIAS_MAXIMUM, 2)]) as s, \
            v5.connected(broker, unique_id("pub")) as pub:
        topics = ["v5/smax/%d" % (i % 5) for i in range(15)]
        for i, t in enumerate(topics):
            pub.publish_qos1(t, t.encode(), packet_id=i + 1)
        got = s.wait_publishes(15)
        assert len(got) == 15, got
        assert any(v5.TOPIC_ALIAS in p.props for p in got), "no Topic Alias used at all: %r" % got
        mapping = {}
        for p in got:
            alias = p.props.get(v5.TOPIC_ALIAS)
            if alias is not None:
                assert 1 <= alias <= 2, p
                if p.topic:
                    mapping[alias] = p.topic
            topic = p.topic or mapping.get(alias)
            assert topic == p.payload.decode(), (p, mapping)
            s.send(v5.puback(p.packet_id))


@pytest.mark.colony_only(reason="Mosquitto 2.0.11 sends no server-to-client Topic Aliases")
def test_server_topic_alias_not_carried_to_new_connection(broker):
    """After a reconnect the server sends the full Topic Name again before relying on an
    alias (MQTT-3.3.2-7)."""
    cid = unique_id("sacarry")
    opts = dict(clean_start=False, props=[(v5.SESSION_EXPIRY_INTERVAL, 60), (v5.TOPIC_ALIAS_MAXIMUM, 10)])
    with v5.connected(broker, unique_id("pub")) as pub:
        s = v5.connected(broker, cid, **opts)
        s.subscribe([("v5/sac", v5.sub_options(1))])
        pub.publish_qos1("v5/sac", b"1", packet_id=1)
        pub.publish_qos1("v5/sac", b"2", packet_id=2)
        got = s.wait_publishes(2)
        assert [p.topic for p in got] == ["v5/sac", ""], got
        for p in got:
            s.send(v5.puback(p.packet_id))
        s.ping()
        s.close()
        with v5.connected(broker, cid, **opts) as s2:
            pub.publish_qos1("v5/sac", b"3", packet_id=3)
            p = s2.expect(v5.PUBLISH)
            assert p.topic == "v5/sac", p
            s2.send(v5.puback(p.packet_id))


# ---------------------------------------------------------------------------
# Maximum Packet Size
# ---------------------------------------------------------------------------

def test_message_over_client_maximum_packet_size_not_delivered(broker):
    """Client Maximum Packet Size 256: a larger message is discarded for that client, which
    still gets the later smaller ones (MQTT-3.1.2-24, MQTT-3.1.2-25); other subscribers
    without the limit get everything."""
    small = _sub(broker, "v5/mps", prefix="small", props=[(v5.MAXIMUM_PACKET_SIZE, 256)])
    big = _sub(broker, "v5/mps", prefix="big")
    try:
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/mps", b"a" * 50, packet_id=1)
            pub.publish_qos1("v5/mps", b"B" * 600, packet_id=2)
            pub.publish_qos1("v5/mps", b"c" * 50, packet_id=3)
            pub.send(v5.publish("v5/mps", b"D" * 600))
            pub.send(v5.publish("v5/mps", b"e" * 50))
            pub.ping()
        got_small = small.wait_publishes(3, settle=0.5)
        assert all(p.size <= 256 for p in got_small), [p.size for p in got_small]
        assert [p.payload[:1] for p in got_small] == [b"a", b"c", b"e"], got_small
        got_big = big.wait_publishes(5)
        assert [p.payload[:1] for p in got_big] == [b"a", b"B", b"c", b"D", b"e"], got_big
        # The client is still connected and fine.
        small.ping()
    finally:
        small.close()
        big.close()


# ---------------------------------------------------------------------------
# Flow control (Receive Maximum)
# ---------------------------------------------------------------------------

def test_client_receive_maximum_limits_outstanding_qos1(broker):
    """Client Receive Maximum 2 and a subscriber that does not acknowledge: only 2 QoS 1
    PUBLISHes are outstanding at any time (MQTT-3.3.4-9); each PUBACK releases one more;
    nothing is lost."""
    with _sub(broker, [("v5/rm", v5.sub_options(1))], props=[(v5.RECEIVE_MAXIMUM, 2)]) as s, \
            v5.connected(broker, unique_id("pub")) as pub:
        for i in range(6):
            pub.publish_qos1("v5/rm", b"%d" % i, packet_id=i + 1)
        first = s.wait_publishes(2, settle=0.5)
        assert [p.payload for p in first] == [b"0", b"1"], first
        s.send(v5.puback(first[0].packet_id))
        nxt = s.wait_publishes(1, settle=0.5)
        # Mosquitto 2.0.11 deviation (also seen with 3.1.1, see README): after the window
        # has been full, one PUBACK lets two messages through.  Only Colony is held to
        # the exact window.
        strict = not is_mosquitto()
        if strict:
            assert [p.payload for p in nxt] == [b"2"], nxt
        else:
            assert nxt and nxt[0].payload == b"2", nxt
        outstanding = [first[1]] + nxt
        received = [p.payload for p in first + nxt]
        deadline = time.monotonic() + 5
        while outstanding and time.monotonic() < deadline:
            s.send(v5.puback(outstanding.pop(0).packet_id))
            more = s.publishes(0.3)
            if strict:
                assert len(outstanding) + len(more) <= 2, (outstanding, more)
            outstanding += more
            received += [p.payload for p in more]
        assert received == [b"%d" % i for i in range(6)]


def test_client_receive_maximum_qos2(broker):
    """Receive Maximum counts QoS 2 PUBLISHes until PUBCOMP (MQTT-3.3.4-9, section 4.9)."""
    with _sub(broker, [("v5/rm2", v5.sub_options(2))], props=[(v5.RECEIVE_MAXIMUM, 1)]) as s, \
            v5.connected(broker, unique_id("pub")) as pub:
        for i in range(3):
            pub.publish_qos2("v5/rm2", b"%d" % i, packet_id=i + 1)
        got = s.wait_publishes(1, settle=0.5)
        assert [p.payload for p in got] == [b"0"], got
        s.send(v5.pubrec(got[0].packet_id))
        rel = s.expect(v5.PUBREL)
        s.expect_no_packet(0.4)  # still in flight until PUBCOMP
        s.send(v5.pubcomp(rel.packet_id))
        got = s.wait_publishes(1)
        assert [p.payload for p in got] == [b"1"], got


# Receive Maximum 3: Colony's --receive-maximum; Mosquitto derives it from
# max_inflight_messages.  Mosquitto 2.0.11 answers the 4th QoS 2 PUBLISH with PUBREC 0x97
# (Quota exceeded) and keeps the connection instead of DISCONNECT 0x93.
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 answers PUBREC 0x97 instead of DISCONNECT 0x93")
@pytest.mark.broker_opts(max_inflight=3, extra_args=["--receive-maximum", "3"])
def test_server_receive_maximum_exceeded_disconnect_0x93(broker):
    """Server Receive Maximum 3 (CONNACK); a client with 4 unreleased QoS 2 PUBLISHes
    exceeds it -> DISCONNECT 0x93 (Receive Maximum exceeded) (MQTT-3.3.4-7, section 4.9)."""
    with v5.connected(broker, unique_id("rmx")) as c:
        assert c.connack.props.get(v5.RECEIVE_MAXIMUM) == 3, c.connack
        for i in range(3):
            c.send(v5.publish("v5/rmx", b"%d" % i, qos=2, packet_id=i + 1))
            assert c.expect(v5.PUBREC).packet_id == i + 1
        c.send(v5.publish("v5/rmx", b"3", qos=2, packet_id=4))
        c.expect_disconnect(v5.RC_RECEIVE_MAXIMUM_EXCEEDED, 5)


@pytest.mark.broker_opts(max_inflight=3, extra_args=["--receive-maximum", "3"])
def test_server_receive_maximum_released_by_pubrel(broker):
    """Receive Maximum 3: three unreleased QoS 2 PUBLISHes fill the quota; a PUBREL (->
    PUBCOMP) frees one slot, so a further PUBLISH is accepted, and so on; every message
    is delivered once (section 4.9)."""
    with _sub(broker, [("v5/rmok", v5.sub_options(1))]) as s, \
            v5.connected(broker, unique_id("rmok")) as c:
        assert c.connack.props.get(v5.RECEIVE_MAXIMUM) == 3, c.connack
        for i in range(3):
            c.send(v5.publish("v5/rmok", b"%d" % i, qos=2, packet_id=i + 1))
            assert c.expect(v5.PUBREC).rc < 0x80
        for i in range(3, 8):
            released = i - 2
            c.send(v5.pubrel(released))
            assert c.expect(v5.PUBCOMP).packet_id == released
            c.send(v5.publish("v5/rmok", b"%d" % i, qos=2, packet_id=i + 1))
            rec = c.expect(v5.PUBREC)
            assert (rec.packet_id, rec.rc < 0x80) == (i + 1, True), rec
        for pid in range(6, 9):
            c.send(v5.pubrel(pid))
            assert c.expect(v5.PUBCOMP).packet_id == pid
        c.ping()
        got = []
        deadline = time.monotonic() + 3
        while len(got) < 8 and time.monotonic() < deadline:
            # (max_inflight 3 also limits the broker's window towards this subscriber)
            for p in s.wait_publishes(1, timeout=max(0.0, deadline - time.monotonic()), settle=0.05):
                got.append(p.payload)
                s.send(v5.puback(p.packet_id))
        got += [p.payload for p in s.publishes(0.3)]
        assert got == [b"%d" % i for i in range(8)], got


# ---------------------------------------------------------------------------
# MQTT 3.1.1 <-> 5.0 interoperation
# ---------------------------------------------------------------------------

def test_v5_publisher_to_v311_subscriber(broker):
    """A v5 PUBLISH with properties reaches a 3.1.1 subscriber as a plain 3.1.1 PUBLISH:
    topic and payload intact, no property bytes in the payload."""
    with raw.RawClient(broker.host, broker.port) as old:
        old.connect_ok(unique_id("v311"))
        assert old.subscribe([("v5/interop/#", 1)]).codes == [1]
        with v5.connected(broker, unique_id("pub5")) as pub:
            pub.publish_qos1("v5/interop/a", b"plain-payload", props=[
                (v5.USER_PROPERTY, ("k", "v")), (v5.PAYLOAD_FORMAT_INDICATOR, 1),
                (v5.CONTENT_TYPE, "text/plain"), (v5.MESSAGE_EXPIRY_INTERVAL, 60)])
            pub.publish_qos1("v5/interop/b", b"aliased", packet_id=3, props=[(v5.TOPIC_ALIAS, 1)])
            pub.publish_qos1("", b"aliased2", packet_id=4, props=[(v5.TOPIC_ALIAS, 1)])
        got = []
        deadline = time.monotonic() + 3
        while len(got) < 3 and time.monotonic() < deadline:
            try:
                p = old.recv_packet(0.5)
            except raw.NoPacket:
                continue
            assert p.type == raw.PUBLISH, p
            got.append(p)
            old.send(raw.puback(p.packet_id))
        assert [(p.topic, p.payload) for p in got] == [
            ("v5/interop/a", b"plain-payload"), ("v5/interop/b", b"aliased"),
            ("v5/interop/b", b"aliased2")], got


def test_v311_publisher_to_v5_subscriber(broker):
    """A 3.1.1 PUBLISH reaches a v5 subscriber with an (empty) property block and intact payload."""
    with _sub(broker, "v5/interop2") as s:
        with raw.RawClient(broker.host, broker.port) as old:
            old.connect_ok(unique_id("v311"))
            old.publish_qos1("v5/interop2", b"from-311")
            old.send(raw.publish("v5/interop2", b"q0-311"))
            old.ping()
        got = s.wait_publishes(2)
        assert [(p.topic, p.payload) for p in got] == [("v5/interop2", b"from-311"),
                                                       ("v5/interop2", b"q0-311")], got
        assert not got[0].props.user_properties


def test_paho_v311_and_v5_same_topic(broker):
    """paho 3.1.1 and paho 5 subscribers on the same topic both get a v5 publisher's message."""
    from clients import PahoClient
    old = PahoClient(broker)
    old.connect()
    old.subscribe("v5/mix", 1)
    try:
        with _sub(broker, "v5/mix") as s, v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/mix", b"both", props=[(v5.USER_PROPERTY, ("a", "b"))])
            p = s.expect(v5.PUBLISH)
            assert p.payload == b"both" and p.props.user_properties == [("a", "b")]
            msgs = old.wait_messages(1, timeout=3)
            assert [(m.topic, m.payload) for m in msgs] == [("v5/mix", b"both")]
    finally:
        old.disconnect()


def test_retained_message_over_client_maximum_packet_size_skipped(broker):
    """A retained message too large for the subscriber's Maximum Packet Size is not sent at
    subscribe time (MQTT-3.1.2-24/-25); smaller retained ones are, and the client stays
    connected."""
    with v5.connected(broker, unique_id("rpub")) as pub:
        pub.publish_qos1("v5/rmps/big", b"B" * 600, retain=True)
        pub.publish_qos1("v5/rmps/small", b"s", packet_id=2, retain=True)
    with v5.connected(broker, unique_id("rsub"), props=[(v5.MAXIMUM_PACKET_SIZE, 256)]) as s:
        s.subscribe([("v5/rmps/#", v5.sub_options(1))])
        got = s.wait_publishes(1, settle=0.6)
        assert [p.topic for p in got] == ["v5/rmps/small"], got
        s.ping()
