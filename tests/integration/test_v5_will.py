"""MQTT 5.0 Will messages: will properties, DISCONNECT with reason 0x04, Will Delay
Interval vs. reconnects and session end (MQTT 5.0 sections 3.1.2.5, 3.1.3.2, 3.14.2.1)."""

import time

import pytest

import rawmqtt5 as v5
from clients import unique_id


def _watcher(broker, topic):
    w = v5.connected(broker, unique_id("watch"))
    assert w.subscribe([(topic, v5.sub_options(2))]).codes == [2]
    return w


def _will_client(broker, topic, payload=b"gone", cid=None, will_props=None, session_expiry=None,
                 clean_start=True, qos=1, retain=False):
    props = [(v5.SESSION_EXPIRY_INTERVAL, session_expiry)] if session_expiry is not None else None
    return v5.connected(broker, cid or unique_id("will"), clean_start=clean_start, props=props,
                        will=dict(topic=topic, payload=payload, qos=qos, retain=retain, props=will_props))


def test_will_published_on_abrupt_close_with_properties(broker):
    """Connection closed without DISCONNECT -> Will published (MQTT-3.1.2-8) with its
    properties: Payload Format Indicator, Content Type, Response Topic, Correlation Data and
    User Properties in order (MQTT-3.1.3-10)."""
    ups = [("b", "1"), ("a", "2"), ("b", "3")]
    props = [(v5.PAYLOAD_FORMAT_INDICATOR, 1), (v5.CONTENT_TYPE, "text/plain"),
             (v5.RESPONSE_TOPIC, "v5/will/resp"), (v5.CORRELATION_DATA, b"\x00\x01corr")]
    props += [(v5.USER_PROPERTY, up) for up in ups]
    with _watcher(broker, "v5/will/props") as w:
        c = _will_client(broker, "v5/will/props", b"last words", will_props=props)
        c.close()
        p = w.expect(v5.PUBLISH)
        assert (p.topic, p.payload, p.qos) == ("v5/will/props", b"last words", 1)
        assert p.props.get(v5.PAYLOAD_FORMAT_INDICATOR) == 1
        assert p.props.get(v5.CONTENT_TYPE) == "text/plain"
        assert p.props.get(v5.RESPONSE_TOPIC) == "v5/will/resp"
        assert p.props.get(v5.CORRELATION_DATA) == b"\x00\x01corr"
        assert p.props.user_properties == ups


def test_no_will_after_normal_disconnect(broker):
    """DISCONNECT 0x00 (Normal disconnection) discards the Will (MQTT-3.1.2-10)."""
    with _watcher(broker, "v5/will/none") as w:
        c = _will_client(broker, "v5/will/none")
        c.send(v5.disconnect(0x00))
        c.expect_closed(5)
        c.close()
        w.expect_no_packet(1.0)


def test_disconnect_with_will_message_0x04_publishes_will(broker):
    """DISCONNECT 0x04 (Disconnect with Will Message): the Will is published (section 3.14.2.1)."""
    with _watcher(broker, "v5/will/04") as w:
        c = _will_client(broker, "v5/will/04", b"asked-for")
        c.send(v5.disconnect(v5.RC_DISCONNECT_WITH_WILL))
        c.expect_closed(5)
        c.close()
        assert w.expect(v5.PUBLISH).payload == b"asked-for"


def test_will_retained_v5(broker):
    """Will Retain 1 -> the Will becomes the retained message of its topic (MQTT-3.1.2-15)."""
    c = _will_client(broker, "v5/will/ret", b"retained-will", retain=True)
    c.close()
    deadline = time.monotonic() + 5
    got = []
    while not got and time.monotonic() < deadline:
        with v5.connected(broker, unique_id("s")) as s:
            s.subscribe([("v5/will/ret", v5.sub_options(1))])
            got = s.publishes(0.3)
    assert [(p.payload, p.retain) for p in got] == [(b"retained-will", True)], got


def test_will_delay_interval_delays_publication(broker):
    """Will Delay Interval 2 s (Session Expiry 60): nothing within the first ~1.5 s after the
    connection is lost, then the Will is published (MQTT-3.1.3-9, section 3.1.3.2.2)."""
    with _watcher(broker, "v5/will/delay") as w:
        c = _will_client(broker, "v5/will/delay", b"delayed", session_expiry=60,
                         will_props=[(v5.WILL_DELAY_INTERVAL, 2)])
        t0 = time.monotonic()
        c.close()
        w.expect_no_packet(1.5)
        p = w.expect(v5.PUBLISH, timeout=3.5)
        elapsed = time.monotonic() - t0
        assert p.payload == b"delayed"
        assert 1.8 <= elapsed <= 4.5, elapsed
        # The Will Delay Interval is not forwarded as a PUBLISH property.
        assert v5.WILL_DELAY_INTERVAL not in p.props


def test_will_not_published_if_client_reconnects_in_time(broker):
    """A new connection to the session within the Will Delay Interval cancels the Will
    (MQTT-3.1.3-9)."""
    cid = unique_id("back")
    with _watcher(broker, "v5/will/back") as w:
        c = _will_client(broker, "v5/will/back", b"must-not-appear", cid=cid, session_expiry=60,
                         will_props=[(v5.WILL_DELAY_INTERVAL, 2)])
        c.close()
        time.sleep(0.5)
        again = v5.connected(broker, cid, clean_start=False, props=[(v5.SESSION_EXPIRY_INTERVAL, 60)])
        assert again.connack.session_present == 1
        w.expect_no_packet(3.0)
        again.send(v5.disconnect())
        again.close()


# Mosquitto 2.0.11 waits for the Will Delay Interval even though the session has ended.
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 delays the Will past the end of a Session Expiry 0 session")
def test_will_published_at_once_when_session_expiry_0(broker):
    """Session Expiry 0 and Will Delay 5: the session ends with the connection, so the Will
    is published at once ('until the Will Delay Interval has passed or the Session ends,
    whichever happens first', section 3.1.3.2.2, MQTT-3.1.3-9)."""
    with _watcher(broker, "v5/will/se0") as w:
        c = _will_client(broker, "v5/will/se0", b"session-ended", session_expiry=0,
                         will_props=[(v5.WILL_DELAY_INTERVAL, 5)])
        t0 = time.monotonic()
        c.close()
        p = w.expect(v5.PUBLISH, timeout=2.0)
        assert p.payload == b"session-ended"
        assert time.monotonic() - t0 < 2.0


def test_will_published_when_session_expires_before_delay(broker):
    """Session Expiry 1 s, Will Delay 30 s: the Will is published when the session ends,
    after about 1 s, not after 30 s (section 3.1.3.2.2)."""
    with _watcher(broker, "v5/will/sexp") as w:
        c = _will_client(broker, "v5/will/sexp", b"expired", session_expiry=1,
                         will_props=[(v5.WILL_DELAY_INTERVAL, 30)])
        t0 = time.monotonic()
        c.close()
        p = w.expect(v5.PUBLISH, timeout=4.0)
        assert p.payload == b"expired"
        assert time.monotonic() - t0 <= 4.0


def test_will_on_takeover_with_delay_is_cancelled(broker):
    """Take-over by the same ClientID (Clean Start 0) within the Will Delay Interval is a new
    connection to the session: the old connection's Will is not published (MQTT-3.1.3-9)."""
    cid = unique_id("tk")
    with _watcher(broker, "v5/will/tk") as w:
        old = _will_client(broker, "v5/will/tk", b"nope", cid=cid, session_expiry=60,
                           will_props=[(v5.WILL_DELAY_INTERVAL, 2)])
        new = v5.connected(broker, cid, clean_start=False, props=[(v5.SESSION_EXPIRY_INTERVAL, 60)])
        old.expect_closed(5)
        old.close()
        w.expect_no_packet(3.0)
        new.send(v5.disconnect())
        new.close()
