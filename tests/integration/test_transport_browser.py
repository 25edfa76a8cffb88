"""MQTT over WebSocket from a real browser: headless Chromium loads a page (served by a tiny
http.server on loopback) that uses MQTT.js's browser bundle to connect, subscribe, publish and
show the message in the DOM; the test reads the DOM with ``chromium --dump-dom``.

Chromium is Debian's ``chromium`` package; it is installed with apt-get when missing (as
root), otherwise the test is skipped with the reason.
"""

import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
import uuid

import pytest

from mqttjs import MQTT_BUNDLE, ensure_mqttjs
from transport_util import chromium_binary, listener_port, override_fixture_flags  # noqa: F401

pytestmark = pytest.mark.colony_only(reason="the WebSocket listener is configured with Colony flags")

PAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser")
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def _ensure_chromium():
    path = chromium_binary()
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        res = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                             env=env, capture_output=True, timeout=1200)
    except subprocess.TimeoutExpired:
        pytest.skip("installing chromium with apt-get timed out")
    path = chromium_binary()
    if not path:
        pytest.skip("chromium could not be installed with apt-get (exit %s): %s"
                    % (res.returncode, res.stderr.decode(errors="replace")[-1500:]))
    return path


class _PageServer:
    """Serves the test page and the MQTT.js bundle; /hold answers once /report was called."""

    def __init__(self):
        self.reported = threading.Event()
        self.reports = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, ctype, body):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                if url.path == "/index.html":
                    with open(os.path.join(PAGE_DIR, "index.html"), "rb") as fh:
                        self._send(200, "text/html; charset=utf-8", fh.read())
                elif url.path == "/mqtt.min.js":
                    with open(MQTT_BUNDLE, "rb") as fh:
                        self._send(200, "application/javascript", fh.read())
                elif url.path == "/hold":
                    outer.reported.wait(45)
                    self._send(200, "image/gif", GIF)
                elif url.path == "/report":
                    outer.reports.append(urllib.parse.parse_qs(url.query).get("what", [""])[0])
                    outer.reported.set()
                    self._send(200, "text/plain", b"ok")
                else:
                    self._send(404, "text/plain", b"not found")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.reported.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_browser_mqtt_over_websocket(broker_factory):
    ensure_mqttjs()
    chromium = _ensure_chromium()
    b = broker_factory(extra_args=["--ws-port", "0"])
    ws_port = listener_port(b, "ws")
    topic = "browser/" + uuid.uuid4().hex[:8]
    profile = tempfile.mkdtemp(prefix="colony-chromium-")
    try:
        with _PageServer() as server:
            query = urllib.parse.urlencode({"broker": "ws://127.0.0.1:%d/mqtt" % ws_port, "topic": topic})
            url = "http://127.0.0.1:%d/index.html?%s" % (server.port, query)
            argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                    "--dump-dom", url]
            res = subprocess.run(argv, capture_output=True, timeout=120)
            dom = res.stdout.decode(errors="replace")
            assert server.reports == ["received"], \
                "page reported %r; DOM:\n%s\nchromium stderr:\n%s" % (
                    server.reports, dom[-3000:], res.stderr.decode(errors="replace")[-3000:])
            assert '<div id="status">received</div>' in dom, dom[-3000:]
            assert "%s =&gt; hello from the browser" % topic in dom, dom[-3000:]
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    # The broker saw a WebSocket client.
    assert b.alive()
