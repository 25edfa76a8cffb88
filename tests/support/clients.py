"""Real-client helpers: paho-mqtt 1.6.1 wrappers, mosquitto_pub/sub runners, polling.

Everything waits with a deadline; nothing blocks forever.
"""

import itertools
import os
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt

MQTTv31 = mqtt.MQTTv31
MQTTv311 = mqtt.MQTTv311

_counter = itertools.count(1)


def unique_id(prefix="c"):
    """Client ids <= 23 characters (MQTT 3.1 limit)."""
    return ("%s%d-%s" % (prefix, next(_counter), uuid.uuid4().hex))[:23]


def wait_until(predicate, timeout=5.0, interval=0.02):
    """Poll ``predicate`` until it returns truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Msg:
    __slots__ = ("topic", "payload", "qos", "retain", "dup", "mid", "t")

    def __init__(self, m):
        self.topic = m.topic
        self.payload = bytes(m.payload)
        self.qos = m.qos
        self.retain = bool(m.retain)
        self.dup = bool(getattr(m, "dup", False))
        self.mid = m.mid
        self.t = time.monotonic()

    def __repr__(self):
        return "<Msg %s qos=%d retain=%d %r>" % (self.topic, self.qos, self.retain, self.payload[:40])


class PahoClient:
    """paho-mqtt client running its network loop in a thread.

    Automatic reconnects are disabled: if the broker drops the connection
    the loop stops and ``disconnected`` is set.
    """

    def __init__(self, broker, client_id=None, clean_session=True, protocol=MQTTv311,
                 keepalive=30, will=None, username=None, password=None):
        self.broker = broker
        self.client_id = unique_id("p") if client_id is None else client_id
        self.client = mqtt.Client(client_id=self.client_id, clean_session=clean_session,
                                  protocol=protocol, reconnect_on_failure=False)
        self.keepalive = keepalive
        if will is not None:
            self.client.will_set(will["topic"], will.get("payload"), will.get("qos", 0),
                                 will.get("retain", False))
        if username is not None:
            self.client.username_pw_set(username, password)
        self.cond = threading.Condition()
        self.messages = []
        self.connack = None            # (flags dict, rc)
        self.disconnect_rc = None
        self.disconnected = threading.Event()
        self.subacks = {}
        self.unsubacks = set()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe
        self.client.on_disconnect = self._on_disconnect
        self._started = False

    # -- callbacks (network thread) --------------------------------------------
    def _on_connect(self, client, userdata, flags, rc):
        with self.cond:
            self.connack = (dict(flags), rc)
            self.cond.notify_all()

    def _on_message(self, client, userdata, m):
        with self.cond:
            self.messages.append(Msg(m))
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, granted):
        with self.cond:
            self.subacks[mid] = list(granted)
            self.cond.notify_all()

    def _on_unsubscribe(self, client, userdata, mid):
        with self.cond:
            self.unsubacks.add(mid)
            self.cond.notify_all()

    def _on_disconnect(self, client, userdata, rc):
        self.disconnect_rc = rc
        self.disconnected.set()
        with self.cond:
            self.cond.notify_all()

    # -- helpers -----------------------------------------------------------------
    def _wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def connect(self, timeout=5.0, expect_rc=0):
        self.client.connect(self.broker.host, self.broker.port, self.keepalive)
        self.client.loop_start()
        self._started = True
        assert self._wait(lambda: self.connack is not None, timeout), \
            "no CONNACK for %s within %.1fs" % (self.client_id, timeout)
        flags, rc = self.connack
        if expect_rc is not None:
            assert rc == expect_rc, "CONNACK rc=%r, expected %r" % (rc, expect_rc)
        return flags, rc

    @property
    def session_present(self):
        return int(self.connack[0].get("session present", 0))

    def subscribe(self, topic, qos=0, timeout=5.0):
        """Subscribe (topic may be a list of (filter, qos)); return granted QoS list."""
        if isinstance(topic, list):
            rc, mid = self.client.subscribe(topic)
        else:
            rc, mid = self.client.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, "subscribe failed locally: %r" % rc
        assert self._wait(lambda: mid in self.subacks, timeout), "no SUBACK within %.1fs" % timeout
        return self.subacks[mid]

    def unsubscribe(self, topic, timeout=5.0):
        rc, mid = self.client.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        assert self._wait(lambda: mid in self.unsubacks, timeout), "no UNSUBACK within %.1fs" % timeout

    def publish(self, topic, payload=b"", qos=0, retain=False, timeout=5.0, wait=True):
        info = self.client.publish(topic, payload, qos, retain)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, "publish failed locally: %r" % info.rc
        if wait and qos > 0:
            deadline = time.monotonic() + timeout
            while not info.is_published():
                assert time.monotonic() < deadline, "QoS %d publish not acknowledged within %.1fs" % (qos, timeout)
                time.sleep(0.005)
        return info

    def wait_messages(self, n, timeout=5.0, topic=None):
        """Wait until at least n messages (optionally on ``topic``) arrived; return them."""
        def matching():
            return [m for m in self.messages if topic is None or m.topic == topic]
        self._wait(lambda: len(matching()) >= n, timeout)
        with self.cond:
            return matching()

    def wait_for(self, predicate, timeout=5.0):
        """Wait for a message satisfying predicate; return it or None."""
        found = []

        def check():
            for m in self.messages:
                if predicate(m):
                    found.append(m)
                    return True
            return False
        self._wait(check, timeout)
        return found[0] if found else None

    def count(self, topic=None):
        with self.cond:
            return sum(1 for m in self.messages if topic is None or m.topic == topic)

    def clear(self):
        with self.cond:
            self.messages = []

    def disconnect(self):
        """Clean DISCONNECT and stop the network thread."""
        if self._started:
            try:
                self.client.disconnect()
            except Exception:
                pass
            self.disconnected.wait(3.0)
            self.client.loop_stop()
            self._started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()


def paho(broker, topic=None, qos=0, **kw):
    """Connected PahoClient, optionally already subscribed to ``topic``."""
    c = PahoClient(broker, **kw)
    c.connect()
    if topic is not None:
        c.subscribe(topic, qos)
    return c


# ---------------------------------------------------------------------------
# mosquitto_pub / mosquitto_sub

def _die_with_parent():
    try:
        import ctypes
        import signal
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass

# ---------------------------------------------------------------------------

MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = "/usr/bin/mosquitto_sub"


def mosquitto_pub(broker, topic, message, qos=0, retain=False, version="mqttv311",
                  extra=(), timeout=10.0):
    argv = [MOSQUITTO_PUB, "-h", broker.host, "-p", str(broker.port), "-V", version,
            "-t", topic, "-q", str(qos)]
    if message is None:
        argv.append("-n")
    else:
        argv += ["-m", message]
    if retain:
        argv.append("-r")
    argv += list(extra)
    res = subprocess.run(argv, capture_output=True, timeout=timeout)
    assert res.returncode == 0, "mosquitto_pub failed (%d): %s" % (res.returncode, res.stderr.decode())
    return res


def mosquitto_sub_collect(broker, topics, count, qos=0, wait_s=5, version="mqttv311",
                          extra=(), timeout=15.0):
    """Run mosquitto_sub -C count -W wait_s; return list of (topic, qos, retain, payload)."""
    if isinstance(topics, str):
        topics = [topics]
    argv = [MOSQUITTO_SUB, "-h", broker.host, "-p", str(broker.port), "-V", version,
            "-q", str(qos), "-C", str(count), "-W", str(wait_s), "-F", "%t\t%q\t%r\t%p"]
    for t in topics:
        argv += ["-t", t]
    argv += list(extra)
    res = subprocess.run(argv, capture_output=True, timeout=timeout)
    return _parse_sub_lines(res.stdout.decode("utf-8", "replace").splitlines())


def _parse_sub_lines(lines):
    out = []
    for line in lines:
        parts = line.split("\t", 3)
        if len(parts) == 4 and parts[1].isdigit():
            out.append((parts[0], int(parts[1]), int(parts[2]), parts[3]))
    return out


class MosquittoSub:
    """Background mosquitto_sub; ``start()`` returns once its SUBACK arrived."""

    def __init__(self, broker, topics, qos=0, version="mqttv311", extra=()):
        if isinstance(topics, str):
            topics = [topics]
        # stdbuf: mosquitto_sub's stdout is block-buffered on a pipe.
        self.argv = ["/usr/bin/stdbuf", "-oL", MOSQUITTO_SUB, "-h", broker.host, "-p", str(broker.port),
                     "-V", version, "-q", str(qos), "-d", "-F", "%t\t%q\t%r\t%p"]
        for t in topics:
            self.argv += ["-t", t]
        self.argv += list(extra)
        self.lines = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.proc = None

    def start(self, timeout=5.0):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()
        if not self.subscribed.wait(timeout):
            self.stop()
            raise AssertionError("mosquitto_sub got no SUBACK: %r" % self.lines)
        return self

    def _reader(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("Client ") and "SUBACK" in line:
                self.subscribed.set()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def messages(self):
        with self.cond:
            return _parse_sub_lines([l for l in self.lines if not l.startswith("Client ")])

    def wait_messages(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(_parse_sub_lines([l for l in self.lines if not l.startswith("Client ")])) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
        return self.messages()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default
