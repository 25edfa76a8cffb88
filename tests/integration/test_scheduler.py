"""Where actors run (--scheduler io, the default, and --scheduler pool): the same traffic must
come through whole and in order either way, with one I/O thread or several (links and the
actors they wake spread over the threads), and a persistent session must survive a reconnect
that lands on another thread.

Colony-only (the flags are Colony's).
"""

import os
import subprocess

import pytest

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
