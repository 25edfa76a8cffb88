"""Authentication and authorization through the broker: password files (both mosquitto hash
formats), ACL files (hmq syntax), SIGHUP reload, and the HTTP auth/ACL hooks against a local
Python HTTP server.

These exercise the broker's wiring of config/password_file, config/acl, config/auth_store and
config/http_auth into the connection and session actors. Colony-only (the flags are Colony's).
"""

import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

import rawmqtt as raw
import rawmqtt5 as raw5
from clients import PahoClient, unique_id, wait_until

pytestmark = pytest.mark.colony_only

# Made once with Debian's mosquitto_passwd (see config/password_file_test.cpp).
ALICE_7 = ("alice:$7$101$GqACOFlQTehkB2A+$ekjcCrGryhwsIXtOJuFq+Pz91Rn+n0NzPH3O7hkHtU83iqw11y632"
           "t9qwwJpqry19sqd4yoMdUAL6UzEsTpENw==")  # password s3cret!
BOB_6 = ("bob:$6$y2GlXyAr4SUWQXCL$b9HIN+UP5TQIDWTwP1yQFzrkimpJFI6UXu6842JCWEnNzIFKK/D6ZoL8wT+t63"
         "lGsgU8GztUSuqPXLN8NyRT7A==")  # password hunter2

CONNACK_BAD_CREDENTIALS = 4  # MQTT 3.1.1 return code
CONNACK_NOT_AUTHORIZED = 5


def connect_rc(broker, username=None, password=None, client_id=None):
    with raw.RawClient(broker.host, broker.port) as c:
        c.send(raw.connect(client_id or unique_id("auth"), username=username, password=password))
        ack = c.expect(raw.CONNACK)
        return ack.rc


@pytest.fixture
def files(tmp_path):
    class Files:
        def write(self, name, text):
            p = tmp_path / name
            p.write_text(text)
            return str(p)
    return Files()


# -- password files ---------------------------------------------------------------------------


def test_password_file_both_hash_formats(broker_factory, files):
    pw = files.write("pw", ALICE_7 + "\n" + BOB_6 + "\n")
    b = broker_factory(extra_args=["--password-file", pw, "--allow-anonymous=false"])
    assert connect_rc(b, "alice", b"s3cret!") == 0
    assert connect_rc(b, "bob", b"hunter2") == 0
    assert connect_rc(b, "alice", b"wrong") in (CONNACK_BAD_CREDENTIALS, CONNACK_NOT_AUTHORIZED)
    assert connect_rc(b, "mallory", b"s3cret!") in (CONNACK_BAD_CREDENTIALS,
                                                     CONNACK_NOT_AUTHORIZED)
    assert connect_rc(b) in (CONNACK_BAD_CREDENTIALS, CONNACK_NOT_AUTHORIZED)  # anonymous


def test_password_never_logged(broker_factory, files):
    pw = files.write("pw", ALICE_7 + "\n")
    b = broker_factory(extra_args=["--password-file", pw, "--allow-anonymous=false"],
                       log_level="trace")
    connect_rc(b, "alice", b"s3cret!")
    connect_rc(b, "alice", b"guess-XYZZY")
    time.sleep(0.3)
    assert "s3cret!" not in b.stderr_text()
    assert "guess-XYZZY" not in b.stderr_text()


def test_sighup_reloads_password_file_and_keeps_old_on_error(broker_factory, files, tmp_path):
    pw = files.write("pw", ALICE_7 + "\n")
    b = broker_factory(extra_args=["--password-file", pw, "--allow-anonymous=false"])
    assert connect_rc(b, "bob", b"hunter2") != 0
    files.write("pw", ALICE_7 + "\n" + BOB_6 + "\n")
    b.send_signal(signal.SIGHUP)
    assert wait_until(lambda: connect_rc(b, "bob", b"hunter2") == 0, timeout=5)
    # A broken edit is reported and the working file stays in force.
    files.write("pw", "bob:not-a-hash\n")
    b.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert connect_rc(b, "alice", b"s3cret!") == 0
    assert connect_rc(b, "bob", b"hunter2") == 0


# -- ACL files --------------------------------------------------------------------------------


def test_acl_file_controls_publish_and_subscribe(broker_factory, files):
    acl = files.write("acl.conf", "\n".join([
        "# devices publish to their own topic, read commands for themselves",
        "allow clientid * 2 dev/%c/up",
        "",
        "allow clientid * 1 dev/%c/down,public/+",
        "deny clientid * 3 #",
    ]) + "\n")
    b = broker_factory(extra_args=["--acl-file", acl])
    dev = PahoClient(b, client_id="d1")
    dev.connect()
    # Allowed subscription, refused subscription (0x80).
    assert dev.subscribe("dev/d1/down", 1) == [1]
    assert dev.subscribe("public/#", 1) == [0x80]
    assert dev.subscribe("dev/d2/down", 1) == [0x80]
    # A publish that the ACL refuses is not delivered.
    watcher = PahoClient(b, client_id="d2")
    watcher.connect()
    assert watcher.subscribe("dev/d2/down", 1) == [1]
    dev.publish("dev/d2/down", b"forbidden", qos=1)
    dev.publish("dev/d1/up", b"fine", qos=1)
    time.sleep(0.5)
    assert watcher.count() == 0
    dev.disconnect()
    watcher.disconnect()


# -- HTTP hooks -------------------------------------------------------------------------------


class HookServer:
    """Auth: 200 for password "ok". ACL: 403 for topics starting with "deny/", 200 otherwise;
    topics starting with "slow/" are answered after SLOW_SECONDS, "hang/" after HANG_SECONDS
    (beyond the broker's timeout in the tests that use it). ``answered`` lists ACL topics in
    the order their answers were sent."""

    SLOW_SECONDS = 1.0  # below the default --auth-http-timeout-ms (2 s)
    HANG_SECONDS = 4.0

    def __init__(self):
        self.requests = []
        self.answered = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, kind, fields, ok):
                outer.requests.append((kind, {k: v[0] for k, v in fields.items()}))
                topic = fields.get("topic", [""])[0]
                if kind == "acl" and topic.startswith("slow/"):
                    time.sleep(outer.SLOW_SECONDS)
                if kind == "acl" and topic.startswith("hang/"):
                    time.sleep(outer.HANG_SECONDS)
                try:
                    self.send_response(200 if ok else 403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the broker gave up waiting
                if kind == "acl":
                    outer.answered.append(topic)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                fields = parse_qs(self.rfile.read(n).decode(), keep_blank_values=True)
                self._answer("auth", fields, fields.get("password", [""])[0] == "ok")

            def do_GET(self):
                fields = parse_qs(urlparse(self.path).query, keep_blank_values=True)
                self._answer("acl", fields, not fields.get("topic", [""])[0].startswith("deny/"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def acl_requests(self, topic=None):
        return [f for k, f in list(self.requests)
                if k == "acl" and (topic is None or f.get("topic") == topic)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = HookServer()
    yield h
    h.close()


def test_http_auth_hook(broker_factory, hook):
    b = broker_factory(extra_args=["--auth-http-url", hook.url("/auth"),
                                   "--allow-anonymous=false"])
    assert connect_rc(b, "u1", b"ok", client_id="c1") == 0
    assert connect_rc(b, "u1", b"nope", client_id="c1") != 0
    auths = [f for k, f in hook.requests if k == "auth"]
    assert {"username": "u1", "clientid": "c1", "password": "ok"} in auths


def test_http_acl_hook(broker_factory, hook):
    """--acl-http-url is asked for each SUBSCRIBE filter (access=1) with the client's
    identity; 403 refuses the filter (3.1.1 SUBACK 0x80)."""
    b = broker_factory(extra_args=["--acl-http-url", hook.url("/acl")])
    c = PahoClient(b, client_id="h1", username="hu", password="pw")
    c.connect()
    assert c.subscribe("allowed/x", 1) == [1]
    assert c.subscribe("deny/x", 1) == [0x80]
    acls = hook.acl_requests()
    assert any(f["topic"] == "allowed/x" and f["access"] == "1" and f["clientid"] == "h1"
               and f["username"] == "hu" and f["ip"] == "127.0.0.1" for f in acls), acls
    c.disconnect()


def test_http_acl_denies_subscribe_v5_with_0x87(broker_factory, hook):
    b = broker_factory(extra_args=["--acl-http-url", hook.url("/acl")])
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("h5sub")
        ack = c.subscribe([("ok/a", 1), ("deny/a", 1), ("ok/b", 0)], packet_id=7)
        assert ack.codes == [1, 0x87, 0], ack  # one SUBACK, every filter answered in order


def test_http_acl_denies_publish_v5_0x87_and_v3_silently(broker_factory, hook):
    b = broker_factory(extra_args=["--acl-http-url", hook.url("/acl")])
    watcher = PahoClient(b, client_id="hw")
    watcher.connect()
    assert watcher.subscribe("#", 1) == [1]
    with raw5.Client(b.host, b.port) as c5:
        c5.connect_ok("hp5")
        assert c5.publish_qos1("deny/a", b"no", packet_id=1).rc == 0x87  # Not authorized
        assert c5.publish_qos1("ok/a", b"yes", packet_id=2).rc == 0
    with raw.RawClient(b.host, b.port) as c3:
        c3.connect_ok("hp3")
        c3.publish_qos1("deny/b", b"no")  # 3.1.1 cannot say no: PUBACK, message dropped
        c3.publish_qos1("ok/b", b"yes", packet_id=2)
    assert watcher.wait_for(lambda m: m.topic == "ok/a"), watcher.messages
    assert watcher.wait_for(lambda m: m.topic == "ok/b"), watcher.messages
    time.sleep(0.3)
    assert not [m.topic for m in watcher.messages if m.topic.startswith("deny/")]
    pubs = hook.acl_requests("deny/a")
    assert pubs and pubs[0]["access"] == "2" and pubs[0]["clientid"] == "hp5", pubs
    watcher.disconnect()


def test_http_acl_answers_are_cached(broker_factory, hook):
    """Repeated questions are answered from the cache (the HTTP server sees one request);
    the cache key holds the client id, so another client is asked about separately."""
    b = broker_factory(extra_args=["--acl-http-url", hook.url("/acl"),
                                   "--auth-http-cache-seconds", "60"])
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("hc1")
        for i in range(5):
            assert c.publish_qos1("cached/t", b"x", packet_id=i + 1).rc == 0
        for i in range(3):
            assert c.publish_qos1("deny/cached", b"x", packet_id=10 + i).rc == 0x87
    assert len(hook.acl_requests("cached/t")) == 1, hook.acl_requests()
    assert len(hook.acl_requests("deny/cached")) == 1, hook.acl_requests()
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("hc2")
        assert c.publish_qos1("cached/t", b"x").rc == 0
    assert len(hook.acl_requests("cached/t")) == 2


def test_http_acl_fails_closed_when_server_is_down(broker_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # closed again: nothing listens there
    b = broker_factory(extra_args=["--acl-http-url", "http://127.0.0.1:%d/acl" % dead_port,
                                   "--auth-http-timeout-ms", "1000"])
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("hdown")
        assert c.subscribe([("a/b", 1)]).codes == [0x87]
        assert c.publish_qos1("a/b", b"x").rc == 0x87


def test_http_acl_fails_closed_on_timeout(broker_factory, hook):
    b = broker_factory(extra_args=["--acl-http-url", hook.url("/acl"),
                                   "--auth-http-timeout-ms", "300"])
    with raw5.Client(b.host, b.port) as c:
        c.connect_ok("htimeout")
        assert c.publish_qos1("hang/x", b"x", timeout=HookServer.HANG_SECONDS).rc == 0x87
        # Later packets are not stuck behind the failed question.
        assert c.publish_qos1("ok/x", b"x", packet_id=2).rc == 0


def test_slow_http_acl_keeps_order_and_blocks_no_other_client(broker_factory, hook):
    """While one client's PUBLISH waits for a slow ACL answer, its later packets wait behind
    it (order kept), and another client is served at once."""
    b = broker_factory(extra_args=["--acl-http-url", hook.url("/acl")])
    watcher = PahoClient(b, client_id="hwatch")
    watcher.connect()
    assert watcher.subscribe("#", 1) == [1]
    with raw5.Client(b.host, b.port) as slow, raw5.Client(b.host, b.port) as fast:
        slow.connect_ok("hslow")
        fast.connect_ok("hfast")
        slow.send(raw5.publish("slow/t", b"first", qos=1, packet_id=1))
        slow.send(raw5.publish("quick/t", b"second", qos=1, packet_id=2))
        assert wait_until(lambda: hook.acl_requests("slow/t"), timeout=5)
        assert fast.publish_qos1("fast/t", b"x").rc == 0
        # The other client got its answer while the slow question was still unanswered.
        assert "slow/t" not in hook.answered
        acks = [slow.recv_packet(timeout=HookServer.SLOW_SECONDS + 5) for _ in range(2)]
        assert [(p.type, p.packet_id, p.rc) for p in acks] == [(raw5.PUBACK, 1, 0),
                                                              (raw5.PUBACK, 2, 0)], acks
    assert watcher.wait_for(lambda m: m.topic == "quick/t"), watcher.messages
    topics = [m.topic for m in watcher.messages if m.topic in ("slow/t", "quick/t")]
    assert topics == ["slow/t", "quick/t"], topics
    watcher.disconnect()


def test_http_acl_checks_will_topic(broker_factory, hook):
    b = broker_factory(extra_args=["--acl-http-url", hook.url("/acl")])
    watcher = PahoClient(b, client_id="hwill-w")
    watcher.connect()
    assert watcher.subscribe("#", 0) == [0]
    for cid, topic in (("hwill-deny", "deny/will"), ("hwill-ok", "ok/will")):
        c = raw.RawClient(b.host, b.port)
        c.connect_ok(cid, will=dict(topic=topic, payload=b"gone"))
        assert wait_until(lambda: hook.acl_requests(topic), timeout=5)  # asked at CONNECT
        c.close()  # no DISCONNECT: the will applies
    assert watcher.wait_for(lambda m: m.topic == "ok/will"), watcher.messages
    time.sleep(0.3)
    assert not [m for m in watcher.messages if m.topic == "deny/will"]
    assert hook.acl_requests("ok/will")[0]["access"] == "2"
    watcher.disconnect()
