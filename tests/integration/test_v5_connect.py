"""MQTT 5.0 CONNECT/CONNACK/DISCONNECT: assigned client identifiers, Server Keep Alive,
Response Information, enhanced authentication, session take-over, server shutdown and
Maximum Packet Size (MQTT 5.0 sections 3.1, 3.2, 3.14, 4.12, 4.13)."""

import signal
import time

import paho.mqtt.client as mqtt
import pytest

import rawmqtt5 as v5
from broker import is_mosquitto, keepalive_deadline
from clients import unique_id


def test_connack_v5_accepted_with_properties(broker):
    """A plain MQTT 5.0 CONNECT gets CONNACK 0x00, Session Present 0 for a new session
    (MQTT-3.2.2-2), and a CONNACK that parses as MQTT 5 (property block present)."""
    with v5.Client(broker.host, broker.port) as c:
        ack = c.connect_ok(unique_id("v5c"))
        assert ack.session_present == 0
        assert len(ack.body) >= 3, "CONNACK has no property length: %r" % ack.body
        # Whatever the broker advertises must be sane.
        if v5.RECEIVE_MAXIMUM in ack.props:
            assert ack.props.get(v5.RECEIVE_MAXIMUM) > 0
        if v5.MAXIMUM_QOS in ack.props:
            assert ack.props.get(v5.MAXIMUM_QOS) in (0, 1)
        c.ping()


def test_zero_length_client_id_gets_assigned_client_identifier(broker):
    """Zero-length ClientID -> CONNACK carries an Assigned Client Identifier that is new
    and unique (MQTT-3.1.3-6, MQTT-3.2.2-16), and that names a real, resumable session."""
    c1 = v5.connected(broker, "", props=[(v5.SESSION_EXPIRY_INTERVAL, 60)])
    c2 = v5.connected(broker, "")
    a1 = c1.connack.props.get(v5.ASSIGNED_CLIENT_IDENTIFIER)
    a2 = c2.connack.props.get(v5.ASSIGNED_CLIENT_IDENTIFIER)
    assert a1 and a2, "no Assigned Client Identifier: %r / %r" % (c1.connack, c2.connack)
    assert a1 != a2
    assert c1.subscribe([("v5/assigned", v5.sub_options(1))]).codes == [1]
    c1.send(v5.disconnect())
    c1.expect_closed(5)
    c1.close()
    c2.close()
    # The assigned id is the session's client id: resuming it finds the session.
    with v5.connected(broker, a1, clean_start=False,
                      props=[(v5.SESSION_EXPIRY_INTERVAL, 60)]) as again:
        assert again.connack.session_present == 1
        assert v5.ASSIGNED_CLIENT_IDENTIFIER not in again.connack.props
        with v5.connected(broker, unique_id("pub")) as pub:
            pub.publish_qos1("v5/assigned", b"to-assigned")
        p = again.expect(v5.PUBLISH)
        assert p.payload == b"to-assigned"


def test_nonempty_client_id_gets_no_assigned_identifier(broker):
    """Assigned Client Identifier only when the ClientID was empty (section 3.2.2.3.7)."""
    with v5.connected(broker, unique_id("named")) as c:
        assert v5.ASSIGNED_CLIENT_IDENTIFIER not in c.connack.props


def test_paho_v5_zero_length_client_id(broker):
    """paho MQTT 5 with an empty client id connects and learns its assigned id."""
    got = {}
    c = mqtt.Client("", protocol=mqtt.MQTTv5)

    def on_connect(client, userdata, flags, rc, props):
        got["rc"] = rc
        got["aci"] = getattr(props, "AssignedClientIdentifier", None)
    c.on_connect = on_connect
    c.connect(broker.host, broker.port, 30, clean_start=True)
    c.loop_start()
    try:
        deadline = time.monotonic() + 5
        while "rc" not in got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got.get("rc") == 0, got
        assert got.get("aci"), got
    finally:
        c.disconnect()
        c.loop_stop()


# Mosquitto 2.0.11 refuses max_keepalive values below 10.
MAX_KEEPALIVE = 10 if is_mosquitto() else 5


@pytest.mark.broker_opts(max_keepalive=MAX_KEEPALIVE)
def test_server_keep_alive_caps_requested_keepalive(broker):
    """Broker max keepalive 5, client asks 60 -> CONNACK Server Keep Alive 5, which the
    client must then use (MQTT-3.1.2-21, section 3.2.2.3.14)."""
    with v5.connected(broker, unique_id("ska"), keepalive=60) as c:
        assert c.connack.props.get(v5.SERVER_KEEP_ALIVE) == MAX_KEEPALIVE, c.connack


@pytest.mark.broker_opts(max_keepalive=MAX_KEEPALIVE)
def test_keepalive_within_maximum_is_kept(broker):
    """Keepalive below the maximum: no Server Keep Alive, or one equal to the request."""
    with v5.connected(broker, unique_id("ska"), keepalive=3) as c:
        assert c.connack.props.get(v5.SERVER_KEEP_ALIVE, 3) == 3, c.connack


# Mosquitto's smallest max_keepalive (10) would make this test slow (15-20 s).
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 refuses max_keepalive < 10")
@pytest.mark.broker_opts(max_keepalive=2)
def test_server_keep_alive_is_enforced(broker):
    """The Server Keep Alive (2 s, client asked 60) is the one enforced: a silent client is
    disconnected within 1.5 x 2 s (MQTT-3.1.2-22); a DISCONNECT, if sent, is 0x8D."""
    with v5.connected(broker, unique_id("ska"), keepalive=60) as c:
        assert c.connack.props.get(v5.SERVER_KEEP_ALIVE) == 2, c.connack
        t0 = time.monotonic()
        got = c.expect_closed(keepalive_deadline(2))
        assert time.monotonic() - t0 >= 1.9
        discs = [p for p in got if p.type == v5.DISCONNECT]
        assert all(d.rc == 0x8D for d in discs), got


def test_pingreq_keeps_v5_connection_alive(broker):
    """PINGREQ every 0.4 s keeps a keepalive=1 client connected past 1.5 x keepalive (MQTT-3.12.4-1)."""
    with v5.connected(broker, unique_id("ping"), keepalive=1) as c:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            c.ping(timeout=2)
            time.sleep(0.4)
        c.ping(timeout=2)


def test_silent_v5_client_disconnected_after_keepalive(broker):
    """No packets within 1.5 x keepalive -> closed (MQTT-3.1.2-22); a DISCONNECT, if any, is 0x8D."""
    with v5.connected(broker, unique_id("ka"), keepalive=1) as c:
        got = c.expect_closed(keepalive_deadline(1))
        assert all(p.rc == 0x8D for p in got if p.type == v5.DISCONNECT), got


def test_request_response_information_0_gets_none(broker):
    """Request Response Information 0 (or absent): the Server MUST NOT return Response
    Information (MQTT-3.1.2-28)."""
    with v5.connected(broker, unique_id("rri0"), props=[(v5.REQUEST_RESPONSE_INFORMATION, 0)]) as c:
        assert v5.RESPONSE_INFORMATION not in c.connack.props, c.connack
    with v5.connected(broker, unique_id("rri-")) as c:
        assert v5.RESPONSE_INFORMATION not in c.connack.props, c.connack


# Mosquitto 2.0.11 never returns Response Information (it is optional for a Server).
@pytest.mark.colony_only(reason="Mosquitto does not implement Response Information")
def test_request_response_information_1_gets_usable_response_information(broker):
    """Request Response Information 1 -> CONNACK carries Response Information
    (section 3.1.2.11.7 / 3.2.2.3.15), a string the client can build response topics on:
    a response published under it reaches the requester."""
    cid = unique_id("rri1")
    with v5.connected(broker, cid, props=[(v5.REQUEST_RESPONSE_INFORMATION, 1)]) as c:
        info = c.connack.props.get(v5.RESPONSE_INFORMATION)
        assert info, "no Response Information: %r" % c.connack
        assert "+" not in info and "#" not in info
        topic = info.rstrip("/") + "/reply"
        assert c.subscribe([(topic, v5.sub_options(1))]).codes == [1]
        with v5.connected(broker, unique_id("resp")) as responder:
            responder.publish_qos1(topic, b"answer")
        p = c.expect(v5.PUBLISH)
        assert (p.topic, p.payload) == (topic, b"answer")


def test_unsupported_authentication_method_connack_0x8c(broker):
    """CONNECT with an Authentication Method the server does not support -> CONNACK 0x8C
    (Bad authentication method) or 0x87, then the connection is closed (MQTT-4.12.0-1,
    MQTT-3.2.2-7)."""
    with v5.Client(broker.host, broker.port) as c:
        ack = c.connect(unique_id("auth"), props=[(v5.AUTHENTICATION_METHOD, "NO-SUCH-METHOD-42"),
                                                  (v5.AUTHENTICATION_DATA, b"\x00\x01")])
        assert ack.rc == v5.RC_BAD_AUTH_METHOD, ack
        assert ack.session_present == 0
        c.expect_closed(5)


# Mosquitto 2.0.11 closes the old connection without any DISCONNECT packet.
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 sends no DISCONNECT 0x8E on take-over")
def test_session_taken_over_old_client_gets_disconnect_0x8e(broker):
    """Same ClientID connects again -> the existing v5 connection receives DISCONNECT 0x8E
    (Session taken over) and is closed (MQTT-3.1.4-3); the new one works."""
    cid = unique_id("take")
    old = v5.connected(broker, cid)
    new = v5.connected(broker, cid)
    try:
        old.expect_disconnect(v5.RC_SESSION_TAKEN_OVER, 5)
        assert new.subscribe([("v5/take", v5.sub_options(1))]).codes == [1]
        new.ping()
    finally:
        old.close()
        new.close()


# Mosquitto 2.0.11 just closes its sockets when it terminates.
@pytest.mark.colony_only(reason="Mosquitto 2.0.11 sends no DISCONNECT 0x8B on shutdown")
def test_sigterm_sends_disconnect_0x8b(broker):
    """Broker SIGTERM -> every v5 client gets DISCONNECT 0x8B (Server shutting down) before
    the close (section 4.13); the broker exits 0."""
    clients = [v5.connected(broker, unique_id("sd%d" % i)) for i in range(2)]
    clients[1].subscribe([("v5/sd", v5.sub_options(1))])
    broker.send_signal(signal.SIGTERM)
    try:
        for c in clients:
            c.expect_disconnect(v5.RC_SERVER_SHUTTING_DOWN, 10)
    finally:
        for c in clients:
            c.close()
    assert broker.wait(10) == 0


@pytest.mark.broker_opts(max_packet_size=1024)
def test_connack_advertises_maximum_packet_size(broker):
    """The server's limit is announced as CONNACK Maximum Packet Size (section 3.2.2.3.6)."""
    with v5.connected(broker, unique_id("mps")) as c:
        assert c.connack.props.get(v5.MAXIMUM_PACKET_SIZE) == 1024, c.connack


@pytest.mark.broker_opts(max_packet_size=1024)
def test_inbound_packet_too_large_disconnect_0x95(broker):
    """A PUBLISH larger than the server's Maximum Packet Size (MQTT-3.2.2-15) -> DISCONNECT
    0x95 (Packet too large) and close; nothing is delivered."""
    with v5.connected(broker, unique_id("watch")) as w:
        assert w.subscribe([("v5/big", v5.sub_options(1))]).codes == [1]
        with v5.connected(broker, unique_id("big")) as c:
            c.send(v5.publish("v5/big", b"x" * 2000, qos=1, packet_id=1))
            c.expect_disconnect(v5.RC_PACKET_TOO_LARGE, 5)
        w.expect_no_packet(0.5)
        # A packet within the limit is still fine for others.
        with v5.connected(broker, unique_id("small")) as c:
            assert c.publish_qos1("v5/big", b"y" * 500).rc in (0, v5.RC_NO_MATCHING_SUBSCRIBERS)
        assert w.expect(v5.PUBLISH).payload == b"y" * 500


@pytest.mark.parametrize("props", [
    pytest.param([(v5.RECEIVE_MAXIMUM, 0)], id="receive-maximum-0"),
    pytest.param([(v5.MAXIMUM_PACKET_SIZE, 0)], id="maximum-packet-size-0"),
    pytest.param([(v5.SESSION_EXPIRY_INTERVAL, 1), (v5.SESSION_EXPIRY_INTERVAL, 2)], id="duplicate-property"),
])
def test_connect_protocol_error_properties_refused(broker, props):
    """Receive Maximum 0, Maximum Packet Size 0 or a duplicated property in CONNECT are
    Protocol Errors (sections 3.1.2.11.3, 3.1.2.11.4, 2.2.2.2): CONNACK >= 0x80 (or a
    plain close), then the connection is closed (MQTT-3.2.2-7)."""
    with v5.Client(broker.host, broker.port) as c:
        c.send(v5.connect(unique_id("bad"), props=props))
        got = c.expect_closed(5)
        acks = [p for p in got if p.type == v5.CONNACK]
        assert all(a.rc >= 0x80 for a in acks), got
