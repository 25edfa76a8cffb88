"""Colony's /metrics scraped by a real Prometheus server.

Installs Debian's ``prometheus`` package with apt-get when it is missing, runs
/usr/bin/prometheus as our own process on a free loopback port with a temporary
TSDB (never the packaged service), connects N clients and asks Prometheus's
query API for the connection gauge.  Then ``promtool check metrics`` must find
nothing to complain about in the /metrics output.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from clients import PahoClient, unique_id, wait_until
from test_http import http, http_broker, http_broker_factory  # noqa: F401 (fixtures)

pytestmark = pytest.mark.colony_only(reason="Colony's /metrics endpoint")

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
N_CLIENTS = 8


def ensure_prometheus():
    if os.access(PROMETHEUS, os.X_OK) and os.access(PROMTOOL, os.X_OK):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    install = apt + ["install", "-y", "-q", "--no-install-recommends", "prometheus"]
    p = subprocess.run(install, env=env, capture_output=True, timeout=600)
    if p.returncode != 0:
        # The package lists may be missing or stale: refresh once and retry.
        subprocess.run(apt + ["update", "-q"], env=env, capture_output=True, timeout=600)
        p = subprocess.run(install, env=env, capture_output=True, timeout=600)
    assert p.returncode == 0 and os.access(PROMETHEUS, os.X_OK), \
        "could not install prometheus:\n%s" % p.stderr.decode(errors="replace")[-2000:]


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class PrometheusServer:
    """Our own prometheus process (never the system service)."""

    def __init__(self, target_port):
        self.dir = tempfile.mkdtemp(prefix="colony-prom-")
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as fh:
            fh.write("global:\n"
                     "  scrape_interval: 1s\n"
                     "  scrape_timeout: 1s\n"
                     "  evaluation_interval: 1s\n"
                     "scrape_configs:\n"
                     "  - job_name: colony\n"
                     "    static_configs:\n"
                     "      - targets: ['127.0.0.1:%d']\n" % target_port)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.proc = None
        self.port = None

    def start(self):
        for _attempt in range(3):
            self.port = free_port()
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + self.config,
                 "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port,
                 "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, cwd=self.dir)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.url("/-/ready"), timeout=2) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    pass
                time.sleep(0.2)
            self.stop()
        raise AssertionError("prometheus did not become ready:\n%s" % self.log_text())

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def query(self, expr):
        """Instant query; returns the list of (labels, float value)."""
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(self.url("/api/v1/query?" + q), timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]

    def log_text(self):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def prometheus_installed():
    ensure_prometheus()


@pytest.fixture
def prometheus_factory():
    started = []

    def factory(target_port):
        p = PrometheusServer(target_port)
        started.append(p)
        return p.start()

    yield factory
    for p in started:
        p.stop()
        p.cleanup()


def test_prometheus_scrapes_connection_gauge(prometheus_installed, http_broker, prometheus_factory):
    clients = []
    try:
        for _ in range(N_CLIENTS):
            c = PahoClient(http_broker, client_id=unique_id("prom"))
            c.connect()
            clients.append(c)
        clients[0].subscribe("m/#", qos=1)
        clients[1].publish("m/x", b"hello", qos=1)
        assert clients[0].wait_messages(1), "no delivery"
        prom = prometheus_factory(http_broker.http_port)

        def scraped(expr, want):
            def check():
                try:
                    r = prom.query(expr)
                except OSError:
                    return None
                return r if r and r[0][1] == want else None
            return wait_until(check, timeout=30, interval=0.5)

        assert scraped('up{job="colony"}', 1.0), \
            "target not up; prometheus log:\n%s" % prom.log_text()
        assert scraped('sum(colony_connections{job="colony"})', float(N_CLIENTS)), \
            "connection gauge: %r" % prom.query("colony_connections")
        assert scraped('colony_connections{listener="mqtt"}', float(N_CLIENTS))
        assert scraped('colony_sessions{state="online"}', float(N_CLIENTS))
        assert scraped('colony_messages_delivered_total{qos="1"}', 1.0)
        assert scraped('colony_messages_published_total{qos="1"}', 1.0)
        # And it goes down again when clients leave.
        for c in clients[:3]:
            c.disconnect()
        assert scraped('sum(colony_connections)', float(N_CLIENTS - 3)), \
            "connection gauge: %r" % prom.query("colony_connections")
        assert prom.query('sum(colony_disconnects_total{reason="client_disconnect"})')[0][1] == 3
    finally:
        for c in clients:
            c.disconnect()


def test_promtool_finds_nothing_in_metrics(prometheus_installed, http_broker):
    c = PahoClient(http_broker, client_id=unique_id("lint"))
    c.connect()
    c.subscribe("l/#")
    c.publish("l/1", b"x")
    c.wait_messages(1)
    try:
        status, _, text = http(http_broker, "GET", "/metrics")
        assert status == 200
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        report = (p.stdout + p.stderr).decode(errors="replace").strip()
        assert p.returncode == 0 and report == "", "promtool check metrics:\n%s" % report
    finally:
        c.disconnect()


def test_mailbox_depth_series_for_every_actor_kind(http_broker):
    """colony_actor_mailbox_depth{kind} is listed for every actor kind (sampled by the actors
    themselves; 0 when nothing was sampled since the previous scrape)."""
    c = PahoClient(http_broker, client_id=unique_id("mbox"))
    c.connect()
    c.subscribe("mb/#")
    c.publish("mb/1", b"x")
    c.wait_messages(1)
    try:
        status, _, text = http(http_broker, "GET", "/metrics")
        assert status == 200
        assert "# TYPE colony_actor_mailbox_depth gauge" in text
        for kind in ("connection", "session", "topic_shard", "registry", "sys"):
            line = [l for l in text.splitlines()
                    if l.startswith('colony_actor_mailbox_depth{kind="%s"}' % kind)]
            assert len(line) == 1, (kind, text)
            assert float(line[0].split()[-1]) >= 0
    finally:
        c.disconnect()
