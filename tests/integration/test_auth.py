"""Authentication and authorization through the broker: password files (both mosquitto hash
formats), ACL files (hmq syntax), SIGHUP reload, and the HTTP auth/ACL hooks against a local
Python HTTP server.

These exercise the broker's wiring of config/password_file, config/acl, config/auth_store and
config/http_auth into the connection and session actors. Colony-only (the flags are Colony's).
"""

import os
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

import rawmqtt as raw
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
    """Auth: 200 for password "ok"; ACL: 200 unless the topic starts with "deny/"."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, kind, fields, ok):
                outer.requests.append((kind, {k: v[0] for k, v in fields.items()}))
                self.send_response(200 if ok else 403)
                self.send_header("Content-Length", "0")
                self.end_headers()

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


@pytest.mark.skip(reason="the HTTP ACL hook (--acl-http-url) is not wired into the sessions yet: "
                         "an asynchronous check per PUBLISH/SUBSCRIBE is still to be designed")
def test_http_acl_hook(broker_factory, hook):
    b = broker_factory(extra_args=["--acl-http-url", hook.url("/acl")])
    c = PahoClient(b, client_id="h1")
    c.connect()
    assert c.subscribe("allowed/x", 1) == [1]
    assert c.subscribe("deny/x", 1) == [0x80]
    acls = [f for k, f in hook.requests if k == "acl"]
    assert any(f["topic"] == "allowed/x" and f["access"] == "1" and f["clientid"] == "h1"
               for f in acls), acls
    c.disconnect()
