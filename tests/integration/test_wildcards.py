"""Topic wildcards (MQTT 3.1.1 section 4.7)."""

import time

import pytest

import rawmqtt as raw
from clients import MosquittoSub, PahoClient, mosquitto_pub, unique_id


def _deliveries(broker, filters, topics):
    """Subscribe a raw client to ``filters``, publish one QoS 1 message per topic
    (payload = topic), and return the list of topics delivered."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("w"))
        ack = c.subscribe([(f, 0) for f in filters] + [("zz/sentinel", 0)])
        assert all(code == 0 for code in ack.codes), ack
        with raw.RawClient(broker.host, broker.port) as pub:
            pub.connect_ok(unique_id("p"))
            for i, t in enumerate(topics):
                pub.publish_qos1(t, t.encode(), packet_id=i + 1)
            pub.publish_qos1("zz/sentinel", b"end", packet_id=1000)
        got = []
        deadline = time.monotonic() + 5
        while True:
            p = c.recv_packet(max(0.01, deadline - time.monotonic()))
            if p.type != raw.PUBLISH:
                continue
            if p.topic == "zz/sentinel":
                break
            got.append(p.topic)
        got += [p.topic for p in c.collect(0.2) if p.type == raw.PUBLISH]
        return got


@pytest.mark.parametrize("flt,matches,non_matches", [
    ("sport/tennis/+", ["sport/tennis/player1", "sport/tennis/player2"],
     ["sport/tennis/player1/ranking", "sport/tennis", "sport/golf/x"]),
    ("sport/+", ["sport/", "sport/x"], ["sport", "sport/x/y"]),
    ("+/+", ["/finance", "a/b"], ["a", "a/b/c"]),
    ("/+", ["/finance"], ["finance", "a/b"]),
    ("+", ["a", "b"], ["/finance", "a/b"]),
    ("+/tennis/#", ["sport/tennis", "sport/tennis/player1/x"], ["sport/golf", "tennis"]),
], ids=["level", "empty-level", "plus-plus", "leading-slash", "single-plus", "plus-hash"])
def test_single_level_wildcard(broker, flt, matches, non_matches):
    """'+' matches exactly one level, including an empty one (section 4.7.1.3, MQTT-4.7.1-3)."""
    got = _deliveries(broker, [flt], matches + non_matches)
    assert sorted(got) == sorted(matches)


@pytest.mark.parametrize("flt,matches,non_matches", [
    ("sport/tennis/player1/#", ["sport/tennis/player1", "sport/tennis/player1/ranking",
                                "sport/tennis/player1/score/wimbledon"], ["sport/tennis/player2"]),
    ("sport/#", ["sport", "sport/a", "sport/a/b/c"], ["sports", "other/sport"]),
    ("#", ["a", "a/b", "/x", "x/"], []),
], ids=["deep", "parent-level", "all"])
def test_multi_level_wildcard(broker, flt, matches, non_matches):
    """'#' matches the parent and any number of child levels (section 4.7.1.2)."""
    got = _deliveries(broker, [flt], matches + non_matches)
    assert sorted(got) == sorted(matches)


def test_a_hash_matches_a_with_mosquitto_sub(broker):
    """'a/#' also matches 'a' itself (section 4.7.1.2), via mosquitto_sub/pub."""
    with MosquittoSub(broker, "wa/#", qos=1) as sub:
        mosquitto_pub(broker, "wa", "parent", qos=1)
        mosquitto_pub(broker, "wa/b", "child", qos=1)
        msgs = sub.wait_messages(2)
    assert sorted((m[0], m[3]) for m in msgs) == [("wa", "parent"), ("wa/b", "child")]


def test_topics_are_case_sensitive_and_space_allowed(broker):
    """Topic matching is exact and case-sensitive; spaces are legal (section 4.7.3)."""
    got = _deliveries(broker, ["Case/Topic", "with space/+"],
                      ["Case/Topic", "case/topic", "CASE/TOPIC", "with space/x", "withspace/x"])
    assert sorted(got) == ["Case/Topic", "with space/x"]


def test_wildcards_do_not_match_dollar_topics(broker):
    """'#' and '+/...' do not match topics starting with '$' (MQTT-4.7.2-1)."""
    with raw.RawClient(broker.host, broker.port) as wild, \
            raw.RawClient(broker.host, broker.port) as dollar:
        wild.connect_ok(unique_id("wild"))
        assert wild.subscribe([("#", 0), ("+/x", 0), ("+/+", 0)]).codes == [0, 0, 0]
        dollar.connect_ok(unique_id("dol"))
        assert dollar.subscribe([("$test/#", 0)]).codes == [0]
        with raw.RawClient(broker.host, broker.port) as pub:
            pub.connect_ok(unique_id("p"))
            pub.publish_qos1("$test/x", b"dollar")
            pub.publish_qos1("normal/x", b"normal", packet_id=2)
        got = [p for p in wild.collect(0.7) if p.type == raw.PUBLISH]
        # '#' and '+/x' and '+/+' all match normal/x: delivered once (MQTT-3.3.5-1).
        assert [p.topic for p in got] == ["normal/x"], got
        got = [p for p in dollar.collect(0.3) if p.type == raw.PUBLISH]
        # A broker may refuse client publishes to '$' topics (section 4.7.2 reserves them);
        # if it accepts them, an explicit '$test/#' subscription receives them.
        assert [p.topic for p in got] in (["$test/x"], []), got


@pytest.mark.broker_opts(sys_interval=1)
def test_hash_does_not_receive_sys(broker):
    """A '#' subscriber gets no $SYS traffic while '$SYS/#' does (MQTT-4.7.2-1)."""
    wild = PahoClient(broker)
    wild.connect()
    wild.subscribe([("#", 0), ("+/broker/#", 0)])
    sys_sub = PahoClient(broker)
    sys_sub.connect()
    sys_sub.subscribe("$SYS/#", 0)
    # Connect/disconnect another client to trigger connection notices too.
    other = PahoClient(broker)
    other.connect()
    other.disconnect()
    assert sys_sub.wait_messages(1, timeout=3), "no $SYS traffic at all"
    time.sleep(1.2)
    leaked = [m for m in wild.messages if m.topic.startswith("$")]
    assert leaked == []
    wild.disconnect()
    sys_sub.disconnect()


@pytest.mark.colony_only(reason="Mosquitto closes the connection on an invalid filter instead of SUBACK 0x80")
@pytest.mark.parametrize("bad", ["a/#/b", "a+", "a/b#", "#/a", "a/+b/c", "+a"])
def test_invalid_filter_gets_0x80_for_that_filter_only(broker, bad):
    """An invalid filter (misplaced wildcard, MQTT-4.7.1-1/-2/-3)
    gets SUBACK return code 0x80 for that filter only; the others are granted."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        ack = c.subscribe([("ok/one", 1), (bad, 1), ("ok/two", 2)])
        assert ack.codes == [1, 0x80, 2]
        with raw.RawClient(broker.host, broker.port) as pub:
            pub.connect_ok(unique_id())
            pub.publish_qos1("ok/two", b"still-works")
        p = c.expect(raw.PUBLISH)
        assert p.payload == b"still-works"


@pytest.mark.parametrize("bad", ["a/#/b", "a+"])
def test_invalid_filter_never_subscribed(broker, bad):
    """An invalid filter is never granted: either SUBACK 0x80 (Colony) or the connection
    is closed (Mosquitto); it must not be accepted as a subscription."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.send(raw.subscribe(3, [(bad, 0)]))
        try:
            ack = c.recv_packet(3)
        except raw.ConnectionClosed:
            return
        assert ack.type == raw.SUBACK and ack.codes == [0x80], ack


def test_publish_topic_with_wildcard_closes(broker):
    """A PUBLISH topic name must not contain wildcards (MQTT-3.3.2-2)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.send(raw.publish("bad/+/topic", b"x"))
        c.expect_closed(5)
