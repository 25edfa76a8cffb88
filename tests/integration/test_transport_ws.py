"""WebSocket listener details with a raw RFC 6455 client: subprotocol negotiation, packets
split across frames and several packets in one frame, ping/pong, clean close in both
directions, text frames refused, wrong path (404), plain HTTP (426), the real client address
(X-Forwarded-For ignored), handshake timeout, connection limit, and the Unix-domain socket.
"""

import json
import os
import socket
import time

import pytest

import rawmqtt as raw
from clients import mosquitto_pub, unique_id
from rawws import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, HandshakeRefused, WsClient, http_request
from transport_util import listener_port, pki, start_all, wait_for, override_fixture_flags  # noqa: F401

pytestmark = pytest.mark.colony_only(reason="WebSocket listeners are configured with Colony flags")

HOST = "127.0.0.1"


@pytest.fixture
def ws_broker(broker_factory):
    b = broker_factory(extra_args=["--ws-port", "0"])
    b.ws_port = listener_port(b, "ws")
    return b


def _healthy(b):
    with WsClient(HOST, b.ws_port) as c:
        c.connect_ok(unique_id())
        c.ping()
    mosquitto_pub(b, "health/t", "ok")
    assert b.alive()


@pytest.mark.parametrize("offered,expected", [
    (("mqtt",), "mqtt"),
    (("mqttv3.1",), "mqttv3.1"),
    (("mqttv3.1", "mqtt"), "mqtt"),
    ((), None),
])
def test_subprotocol_negotiation(ws_broker, offered, expected):
    with WsClient(HOST, ws_broker.ws_port, protocols=offered) as c:
        assert c.subprotocol == expected
        c.connect_ok(unique_id())


def test_unsupported_subprotocol_refused(ws_broker):
    with pytest.raises(HandshakeRefused) as ei:
        WsClient(HOST, ws_broker.ws_port, protocols=("chat",))
    assert ei.value.status == 400
    _healthy(ws_broker)


def test_packets_split_across_frames_and_coalesced(ws_broker):
    with WsClient(HOST, ws_broker.ws_port) as sub, WsClient(HOST, ws_broker.ws_port) as pub:
        # CONNECT split over three frames of one message, and over two messages.
        pkt = raw.connect(unique_id())
        sub.send_frame(OP_BINARY, pkt[:3], fin=False)
        sub.send_frame(OP_CONT, pkt[3:7], fin=False)
        sub.send_frame(OP_CONT, pkt[7:], fin=True)
        assert sub.expect(raw.CONNACK).rc == 0
        assert sub.subscribe([("ws/split", 1)]).codes == [1]
        pkt = raw.connect(unique_id())
        pub.send(pkt[:5])
        pub.send(pkt[5:])
        assert pub.expect(raw.CONNACK).rc == 0
        # Three PUBLISH packets in one frame.
        many = b"".join(raw.publish("ws/split", b"m%d" % i, qos=1, packet_id=i + 1) for i in range(3))
        pub.send(many)
        acks = [pub.expect(raw.PUBACK).packet_id for _ in range(3)]
        assert acks == [1, 2, 3]
        got = [sub.expect(raw.PUBLISH) for _ in range(3)]
        assert [p.payload for p in got] == [b"m0", b"m1", b"m2"]
        for p in got:
            sub.send(raw.puback(p.packet_id))
        # A large packet (> 64 KiB: 8-byte frame length) split across frames.
        big = raw.publish("ws/split", b"x" * 100000, qos=0)
        pub.send_frame(OP_BINARY, big[:70000], fin=False)
        pub.send_frame(OP_CONT, big[70000:], fin=True)
        p = sub.expect(raw.PUBLISH, timeout=10)
        assert len(p.payload) == 100000


def test_server_frames_are_binary(ws_broker):
    with WsClient(HOST, ws_broker.ws_port) as c:
        c.send(raw.connect(unique_id()))
        fin, opcode, payload = c.recv_frame()
        assert opcode == OP_BINARY and payload[:1] == b"\x20"


def test_ping_pong(ws_broker):
    with WsClient(HOST, ws_broker.ws_port) as c:
        c.connect_ok(unique_id())
        c.send_frame(OP_PING, b"are-you-there")
        fin, opcode, payload = c.recv_frame()
        assert (opcode, payload) == (OP_PONG, b"are-you-there")
        c.ping()  # MQTT PINGREQ still fine


def test_client_initiated_close(ws_broker):
    with WsClient(HOST, ws_broker.ws_port) as c:
        c.connect_ok(unique_id())
        c.send_frame(OP_CLOSE, b"\x03\xe8bye")
        c.expect_closed(timeout=5)
        assert c.close_codes() == [1000], c.control
    _healthy(ws_broker)


def test_server_initiated_close_sends_close_frame(ws_broker):
    """A protocol error closes the connection with a WebSocket close frame first."""
    with WsClient(HOST, ws_broker.ws_port) as c:
        c.connect_ok(unique_id())
        c.send(raw.connect(unique_id()))  # a second CONNECT is a protocol violation
        c.expect_closed(timeout=5)
        assert c.close_codes() == [1000], c.control


def test_text_frame_closes_connection(ws_broker):
    """MQTT-6.0.0-1: data in a text frame closes the connection."""
    with WsClient(HOST, ws_broker.ws_port) as c:
        c.connect_ok(unique_id())
        c.send_frame(OP_TEXT, raw.pingreq())
        c.expect_closed(timeout=5)
    _healthy(ws_broker)


def test_wrong_path_is_404(ws_broker):
    with pytest.raises(HandshakeRefused) as ei:
        WsClient(HOST, ws_broker.ws_port, path="/other")
    assert ei.value.status == 404
    _healthy(ws_broker)


def test_path_with_query_string(ws_broker):
    with WsClient(HOST, ws_broker.ws_port, path="/mqtt?token=abc") as c:
        c.connect_ok(unique_id())


def test_plain_http_without_upgrade(ws_broker):
    status, headers, body, closed = http_request(
        HOST, ws_broker.ws_port, b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status in (400, 426), (status, body)
    assert closed
    status, _h, _b, closed = http_request(
        HOST, ws_broker.ws_port, b"POST /mqtt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert status in (400, 426) and closed
    _healthy(ws_broker)


def test_garbage_instead_of_http(ws_broker):
    s = socket.create_connection((HOST, ws_broker.ws_port), timeout=5)
    s.sendall(raw.connect(unique_id()))  # MQTT bytes straight to the WebSocket port
    s.settimeout(5)
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    s.close()
    assert not data.startswith(b"\x20")
    _healthy(ws_broker)


def test_custom_path(broker_factory):
    b = broker_factory(extra_args=["--ws-port", "0", "--ws-path", "/broker/ws"])
    port = listener_port(b, "ws")
    with WsClient(HOST, port, path="/broker/ws") as c:
        c.connect_ok(unique_id())
    with pytest.raises(HandshakeRefused) as ei:
        WsClient(HOST, port, path="/mqtt")
    assert ei.value.status == 404


def test_forwarded_for_not_trusted(ws_broker):
    """The client's address is the socket's peer; X-Forwarded-For does not change it."""
    cid = unique_id("xff")
    with WsClient(HOST, ws_broker.ws_port) as watcher:
        watcher.connect_ok(unique_id())
        watcher.subscribe([("$SYS/broker/connection/clients/" + cid, 0)])
        with WsClient(HOST, ws_broker.ws_port, headers=["X-Forwarded-For: 203.0.113.7"]) as c:
            c.connect_ok(cid)
            notice = watcher.expect(raw.PUBLISH, timeout=10)
    info = json.loads(notice.payload)
    assert info["ipaddress"].startswith("127.0.0.1:"), info
    assert info["listener"] == "ws"


def test_handshake_timeout(broker_factory):
    """Silence after the TCP connect (no HTTP request) is closed after the connect timeout,
    and so is a WebSocket that never sends CONNECT."""
    b = broker_factory(connect_timeout=1, extra_args=["--ws-port", "0"])
    port = listener_port(b, "ws")
    s = socket.create_connection((HOST, port), timeout=10)
    t0 = time.monotonic()
    s.settimeout(10)
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    s.close()
    assert data == b"" and time.monotonic() - t0 < 5
    with WsClient(HOST, port) as c:
        t0 = time.monotonic()
        c.expect_closed(timeout=5)
        assert time.monotonic() - t0 < 5


def test_connection_limit_applies_to_ws(broker_factory):
    b = broker_factory(extra_args=["--ws-port", "0", "--max-connections", "1"])
    port = listener_port(b, "ws")
    with WsClient(HOST, port) as c:
        c.connect_ok(unique_id())
        with pytest.raises((raw.ConnectionClosed, ConnectionError, OSError, AssertionError)):
            c2 = WsClient(HOST, port, timeout=3)
            c2.connect_ok(unique_id())
    assert wait_for(lambda: _ws_ok(port), timeout=5)


def _ws_ok(port):
    try:
        with WsClient(HOST, port) as c:
            c.connect_ok(unique_id())
        return True
    except (AssertionError, OSError, raw.ConnectionClosed):
        return False


def test_wss_raw(broker_factory, pki):  # noqa: F811
    """WebSocket over TLS with the same raw client: subprotocol, packets, close."""
    b = start_all(broker_factory, pki)
    import ssl
    ctx = ssl.create_default_context(cafile=pki.ca_crt)
    ctx.check_hostname = False
    with WsClient(HOST, b.ports["wss"], tls=ctx) as c:
        assert c.subprotocol == "mqtt"
        c.connect_ok(unique_id())
        assert c.subscribe([("wss/raw", 0)]).codes == [0]
        c.send(raw.publish("wss/raw", b"over-wss"))
        assert c.expect(raw.PUBLISH).payload == b"over-wss"
        c.send_frame(OP_CLOSE, b"\x03\xe8")
        c.expect_closed(timeout=5)
    status, _h, _b, closed = http_request(HOST, b.ports["wss"], b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", tls=ctx)
    assert status == 404 and closed


def test_unix_socket(broker_factory, tmp_path):
    path = str(tmp_path / "colony.sock")
    b = broker_factory(extra_args=["--unix-socket", path])
    assert b.wait_for_log(lambda r: r.get("msg") == "listening" and r.get("listener") == "unix", timeout=5)
    assert os.path.exists(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    c = raw.RawClient.__new__(raw.RawClient)
    c.sock, c.buf, c.closed_by_peer = s, bytearray(), False
    cid = unique_id("ux")
    c.connect_ok(cid)
    assert c.subscribe([("unix/t", 1)]).codes == [1]
    mosquitto_pub(b, "unix/t", "via-tcp", qos=1)
    p = c.expect(raw.PUBLISH, timeout=5)
    assert p.payload == b"via-tcp"
    c.send(raw.puback(p.packet_id))
    c.close()
    # mosquitto_pub over the Unix socket.
    import subprocess
    res = subprocess.run(["/usr/bin/mosquitto_pub", "--unix", path, "-t", "unix/t", "-m", "x"],
                         capture_output=True, timeout=10)
    assert res.returncode == 0, res.stderr
    b.stop()
    assert not os.path.exists(path), "socket file left behind after shutdown"
