"""The HTTP endpoint: probes (/healthz, /readyz), /metrics, and the admin API
(/api/v1/connections[/{clientid}], /api/v1/subscriptions, /api/v1/stats) with
optional bearer-token protection.  Colony only (Mosquitto has no HTTP side).

The shared ``broker`` fixture starts Colony with ``--http-port -1``; the
``http_broker`` fixtures here start it with ``--http-port 0`` and read the
bound port from the JSON ``listening`` line (listener "http").
"""

import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt
import pytest

from broker import Broker
from clients import MQTTv311, PahoClient, unique_id, wait_until

pytestmark = pytest.mark.colony_only(reason="Colony's HTTP endpoint")


class HttpBroker(Broker):
    """Colony with its HTTP endpoint on a free port (and an optional API token)."""

    def __init__(self, api_token=None, **opts):
        super().__init__(**opts)
        self.api_token = api_token
        self.http_port = None

    def _spawn(self, argv):
        argv = list(argv)
        i = argv.index("--http-port")
        argv[i + 1] = "0"
        if self.api_token:
            argv += ["--http-api-token", self.api_token]
        self.argv = argv
        super()._spawn(argv)

    def start(self):
        super().start()
        rec = self.wait_for_log(
            lambda r: r.get("msg") == "listening" and r.get("listener") == "http"
            and isinstance(r.get("port"), int), timeout=10)
        assert rec is not None, "no http 'listening' line; stderr:\n%s" % self.stderr_text(tail=30)
        self.http_port = rec["port"]
        return self

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)


def http(b, method, path, token=None, timeout=10):
    """(status, headers, body text) of one request."""
    req = urllib.request.Request(b.url(path), method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def http_json(b, method, path, token=None):
    status, headers, body = http(b, method, path, token)
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    return status, json.loads(body)


@pytest.fixture
def http_broker_factory(request):
    started = []

    def factory(**opts):
        b = HttpBroker(**opts)
        started.append(b)
        return b.start()

    yield factory
    problems = []
    for b in started:
        rc = b.stop()
        if rc != 0:
            problems.append("%r: exit status %r; stderr tail:\n%s" % (b, rc, b.stderr_text(tail=40)))
    failed = getattr(request.node, "rep_call", None)
    for b in started:
        if failed is not None and failed.failed:
            print("\n----- %r stderr (last 60 lines) -----\n%s" % (b, b.stderr_text(tail=60)))
        b.cleanup()
    assert not problems, "\n".join(problems)


@pytest.fixture
def http_broker(http_broker_factory):
    return http_broker_factory()


class V5Client:
    """A paho MQTT 5 client that records the server's DISCONNECT reason code."""

    def __init__(self, b, client_id):
        self.client_id = client_id
        self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5, reconnect_on_failure=False)
        self.connected = threading.Event()
        self.gone = threading.Event()
        self.reason = None
        self.c.on_connect = lambda c, u, f, rc, p=None: self.connected.set()
        self.c.on_disconnect = self._on_disconnect
        self.c.connect(b.host, b.port, 30)
        self.c.loop_start()
        assert self.connected.wait(5), "no CONNACK for %s" % client_id

    def _on_disconnect(self, c, u, rc, props=None):
        self.reason = rc
        self.gone.set()

    def close(self):
        try:
            self.c.disconnect()
        except Exception:
            pass
        self.c.loop_stop()


# -- probes ----------------------------------------------------------------------------

def test_http_listener_is_announced_like_the_others(http_broker):
    rec = http_broker.wait_for_log(lambda r: r.get("msg") == "listening" and r.get("listener") == "http")
    assert rec["address"] == "127.0.0.1"
    assert rec["port"] == http_broker.http_port > 0


def test_healthz_and_readyz(http_broker):
    status, body = http_json(http_broker, "GET", "/healthz")
    assert (status, body["status"]) == (200, "ok")
    status, body = http_json(http_broker, "GET", "/readyz")
    assert status == 200, body
    assert body["status"] == "ready"
    assert body["conditions"]["listeners"] is True
    status, _, text = http(http_broker, "HEAD", "/readyz")
    assert status == 200 and text == ""


def test_metrics_is_prometheus_text(http_broker):
    status, headers, text = http(http_broker, "GET", "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for name in ("colony_connects_total", "colony_sessions", "colony_packets_received_total",
                 "colony_delivery_latency_seconds_bucket", "process_resident_memory_bytes",
                 "colony_actors", "colony_build_info"):
        assert "\n" + name in text, name


def test_unknown_paths_and_methods(http_broker):
    status, body = http_json(http_broker, "GET", "/nope")
    assert status == 404 and body["error"] == "not_found"
    status, body = http_json(http_broker, "GET", "/api/v1/nothing")
    assert status == 404 and body["error"] == "not_found"
    status, headers, _ = http(http_broker, "POST", "/metrics")
    assert status == 405 and "GET" in headers["Allow"]
    status, body = http_json(http_broker, "PUT", "/api/v1/connections/x")
    assert status == 405 and body["error"] == "method_not_allowed"


# -- admin API -------------------------------------------------------------------------

def test_lists_connections_without_passwords(http_broker):
    a = PahoClient(http_broker, client_id=unique_id("a"), username="alice", password="pw-secret-1")
    a.connect()
    a.subscribe([("x/#", 1), ("y/+", 0)])
    v5 = V5Client(http_broker, unique_id("v"))
    try:
        def listed():
            status, body = http_json(http_broker, "GET", "/api/v1/connections")
            assert status == 200
            return body if body["count"] == 2 else None
        body = wait_until(listed, timeout=5)
        assert body, "expected 2 connections"
        by_id = {c["client_id"]: c for c in body["connections"]}
        ca = by_id[a.client_id]
        assert ca["username"] == "alice"
        assert ca["protocol_version"] == 4
        assert ca["keepalive"] == 30
        assert ca["connected"] is True
        assert ca["subscriptions"] == 2
        # The peer's own address and port (taken from the accept itself).
        assert ca["address"] == "127.0.0.1:%d" % a.client.socket().getsockname()[1]
        assert by_id[v5.client_id]["address"] == "127.0.0.1:%d" % v5.c.socket().getsockname()[1]
        assert ca["connected_at"].endswith("Z") and ca["connected_at_ms"] > 0
        assert by_id[v5.client_id]["protocol_version"] == 5
        status, _, raw = http(http_broker, "GET", "/api/v1/connections")
        assert "pw-secret-1" not in raw and "password" not in raw
    finally:
        a.disconnect()
        v5.close()


def test_get_one_connection_url_decoded(http_broker):
    cid = "dev/ice 1+%"
    c = PahoClient(http_broker, client_id=cid)
    c.connect()
    try:
        status, body = http_json(http_broker, "GET",
                                 "/api/v1/connections/" + urllib.request.quote(cid, safe=""))
        assert status == 200, body
        assert body["client_id"] == cid
        status, body = http_json(http_broker, "GET", "/api/v1/connections/no-such-client")
        assert status == 404 and body["error"] == "not_found"
        status, body = http_json(http_broker, "DELETE", "/api/v1/connections/no-such-client")
        assert status == 404 and body["error"] == "not_found"
    finally:
        c.disconnect()


def test_kick_gives_mqtt5_client_0x98(http_broker):
    v5 = V5Client(http_broker, unique_id("k"))
    v3 = PahoClient(http_broker, client_id=unique_id("k3"), protocol=MQTTv311)
    v3.connect()
    try:
        status, body = http_json(http_broker, "DELETE", "/api/v1/connections/" + v5.client_id)
        assert status == 200 and body["disconnected"] is True
        assert v5.gone.wait(5), "MQTT 5 client was not disconnected"
        assert v5.reason is not None and v5.reason.value == 0x98, v5.reason
        status, body = http_json(http_broker, "DELETE", "/api/v1/connections/" + v3.client_id)
        assert status == 200
        assert v3.disconnected.wait(5), "MQTT 3.1.1 client was not disconnected"
        rec = http_broker.wait_for_log(lambda r: r.get("msg") == "disconnecting client"
                                       and r.get("client_id") == v5.client_id)
        assert rec and rec["reason"] == "administrative action"

        def offline():
            _, b = http_json(http_broker, "GET", "/api/v1/connections/" + v5.client_id)
            return b.get("connected") is False or b.get("error") == "not_found"
        assert wait_until(offline, timeout=5)
    finally:
        v5.close()
        v3.disconnect()


def test_subscriptions_and_stats(http_broker):
    c = PahoClient(http_broker, client_id=unique_id("s"))
    c.connect()
    c.subscribe([("a/b", 1), ("$share/g/c/#", 0)])
    try:
        status, body = http_json(http_broker, "GET", "/api/v1/stats")
        assert status == 200
        assert body["clients"]["connected"] == 1
        assert body["messages"]["published"]["0"] >= 0
        status, body = http_json(http_broker, "GET", "/api/v1/subscriptions")
        assert status == 200, body
        mine = sorted(((s["share_group"], s["topic_filter"], s["qos"])
                       for s in body["subscriptions"] if s["client_id"] == c.client_id),
                      key=lambda t: (t[0] or "", t[1]))
        assert mine == [(None, "a/b", 1), ("g", "c/#", 0)]
    finally:
        c.disconnect()


def test_api_token(http_broker_factory):
    b = http_broker_factory(api_token="t0ken-xyz")
    status, headers, _ = http(b, "GET", "/api/v1/connections")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert http(b, "GET", "/api/v1/connections", token="wrong")[0] == 401
    assert http(b, "DELETE", "/api/v1/connections/x", token="t0ken-xy")[0] == 401
    assert http(b, "GET", "/api/v1/nothing")[0] == 401
    assert http(b, "GET", "/api/v1/connections", token="t0ken-xyz")[0] == 200
    assert http(b, "GET", "/api/v1/connections/x", token="t0ken-xyz")[0] == 404
    assert http(b, "GET", "/metrics")[0] == 200
    assert http(b, "GET", "/healthz")[0] == 200
    assert "t0ken-xyz" not in b.stderr_text()


def test_busy_http_port_fails_startup():
    binary = os.environ["COLONY_BIN"]
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        p = subprocess.run([binary, "--host", "127.0.0.1", "--port", "0", "--ws-port", "-1",
                            "--http-port", str(port)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    finally:
        holder.close()
    assert p.returncode != 0
    err = p.stderr.decode()
    assert "listener failed" in err and '"listener":"http"' in err, err
