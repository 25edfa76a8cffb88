"""Shared subscriptions: $share/<group>/<filter> (MQTT 5 semantics, offered to 3.1.1
clients as Mosquitto and Colony do) and hmq's $queue/<filter> (one implicit group)."""

import time

import pytest

import rawmqtt as raw
from clients import MQTTv31, PahoClient, unique_id, wait_until


def _publish_n(broker, topic, n, qos=1):
    with raw.RawClient(broker.host, broker.port) as pub:
        pub.connect_ok(unique_id("pub"))
        for i in range(n):
            if qos == 1:
                pub.publish_qos1(topic, b"%d" % i, packet_id=i + 1)
            else:
                pub.send(raw.publish(topic, b"%d" % i))
        pub.ping()


def _members(broker, share_filter, n=2, qos=1, protocol=None):
    out = []
    for i in range(n):
        kw = {"protocol": protocol} if protocol else {}
        m = PahoClient(broker, client_id=unique_id("m%d" % i), **kw)
        m.connect()
        assert m.subscribe(share_filter, qos) == [qos]
        out.append(m)
    return out


def _owners(members, n):
    """Map message index -> list of member indexes that received it."""
    owners = {i: [] for i in range(n)}
    for idx, m in enumerate(members):
        for msg in m.messages:
            owners[int(msg.payload)].append(idx)
    return owners


def test_share_group_each_message_to_exactly_one_member_alternating(broker):
    """$share/g/t with two members: every message goes to exactly one member, round-robin."""
    members = _members(broker, "$share/g/sh/t")
    n = 10
    _publish_n(broker, "sh/t", n)
    assert wait_until(lambda: sum(m.count() for m in members) >= n, 5)
    time.sleep(0.2)
    owners = _owners(members, n)
    assert all(len(v) == 1 for v in owners.values()), owners
    seq = [owners[i][0] for i in range(n)]
    assert all(seq[i] != seq[i + 1] for i in range(n - 1)), "not alternating: %r" % seq
    for m in members:
        m.disconnect()


def test_two_groups_and_a_normal_subscriber_each_get_a_copy(broker):
    """Each share group gets one copy; a non-shared subscriber gets its own copy."""
    g1 = _members(broker, "$share/g1/shg/t")
    g2 = _members(broker, "$share/g2/shg/t")
    normal = PahoClient(broker)
    normal.connect()
    normal.subscribe("shg/t", 1)
    n = 6
    _publish_n(broker, "shg/t", n)
    assert wait_until(lambda: normal.count() >= n and sum(m.count() for m in g1 + g2) >= 2 * n, 5)
    time.sleep(0.2)
    for group in (g1, g2):
        owners = _owners(group, n)
        assert all(len(v) == 1 for v in owners.values()), owners
        assert all(m.count() > 0 for m in group), "one member starved: %r" % owners
    assert sorted(int(m.payload) for m in normal.messages) == list(range(n))
    for c in g1 + g2 + [normal]:
        c.disconnect()


def test_share_with_wildcard_filter_and_mqtt31(broker):
    """$share works with a wildcard filter and for MQTT 3.1 clients."""
    members = _members(broker, "$share/w/shw/#", protocol=MQTTv31)
    n = 8
    with raw.RawClient(broker.host, broker.port) as pub:
        pub.connect_ok(unique_id())
        for i in range(n):
            pub.publish_qos1("shw/%d/x" % i, b"%d" % i, packet_id=i + 1)
    assert wait_until(lambda: sum(m.count() for m in members) >= n, 5)
    time.sleep(0.2)
    owners = _owners(members, n)
    assert all(len(v) == 1 for v in owners.values()), owners
    assert all(m.count() > 0 for m in members)
    for m in members:
        m.disconnect()


def test_unsubscribed_member_leaves_group(broker):
    """After one member unsubscribes from $share/g/t the other receives everything."""
    a, b = _members(broker, "$share/u/shu/t")
    a.unsubscribe("$share/u/shu/t")
    n = 4
    _publish_n(broker, "shu/t", n)
    assert wait_until(lambda: b.count() >= n, 5)
    time.sleep(0.2)
    assert a.count() == 0
    assert sorted(int(m.payload) for m in b.messages) == list(range(n))
    a.disconnect()
    b.disconnect()


def test_share_qos_is_min_of_publish_and_member_grant(broker):
    """Members receive at min(publish QoS, their granted QoS)."""
    with raw.RawClient(broker.host, broker.port) as m:
        m.connect_ok(unique_id())
        assert m.subscribe([("$share/q/shq/t", 0)]).codes == [0]
        _publish_n(broker, "shq/t", 1, qos=1)
        p = m.expect(raw.PUBLISH)
        assert p.qos == 0 and p.topic == "shq/t"


@pytest.mark.colony_only(reason="$queue/ is an hmq extension; Mosquitto treats it as a plain topic")
def test_queue_prefix_acts_as_one_group(broker):
    """$queue/t: all $queue subscribers form one group: each message to exactly one, round-robin."""
    members = _members(broker, "$queue/qu/t")
    normal = PahoClient(broker)
    normal.connect()
    normal.subscribe("qu/t", 1)
    n = 10
    _publish_n(broker, "qu/t", n)
    assert wait_until(lambda: sum(m.count() for m in members) >= n and normal.count() >= n, 5)
    time.sleep(0.2)
    owners = _owners(members, n)
    assert all(len(v) == 1 for v in owners.values()), owners
    seq = [owners[i][0] for i in range(n)]
    assert all(seq[i] != seq[i + 1] for i in range(n - 1)), "not alternating: %r" % seq
    assert normal.count() == n
    for c in members + [normal]:
        c.disconnect()


@pytest.mark.colony_only(reason="Mosquitto drops in-flight messages of a departed clean-session member")
def test_unacked_qos1_of_departed_member_goes_to_another(broker):
    """A QoS 1 message delivered to a member that disconnects without PUBACK is
    re-delivered to another member of the group."""
    flaky = raw.RawClient(broker.host, broker.port)
    flaky.connect_ok(unique_id("flaky"), clean=True)
    assert flaky.subscribe([("$share/r/shr/t", 1)]).codes == [1]
    steady = PahoClient(broker)
    steady.connect()
    assert steady.subscribe("$share/r/shr/t", 1) == [1]
    n = 4
    _publish_n(broker, "shr/t", n)
    got_flaky = [p for p in flaky.collect(0.5) if p.type == raw.PUBLISH]
    assert got_flaky, "round-robin gave the raw member nothing"
    flaky.abort()  # gone without acknowledging
    assert wait_until(lambda: steady.count() >= n, 5), \
        "steady member got %r; flaky held %r" % (steady.messages, got_flaky)
    assert sorted({int(m.payload) for m in steady.messages}) == list(range(n))
    steady.disconnect()
