"""MQTT 5.0 sessions: Clean Start, Session Expiry Interval, Session Present, offline
queueing, redelivery with DUP, Message Expiry Interval (MQTT 5.0 sections 3.1.2.4,
3.1.2.11.2, 3.2.2.1.1, 3.3.2.3.3, 3.14.2.2.2, 4.1, 4.4)."""

import time

import rawmqtt5 as v5
from clients import unique_id


def _persistent(broker, cid, clean_start=False, expiry=60, **kw):
    return v5.connected(broker, cid, clean_start=clean_start,
                        props=[(v5.SESSION_EXPIRY_INTERVAL, expiry)] if expiry is not None else None, **kw)


def _go_offline(c):
    c.send(v5.disconnect())
    c.expect_closed(5)
    c.close()


def _publish(broker, topic, payloads, qos=1, props=None):
    with v5.connected(broker, unique_id("pub")) as pub:
        for i, payload in enumerate(payloads):
            if qos == 1:
                pub.publish_qos1(topic, payload, packet_id=i + 1, props=props)
            elif qos == 2:
                pub.publish_qos2(topic, payload, packet_id=i + 1, props=props)
            else:
                pub.send(v5.publish(topic, payload, props=props))
        pub.ping()


def _ack_all(c, pkts):
    for p in pkts:
        if p.qos == 1:
            c.send(v5.puback(p.packet_id))
        elif p.qos == 2:
            c.send(v5.pubrec(p.packet_id))


def test_offline_queueing_with_session_expiry(broker):
    """Session Expiry > 0 and Clean Start 0: the session (subscriptions and QoS 1/2 messages)
    outlives the connection (MQTT-3.1.2-23); on return Session Present is 1 (MQTT-3.2.2-3)
    and the queued messages arrive in order; QoS 0 need not be queued."""
    cid = unique_id("offq")
    c = _persistent(broker, cid, clean_start=True)
    assert c.connack.session_present == 0
    assert c.subscribe([("v5/offq/#", v5.sub_options(2))]).codes == [2]
    _go_offline(c)
    _publish(broker, "v5/offq/a", [b"m1", b"m2"], qos=1)
    _publish(broker, "v5/offq/b", [b"m3"], qos=2)
    with _persistent(broker, cid) as c:
        assert c.connack.session_present == 1
        got = c.wait_publishes(3)
        assert [(p.topic, p.payload, p.qos) for p in got] == [
            ("v5/offq/a", b"m1", 1), ("v5/offq/a", b"m2", 1), ("v5/offq/b", b"m3", 2)], got
        _ack_all(c, got)


def test_clean_start_1_discards_existing_session(broker):
    """Clean Start 1 discards an existing session: Session Present 0 (MQTT-3.1.2-4,
    MQTT-3.2.2-2), no old subscriptions, no queued messages."""
    cid = unique_id("cs1")
    c = _persistent(broker, cid)
    c.subscribe([("v5/cs1", v5.sub_options(1))])
    _go_offline(c)
    _publish(broker, "v5/cs1", [b"queued"])
    with _persistent(broker, cid, clean_start=True) as c:
        assert c.connack.session_present == 0
        c.expect_no_packet(0.5)
        _publish(broker, "v5/cs1", [b"after"])
        c.expect_no_packet(0.5)


def test_clean_start_0_without_session_has_session_present_0(broker):
    """Clean Start 0 but no session stored: Session Present 0 (MQTT-3.2.2-3 'otherwise')."""
    with _persistent(broker, unique_id("none")) as c:
        assert c.connack.session_present == 0


def test_session_expiry_absent_discards_on_disconnect(broker):
    """Session Expiry Interval absent (= 0): the session ends with the network connection,
    even with Clean Start 0 (section 3.1.2.11.2): Session Present 0 and nothing queued."""
    cid = unique_id("se0")
    c = _persistent(broker, cid, expiry=None)
    c.subscribe([("v5/se0", v5.sub_options(1))])
    _go_offline(c)
    _publish(broker, "v5/se0", [b"lost"])
    with _persistent(broker, cid, expiry=None) as c:
        assert c.connack.session_present == 0
        c.expect_no_packet(0.5)


def test_session_expiry_zero_discards_after_abrupt_close(broker):
    """Session Expiry 0 explicitly, connection dropped without DISCONNECT: session gone too."""
    cid = unique_id("se0b")
    c = _persistent(broker, cid, expiry=0)
    c.subscribe([("v5/se0b", v5.sub_options(1))])
    c.close()
    time.sleep(0.3)
    with _persistent(broker, cid, expiry=0) as c:
        assert c.connack.session_present == 0


def test_session_expires_after_interval(broker):
    """Session Expiry Interval 2 s: reconnecting within it resumes the session; after it has
    elapsed the session (and its queued messages) are discarded (section 3.1.2.11.2, 4.1)."""
    early, late = unique_id("early"), unique_id("late")
    for cid in (early, late):
        c = _persistent(broker, cid, clean_start=True, expiry=2)
        c.subscribe([("v5/sexp", v5.sub_options(1))])
        _go_offline(c)
    t0 = time.monotonic()
    _publish(broker, "v5/sexp", [b"q"])
    time.sleep(0.5)
    with _persistent(broker, early, expiry=2) as c:
        assert c.connack.session_present == 1
        got = c.wait_publishes(1)
        assert [p.payload for p in got] == [b"q"]
        _ack_all(c, got)
    time.sleep(max(0.0, 3.5 - (time.monotonic() - t0)))
    with _persistent(broker, late, expiry=2) as c:
        assert c.connack.session_present == 0, "session outlived its 2 s expiry"
        c.expect_no_packet(0.5)


def test_disconnect_can_shorten_session_expiry_to_zero(broker):
    """DISCONNECT with Session Expiry 0 (CONNECT had 60) ends the session at once
    (section 3.14.2.2.2)."""
    cid = unique_id("dse0")
    c = _persistent(broker, cid)
    c.subscribe([("v5/dse0", v5.sub_options(1))])
    c.send(v5.disconnect(0, [(v5.SESSION_EXPIRY_INTERVAL, 0)]))
    c.expect_closed(5)
    c.close()
    with _persistent(broker, cid) as c:
        assert c.connack.session_present == 0


def test_disconnect_can_set_session_expiry_when_connect_had_nonzero(broker):
    """CONNECT Session Expiry 1, DISCONNECT Session Expiry 60: the session lives on past
    the original 1 s (section 3.14.2.2.2)."""
    cid = unique_id("dse60")
    c = _persistent(broker, cid, expiry=1)
    c.subscribe([("v5/dse60", v5.sub_options(1))])
    c.send(v5.disconnect(0, [(v5.SESSION_EXPIRY_INTERVAL, 60)]))
    c.expect_closed(5)
    c.close()
    time.sleep(2.0)
    with _persistent(broker, cid) as c:
        assert c.connack.session_present == 1


def test_disconnect_setting_expiry_when_connect_had_zero_is_protocol_error(broker):
    """Session Expiry 0 in CONNECT, non-zero in DISCONNECT: Protocol Error (MQTT-3.14.2-2);
    the server answers DISCONNECT 0x82 and closes."""
    cid = unique_id("dsebad")
    with _persistent(broker, cid, expiry=0) as c:
        c.subscribe([("v5/dsebad", v5.sub_options(1))])
        c.send(v5.disconnect(0, [(v5.SESSION_EXPIRY_INTERVAL, 60)]))
        c.expect_disconnect(v5.RC_PROTOCOL_ERROR, 5)
    with _persistent(broker, cid) as c:
        assert c.connack.session_present == 0, "the session survived a Session Expiry of 0"


def test_unacknowledged_qos1_redelivered_with_dup(broker):
    """A QoS 1 message sent but never acknowledged is re-sent on reconnect (Clean Start 0)
    with DUP=1 and its original Packet Identifier (MQTT-4.4.0-1, MQTT-3.3.1-1)."""
    cid = unique_id("dup")
    c = _persistent(broker, cid, clean_start=True)
    c.subscribe([("v5/dup", v5.sub_options(1))])
    _publish(broker, "v5/dup", [b"unacked"])
    first = c.expect(v5.PUBLISH)
    assert first.qos == 1 and not first.dup
    c.close()  # no PUBACK
    time.sleep(0.2)
    with _persistent(broker, cid) as c:
        assert c.connack.session_present == 1
        again = c.expect(v5.PUBLISH)
        assert (again.payload, again.packet_id, again.dup) == (b"unacked", first.packet_id, True), again
        c.send(v5.puback(again.packet_id))
        c.expect_no_packet(0.5)


def test_unacknowledged_qos2_redelivered_with_dup_and_pubrel_resent(broker):
    """QoS 2: an un-PUBREC'd PUBLISH is re-sent with DUP=1; a PUBREC'd one gets its PUBREL
    re-sent on reconnect (MQTT-4.4.0-1)."""
    cid = unique_id("dup2")
    c = _persistent(broker, cid, clean_start=True)
    c.subscribe([("v5/dup2", v5.sub_options(2))])
    _publish(broker, "v5/dup2", [b"a", b"b"], qos=2)
    p1 = c.expect(v5.PUBLISH)
    p2 = c.expect(v5.PUBLISH)
    assert [p1.payload, p2.payload] == [b"a", b"b"]
    c.send(v5.pubrec(p1.packet_id))
    rel = c.expect(v5.PUBREL)
    assert rel.packet_id == p1.packet_id
    c.close()  # no PUBCOMP for a, no PUBREC for b
    time.sleep(0.2)
    with _persistent(broker, cid) as c:
        assert c.connack.session_present == 1
        got = c.collect(1.0)
        rels = [p for p in got if p.type == v5.PUBREL]
        pubs = [p for p in got if p.type == v5.PUBLISH]
        assert [r.packet_id for r in rels] == [p1.packet_id], got
        assert [(p.payload, p.packet_id, p.dup) for p in pubs] == [(b"b", p2.packet_id, True)], got
        c.send(v5.pubcomp(p1.packet_id))
        c.send(v5.pubrec(p2.packet_id))
        assert c.expect(v5.PUBREL).packet_id == p2.packet_id
        c.send(v5.pubcomp(p2.packet_id))
        c.ping()


def test_message_expired_while_queued_is_never_delivered(broker):
    """Message Expiry Interval 1 s, subscriber offline for 2.5 s: the queued copy is deleted
    (MQTT-3.3.2-5); a message without expiry queued alongside is still delivered."""
    cid = unique_id("mexp")
    c = _persistent(broker, cid, clean_start=True)
    c.subscribe([("v5/mexp", v5.sub_options(1))])
    _go_offline(c)
    _publish(broker, "v5/mexp", [b"short-lived"], props=[(v5.MESSAGE_EXPIRY_INTERVAL, 1)])
    _publish(broker, "v5/mexp", [b"forever"])
    time.sleep(2.5)
    with _persistent(broker, cid) as c:
        assert c.connack.session_present == 1
        got = c.wait_publishes(1, settle=0.5)
        assert [p.payload for p in got] == [b"forever"], got
        _ack_all(c, got)


def test_message_expiry_decremented_by_time_queued(broker):
    """The forwarded Message Expiry Interval is the received value minus the time the message
    waited in the server (MQTT-3.3.2-6): 10 s, queued ~2 s -> at most 8 s (and > 0)."""
    cid = unique_id("mdec")
    c = _persistent(broker, cid, clean_start=True)
    c.subscribe([("v5/mdec", v5.sub_options(1))])
    _go_offline(c)
    _publish(broker, "v5/mdec", [b"aging"], props=[(v5.MESSAGE_EXPIRY_INTERVAL, 10)])
    time.sleep(2.2)
    with _persistent(broker, cid) as c:
        got = c.wait_publishes(1)
        assert [p.payload for p in got] == [b"aging"], got
        mei = got[0].props.get(v5.MESSAGE_EXPIRY_INTERVAL)
        assert mei is not None, "Message Expiry Interval not forwarded: %r" % got[0]
        assert 1 <= mei <= 8, "expiry %r not decremented by ~2 s of queueing" % mei
        _ack_all(c, got)


def test_message_expiry_forwarded_live(broker):
    """A message delivered at once carries its Message Expiry Interval (at most the original)."""
    with v5.connected(broker, unique_id("live")) as s:
        s.subscribe([("v5/mlive", v5.sub_options(1))])
        _publish(broker, "v5/mlive", [b"x"], props=[(v5.MESSAGE_EXPIRY_INTERVAL, 30)])
        p = s.expect(v5.PUBLISH)
        assert 28 <= p.props.get(v5.MESSAGE_EXPIRY_INTERVAL, -1) <= 30, p


def test_retained_message_expires(broker):
    """A retained message with Message Expiry 1 s is gone after 2 s (MQTT-3.3.2-5); one with
    10 s is sent to a late subscriber with the remaining time (MQTT-3.3.2-6)."""
    with v5.connected(broker, unique_id("rpub")) as pub:
        pub.publish_qos1("v5/rexp/short", b"s", retain=True, props=[(v5.MESSAGE_EXPIRY_INTERVAL, 1)])
        pub.publish_qos1("v5/rexp/long", b"l", retain=True, props=[(v5.MESSAGE_EXPIRY_INTERVAL, 10)])
    time.sleep(2.2)
    with v5.connected(broker, unique_id("rsub")) as s:
        s.subscribe([("v5/rexp/#", v5.sub_options(1))])
        got = s.wait_publishes(1, settle=0.5)
        assert [p.payload for p in got] == [b"l"], got
        assert got[0].retain
        assert 1 <= got[0].props.get(v5.MESSAGE_EXPIRY_INTERVAL, -1) <= 8, got[0]
        _ack_all(s, got)


def test_session_present_paho_v5(broker):
    """paho MQTT 5: clean_start False + Session Expiry -> session present on return."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    cid = unique_id("psp")
    flags_seen = []

    def run(clean_start):
        c = mqtt.Client(cid, protocol=mqtt.MQTTv5)
        c.on_connect = lambda cl, ud, flags, rc, props: flags_seen.append((flags.get("session present"), rc))
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 60
        c.connect(broker.host, broker.port, 30, clean_start=clean_start, properties=props)
        c.loop_start()
        deadline = time.monotonic() + 5
        n = len(flags_seen)
        while len(flags_seen) == n and time.monotonic() < deadline:
            time.sleep(0.02)
        c.disconnect()
        c.loop_stop()

    run(True)
    run(False)
    assert [int(f) for f, _ in flags_seen] == [0, 1], flags_seen
    assert all(rc == 0 for _, rc in flags_seen)


def test_receive_maximum_applies_to_resumed_session(broker):
    """Messages queued while offline are sent on resume within the new connection's
    Receive Maximum (1 here): one outstanding QoS 1 PUBLISH at a time (MQTT-3.3.4-9)."""
    cid = unique_id("rmq")
    c = _persistent(broker, cid, clean_start=True)
    c.subscribe([("v5/rmq", v5.sub_options(1))])
    _go_offline(c)
    _publish(broker, "v5/rmq", [b"1", b"2", b"3"])
    with v5.connected(broker, cid, clean_start=False,
                      props=[(v5.SESSION_EXPIRY_INTERVAL, 60), (v5.RECEIVE_MAXIMUM, 1)]) as c:
        assert c.connack.session_present == 1
        received = []
        for _ in range(3):
            got = c.wait_publishes(1, settle=0.4)
            assert len(got) == 1, "Receive Maximum 1 exceeded: %r" % got
            received.append(got[0].payload)
            c.send(v5.puback(got[0].packet_id))
        assert received == [b"1", b"2", b"3"]
        c.expect_no_packet(0.3)


def test_resumed_session_keeps_subscription_options_and_identifier(broker):
    """A resumed session keeps its subscriptions with their options (No Local) and
    Subscription Identifier (section 4.1: the subscriptions are part of the session state)."""
    cid = unique_id("keep")
    c = _persistent(broker, cid, clean_start=True)
    c.subscribe([("v5/keep", v5.sub_options(1, no_local=True))], props=[(v5.SUBSCRIPTION_IDENTIFIER, 9)])
    _go_offline(c)
    with _persistent(broker, cid) as c:
        assert c.connack.session_present == 1
        c.publish_qos1("v5/keep", b"own", packet_id=3)
        _publish(broker, "v5/keep", [b"other"])
        got = c.wait_publishes(1, settle=0.5)
        assert [(p.payload, p.props.all(v5.SUBSCRIPTION_IDENTIFIER)) for p in got] == [(b"other", [9])], got
