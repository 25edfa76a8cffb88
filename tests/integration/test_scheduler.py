"""Where actors run (--scheduler io, the default, and --scheduler pool): the same traffic must
come through whole and in order either way, with one I/O thread or several (links and the
actors they wake spread over the threads), and a persistent session must survive a reconnect
that lands on another thread.

Colony-only (the flags are Colony's).
"""

import os
import subprocess
import threading
import time

import pytest

import rawmqtt
from clients import PahoClient, unique_id

pytestmark = pytest.mark.colony_only

LAYOUTS = {
    "io-1": ["--scheduler", "io", "--io-threads", "1"],
    "io-3": ["--scheduler", "io", "--io-threads", "3"],
    "pool": ["--scheduler", "pool", "--io-threads", "1", "--worker-threads", "2"],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_traffic_whole_and_in_order(broker_factory, layout):
    b = broker_factory(extra_args=LAYOUTS[layout])
    prefix = "sched/" + unique_id("t")
    subs = []
    for _ in range(3):
        s = PahoClient(b)
        s.connect()
        assert s.subscribe(prefix + "/#", 1) == [1]
        subs.append(s)
    pubs = []
    for i in range(4):
        p = PahoClient(b)
        p.connect()
        pubs.append(p)
    per_pub = 150
    for n in range(per_pub):
        for i, p in enumerate(pubs):
            p.publish("%s/%d" % (prefix, i), b"%d" % n, qos=1, wait=False)
    for p in pubs:
        p.publish(prefix + "/done", b"", qos=1)  # waits for its PUBACK
    total = per_pub * len(pubs) + len(pubs)
    for s in subs:
        msgs = s.wait_messages(total, timeout=15)
        assert len(msgs) == total, "%s: %d of %d" % (layout, len(msgs), total)
        for i in range(len(pubs)):
            got = [int(m.payload) for m in msgs if m.topic == "%s/%d" % (prefix, i)]
            # MQTT 4.6: one publisher's messages on a topic arrive in the order sent.
            assert got == list(range(per_pub)), "%s: publisher %d out of order" % (layout, i)
    for c in subs + pubs:
        c.disconnect()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_persistent_session_across_reconnects(broker_factory, layout):
    b = broker_factory(extra_args=LAYOUTS[layout])
    cid = unique_id("persist")
    topic = "sched/persist/" + cid
    s = PahoClient(b, client_id=cid, clean_session=False)
    s.connect()
    assert s.subscribe(topic, 1) == [1]
    s.disconnect()
    # Messages queued while offline arrive at the next connection, whichever I/O thread it
    # lands on (with 3 threads, at least one of the reconnects is on another one).
    sent = 0
    for _ in range(3):
        pub = PahoClient(b)
        pub.connect()
        first = sent
        for _ in range(10):
            pub.publish(topic, b"%d" % sent, qos=1)
            sent += 1
        pub.disconnect()
        s = PahoClient(b, client_id=cid, clean_session=False)
        s.connect()
        got = [int(m.payload) for m in s.wait_messages(10, timeout=5)]
        assert got == list(range(first, sent)), layout
        s.disconnect()


def test_unknown_scheduler_is_refused():
    binary = os.environ.get("COLONY_BIN")
    if not binary:
        pytest.skip("COLONY_BIN is not set")
    r = subprocess.run([binary, "--scheduler", "fibers", "--check-config"], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode != 0
    assert "scheduler" in (r.stdout + r.stderr)


@pytest.mark.parametrize("layout", ["io-1", "io-3"])
@pytest.mark.parametrize("clean", [True, False])
def test_racing_connects_with_one_client_id_leave_one_connection(broker_factory, layout, clean):
    """A CONNECT with a new client id starts its session on the I/O thread that read it; one
    whose id is known goes through the registry. CONNECTs with the same id sent at once from
    many connections (on several threads) must still end with one session and one connection:
    each new one takes over the one before (MQTT-3.1.4-2)."""
    b = broker_factory(extra_args=LAYOUTS[layout])
    for rnd in range(4):
        cid = unique_id("race%d" % rnd)
        clients = [rawmqtt.RawClient(b.host, b.port) for _ in range(12)]
        start = threading.Barrier(len(clients))
        acks = [None] * len(clients)

        def go(i):
            start.wait(timeout=10)
            try:
                acks[i] = clients[i].connect(cid, clean=clean, timeout=10).rc
            except (rawmqtt.ConnectionClosed, OSError):
                acks[i] = "closed"  # taken over before its CONNACK was read
            except BaseException as e:
                acks[i] = repr(e)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert all(a in (0, "closed") for a in acks), acks
        time.sleep(0.5)
        alive = []
        for c in clients:
            try:
                c.send(rawmqtt.pingreq())
                c.expect(rawmqtt.PINGRESP, timeout=2)
                alive.append(c)
            except (rawmqtt.ConnectionClosed, OSError, AssertionError):
                pass
        assert len(alive) == 1, "%s clean=%s round %d: %d connections alive" % (
            layout, clean, rnd, len(alive))
        topic = "sched/race/" + cid
        alive[0].subscribe([(topic, 0)])
        alive[0].send(rawmqtt.publish(topic, b"mine"))
        assert alive[0].expect(rawmqtt.PUBLISH).topic == topic
        for c in clients:
            c.close()


def test_second_broker_on_the_same_port_is_refused(broker_factory):
    """With several I/O threads the listening sockets share their port (SO_REUSEPORT). Another
    broker started on that port must still fail instead of silently taking half of the
    connections."""
    first = broker_factory(extra_args=["--io-threads", "2"])
    binary = os.environ["COLONY_BIN"]
    r = subprocess.run([binary, "--host", first.host, "--port", str(first.port), "--ws-port", "-1",
                        "--http-port", "-1", "--io-threads", "2"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "cannot listen" in (r.stdout + r.stderr)
    c = PahoClient(first)
    c.connect()  # the first one still serves
    c.disconnect()
