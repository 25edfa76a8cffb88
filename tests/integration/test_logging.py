"""Structured JSON logging on stderr (Colony contract; Mosquitto logs plain text)."""

import time

import pytest

import rawmqtt as raw
from clients import PahoClient, unique_id

pytestmark = pytest.mark.colony_only(reason="Colony's JSON log format and --log-level trace")


@pytest.mark.broker_opts(log_level="trace")
def test_trace_logs_publish_packet_in_and_out(broker):
    """At --log-level trace a PUBLISH shows up as "packet in" (from the publisher) and
    "packet out" (to the subscriber) with type, client_id, topic, qos, payload_size."""
    sub_id = unique_id("tsub")
    pub_id = unique_id("tpub")
    with raw.RawClient(broker.host, broker.port) as sub, raw.RawClient(broker.host, broker.port) as pub:
        sub.connect_ok(sub_id)
        sub.subscribe([("trace/topic", 1)])
        pub.connect_ok(pub_id)
        pub.publish_qos1("trace/topic", b"12345")
        p = sub.expect(raw.PUBLISH)
        sub.send(raw.puback(p.packet_id))

        def is_in(r):
            return (r.get("msg") == "packet in" and r.get("type") == "PUBLISH"
                    and r.get("topic") == "trace/topic")

        def is_out(r):
            return (r.get("msg") == "packet out" and r.get("type") == "PUBLISH"
                    and r.get("topic") == "trace/topic")

        rin = broker.wait_for_log(is_in, timeout=5)
        assert rin is not None, broker.stderr_text(tail=40)
        assert rin.get("client_id") == pub_id
        assert rin.get("qos") == 1
        assert rin.get("payload_size") == 5
        rout = broker.wait_for_log(is_out, timeout=5)
        assert rout is not None, broker.stderr_text(tail=40)
        assert rout.get("client_id") == sub_id
        assert rout.get("payload_size") == 5
        # Other packet types are traced too.
        assert broker.wait_for_log(lambda r: r.get("msg") == "packet in" and r.get("type") == "CONNECT", 2)
        assert broker.wait_for_log(lambda r: r.get("msg") == "packet out" and r.get("type") == "CONNACK", 2)


@pytest.mark.broker_opts(log_level="trace")
def test_trace_log_does_not_contain_password(broker):
    """Credentials never reach the log, even at trace level."""
    secret = "s3cr3t-" + unique_id("pw")
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("pw"), username="u", password=secret)
        c.ping()
    assert broker.wait_for_log(lambda r: r.get("msg") == "packet in" and r.get("type") == "PINGREQ", 3)
    assert secret not in broker.stderr_text()


def test_every_stderr_line_is_a_json_object(broker):
    """At debug level every stderr line is a JSON object with ts, level, logger, msg."""
    c = PahoClient(broker)
    c.connect()
    c.subscribe("log/t", 1)
    c.publish("log/t", b"x", qos=1)
    c.wait_messages(1)
    c.disconnect()
    time.sleep(0.2)
    lines = [l for l in broker.stderr_text().splitlines() if l.strip()]
    assert lines
    recs = broker.log_records()
    assert len(recs) == len(lines), [l for l in lines if not l.lstrip().startswith("{")][:5]
    for r in recs:
        for key in ("ts", "level", "logger", "msg"):
            assert key in r, r


@pytest.mark.broker_opts(log_level="info")
def test_info_level_has_no_packet_traces(broker):
    """Below trace level no per-packet lines are logged."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        c.publish_qos1("quiet/t", b"x")
    time.sleep(0.2)
    assert not any(r.get("msg") in ("packet in", "packet out") for r in broker.log_records())
