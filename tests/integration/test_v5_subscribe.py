"""MQTT 5.0 SUBSCRIBE/UNSUBSCRIBE: subscription options (Retain Handling, Retain As
Published, No Local), Subscription Identifiers, shared subscriptions, SUBACK/UNSUBACK
reason codes, '$' topics, retained messages (MQTT 5.0 sections 3.3.1.3, 3.8, 3.9, 3.10,
3.11, 4.7.2, 4.8.2)."""

import time

import pytest

import rawmqtt5 as v5
from broker import is_mosquitto
from clients import unique_id


def _retain(broker, topic, payload, qos=1):
    with v5.connected(broker, unique_id("ret")) as pub:
        if qos:
            pub.publish_qos1(topic, payload, retain=True)
        else:
            pub.send(v5.publish(topic, payload, retain=True))
            pub.ping()


def _ack_all(c, pkts):
    for p in pkts:
        if p.qos == 1:
            c.send(v5.puback(p.packet_id))


# ---------------------------------------------------------------------------
# Retained messages and Retain Handling / Retain As Published
# ---------------------------------------------------------------------------

def test_retained_delivered_on_subscribe_with_retain_flag(broker):
    """A retained message is sent to a new subscription with RETAIN=1 (MQTT-3.3.1-9 with
    Retain Handling 0); an empty retained payload deletes it (MQTT-3.3.1-6/-7)."""
    _retain(broker, "v5/ret/a", b"kept")
    with v5.connected(broker, unique_id("s")) as s:
        s.subscribe([("v5/ret/#", v5.sub_options(1))])
        got = s.wait_publishes(1)
        assert [(p.topic, p.payload, p.retain) for p in got] == [("v5/ret/a", b"kept", True)], got
        _ack_all(s, got)
    _retain(broker, "v5/ret/a", b"")
    with v5.connected(broker, unique_id("s")) as s:
        s.subscribe([("v5/ret/#", v5.sub_options(1))])
        s.expect_no_packet(0.5)


def test_retain_handling_0_sends_on_every_subscribe(broker):
    """Retain Handling 0: retained messages are sent at every SUBSCRIBE, including a
    re-subscribe to an existing subscription (MQTT-3.3.1-9, MQTT-3.8.4-4)."""
    _retain(broker, "v5/rh0", b"r0")
    with v5.connected(broker, unique_id("s")) as s:
        for pid in (1, 2):
            s.subscribe([("v5/rh0", v5.sub_options(1, retain_handling=0))], packet_id=pid)
            got = s.wait_publishes(1)
            assert [(p.payload, p.retain) for p in got] == [(b"r0", True)], (pid, got)
            _ack_all(s, got)


def test_retain_handling_1_sends_only_for_new_subscription(broker):
    """Retain Handling 1: retained messages only if the subscription did not exist
    (MQTT-3.3.1-10)."""
    _retain(broker, "v5/rh1", b"r1")
    with v5.connected(broker, unique_id("s")) as s:
        s.subscribe([("v5/rh1", v5.sub_options(1, retain_handling=1))], packet_id=1)
        got = s.wait_publishes(1)
        assert [(p.payload, p.retain) for p in got] == [(b"r1", True)], got
        _ack_all(s, got)
        s.subscribe([("v5/rh1", v5.sub_options(1, retain_handling=1))], packet_id=2)
        s.expect_no_packet(0.6)


def test_retain_handling_2_never_sends_retained(broker):
    """Retain Handling 2: no retained messages at subscribe time (MQTT-3.3.1-11); live
    messages still flow."""
    _retain(broker, "v5/rh2", b"r2")
    with v5.connected(broker, unique_id("s")) as s:
        s.subscribe([("v5/rh2", v5.sub_options(1, retain_handling=2))])
        s.expect_no_packet(0.6)
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/rh2", b"live")
        p = s.expect(v5.PUBLISH)
        assert p.payload == b"live"


def test_retain_as_published_0_clears_retain_flag_on_live_messages(broker):
    """Retain As Published 0: a retained PUBLISH forwarded live has RETAIN=0 (MQTT-3.3.1-12)."""
    with v5.connected(broker, unique_id("s")) as s:
        s.subscribe([("v5/rap0", v5.sub_options(1, retain_as_published=False))])
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/rap0", b"x", retain=True)
            pub.publish_qos1("v5/rap0", b"y", packet_id=2)
        got = s.wait_publishes(2)
        assert [(p.payload, p.retain) for p in got] == [(b"x", False), (b"y", False)], got


def test_retain_as_published_1_keeps_retain_flag(broker):
    """Retain As Published 1: forwarded messages keep the RETAIN flag they were published
    with (MQTT-3.3.1-13)."""
    with v5.connected(broker, unique_id("s")) as s:
        s.subscribe([("v5/rap1", v5.sub_options(1, retain_as_published=True))])
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/rap1", b"x", retain=True)
            pub.publish_qos1("v5/rap1", b"y", packet_id=2)
        got = s.wait_publishes(2)
        assert [(p.payload, p.retain) for p in got] == [(b"x", True), (b"y", False)], got


def test_retained_message_keeps_properties(broker):
    """A retained message is stored with its properties (user properties, content type)."""
    with v5.connected(broker, unique_id("pub")) as pub:
        pub.publish_qos1("v5/retprops", b"p", retain=True, props=[
            (v5.CONTENT_TYPE, "text/x"), (v5.USER_PROPERTY, ("u", "1")), (v5.USER_PROPERTY, ("u", "2"))])
    with v5.connected(broker, unique_id("s")) as s:
        s.subscribe([("v5/retprops", v5.sub_options(1))])
        p = s.expect(v5.PUBLISH)
        assert p.retain and p.props.get(v5.CONTENT_TYPE) == "text/x"
        assert p.props.user_properties == [("u", "1"), ("u", "2")]


# ---------------------------------------------------------------------------
# No Local
# ---------------------------------------------------------------------------

def test_no_local_suppresses_own_messages(broker):
    """No Local 1: the client's own PUBLISHes are not sent back to it (MQTT-3.8.3-3), other
    clients' are; without No Local its own messages do come back."""
    with v5.connected(broker, unique_id("nl")) as c, v5.connected(broker, unique_id("other")) as o:
        c.subscribe([("v5/nl/on", v5.sub_options(1, no_local=True)),
                     ("v5/nl/off", v5.sub_options(1))])
        c.publish_qos1("v5/nl/on", b"mine-on", packet_id=11)
        c.publish_qos1("v5/nl/off", b"mine-off", packet_id=12)
        o.publish_qos1("v5/nl/on", b"theirs")
        got = c.wait_publishes(2)
        assert sorted((p.topic, p.payload) for p in got) == [
            ("v5/nl/off", b"mine-off"), ("v5/nl/on", b"theirs")], got


def test_no_local_with_overlapping_wildcard(broker):
    """No Local on one of two overlapping subscriptions: the other one (without No Local)
    still delivers the client's own message (section 3.8.3.1)."""
    with v5.connected(broker, unique_id("nlw")) as c:
        c.subscribe([("v5/nlw/t", v5.sub_options(1, no_local=True)), ("v5/nlw/#", v5.sub_options(1))])
        c.publish_qos1("v5/nlw/t", b"own", packet_id=5)
        got = c.wait_publishes(1, settle=0.5)
        assert [p.payload for p in got] == [b"own"], got


# ---------------------------------------------------------------------------
# Subscription Identifiers
# ---------------------------------------------------------------------------

def test_subscription_identifier_forwarded(broker):
    """A PUBLISH sent because of a subscription with a Subscription Identifier carries it
    (MQTT-3.3.4-3); one without an identifier carries none."""
    with v5.connected(broker, unique_id("sid")) as s:
        s.subscribe([("v5/sid/a", v5.sub_options(1))], packet_id=1, props=[(v5.SUBSCRIPTION_IDENTIFIER, 7)])
        s.subscribe([("v5/sid/b", v5.sub_options(1))], packet_id=2)
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/sid/a", b"a")
            pub.publish_qos1("v5/sid/b", b"b", packet_id=2)
        got = s.wait_publishes(2)
        assert [(p.payload, p.props.all(v5.SUBSCRIPTION_IDENTIFIER)) for p in got] == [
            (b"a", [7]), (b"b", [])], got


def test_subscription_identifier_replaced_on_resubscribe(broker):
    """Re-subscribing to the same filter replaces the subscription, including its
    Subscription Identifier (MQTT-3.8.4-3)."""
    with v5.connected(broker, unique_id("sidr")) as s:
        s.subscribe([("v5/sidr", v5.sub_options(1))], packet_id=1, props=[(v5.SUBSCRIPTION_IDENTIFIER, 3)])
        s.subscribe([("v5/sidr", v5.sub_options(1))], packet_id=2, props=[(v5.SUBSCRIPTION_IDENTIFIER, 4)])
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/sidr", b"x")
        got = s.wait_publishes(1)
        assert [p.props.all(v5.SUBSCRIPTION_IDENTIFIER) for p in got] == [[4]], got


def test_overlapping_subscriptions_carry_their_identifiers(broker):
    """Two overlapping subscriptions with identifiers 1 and 2: either one PUBLISH carrying
    both identifiers (MQTT-3.3.4-4) or one copy per subscription, each with its own
    identifier (MQTT-3.3.4-5)."""
    with v5.connected(broker, unique_id("ov")) as s:
        s.subscribe([("v5/ov/#", v5.sub_options(1))], packet_id=1, props=[(v5.SUBSCRIPTION_IDENTIFIER, 1)])
        s.subscribe([("v5/ov/+", v5.sub_options(1))], packet_id=2, props=[(v5.SUBSCRIPTION_IDENTIFIER, 2)])
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/ov/x", b"x")
        got = s.wait_publishes(1, settle=0.6)
        assert got and all(p.payload == b"x" for p in got), got
        ids = sorted(i for p in got for i in p.props.all(v5.SUBSCRIPTION_IDENTIFIER))
        assert ids == [1, 2], got
        if len(got) == 2:
            assert all(len(p.props.all(v5.SUBSCRIPTION_IDENTIFIER)) == 1 for p in got), got
        else:
            assert len(got) == 1, got


# Mosquitto 2.0.11 sends one copy per matching subscription; Colony sends a single copy
# for overlapping subscriptions, so it must carry all identifiers.
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 sends one copy per overlapping subscription")
def test_overlapping_subscriptions_one_publish_with_both_identifiers(broker):
    """Colony delivers a single copy for overlapping subscriptions (at the highest granted
    QoS, MQTT-3.3.4-2), which MUST then carry both Subscription Identifiers (MQTT-3.3.4-4)."""
    with v5.connected(broker, unique_id("ov1")) as s:
        s.subscribe([("v5/ov1/#", v5.sub_options(1))], packet_id=1, props=[(v5.SUBSCRIPTION_IDENTIFIER, 1)])
        s.subscribe([("v5/ov1/+", v5.sub_options(2))], packet_id=2, props=[(v5.SUBSCRIPTION_IDENTIFIER, 268435455)])
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos2("v5/ov1/x", b"x")
        got = s.wait_publishes(1, settle=0.6)
        assert len(got) == 1, got
        assert got[0].qos == 2
        assert sorted(got[0].props.all(v5.SUBSCRIPTION_IDENTIFIER)) == [1, 268435455], got


def test_subscription_identifier_zero_is_protocol_error(broker):
    """Subscription Identifier 0 is a Protocol Error (section 3.8.2.1.2): DISCONNECT 0x82
    and close.  Mosquitto 2.0.11 answers 0x81 (Malformed Packet), also an error close;
    Colony must use 0x82."""
    with v5.connected(broker, unique_id("sid0")) as s:
        s.send(v5.subscribe(1, [("v5/sid0", v5.sub_options(1))], props=[(v5.SUBSCRIPTION_IDENTIFIER, 0)]))
        got = s.expect_closed(5)
        assert got and got[-1].type == v5.DISCONNECT, got
        allowed = (v5.RC_MALFORMED, v5.RC_PROTOCOL_ERROR) if is_mosquitto() else (v5.RC_PROTOCOL_ERROR,)
        assert got[-1].rc in allowed, got


# ---------------------------------------------------------------------------
# Shared subscriptions
# ---------------------------------------------------------------------------

def test_shared_subscription_one_member_per_message(broker):
    """$share/g/t with two v5 members: each message goes to exactly one member and both get
    some (section 4.8.2)."""
    members = [v5.connected(broker, unique_id("m%d" % i)) for i in range(2)]
    try:
        for m in members:
            assert m.subscribe([("$share/g5/v5/sh", v5.sub_options(1))]).codes == [1]
        n = 10
        with v5.connected(broker, unique_id("pub")) as pub:
            for i in range(n):
                pub.publish_qos1("v5/sh", b"%d" % i, packet_id=i + 1)
        owners = {}
        deadline = time.monotonic() + 3
        while sum(len(v) for v in owners.values()) < n and time.monotonic() < deadline:
            for idx, m in enumerate(members):
                for p in m.publishes(0.1):
                    assert p.topic == "v5/sh", p
                    owners.setdefault(int(p.payload), []).append(idx)
                    m.send(v5.puback(p.packet_id))
        for m in members:
            for p in m.publishes(0.2):
                owners.setdefault(int(p.payload), []).append(-1)
        assert sorted(owners) == list(range(n)), owners
        assert all(len(v) == 1 for v in owners.values()), owners
        assert {v[0] for v in owners.values()} == {0, 1}, "one member starved: %r" % owners
    finally:
        for m in members:
            m.close()


# Mosquitto 2.0.11 grants the subscription (SUBACK 0x01).
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 accepts No Local on a shared subscription")
def test_shared_subscription_no_local_is_protocol_error(broker):
    """No Local on a Shared Subscription is a Protocol Error (MQTT-3.8.3-4): DISCONNECT 0x82."""
    with v5.connected(broker, unique_id("shnl")) as c:
        c.send(v5.subscribe(1, [("$share/g/v5/shnl", v5.sub_options(1, no_local=True))]))
        c.expect_disconnect(v5.RC_PROTOCOL_ERROR, 5)


# Mosquitto 2.0.11 sends retained messages to new shared subscriptions too.
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 sends retained messages to shared subscriptions")
def test_shared_subscription_gets_no_retained_messages(broker):
    """Retained messages are sent only when a new Non-shared Subscription is made
    (section 3.3.1.3); a plain subscription of the same session does get them."""
    _retain(broker, "v5/shret", b"retained")
    with v5.connected(broker, unique_id("shr")) as c:
        assert c.subscribe([("$share/g/v5/shret", v5.sub_options(1))]).codes == [1]
        c.expect_no_packet(0.6)
        assert c.subscribe([("v5/shret", v5.sub_options(1))], packet_id=2).codes == [1]
        p = c.expect(v5.PUBLISH)
        assert (p.payload, p.retain) == (b"retained", True)


def test_shared_and_plain_subscribers_each_get_a_copy(broker):
    """A shared group gets one copy; a normal subscriber its own."""
    with v5.connected(broker, unique_id("g")) as g, v5.connected(broker, unique_id("n")) as n:
        g.subscribe([("$share/grp/v5/shp", v5.sub_options(1))])
        n.subscribe([("v5/shp", v5.sub_options(1))])
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/shp", b"x")
        assert g.expect(v5.PUBLISH).payload == b"x"
        assert n.expect(v5.PUBLISH).payload == b"x"


# ---------------------------------------------------------------------------
# SUBACK reason codes, '$' topics, UNSUBSCRIBE
# ---------------------------------------------------------------------------

def test_suback_reason_codes_granted_qos(broker):
    """SUBACK carries one reason code per filter, in order: the granted QoS 0/1/2
    (MQTT-3.9.3-1, MQTT-3.9.3-2)."""
    with v5.connected(broker, unique_id("sa")) as c:
        ack = c.subscribe([("v5/sa/0", v5.sub_options(0)), ("v5/sa/2", v5.sub_options(2)),
                           ("v5/sa/1", v5.sub_options(1))], packet_id=77)
        assert ack.packet_id == 77 and ack.codes == [0, 2, 1], ack


# Mosquitto 2.0.11 closes the connection on an invalid filter instead of answering 0x8F.
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 disconnects on an invalid filter")
@pytest.mark.parametrize("bad", ["v5/#/x", "v5/a+", "v5/#x", "$share/g+/v5/t", "$share/g"])
def test_invalid_filter_suback_0x8f(broker, bad):
    """An invalid Topic Filter gets SUBACK 0x8F (Topic Filter invalid) for that filter; the
    valid filters of the same SUBSCRIBE are granted and work (section 3.9.3)."""
    with v5.connected(broker, unique_id("bad")) as c:
        ack = c.subscribe([("v5/good", v5.sub_options(1)), (bad, v5.sub_options(1))])
        assert ack.codes == [1, v5.RC_TOPIC_FILTER_INVALID], ack
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/good", b"ok")
        assert c.expect(v5.PUBLISH).payload == b"ok"


def test_invalid_filter_refused(broker):
    """Whatever the reaction to an invalid filter (SUBACK 0x8F or a DISCONNECT), nothing is
    ever delivered through it and no success code is returned for it."""
    with v5.connected(broker, unique_id("bad")) as c:
        c.send(v5.subscribe(1, [("v5/inv/#/x", v5.sub_options(1))]))
        got = c.collect(1.0)
        assert got, "no answer to an invalid filter"
        assert (got[0].type == v5.SUBACK and got[0].codes == [v5.RC_TOPIC_FILTER_INVALID]) or \
               (got[0].type == v5.DISCONNECT and got[0].rc >= 0x80), got


def test_dollar_topics_not_matched_by_wildcards(broker):
    """'#' and '+/...' do not match topics beginning with '$' (MQTT-4.7.2-1), while an
    explicit '$...' filter does."""
    with v5.connected(broker, unique_id("w1")) as hash_sub, v5.connected(broker, unique_id("w2")) as plus_sub, \
            v5.connected(broker, unique_id("d")) as dollar:
        hash_sub.subscribe([("#", v5.sub_options(1))])
        plus_sub.subscribe([("+/v5dollar", v5.sub_options(1))])
        dollar.subscribe([("$v5test/#", v5.sub_options(1))])
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("$v5test/v5dollar", b"d")
            pub.publish_qos1("plain/v5dollar", b"p", packet_id=2)
        for wild in (hash_sub, plus_sub):
            got = wild.wait_publishes(1, settle=0.5)
            assert [p.topic for p in got] == ["plain/v5dollar"], got
        dgot = dollar.publishes(0.3)
        # A server may refuse client publishes to '$' topics (section 4.7.2); if it
        # accepts them, the explicit subscription receives them.
        assert [p.topic for p in dgot] in (["$v5test/v5dollar"], []), dgot


def test_unsuback_reason_codes(broker):
    """UNSUBACK has one reason code per filter, in order: 0x00 Success for an existing
    subscription, 0x11 No subscription existed otherwise (MQTT-3.11.3-1, section 3.11.3);
    the removed subscription delivers nothing more (MQTT-3.10.4-1)."""
    with v5.connected(broker, unique_id("u")) as c:
        c.subscribe([("v5/un/a", v5.sub_options(1)), ("v5/un/b", v5.sub_options(1))])
        ack = c.unsubscribe(["v5/un/a", "v5/un/never", "v5/un/+"], packet_id=9)
        assert ack.type == v5.UNSUBACK and ack.packet_id == 9
        assert ack.codes == [v5.RC_SUCCESS, v5.RC_NO_SUBSCRIPTION_EXISTED, v5.RC_NO_SUBSCRIPTION_EXISTED], ack
        again = c.unsubscribe(["v5/un/a"], packet_id=10)
        assert again.codes == [v5.RC_NO_SUBSCRIPTION_EXISTED], again
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/un/a", b"gone")
            pub.publish_qos1("v5/un/b", b"still", packet_id=2)
        got = c.wait_publishes(1)
        assert [p.payload for p in got] == [b"still"], got


def test_unsubscribe_shared_subscription(broker):
    """Unsubscribing a shared subscription works like any other (0x00, then 0x11)."""
    with v5.connected(broker, unique_id("ush")) as c:
        c.subscribe([("$share/g/v5/ush", v5.sub_options(1))])
        assert c.unsubscribe(["$share/g/v5/ush"], packet_id=2).codes == [v5.RC_SUCCESS]
        assert c.unsubscribe(["$share/g/v5/ush"], packet_id=3).codes == [v5.RC_NO_SUBSCRIPTION_EXISTED]


def test_subscription_identifier_on_retained_message(broker):
    """Retained messages sent because of a new subscription carry its Subscription
    Identifier too (MQTT-3.3.4-3)."""
    _retain(broker, "v5/sidret", b"r")
    with v5.connected(broker, unique_id("sidret")) as s:
        s.subscribe([("v5/sidret", v5.sub_options(1))], props=[(v5.SUBSCRIPTION_IDENTIFIER, 42)])
        p = s.expect(v5.PUBLISH)
        assert p.retain and p.props.all(v5.SUBSCRIPTION_IDENTIFIER) == [42], p


def test_request_problem_information_0_suppresses_reason_strings(broker):
    """Request Problem Information 0: no Reason String or User Property on packets other
    than PUBLISH, CONNACK and DISCONNECT (MQTT-3.1.2-29), e.g. SUBACK/UNSUBACK/PUBACK."""
    with v5.connected(broker, unique_id("rpi"), props=[(v5.REQUEST_PROBLEM_INFORMATION, 0)]) as c:
        acks = [c.subscribe([("v5/rpi", v5.sub_options(1))]),
                c.unsubscribe(["v5/rpi/never"], packet_id=2),
                c.publish_qos1("v5/rpi/nobody", b"x", packet_id=3)]
        for a in acks:
            assert v5.REASON_STRING not in a.props and not a.props.user_properties, a
