"""Rate limits: --max-publish-rate, --max-publish-bytes-rate (per client, token bucket with a
burst of one second's worth; beyond it MQTT 5 DISCONNECT 0x96, 3.1.1 close) and
--max-connect-rate-per-ip (CONNACK 0x9F for MQTT 5, 0x03 for 3.1.1). A client under the limit
is unaffected; refusals and disconnects are counted in /metrics."""

import socket

import pytest

import rawmqtt as raw
import rawmqtt5 as raw5
from clients import unique_id
from test_http import http, http_broker_factory  # noqa: F401 (fixtures)

pytestmark = pytest.mark.colony_only(reason="Colony's rate-limit flags")

MESSAGE_RATE_TOO_HIGH = 0x96
CONNECTION_RATE_EXCEEDED = 0x9F
V3_SERVER_UNAVAILABLE = 3


def metric(b, name):
    status, _, text = http(b, "GET", "/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_publish_rate_v5_disconnect_0x96(http_broker_factory):  # noqa: F811
    b = http_broker_factory(extra_args=["--max-publish-rate", "5"])
    with raw5.Client(b.host, b.port) as ok:
        # Under the limit (3 messages, burst 5): served as usual, before and after the flood.
        ok.connect_ok("under")
        for i in range(3):
            assert ok.publish_qos1("r/ok", b"x", packet_id=i + 1).rc == 0
        with raw5.Client(b.host, b.port) as c:
            c.connect_ok("flood5")
            c.send(b"".join(raw5.publish("r/t", b"x") for _ in range(50)))
            c.expect_disconnect(MESSAGE_RATE_TOO_HIGH)
        assert ok.publish_qos1("r/ok", b"x", packet_id=9).rc == 0
    assert b.wait_for_log(lambda r: r.get("msg") == "publish rate limit exceeded"
                          and r.get("client_id") == "flood5"
                          and r.get("limit") == "max-publish-rate", timeout=5)
    assert metric(b, 'colony_disconnects_total{reason="publish_rate_exceeded"}') == 1


def test_publish_rate_v3_closes_the_connection(broker_factory):
    b = broker_factory(extra_args=["--max-publish-rate", "5"])
    with raw.RawClient(b.host, b.port) as c:
        c.connect_ok(unique_id("flood3"))
        c.send(b"".join(raw.publish("r/t", b"x") for _ in range(50)))
        got = c.expect_closed()
        assert not [p for p in got if p.type == raw.DISCONNECT], got  # 3.1.1 has none
    with raw.RawClient(b.host, b.port) as ok:
        ok.connect_ok(unique_id("under3"))
        for i in range(3):
            ok.publish_qos1("r/ok", b"x", packet_id=i + 1)


def test_publish_bytes_rate(broker_factory):
    b = broker_factory(extra_args=["--max-publish-bytes-rate", "1000"])
    with raw5.Client(b.host, b.port) as ok:
        ok.connect_ok("bytes-ok")
        assert ok.publish_qos1("b/ok", b"y" * 800).rc == 0  # within one second's worth
        with raw5.Client(b.host, b.port) as c:
            c.connect_ok("bytes-flood")
            c.send(b"".join(raw5.publish("b/t", b"x" * 600) for _ in range(4)))
            c.expect_disconnect(MESSAGE_RATE_TOO_HIGH)
        assert ok.publish_qos1("b/ok", b"y" * 10, packet_id=2).rc == 0


def _connect_all(host, port, packets, source="127.0.0.1"):
    """Opens one socket per CONNECT first, then sends them all at once; returns the CONNACK
    reason codes in order (None when the connection closed without one)."""
    socks = [socket.create_connection((host, port), timeout=5, source_address=(source, 0))
             for _ in packets]
    try:
        for s, p in zip(socks, packets):
            s.sendall(p)
        codes = []
        for s in socks:
            data = b""
            while len(data) < 4:  # CONNACK: type, length, flags, code (enough of it)
                chunk = s.recv(4 - len(data))
                if not chunk:
                    break
                data += chunk
            codes.append(data[3] if len(data) == 4 and data[0] == 0x20 else None)
        return codes
    finally:
        for s in socks:
            s.close()


def test_connect_rate_per_ip(http_broker_factory):  # noqa: F811
    b = http_broker_factory(extra_args=["--max-connect-rate-per-ip", "2"])
    v5 = _connect_all(b.host, b.port, [raw5.connect(unique_id("cr5")) for _ in range(4)])
    assert v5.count(0) >= 1 and v5.count(0) <= 3, v5
    assert CONNECTION_RATE_EXCEEDED in v5, v5
    assert set(v5) <= {0, CONNECTION_RATE_EXCEEDED}, v5
    v3 = _connect_all(b.host, b.port, [raw.connect(unique_id("cr3")) for _ in range(3)])
    assert V3_SERVER_UNAVAILABLE in v3, v3
    assert set(v3) <= {0, V3_SERVER_UNAVAILABLE}, v3
    # Another source address is not limited by this one (loopback accepts 127.0.0.2).
    other = _connect_all(b.host, b.port, [raw5.connect(unique_id("cr-other"))], "127.0.0.2")
    assert other == [0], other
    refused = metric(b, 'colony_connects_refused_total{reason="connection_rate_exceeded"}')
    assert refused == v5.count(CONNECTION_RATE_EXCEEDED) + v3.count(V3_SERVER_UNAVAILABLE)


def test_no_limits_by_default(broker_factory):
    b = broker_factory()
    codes = _connect_all(b.host, b.port, [raw5.connect(unique_id("free")) for _ in range(8)])
    assert codes == [0] * 8, codes
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok(unique_id("freepub"))
        c.send(b"".join(raw5.publish("f/t", b"x") for _ in range(200)))
        assert c.publish_qos1("f/t", b"last", packet_id=1).rc == 0
