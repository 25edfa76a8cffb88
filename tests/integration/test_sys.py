"""$SYS topics: per-client connection notices (Colony) and broker statistics."""

import datetime
import json
import time

import pytest

import rawmqtt as raw
from clients import PahoClient, unique_id

NOTICE_PREFIX = "$SYS/broker/connection/clients/"

STAT_TOPICS = [
    "$SYS/broker/version",
    "$SYS/broker/uptime",
    "$SYS/broker/clients/connected",
    "$SYS/broker/clients/total",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
    "$SYS/broker/subscriptions/count",
    "$SYS/broker/retained messages/count",
]


def _keys(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v)


def _parse_rfc3339(ts):
    assert isinstance(ts, str) and "T" in ts, ts
    dt = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert dt.tzinfo is not None, "timestamp without offset: %r" % ts
    return dt


def _next_notice(watcher, cid, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        p = watcher.recv_packet(max(0.01, deadline - time.monotonic()))
        if p.type == raw.PUBLISH and p.topic == NOTICE_PREFIX + cid:
            return p


def _check_notice(p, cid, online, secret):
    assert not p.retain, "connection notices are not retained"
    doc = json.loads(p.payload)
    assert isinstance(doc, dict)
    assert doc["clientID"] == cid
    assert doc["online"] is online
    ts = _parse_rfc3339(doc["timestamp"])
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - ts).total_seconds()) < 60, (ts, now)
    assert not any("pass" in str(k).lower() for k in _keys(doc)), doc
    assert secret.encode() not in p.payload
    return doc


@pytest.mark.colony_only(reason="connection notices are a Colony feature")
def test_connect_and_disconnect_notices(broker):
    """Connect and DISCONNECT each publish a JSON notice on $SYS/broker/connection/clients/<id>."""
    with raw.RawClient(broker.host, broker.port) as w:
        w.connect_ok(unique_id("sysw"))
        assert w.subscribe([(NOTICE_PREFIX + "+", 0)]).codes == [0]
        cid = unique_id("note")
        secret = "hunter2-" + unique_id("s")
        with raw.RawClient(broker.host, broker.port) as c:
            c.connect_ok(cid, username="alice", password=secret)
            _check_notice(_next_notice(w, cid), cid, True, secret)
            c.send(raw.disconnect())
            _check_notice(_next_notice(w, cid), cid, False, secret)


@pytest.mark.colony_only(reason="connection notices are a Colony feature")
def test_offline_notice_on_abrupt_close_and_paho(broker):
    """An abrupt close, and a paho MQTT 3.1.1 client, also produce online/offline notices."""
    w = PahoClient(broker)
    w.connect()
    w.subscribe(NOTICE_PREFIX + "#", 0)
    with raw.RawClient(broker.host, broker.port) as c:
        cid = unique_id("abrupt")
        c.connect_ok(cid)
        c.abort()
    p = PahoClient(broker, username="bob", password="pw-secret")
    p.connect()
    p.disconnect()

    def docs_for(client_id):
        return [json.loads(m.payload) for m in w.messages if m.topic == NOTICE_PREFIX + client_id]

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (len(docs_for(cid)) < 2 or len(docs_for(p.client_id)) < 2):
        time.sleep(0.05)
    assert [d["online"] for d in docs_for(cid)] == [True, False]
    assert [d["online"] for d in docs_for(p.client_id)] == [True, False]
    for m in w.messages:
        assert b"pw-secret" not in m.payload
        assert not m.retain
    w.disconnect()


@pytest.mark.colony_only(reason="connection notices are a Colony feature")
def test_notice_for_taken_over_session(broker):
    """A takeover produces notices for the same client id, and the last one says online:
    a consumer tracking presence must not conclude the client left."""
    with raw.RawClient(broker.host, broker.port) as w:
        w.connect_ok(unique_id("sysw"))
        w.subscribe([(NOTICE_PREFIX + "+", 0)])
        cid = unique_id("tk")
        a = raw.RawClient(broker.host, broker.port)
        a.connect_ok(cid)
        assert json.loads(_next_notice(w, cid).payload)["online"] is True
        b = raw.RawClient(broker.host, broker.port)
        b.connect_ok(cid)
        a.expect_closed(5)
        states = [json.loads(p.payload)["online"] for p in w.collect(1.0)
                  if p.type == raw.PUBLISH and p.topic == NOTICE_PREFIX + cid]
        assert states and states[-1] is True, states
        a.close()
        b.close()


@pytest.mark.broker_opts(sys_interval=1)
def test_statistics_topics_present_and_retained(broker):
    """Every --sys-interval the statistics are published retained; a late subscriber
    receives each topic with RETAIN=1 and a non-empty payload.
    (Mosquitto publishes the same topic names, so this runs against it too.)"""
    # Generate some traffic so counters are non-trivial.
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("traffic"))
        c.subscribe([("stats/t", 1)])
        c.publish_qos1("stats/t", b"x", retain=True)
        # Wait until a full statistics cycle has run since the traffic above: two live
        # (non-retained) uptime publications.
        first = PahoClient(broker)
        first.connect()
        first.subscribe("$SYS/broker/uptime", 0)
        assert first.wait_for(lambda m: not m.retain, timeout=4), "no live $SYS/broker/uptime"
        first.clear()
        assert first.wait_for(lambda m: not m.retain, timeout=4), "uptime not re-published"
        first.disconnect()
        late = PahoClient(broker)
        late.connect()
        late.subscribe("$SYS/broker/#", 0)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            retained = {m.topic: m for m in late.messages if m.retain}
            if all(t in retained for t in STAT_TOPICS):
                break
            time.sleep(0.05)
        retained = {m.topic: m for m in late.messages if m.retain}
        missing = [t for t in STAT_TOPICS if t not in retained]
        assert not missing, "missing retained $SYS topics: %r (got %r)" % (missing, sorted(retained))
        for t in STAT_TOPICS:
            assert retained[t].payload, "empty payload on %s" % t
        connected = retained["$SYS/broker/clients/connected"].payload.strip()
        if connected.isdigit():
            assert int(connected) >= 1, "clients/connected=%r while clients are connected" % connected
        late.disconnect()


@pytest.mark.broker_opts(sys_interval=1)
def test_statistics_published_periodically(broker):
    """$SYS/broker/uptime is re-published about every --sys-interval seconds."""
    c = PahoClient(broker)
    c.connect()
    c.subscribe("$SYS/broker/uptime", 0)
    msgs = c.wait_messages(3, timeout=6)
    assert len(msgs) >= 3, msgs
    c.disconnect()


@pytest.mark.broker_opts(sys_interval=1)
def test_bytes_received_grows_after_publish(broker):
    """$SYS/broker/bytes/received counts what clients sent: a 5,000-byte publish raises it by
    at least that much within a couple of statistics cycles."""
    watcher = PahoClient(broker)
    watcher.connect()
    watcher.subscribe("$SYS/broker/bytes/received", 0)
    assert watcher.wait_for(lambda m: not m.retain, timeout=4), "no live bytes/received"
    before = int(watcher.messages[-1].payload)
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("bytes"))
        c.publish_qos1("bytes/t", b"b" * 5000)
    deadline = time.monotonic() + 6
    now = before
    while time.monotonic() < deadline and now < before + 5000:
        watcher.clear()
        if watcher.wait_for(lambda m: not m.retain, timeout=3):
            now = int(watcher.messages[-1].payload)
    assert now >= before + 5000, (before, now)
    watcher.disconnect()
