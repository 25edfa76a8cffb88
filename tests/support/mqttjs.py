"""MQTT.js (npm package ``mqtt``) driven from pytest, for the WebSocket transports.

``ensure_mqttjs()`` installs MQTT.js once into tests/integration/node/node_modules with
``npm install --no-audit --no-fund --no-package-lock`` (package.json there pins ``mqtt@^5``)
and returns the directory, or calls ``pytest.skip`` with the reason when node/npm are missing
or the install fails.  ``JsSub`` runs a long-lived subscriber, ``js_pub`` a one-shot publisher
(both tests/integration/node/mqttjs_client.js).
"""

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

NODE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                         "integration", "node"))
CLIENT_JS = os.path.join(NODE_DIR, "mqttjs_client.js")
MQTT_BUNDLE = os.path.join(NODE_DIR, "node_modules", "mqtt", "dist", "mqtt.min.js")


def ensure_mqttjs():
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        pytest.skip("node/npm not installed: MQTT.js WebSocket tests need them (apt-get install nodejs npm)")
    marker = os.path.join(NODE_DIR, "node_modules", "mqtt", "package.json")
    if os.path.exists(marker) and os.path.exists(MQTT_BUNDLE):
        return NODE_DIR
    # Serialize concurrent installs (parallel ctest runs).
    with open(os.path.join(tempfile.gettempdir(), "colony-mqttjs-install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(marker) and os.path.exists(MQTT_BUNDLE):
            return NODE_DIR
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-package-lock"],
                              cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=600)
        if proc.returncode != 0 or not os.path.exists(marker):
            pytest.skip("cannot install MQTT.js with npm (exit %s): %s"
                        % (proc.returncode, proc.stdout.decode(errors="replace")[-2000:]))
    return NODE_DIR


def _tls_args(ca=None, cert=None, key=None, insecure=False):
    args = []
    if ca:
        args += ["--ca", ca]
    if cert:
        args += ["--cert", cert]
    if key:
        args += ["--key", key]
    if insecure:
        args += ["--insecure"]
    return args


def js_pub(url, topic, payload, qos=0, retain=False, timeout=20, **tls):
    """Publishes one message; returns the list of JSON events.  Raises on failure."""
    argv = ["node", CLIENT_JS, "pub", url, "--topic", topic, "--payload", payload,
            "--qos", str(qos)] + (["--retain"] if retain else []) + _tls_args(**tls)
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    events = [json.loads(l) for l in proc.stdout.decode().splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not any(e.get("event") == "published" for e in events):
        raise AssertionError("MQTT.js publish failed (exit %s): %r %s"
                             % (proc.returncode, events, proc.stderr.decode(errors="replace")))
    return events


def js_connect(url, timeout=20, **tls):
    """Connects and disconnects; returns (exit status, events)."""
    argv = ["node", CLIENT_JS, "connect", url] + _tls_args(**tls)
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    events = [json.loads(l) for l in proc.stdout.decode().splitlines() if l.startswith("{")]
    return proc.returncode, events


class JsSub:
    """A running MQTT.js subscriber.  ``messages()`` returns (topic, payload, qos, retain)."""

    def __init__(self, url, topics, qos=0, will=None, client_id=None, **tls):
        if isinstance(topics, str):
            topics = [topics]
        argv = ["node", CLIENT_JS, "sub", url, "--qos", str(qos)]
        for t in topics:
            argv += ["--topic", t]
        if will:
            argv += ["--will-topic", will["topic"], "--will-payload", will.get("payload", ""),
                     "--will-qos", str(will.get("qos", 0))]
        if client_id:
            argv += ["--id", client_id]
        argv += _tls_args(**tls)
        self.argv = argv
        self.events = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.decode(errors="replace").strip()
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.events.append(ev)
                self._cond.notify_all()

    def wait_event(self, name, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events:
                    if ev.get("event") == name:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def start(self, timeout=10.0):
        ev = self.wait_event("subscribed", timeout)
        if ev is None:
            self.stop()
            raise AssertionError("MQTT.js subscriber did not subscribe: events %r, stderr %s"
                                 % (self.events, self.stderr()))
        return self

    def messages(self):
        with self._cond:
            return [(e["topic"], e["payload"], e["qos"], e["retain"])
                    for e in self.events if e.get("event") == "message"]

    def wait_messages(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                msgs = [(e["topic"], e["payload"], e["qos"], e["retain"])
                        for e in self.events if e.get("event") == "message"]
                if len(msgs) >= n or time.monotonic() >= deadline:
                    return msgs
                self._cond.wait(max(0.0, deadline - time.monotonic()))

    def kill(self):
        """Dies without DISCONNECT (the kernel closes the socket): the will is published."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(timeout=5)

    def stderr(self):
        try:
            if self.proc.poll() is not None:
                return self.proc.stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            pass
        return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
