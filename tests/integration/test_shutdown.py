"""Graceful shutdown: SIGTERM / SIGINT -> close clients, exit 0."""

import signal
import socket
import time

import pytest

import rawmqtt as raw
from clients import PahoClient, unique_id


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_0_and_closes_clients(broker, sig):
    """On SIGTERM/SIGINT the broker closes every client connection and exits with status 0."""
    raws = []
    for i in range(3):
        c = raw.RawClient(broker.host, broker.port)
        c.connect_ok(unique_id("sd%d" % i), clean=bool(i % 2))
        c.subscribe([("sd/t", 1)])
        raws.append(c)
    p = PahoClient(broker)
    p.connect()
    p.subscribe("sd/t", 1)
    idle = socket.create_connection((broker.host, broker.port), timeout=5)  # never sends CONNECT

    t0 = time.monotonic()
    broker.send_signal(sig)
    for c in raws:
        c.expect_closed(10)
        c.close()
    assert p.disconnected.wait(10), "paho client not disconnected"
    p.client.loop_stop()
    idle.settimeout(10)
    try:
        assert idle.recv(1) == b""
    except ConnectionResetError:
        pass
    idle.close()
    rc = broker.wait(10)
    assert rc == 0, "exit status %r after %s; stderr:\n%s" % (rc, sig.name, broker.stderr_text(tail=30))
    assert time.monotonic() - t0 < 10


def test_after_shutdown_port_refuses(broker):
    """After exit the listener is gone."""
    with raw.RawClient(broker.host, broker.port) as c:
        c.connect_ok(unique_id())
        broker.send_signal(signal.SIGTERM)
        c.expect_closed(10)
    assert broker.wait(10) == 0
    with pytest.raises(OSError):
        socket.create_connection((broker.host, broker.port), timeout=2).close()
