"""Shared helpers of the transport tests (test_transport_*.py): test PKI, a broker with every
listener on, and one client interface over TCP/TLS (mosquitto_pub/_sub) and WS/WSS (MQTT.js).
"""

import os
import time

import pytest

from certs import make_pki
from clients import MosquittoSub, mosquitto_pub
from mqttjs import JsSub, ensure_mqttjs, js_pub

KINDS = ["tcp", "tls", "ws", "wss"]
LISTENER = {"tcp": "mqtt", "tls": "mqtts", "ws": "ws", "wss": "wss"}


@pytest.fixture(autouse=True)
def override_fixture_flags(monkeypatch):
    """tests/support/broker.py always passes ``--ws-port -1``; Colony refuses a flag given twice,
    so when a test passes its own --ws-port the fixture's one is dropped (the test's wins)."""
    import broker as broker_mod

    orig = broker_mod.Broker._spawn

    def spawn(self, argv):
        argv = list(argv)
        for flag in ("--ws-port",):
            idx = [i for i, a in enumerate(argv) if a == flag]
            for i in reversed(idx[:-1]):
                del argv[i:i + 2]
        self.argv = argv
        return orig(self, argv)

    monkeypatch.setattr(broker_mod.Broker, "_spawn", spawn)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(str(tmp_path_factory.mktemp("pki")))


def listener_port(broker, name, timeout=5.0):
    rec = broker.wait_for_log(lambda r: r.get("msg") == "listening" and r.get("listener") == name,
                              timeout=timeout)
    assert rec is not None, "no 'listening' line for %s:\n%s" % (name, broker.stderr_text(tail=30))
    return rec.get("port")


def tls_args(pki, verify=False, extra=()):
    args = ["--tls-port", "0", "--wss-port", "0", "--ws-port", "0",
            "--tls-cert", pki.server_crt, "--tls-key", pki.server_key, "--tls-ca", pki.ca_crt]
    if verify:
        args.append("--tls-verify")
    return args + list(extra)


def start_all(broker_factory, pki, verify=False, extra=(), **opts):
    """A broker with TCP, TLS, WS and WSS listeners (free ports), ports in ``b.ports``."""
    b = broker_factory(extra_args=tls_args(pki, verify, extra), **opts)
    b.ports = {kind: listener_port(b, LISTENER[kind]) for kind in KINDS}
    return b


class _Addr:
    def __init__(self, host, port):
        self.host = host
        self.port = port


class Endpoint:
    """One way into the broker: kind is tcp, tls (mosquitto clients) or ws, wss (MQTT.js)."""

    def __init__(self, kind, broker, pki, client_cert=False):
        self.kind = kind
        self.broker = broker
        self.pki = pki
        self.port = broker.ports[kind]
        self.addr = _Addr(broker.host, self.port)
        self.client_cert = client_cert
        if kind in ("ws", "wss"):
            ensure_mqttjs()

    def url(self):
        scheme = {"ws": "ws", "wss": "wss"}[self.kind]
        return "%s://%s:%d/mqtt" % (scheme, self.broker.host, self.port)

    def _mosq_tls(self):
        if self.kind != "tls":
            return []
        args = ["--cafile", self.pki.ca_crt]
        if self.client_cert:
            args += ["--cert", self.pki.client_crt, "--key", self.pki.client_key]
        return args

    def _js_tls(self):
        if self.kind != "wss":
            return {}
        tls = {"ca": self.pki.ca_crt}
        if self.client_cert:
            tls.update(cert=self.pki.client_crt, key=self.pki.client_key)
        return tls

    def sub(self, topics, qos=2, will=None):
        if self.kind in ("tcp", "tls"):
            extra = self._mosq_tls()
            if will:
                extra += ["--will-topic", will["topic"], "--will-payload", will["payload"],
                          "--will-qos", str(will.get("qos", 0))]
            return _MosqSub(MosquittoSub(self.addr, topics, qos=qos, extra=extra).start(10.0))
        return JsSub(self.url(), topics, qos=qos, will=will, **self._js_tls()).start(15.0)

    def pub(self, topic, payload, qos=0, retain=False):
        if self.kind in ("tcp", "tls"):
            mosquitto_pub(self.addr, topic, payload, qos=qos, retain=retain, extra=self._mosq_tls())
        else:
            js_pub(self.url(), topic, payload, qos=qos, retain=retain, **self._js_tls())


class _MosqSub:
    """MosquittoSub with MQTT.js-style message tuples (topic, payload, qos, retain)."""

    def __init__(self, inner):
        self.inner = inner

    @staticmethod
    def _norm(msgs):
        return [(t, p, q, bool(r)) for (t, q, r, p) in msgs]

    def messages(self):
        return self._norm(self.inner.messages())

    def wait_messages(self, n, timeout=10.0):
        return self._norm(self.inner.wait_messages(n, timeout))

    def kill(self):
        self.inner.proc.kill()
        self.inner.proc.wait(timeout=10)

    def stop(self):
        self.inner.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def chromium_binary():
    for c in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(c, os.X_OK):
            return c
    return None
