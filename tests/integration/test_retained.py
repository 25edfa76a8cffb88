"""Retained messages (MQTT 3.1.1 section 3.3.1.3)."""

import rawmqtt as raw
from clients import PahoClient, mosquitto_pub, mosquitto_sub_collect, unique_id


def _raw_sub(broker, filters):
    c = raw.RawClient(broker.host, broker.port)
    c.connect_ok(unique_id("rs"))
    c.send(raw.subscribe(1, filters))
    return c


def _publishes_after_suback(c, duration=0.5):
    """Read SUBACK plus whatever PUBLISHes follow within ``duration``."""
    pkts = c.collect(duration)
    assert pkts and pkts[0].type == raw.SUBACK, pkts
    return [p for p in pkts[1:] if p.type == raw.PUBLISH]


def test_retained_sent_on_subscribe_with_retain_flag(broker):
    """A retained message is stored and sent to new subscribers with RETAIN=1 (MQTT-3.3.1-5, MQTT-3.3.1-6)."""
    with raw.RawClient(broker.host, broker.port) as pub:
        pub.connect_ok(unique_id())
        pub.publish_qos1("ret/a", b"stored", retain=True)
    with _raw_sub(broker, [("ret/a", 1)]) as c:
        got = _publishes_after_suback(c)
        assert len(got) == 1, got
        assert got[0].retain and got[0].payload == b"stored" and got[0].qos == 1


def test_retained_replaced_by_newer(broker):
    """A new retained message on the same topic replaces the old one (MQTT-3.3.1-5)."""
    mosquitto_pub(broker, "ret/rep", "old", qos=1, retain=True)
    mosquitto_pub(broker, "ret/rep", "new", qos=1, retain=True)
    got = mosquitto_sub_collect(broker, "ret/rep", count=2, qos=1, wait_s=1)
    assert got == [("ret/rep", 1, 1, "new")]


def test_empty_retained_deletes_only_that_topic(broker):
    """A zero-length retained PUBLISH removes the retained message for that topic only,
    and is not stored itself (MQTT-3.3.1-10, MQTT-3.3.1-11)."""
    with raw.RawClient(broker.host, broker.port) as pub:
        pub.connect_ok(unique_id())
        pub.publish_qos1("ret/del/a", b"A", retain=True, packet_id=1)
        pub.publish_qos1("ret/del/b", b"B", retain=True, packet_id=2)
        pub.publish_qos1("ret/del/a", b"", retain=True, packet_id=3)
    with _raw_sub(broker, [("ret/del/#", 0)]) as c:
        got = _publishes_after_suback(c)
        assert [(p.topic, p.payload, p.retain) for p in got] == [("ret/del/b", b"B", True)], got


def test_empty_retained_forwarded_to_current_subscribers(broker):
    """The zero-length retained PUBLISH is processed as normal for existing subscribers (MQTT-3.3.1-10)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.subscribe([("ret/clr", 0)])
        with raw.RawClient(broker.host, broker.port) as pub:
            pub.connect_ok(unique_id())
            pub.publish_qos1("ret/clr", b"", retain=True)
        p = c.expect(raw.PUBLISH)
        assert p.topic == "ret/clr" and p.payload == b""


def test_live_forward_has_retain_0(broker):
    """A retained PUBLISH forwarded to an existing subscriber has RETAIN=0 (MQTT-3.3.1-9)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.subscribe([("ret/live", 1)])
        with raw.RawClient(broker.host, broker.port) as pub:
            pub.connect_ok(unique_id())
            pub.publish_qos1("ret/live", b"now", retain=True)
        p = c.expect(raw.PUBLISH)
        assert p.payload == b"now" and not p.retain
        c.send(raw.puback(p.packet_id))
    # ... but it was stored, so a late subscriber gets it with RETAIN=1.
    with _raw_sub(broker, [("ret/live", 1)]) as c:
        got = _publishes_after_suback(c)
        assert [(p.payload, p.retain) for p in got] == [(b"now", True)]


def test_non_retained_publish_not_stored(broker):
    """A PUBLISH with RETAIN=0 is not stored and does not replace a retained one (MQTT-3.3.1-12)."""
    mosquitto_pub(broker, "ret/keep", "retained", qos=1, retain=True)
    mosquitto_pub(broker, "ret/keep", "plain", qos=1)
    mosquitto_pub(broker, "ret/none", "plain", qos=1)
    got = mosquitto_sub_collect(broker, ["ret/keep", "ret/none"], count=3, qos=1, wait_s=1)
    assert got == [("ret/keep", 1, 1, "retained")]


def test_retained_to_wildcard_subscriptions(broker):
    """Retained messages of every matching topic are sent to '+' and '#' subscriptions."""
    topics = {"ret/w/a/x": b"1", "ret/w/b/x": b"2", "ret/w/a/y": b"3", "ret/w": b"4", "ret/other": b"5"}
    with raw.RawClient(broker.host, broker.port) as pub:
        pub.connect_ok(unique_id())
        for i, (t, v) in enumerate(sorted(topics.items())):
            pub.publish_qos1(t, v, retain=True, packet_id=i + 1)
    with _raw_sub(broker, [("ret/w/+/x", 0)]) as c:
        got = _publishes_after_suback(c)
        assert sorted((p.topic, p.payload) for p in got) == [("ret/w/a/x", b"1"), ("ret/w/b/x", b"2")]
        assert all(p.retain for p in got)
    with _raw_sub(broker, [("ret/w/#", 0)]) as c:
        got = _publishes_after_suback(c)
        assert sorted(p.topic for p in got) == ["ret/w", "ret/w/a/x", "ret/w/a/y", "ret/w/b/x"]
        assert all(p.retain for p in got)


def test_retained_qos_is_min_of_stored_and_granted(broker):
    """A retained QoS 2 message is delivered at the subscription's lower QoS."""
    with raw.RawClient(broker.host, broker.port) as pub:
        pub.connect_ok(unique_id())
        pub.publish_qos2("ret/q", b"q2", retain=True)
    with _raw_sub(broker, [("ret/q", 1)]) as c:
        got = _publishes_after_suback(c)
        assert [(p.payload, p.qos, p.retain) for p in got] == [(b"q2", 1, True)]
        c.send(raw.puback(got[0].packet_id))


def test_retained_paho_and_mqtt31(broker):
    """paho (MQTT 3.1) sets and receives retained messages."""
    from clients import MQTTv31
    p = PahoClient(broker, protocol=MQTTv31)
    p.connect()
    p.publish("ret/paho", b"paho-retained", qos=1, retain=True)
    p.disconnect()
    s = PahoClient(broker, protocol=MQTTv31)
    s.connect()
    s.subscribe("ret/+", 1)
    msgs = s.wait_messages(1)
    assert [(m.topic, m.payload, m.retain) for m in msgs] == [("ret/paho", b"paho-retained", True)]
    s.disconnect()


def test_retained_resent_on_resubscribe(broker):
    """Re-subscribing re-sends retained messages (MQTT-3.8.4-3)."""
    mosquitto_pub(broker, "ret/again", "r", qos=0, retain=True)
    with _raw_sub(broker, [("ret/again", 0)]) as c:
        assert len(_publishes_after_suback(c)) == 1
        c.send(raw.subscribe(2, [("ret/again", 0)]))
        got = _publishes_after_suback(c)
        assert [(p.payload, p.retain) for p in got] == [(b"r", True)]
