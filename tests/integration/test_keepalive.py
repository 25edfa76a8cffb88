"""Keep Alive (MQTT 3.1.1 section 3.1.2.10, 3.12)."""

import time

import pytest

import rawmqtt as raw
from broker import keepalive_deadline
from clients import PahoClient, unique_id


@pytest.mark.parametrize("keepalive", [1, 2])
def test_silent_client_closed_after_keepalive(broker, keepalive):
    """No control packet within 1.5 x Keep Alive -> the server disconnects (MQTT-3.1.2-24)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("ka"), keepalive=keepalive)
        t0 = time.monotonic()
        c.expect_closed(keepalive_deadline(keepalive) + 1)
        elapsed = time.monotonic() - t0
        # Never before the keepalive period itself; never far beyond 1.5x.
        assert keepalive <= elapsed + 0.05, elapsed
        assert elapsed <= keepalive_deadline(keepalive), elapsed


def test_pingreq_keeps_connection_alive(broker):
    """PINGREQ every 0.6 s keeps a keepalive=1 connection open well past 1.5 x keepalive,
    each answered by PINGRESP (MQTT-3.12.4-1)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("ping"), keepalive=1)
        t_end = time.monotonic() + 3.5
        n = 0
        while time.monotonic() < t_end:
            time.sleep(0.6)
            resp = c.ping(timeout=2)
            assert resp.type == raw.PINGRESP and resp.flags == 0 and resp.body == b""
            n += 1
        assert n >= 5
        c.send(raw.disconnect())


def test_publish_traffic_keeps_connection_alive(broker):
    """Any control packet (here QoS 0 PUBLISH) resets the keepalive timer (section 3.1.2.10)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("pub"), keepalive=1)
        t_end = time.monotonic() + 3.0
        while time.monotonic() < t_end:
            time.sleep(0.5)
            c.send(raw.publish("ka/traffic", b"tick"))
        c.ping(timeout=2)  # still connected


def test_keepalive_zero_never_times_out(broker):
    """Keep Alive 0 turns the mechanism off: not closed after several seconds of silence."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("ka0"), keepalive=0)
        c.expect_no_packet(3.5)
        c.ping()


def test_paho_keepalive_loop_stays_connected(broker):
    """paho with keepalive=1 sends its own PINGREQs and stays connected."""
    c = PahoClient(broker, keepalive=1)
    c.connect()
    time.sleep(3.0)
    assert not c.disconnected.is_set()
    c.subscribe("ka/paho", 0)
    c.disconnect()


@pytest.mark.colony_only(reason="Mosquitto closes a timed-out MQTT 5 client without DISCONNECT")
def test_v5_keepalive_timeout_sends_disconnect_0x8d(broker):
    """MQTT 5: a client silent for 1.5 x Keep Alive (MQTT-3.1.2-22) is told why before the close:
    DISCONNECT 0x8D Keep Alive timeout (MQTT 5 §4.13, reason codes on server DISCONNECT)."""
    import rawmqtt5 as v5
    with v5.Client(broker.host, broker.port) as c:
        c.connect_ok(unique_id("ka5"), keepalive=1)
        t0 = time.monotonic()
        disc = c.expect_disconnect(0x8D, keepalive_deadline(1) + 1)
        assert time.monotonic() - t0 >= 0.95
        assert disc.props.get(v5.REASON_STRING), disc


def test_v311_keepalive_timeout_closes_without_disconnect(broker):
    """MQTT 3.1.1 has no server DISCONNECT: the connection is just closed (MQTT-3.1.2-24)."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id("ka3"), keepalive=1)
        got = c.expect_closed(keepalive_deadline(1) + 1)
        assert got == [], got
