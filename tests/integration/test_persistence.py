"""Persistence (--persistence sync|async, --data-dir): sessions, queued and in-flight
QoS 1/2 messages, inbound QoS 2 state, retained messages and wills survive a restart and a
crash (kill -9); a damaged store never stops the broker.

Colony only: Mosquitto's persistence is a periodic snapshot with other semantics.
"""

import collections
import os
import random
import shutil
import signal
import tempfile
import threading
import time

import pytest

import rawmqtt as raw
import rawmqtt5 as raw5
from broker import start_broker

pytestmark = pytest.mark.colony_only


@pytest.fixture
def data_dir():
    d = tempfile.mkdtemp(prefix="colony-store-")
    yield os.path.join(d, "data")
    shutil.rmtree(d, ignore_errors=True)


class Node:
    """Starts, kills and restarts colony processes that share one data directory."""

    def __init__(self, data_dir, mode="sync", extra=()):
        self.data_dir = data_dir
        self.mode = mode
        self.extra = list(extra)
        self.current = None
        self.all = []

    def start(self):
        b = start_broker(log_level="info",
                         extra_args=["--persistence", self.mode, "--data-dir", self.data_dir,
                                     "--persistence-interval", "1"] + self.extra)
        self.current = b
        self.all.append(b)
        return b

    def crash(self):
        self.current.proc.kill()  # SIGKILL: nothing is flushed, nothing is closed
        self.current.proc.wait(timeout=10)
        self.current.returncode = self.current.proc.returncode

    def stop(self):
        rc = self.current.stop()
        assert rc == 0, self.current.stderr_text(tail=30)

    def cleanup(self):
        for b in self.all:
            if b.proc is not None and b.proc.poll() is None:
                b.proc.kill()
                b.proc.wait(timeout=10)
            b.cleanup()


@pytest.fixture
def node_factory(data_dir):
    nodes = []

    def make(mode="sync", extra=()):
        n = Node(data_dir, mode, extra)
        nodes.append(n)
        return n

    yield make
    for n in nodes:
        n.cleanup()


def park_subscriber(b, client_id, topic_filter, qos):
    """A persistent (Clean Session 0) subscription whose client then goes away."""
    with raw.RawClient(b.host, b.port) as c:
        c.connect_ok(client_id, clean=False)
        c.subscribe([(topic_filter, qos)])
        c.send(raw.disconnect())


def resumed_payloads(b, client_id, seconds):
    """Payloads a persistent session receives within `seconds` of resuming."""
    with raw.RawClient(b.host, b.port) as c:
        c.connect_ok(client_id, clean=False)
        return [p.payload for p in c.collect(seconds) if p.type == raw.PUBLISH]


# ---------------------------------------------------------------------------
# Restart basics
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_session_queue_and_retained_survive_restart(node_factory, mode, crash):
    node = node_factory(mode)
    b = node.start()
    park_subscriber(b, "keeper", "q/#", 2)
    with raw.RawClient(b.host, b.port) as pub:
        pub.connect_ok("pub")
        for i in range(5):
            pub.publish_qos1("q/a", b"one-%d" % i, packet_id=i + 1)
        for i in range(5):
            pub.publish_qos2("q/b", b"two-%d" % i, packet_id=i + 10)
        pub.publish_qos1("ret/x", b"kept", packet_id=30, retain=True)
        if mode == "async" and crash:
            # async promises the log reaches the OS at once, the disk within the interval;
            # a process crash keeps what reached the OS.
            time.sleep(0.3)
    if crash:
        node.crash()
    else:
        node.stop()
    b = node.start()
    with raw.RawClient(b.host, b.port) as sub:
        ack = sub.connect("keeper", clean=False)
        assert ack.session_present == 1  # MQTT-3.2.2-2: the stored session is resumed
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 10 and time.monotonic() < deadline:
            p = sub.recv_packet(timeout=2)
            if p.type == raw.PUBREL:
                sub.send(raw.pubcomp(p.packet_id))
            if p.type != raw.PUBLISH:
                continue
            got.append(p.payload)
            if p.qos == 1:
                sub.send(raw.puback(p.packet_id))
            elif p.qos == 2:
                sub.send(raw.pubrec(p.packet_id))
        # Ordered per topic (MQTT 4.6), nothing lost, nothing doubled.
        assert [g for g in got if g.startswith(b"one")] == [b"one-%d" % i for i in range(5)]
        assert [g for g in got if g.startswith(b"two")] == [b"two-%d" % i for i in range(5)]
        # The subscription itself was restored: a new publish arrives without SUBSCRIBE.
        with raw.RawClient(b.host, b.port) as pub:
            pub.connect_ok("pub2")
            pub.publish_qos1("q/c", b"after", packet_id=1)
        p = sub.recv_packet(timeout=3)
        while p.type == raw.PUBREL:
            sub.send(raw.pubcomp(p.packet_id))
            p = sub.recv_packet(timeout=3)
        assert p.payload == b"after"
        sub.send(raw.puback(p.packet_id))
    with raw.RawClient(b.host, b.port) as c:
        c.connect_ok("reader")
        c.subscribe([("ret/#", 1)])
        p = c.expect(raw.PUBLISH)
        assert (p.topic, p.payload, p.retain) == ("ret/x", b"kept", True)
    node.stop()


def test_clean_session_leaves_nothing_behind(node_factory):
    node = node_factory()
    b = node.start()
    with raw.RawClient(b.host, b.port) as c:
        c.connect_ok("temp", clean=True)
        c.subscribe([("t/#", 1)])
    with raw.RawClient(b.host, b.port) as c:
        c.connect_ok("keeper", clean=False)
        c.subscribe([("t/#", 1)])
    with raw.RawClient(b.host, b.port) as c:
        # Clean session again: the stored session of "keeper" ends (MQTT-3.1.2-6).
        c.connect_ok("keeper", clean=True)
    node.stop()
    b = node.start()
    restored = [r for r in b.log_records() if r.get("msg") == "sessions restored"]
    assert restored and restored[0]["sessions"] == 0
    with raw.RawClient(b.host, b.port) as c:
        assert c.connect("keeper", clean=False).session_present == 0
    node.stop()


def test_inflight_qos2_resumes_with_same_packet_id_and_dup(node_factory):
    """An unacknowledged QoS 2 PUBLISH is re-sent after a crash with DUP=1 and the same
    packet id (MQTT-4.4.0-1, MQTT-3.3.1-1); once PUBREC was received, PUBREL is re-sent
    instead of the message (MQTT-4.3.3-? exactly once)."""
    node = node_factory()
    b = node.start()
    sub = raw.RawClient(b.host, b.port)
    sub.connect_ok("q2sub", clean=False)
    sub.subscribe([("x/#", 2)])
    with raw.RawClient(b.host, b.port) as pub:
        pub.connect_ok("pub")
        pub.publish_qos2("x/1", b"first", packet_id=1)
        pub.publish_qos2("x/2", b"second", packet_id=2)
    p1 = sub.expect(raw.PUBLISH)
    p2 = sub.expect(raw.PUBLISH)
    assert p1.payload == b"first" and p2.payload == b"second"
    # PUBREC only the first one; wait for its PUBREL (which is sent once PUBREC is stored).
    sub.send(raw.pubrec(p1.packet_id))
    rel = sub.expect(raw.PUBREL)
    assert rel.packet_id == p1.packet_id
    node.crash()
    sub.abort()
    b = node.start()
    with raw.RawClient(b.host, b.port) as sub:
        assert sub.connect("q2sub", clean=False).session_present == 1
        seen = [sub.recv_packet(timeout=3) for _ in range(2)]
        by_type = {p.type: p for p in seen}
        assert set(by_type) == {raw.PUBREL, raw.PUBLISH}, seen
        assert by_type[raw.PUBREL].packet_id == p1.packet_id
        again = by_type[raw.PUBLISH]
        assert again.payload == b"second"
        assert again.packet_id == p2.packet_id
        assert again.dup
        sub.send(raw.pubcomp(p1.packet_id))
        sub.send(raw.pubrec(again.packet_id))
        sub.expect(raw.PUBREL)
        sub.send(raw.pubcomp(again.packet_id))
        sub.expect_no_packet(timeout=0.5)
    node.stop()


def test_inbound_qos2_id_survives_crash(node_factory):
    """A QoS 2 PUBLISH re-sent after a crash (DUP, same id, before PUBREL) is not delivered
    twice (MQTT-4.3.3-9): the broker kept the id."""
    node = node_factory()
    b = node.start()
    park_subscriber(b, "s", "d/#", 1)
    pub = raw.RawClient(b.host, b.port)
    pub.connect_ok("p", clean=False)
    pub.send(raw.publish("d/1", b"once", qos=2, packet_id=7))
    assert pub.expect(raw.PUBREC).packet_id == 7
    node.crash()
    pub.abort()
    b = node.start()
    with raw.RawClient(b.host, b.port) as pub:
        assert pub.connect("p", clean=False).session_present == 1
        pub.send(raw.publish("d/1", b"once", qos=2, packet_id=7, dup=True))
        assert pub.expect(raw.PUBREC).packet_id == 7
        pub.send(raw.pubrel(7))
        pub.expect(raw.PUBCOMP)
    assert resumed_payloads(b, "s", 1.0) == [b"once"]
    node.stop()


# ---------------------------------------------------------------------------
# Expiry across downtime, wills
# ---------------------------------------------------------------------------

def test_session_expiry_counts_downtime(node_factory):
    node = node_factory()
    b = node.start()
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("short", clean_start=False, props={raw5.SESSION_EXPIRY_INTERVAL: 2})
        c.subscribe([("e/#", raw5.sub_options(1))])
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("long", clean_start=False, props={raw5.SESSION_EXPIRY_INTERVAL: 3600})
        c.subscribe([("e/#", raw5.sub_options(1))])
    node.stop()
    time.sleep(2.5)
    b = node.start()
    with raw5.Client(b.host, b.port) as c:
        ack = c.connect("short", clean_start=False, props={raw5.SESSION_EXPIRY_INTERVAL: 2})
        assert ack.session_present == 0  # expired while the broker was down
    with raw5.Client(b.host, b.port) as c:
        ack = c.connect("long", clean_start=False, props={raw5.SESSION_EXPIRY_INTERVAL: 3600})
        assert ack.session_present == 1
    node.stop()


def test_message_expiry_counts_downtime(node_factory):
    node = node_factory()
    b = node.start()
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("m", clean_start=False, props={raw5.SESSION_EXPIRY_INTERVAL: 3600})
        c.subscribe([("m/#", raw5.sub_options(1))])
    with raw5.Client(b.host, b.port) as p:
        p.connect_ok("mp")
        p.publish_qos1("m/short", b"gone", props={raw5.MESSAGE_EXPIRY_INTERVAL: 2})
        p.publish_qos1("m/long", b"stays", packet_id=2,
                       props={raw5.MESSAGE_EXPIRY_INTERVAL: 600})
    node.stop()
    time.sleep(2.5)
    b = node.start()
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("m", clean_start=False, props={raw5.SESSION_EXPIRY_INTERVAL: 3600})
        pubs = c.publishes(1.0)
        assert [p.payload for p in pubs] == [b"stays"]  # MQTT-3.3.2-5: expired is not sent
        left = pubs[0].props.get(raw5.MESSAGE_EXPIRY_INTERVAL)
        assert left is not None and left <= 598  # MQTT-3.3.2-6: minus the time it waited
    node.stop()


def test_will_of_client_online_at_crash_is_published_after_restart(node_factory):
    node = node_factory()
    b = node.start()
    park_subscriber(b, "watcher", "wills/#", 1)
    victim = raw5.Client(b.host, b.port)
    victim.connect_ok("victim", clean_start=False,
                      props={raw5.SESSION_EXPIRY_INTERVAL: 60},
                      will={"topic": "wills/victim", "payload": b"lost", "qos": 1,
                            "props": {raw5.WILL_DELAY_INTERVAL: 1}})
    time.sleep(1.2)  # a heartbeat reaches the store
    node.crash()
    victim.close()
    b = node.start()
    assert resumed_payloads(b, "watcher", 2.5) == [b"lost"]
    node.stop()


def test_graceful_restart_does_not_publish_wills(node_factory):
    node = node_factory()
    b = node.start()
    park_subscriber(b, "watcher", "wills/#", 1)
    c = raw.RawClient(b.host, b.port)
    c.connect_ok("polite", clean=False, will={"topic": "wills/polite", "payload": b"x", "qos": 1})
    node.stop()
    c.abort()
    b = node.start()
    with raw.RawClient(b.host, b.port) as w:
        w.connect_ok("watcher", clean=False)
        assert [p for p in w.collect(1.0) if p.type == raw.PUBLISH] == []
    node.stop()


# ---------------------------------------------------------------------------
# Damaged store
# ---------------------------------------------------------------------------

def _fill(node, b, n=300):
    park_subscriber(b, "victim-sub", "fill/#", 1)
    with raw.RawClient(b.host, b.port) as pub:
        pub.connect_ok("filler")
        for i in range(n):
            pub.send(raw.publish("fill/%d" % (i % 7), b"x" * 200, qos=1, packet_id=i % 60000 + 1,
                                 retain=(i % 50 == 0)))
        for i in range(n):
            pub.expect(raw.PUBACK)


def _serves(b):
    with raw.RawClient(b.host, b.port) as sub:
        sub.connect_ok("check-sub")
        sub.subscribe([("check/#", 1)])
        with raw.RawClient(b.host, b.port) as pub:
            pub.connect_ok("check-pub")
            pub.publish_qos1("check/1", b"alive")
        assert sub.expect(raw.PUBLISH).payload == b"alive"


@pytest.mark.parametrize("damage", ["scribble", "truncate", "garbage-files", "empty-current"])
def test_damaged_store_still_starts_and_serves(node_factory, data_dir, damage):
    node = node_factory()
    b = node.start()
    _fill(node, b)
    node.crash()
    rng = random.Random(damage)
    files = sorted(os.path.join(data_dir, f) for f in os.listdir(data_dir))
    touched = 0
    for path in files:
        if not os.path.isfile(path):
            continue
        size = os.path.getsize(path)
        name = os.path.basename(path)
        if damage == "scribble" and size > 64 and not name.startswith("LOG"):
            with open(path, "r+b") as f:
                for _ in range(8):
                    f.seek(rng.randrange(0, size - 16))
                    f.write(bytes(rng.randrange(256) for _ in range(16)))
            touched += 1
        elif damage == "truncate" and (name.endswith(".log") or name.startswith("MANIFEST")) \
                and size > 16:
            with open(path, "r+b") as f:
                f.truncate(size // 2)
            touched += 1
        elif damage == "garbage-files" and (name.startswith("MANIFEST") or name == "CURRENT"
                                            or name.endswith(".sst") or name.endswith(".log")):
            with open(path, "wb") as f:
                f.write(os.urandom(size or 100))
            touched += 1
        elif damage == "empty-current" and name == "CURRENT":
            open(path, "wb").close()
            touched += 1
    assert touched > 0, files
    b = node.start()
    _serves(b)
    # It can also still store: a new session survives the next restart.
    with raw.RawClient(b.host, b.port) as c:
        c.connect_ok("after-damage", clean=False)
        c.subscribe([("z/#", 1)])
    node.stop()
    b = node.start()
    with raw.RawClient(b.host, b.port) as c:
        assert c.connect("after-damage", clean=False).session_present == 1
    node.stop()


def test_store_locked_by_another_broker_is_an_error(node_factory, data_dir):
    node = node_factory()
    node.start()
    other = node_factory()
    with pytest.raises(AssertionError) as err:
        other.start()
    assert "in use by another process" in str(err.value)
    node.stop()


# ---------------------------------------------------------------------------
# The crash loop
# ---------------------------------------------------------------------------

class Subscriber:
    """A persistent QoS 2 subscriber that keeps its receiver state across connections (as a
    client with Clean Session 0 must): a QoS 2 id stays known until PUBREL, so a re-sent
    PUBLISH is acknowledged, not delivered again."""

    def __init__(self, client_id):
        self.client_id = client_id
        self.inbound = set()
        self.counts = collections.Counter()
        self.subscribed = False

    def run(self, port, stop):
        try:
            c = raw.RawClient("127.0.0.1", port, timeout=2)
            c.connect_ok(self.client_id, clean=False, keepalive=30)
            if not self.subscribed:
                c.subscribe([("crash/#", 2)])
                self.subscribed = True
            while not stop.is_set():
                try:
                    p = c.recv_packet(timeout=0.2)
                except raw.NoPacket:
                    continue
                if p.type == raw.PUBLISH:
                    if p.qos == 1:
                        self.counts[p.payload] += 1
                        c.send(raw.puback(p.packet_id))
                    elif p.qos == 2:
                        if p.packet_id not in self.inbound:
                            self.counts[p.payload] += 1
                            self.inbound.add(p.packet_id)
                        c.send(raw.pubrec(p.packet_id))
                elif p.type == raw.PUBREL:
                    self.inbound.discard(p.packet_id)
                    c.send(raw.pubcomp(p.packet_id))
        except (raw.ConnectionClosed, OSError, AssertionError):
            pass


class Publisher:
    """Publishes numbered messages, alternating QoS 1 and 2, one at a time; remembers which
    ones the broker acknowledged (PUBACK / PUBCOMP)."""

    def __init__(self, name):
        self.name = name
        self.n = 0
        self.acked = []
        self.sent_qos2 = []

    def run(self, port, round_no, stop):
        try:
            c = raw.RawClient("127.0.0.1", port, timeout=5)
            c.connect_ok("%s-%d" % (self.name, round_no), clean=True)
            while not stop.is_set():
                self.n += 1
                qos = 1 + self.n % 2
                payload = b"%s-%d-q%d" % (self.name.encode(), self.n, qos)
                pid = self.n % 65535 + 1
                if qos == 1:
                    c.send(raw.publish("crash/%s" % self.name, payload, qos=1, packet_id=pid))
                    c._await(raw.PUBACK, pid, 5)
                else:
                    self.sent_qos2.append(payload)
                    c.send(raw.publish("crash/%s" % self.name, payload, qos=2, packet_id=pid))
                    c._await(raw.PUBREC, pid, 5)
                    c.send(raw.pubrel(pid))
                    c._await(raw.PUBCOMP, pid, 5)
                self.acked.append(payload)
        except (raw.ConnectionClosed, raw.NoPacket, OSError, AssertionError):
            pass


def test_kill_9_loop_loses_no_acknowledged_message(node_factory):
    rounds = int(os.environ.get("COLONY_CRASH_ROUNDS", "20"))
    rng = random.Random(int(os.environ.get("COLONY_CRASH_SEED", str(int(time.time())))))
    node = node_factory("sync")
    subs = [Subscriber("crash-sub-%d" % i) for i in range(2)]
    pubs = [Publisher("p%d" % i) for i in range(2)]
    started = time.monotonic()
    for r in range(rounds):
        b = node.start()
        stop = threading.Event()
        # Subscribers first in round 0 (they subscribe), then everyone at once.
        threads = []
        for s in subs:
            t = threading.Thread(target=s.run, args=(b.port, stop), daemon=True)
            t.start()
            threads.append(t)
        if r == 0:
            deadline = time.monotonic() + 5
            while not all(s.subscribed for s in subs) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.1)
        for p in pubs:
            t = threading.Thread(target=p.run, args=(b.port, r, stop), daemon=True)
            t.start()
            threads.append(t)
        time.sleep(rng.uniform(0.2, 1.0))  # kill at a random moment
        node.crash()
        stop.set()
        for t in threads:
            t.join(timeout=10)
            assert not t.is_alive()
        assert time.monotonic() - started < 240, "crash loop took too long"
    # Last start: subscribers drain what is left.
    b = node.start()
    stop = threading.Event()
    threads = [threading.Thread(target=s.run, args=(b.port, stop), daemon=True) for s in subs]
    for t in threads:
        t.start()
    acked = [m for p in pubs for m in p.acked]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(all(s.counts[m] >= 1 for m in acked) for s in subs):
            break
        time.sleep(0.2)
    time.sleep(0.5)  # anything doubled would arrive now
    stop.set()
    for t in threads:
        t.join(timeout=10)
    node.stop()
    assert len(acked) >= 100, "too few messages acknowledged to mean anything: %d" % len(acked)
    for s in subs:
        missing = [m for m in acked if s.counts[m] == 0]
        assert not missing, "%s lost %d acknowledged messages, e.g. %r" % (
            s.client_id, len(missing), missing[:5])
        doubled = [m for p in pubs for m in p.sent_qos2 if s.counts[m] > 1]
        assert not doubled, "%s got QoS 2 messages twice: %r" % (s.client_id, doubled[:5])


# ---------------------------------------------------------------------------
# Queues larger than memory
# ---------------------------------------------------------------------------

def _drain_in_order(sub, n, timeout=20):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        try:
            p = sub.recv_packet(timeout=2)
        except raw.NoPacket:
            break
        if p.type == raw.PUBLISH:
            got.append(p.payload)
            sub.send(raw.puback(p.packet_id))
    return got


@pytest.mark.parametrize("restart", [False, True], ids=["live", "after-restart"])
def test_offline_queue_larger_than_memory_is_read_back_from_store(node_factory, restart):
    """--max-queued-in-memory 10 with 600 queued messages: the session keeps 10 in memory,
    the rest wait in the store and come back in order as the client drains the queue."""
    node = node_factory(extra=["--max-queued-in-memory", "10", "--max-queued-messages", "5000",
                               "--max-inflight", "5"])
    b = node.start()
    park_subscriber(b, "big", "big/#", 1)
    n = 600
    with raw.RawClient(b.host, b.port) as pub:
        pub.connect_ok("bigpub")
        for i in range(n):
            pub.send(raw.publish("big/%d" % (i % 3), b"%05d" % i, qos=1, packet_id=i + 1))
        for i in range(n):
            pub.expect(raw.PUBACK)
    if restart:
        node.stop()
        b = node.start()
    with raw.RawClient(b.host, b.port) as sub:
        assert sub.connect("big", clean=False).session_present == 1
        got = _drain_in_order(sub, n)
        sub.expect_no_packet(timeout=0.5)
    assert len(got) == n
    assert sorted(got) == [b"%05d" % i for i in range(n)]
    for t in range(3):  # per-topic order (MQTT 4.6)
        mine = [g for g in got if int(g) % 3 == t]
        assert mine == sorted(mine)
    node.stop()


def test_queue_limit_counts_what_is_in_the_store(node_factory):
    node = node_factory(extra=["--max-queued-in-memory", "5", "--max-queued-messages", "50"])
    b = node.start()
    park_subscriber(b, "capped", "cap/#", 1)
    with raw.RawClient(b.host, b.port) as pub:
        pub.connect_ok("cappub")
        for i in range(80):
            pub.publish_qos1("cap/x", b"%03d" % i, packet_id=i + 1)
    with raw.RawClient(b.host, b.port) as sub:
        sub.connect_ok("capped", clean=False)
        got = _drain_in_order(sub, 80, timeout=5)
    # The first 50 were queued, the rest dropped (queue full).
    assert got == [b"%03d" % i for i in range(50)]
    node.stop()


def test_store_metrics_and_readiness(data_dir):
    from test_http import HttpBroker, http
    b = HttpBroker(log_level="info", extra_args=["--persistence", "sync", "--data-dir", data_dir])
    try:
        b.start()
        status, _, body = http(b, "GET", "/readyz")
        assert status == 200 and "store" in body, body
        with raw.RawClient(b.host, b.port) as sub:
            sub.connect_ok("metered", clean=False)
            sub.subscribe([("mt/#", 1)])
            sub.send(raw.disconnect())
        with raw.RawClient(b.host, b.port) as pub:
            pub.connect_ok("meterpub")
            for i in range(5):
                pub.publish_qos1("mt/x", b"m", packet_id=i + 1)
        _, _, text = http(b, "GET", "/metrics")
        values = {}
        for line in text.splitlines():
            if line.startswith("colony_store_"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        assert values.get("colony_store_commits_total", 0) >= 1, values
        assert values.get("colony_store_syncs_total", 0) >= 1, values
        # 5 queued messages for the offline session, plus its session record.
        assert values.get("colony_store_writes_total", 0) >= 6, values
        assert "colony_store_cancelled_total" in values
    finally:
        assert b.stop() == 0
        b.cleanup()


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_restored_offline_session_queues_new_messages(node_factory, crash):
    """A session restored at start is subscribed at once, not only when its client returns:
    what is published while the client is still away is queued for it."""
    node = node_factory()
    b = node.start()
    park_subscriber(b, "away", "aw/#", 1)
    node.crash() if crash else node.stop()
    b = node.start()
    with raw.RawClient(b.host, b.port) as pub:
        pub.connect_ok("awpub")
        pub.publish_qos1("aw/1", b"while away")
    assert resumed_payloads(b, "away", 1.0) == [b"while away"]
    node.stop()
