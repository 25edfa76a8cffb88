"""One end-to-end suite over every transport: MQTT over TCP and TLS (mosquitto_pub/_sub) and
over WebSocket and WebSocket over TLS (MQTT.js): connect, subscribe, QoS 0/1/2, retained
messages, wills, and all four transports talking to each other through one broker.
"""

import uuid

import pytest

from transport_util import KINDS, Endpoint, pki, start_all, override_fixture_flags  # noqa: F401

pytestmark = pytest.mark.colony_only(reason="TLS/WS listeners are configured with Colony flags")


@pytest.fixture
def all_broker(broker_factory, pki):  # noqa: F811
    return start_all(broker_factory, pki)


def _topic(kind, what):
    return "e2e/%s/%s/%s" % (kind, what, uuid.uuid4().hex[:8])


@pytest.mark.parametrize("kind", KINDS)
def test_qos_publish_subscribe(all_broker, pki, kind):  # noqa: F811
    """Subscribe at QoS 2; QoS 0, 1 and 2 publishes arrive once each with their QoS."""
    ep = Endpoint(kind, all_broker, pki)
    topic = _topic(kind, "qos")
    with ep.sub(topic, qos=2) as sub:
        for q in (0, 1, 2):
            ep.pub(topic, "%s-q%d" % (kind, q), qos=q)
        msgs = sub.wait_messages(3, timeout=10)
    assert sorted((p, q) for (_t, p, q, _r) in msgs) == \
        [("%s-q0" % kind, 0), ("%s-q1" % kind, 1), ("%s-q2" % kind, 2)], msgs


@pytest.mark.parametrize("kind", KINDS)
def test_subscription_qos_downgrade(all_broker, pki, kind):  # noqa: F811
    """A QoS 0 subscription gets QoS 2 publishes at QoS 0."""
    ep = Endpoint(kind, all_broker, pki)
    topic = _topic(kind, "down")
    with ep.sub(topic, qos=0) as sub:
        ep.pub(topic, "down", qos=2)
        msgs = sub.wait_messages(1, timeout=10)
    assert [(p, q) for (_t, p, q, _r) in msgs] == [("down", 0)]


@pytest.mark.parametrize("kind", KINDS)
def test_retained(all_broker, pki, kind):  # noqa: F811
    """A retained message reaches a later subscriber with the retain flag; an empty one clears it."""
    ep = Endpoint(kind, all_broker, pki)
    topic = _topic(kind, "ret")
    ep.pub(topic, "kept-%s" % kind, qos=1, retain=True)
    with ep.sub(topic, qos=1) as sub:
        msgs = sub.wait_messages(1, timeout=10)
    assert [(p, r) for (_t, p, _q, r) in msgs] == [("kept-%s" % kind, True)]
    ep.pub(topic, "", qos=1, retain=True)
    with ep.sub(topic, qos=1) as sub:
        assert sub.wait_messages(1, timeout=1.5) == []


@pytest.mark.parametrize("kind", KINDS)
def test_will(all_broker, pki, kind):  # noqa: F811
    """A client that dies without DISCONNECT has its will published."""
    ep = Endpoint(kind, all_broker, pki)
    will_topic = _topic(kind, "will")
    with ep.sub(will_topic, qos=1) as watcher:
        dying = ep.sub(_topic(kind, "any"), qos=0,
                       will={"topic": will_topic, "payload": "gone-%s" % kind, "qos": 1})
        dying.kill()
        msgs = watcher.wait_messages(1, timeout=10)
    assert [(p, q) for (_t, p, q, _r) in msgs] == [("gone-%s" % kind, 1)]


def test_all_transports_together(all_broker, pki):  # noqa: F811
    """Subscribers on TCP, TLS, WS and WSS each get what is published on every transport."""
    eps = {k: Endpoint(k, all_broker, pki) for k in KINDS}
    topic = _topic("all", "mix")
    subs = {k: eps[k].sub(topic, qos=1) for k in KINDS}
    try:
        for k in KINDS:
            eps[k].pub(topic, "from-%s" % k, qos=1)
        for k in KINDS:
            msgs = subs[k].wait_messages(len(KINDS), timeout=10)
            assert sorted(p for (_t, p, _q, _r) in msgs) == sorted("from-%s" % x for x in KINDS), \
                "subscriber on %s got %r" % (k, msgs)
    finally:
        for s in subs.values():
            s.stop()
