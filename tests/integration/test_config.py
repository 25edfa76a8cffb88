"""Configuration paths of the real `colony` binary: `colony passwd`, password and ACL files
checked at startup (--check-config), hmq-style flags and JSON files, and --help.

Colony-only (Mosquitto has none of these command lines); needs COLONY_BIN.
"""

import json
import os
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

import rawmqtt as raw
from broker import is_mosquitto
from clients import unique_id

pytestmark = pytest.mark.colony_only

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"


def colony_bin():
    binary = os.environ.get("COLONY_BIN")
    if not binary:
        pytest.skip("COLONY_BIN is not set")
    return binary


def run(args, stdin_text=None, timeout=20):
    return subprocess.run([colony_bin()] + [str(a) for a in args], input=stdin_text,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def write(path, text):
    path.write_text(text)
    return str(path)


# -- colony passwd -------------------------------------------------------------------------


def test_passwd_batch_creates_file_0600(tmp):
    pw = tmp / "pw"
    r = run(["passwd", "-b", pw, "alice", "s3cret"])
    assert r.returncode == 0, r.stderr
    mode = stat.S_IMODE(os.stat(pw).st_mode)
    assert mode == 0o600, oct(mode)
    text = pw.read_text()
    assert text.startswith("alice:$7$101$"), text
    assert "s3cret" not in text
    # The broker accepts the file.
    r = run(["--password-file", pw, "--check-config"])
    assert r.returncode == 0, r.stderr


def test_passwd_reads_stdin_when_not_a_tty(tmp):
    pw = tmp / "pw"
    r = run(["passwd", pw, "bob"], stdin_text="piped password\n")
    assert r.returncode == 0, r.stderr
    assert pw.read_text().startswith("bob:$7$")
    r = run(["passwd", pw, "carol"], stdin_text="")
    assert r.returncode == 1
    assert "no password" in r.stderr


def test_passwd_update_and_delete(tmp):
    pw = tmp / "pw"
    assert run(["passwd", "-b", pw, "alice", "one"]).returncode == 0
    assert run(["passwd", "-b", pw, "bob", "two"]).returncode == 0
    first = pw.read_text()
    assert run(["passwd", "-b", pw, "alice", "three"]).returncode == 0
    second = pw.read_text()
    assert second.splitlines()[1] == first.splitlines()[1]  # bob untouched
    assert second.splitlines()[0] != first.splitlines()[0]  # alice rehashed
    r = run(["passwd", "-D", pw, "alice"])
    assert r.returncode == 0, r.stderr
    assert [l.split(":")[0] for l in pw.read_text().splitlines()] == ["bob"]
    r = run(["passwd", "-D", pw, "alice"])
    assert r.returncode == 1
    assert "alice" in r.stderr


def test_passwd_usage_errors(tmp):
    assert run(["passwd"]).returncode == 2
    assert run(["passwd", "-b", tmp / "pw", "user"]).returncode == 2
    assert run(["passwd", "-b", tmp / "pw", "a:b", "pw"]).returncode == 2


@pytest.mark.skipif(not os.access(MOSQUITTO_PASSWD, os.X_OK), reason="mosquitto_passwd missing")
def test_passwd_files_interoperate_with_mosquitto_passwd(tmp):
    pw = tmp / "pw"
    assert run(["passwd", "-b", pw, "ours", "o"]).returncode == 0
    subprocess.run([MOSQUITTO_PASSWD, "-b", str(pw), "theirs", "t"], check=True,
                   capture_output=True)
    subprocess.run([MOSQUITTO_PASSWD, "-H", "sha512", "-b", str(pw), "old", "o"], check=True,
                   capture_output=True)
    users = [l.split(":")[0] for l in pw.read_text().splitlines()]
    assert sorted(users) == ["old", "ours", "theirs"]
    r = run(["--password-file", pw, "--check-config"])
    assert r.returncode == 0, r.stderr
    # And our tool edits a file mosquitto_passwd made.
    assert run(["passwd", "-D", pw, "theirs"]).returncode == 0
    assert run(["--password-file", pw, "--check-config"]).returncode == 0


# -- files checked at startup ---------------------------------------------------------------


def test_check_config_reports_broken_password_file_with_line(tmp):
    good = run(["passwd", "-b", tmp / "pw", "alice", "x"])
    assert good.returncode == 0
    pw = tmp / "pw"
    pw.write_text(pw.read_text() + "# comment\nbob:plaintext-password\n")
    r = run(["--password-file", pw, "--check-config"])
    assert r.returncode == 2
    assert "%s:3:" % pw in r.stderr, r.stderr
    assert "plaintext-password" not in r.stderr


def test_check_config_reports_broken_acl_file_with_line(tmp):
    acl = write(tmp / "acl.conf", "# rules\nallow clientid * 3 a/#\n\nallow clientid * 7 b\n")
    r = run(["--acl-file", acl, "--check-config"])
    assert r.returncode == 2
    assert "%s:4:" % acl in r.stderr, r.stderr
    acl = write(tmp / "ok.conf", "allow clientid * 3 a/#\n\n# blank lines are fine\nallow ip * 1 $SYS/#\n")
    r = run(["--acl-file", acl, "--check-config"])
    assert r.returncode == 0, r.stderr


def test_missing_password_file_stops_startup(tmp):
    r = run(["--password-file", tmp / "nope", "--port", "0", "--ws-port", "-1",
             "--http-port", "-1"])
    assert r.returncode == 2
    assert str(tmp / "nope") in r.stderr


def test_bad_values_exit_2_naming_key_and_value(tmp):
    r = run(["--auth-http-url", "https://auth.example/", "--check-config"])
    assert r.returncode == 2
    assert "auth-http-url" in r.stderr and "https://auth.example/" in r.stderr
    cfg = write(tmp / "c.json", json.dumps({"max-publish-rate": "fast"}))
    r = run(["--config", cfg, "--check-config"])
    assert r.returncode == 2
    assert "max-publish-rate" in r.stderr and "fast" in r.stderr
    cfg = write(tmp / "d.json", json.dumps({"no-such-key": 1}))
    r = run(["--config", cfg, "--check-config"])
    assert r.returncode == 2
    assert "no-such-key" in r.stderr


def test_help_lists_new_settings_with_defaults():
    r = run(["--help"])
    assert r.returncode == 0
    for flag in ("--auth-http-url", "--acl-http-url", "--auth-http-timeout-ms arg (=2000)",
                 "--auth-http-cache-seconds arg (=30)", "--max-publish-rate arg (=0)",
                 "--max-publish-bytes-rate arg (=0)", "--max-connect-rate-per-ip arg (=0)",
                 "--cluster-port arg (=-1)", "--cluster-seeds", "--persistence-interval arg (=1)"):
        assert flag in r.stdout, flag
    r = run(["-h"])
    assert r.returncode == 0 and "--auth-http-url" in r.stdout


# -- hmq compatibility, end to end ------------------------------------------------------------


class Proc:
    """A colony process started by a test; only this PID is ever signalled."""

    def __init__(self, args, workdir):
        self.log_path = os.path.join(workdir, "colony.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([colony_bin()] + [str(a) for a in args],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, cwd=workdir)

    def text(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")

    def mqtt_port(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if not line.startswith("{"):
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "listening" and rec.get("listener") == "mqtt":
                    return rec["port"]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("colony did not start; output:\n" + self.text())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()
        return self.proc.returncode


def connect_ok(port):
    with raw.RawClient("127.0.0.1", port) as c:
        ack = c.connect(unique_id("cfg"), clean=True)
        assert ack.rc == 0


def test_hmq_flags_start_the_broker(tmp):
    p = Proc(["-host", "127.0.0.1", "-p", "0", "-ws", "-1", "-hp", "-1", "-d", "-w", "512",
              "--log-format", "json"], str(tmp))
    try:
        port = p.mqtt_port()
        connect_ok(port)
        out = p.text()
        assert out.count("warning") >= 1 and "'-w'" in out, out
    finally:
        assert p.stop() == 0


def test_hmq_json_file_starts_the_broker(tmp):
    cfg = write(tmp / "hmq.json", json.dumps({
        "workerNum": 4096, "port": "0", "host": "127.0.0.1", "debug": True,
        "wsPort": "-1", "httpPort": "-1", "wsPath": "/mqtt",
        "plugins": {"auth": "authhttp", "bridge": ""},
    }))
    p = Proc(["-c", cfg, "--log-format", "json", "--allow-anonymous"], str(tmp))
    try:
        port = p.mqtt_port()
        connect_ok(port)
        out = p.text()
        assert out.count("'workerNum'") == 1, out
        assert out.count("'plugins.auth'") == 1, out
        assert "plugins.bridge" not in out  # empty value: nothing to warn about
    finally:
        assert p.stop() == 0


def test_hmq_json_bad_value_exits_2(tmp):
    cfg = write(tmp / "hmq.json", json.dumps({"port": "1883", "wsPort": "web"}))
    r = run(["-c", cfg, "--check-config"])
    assert r.returncode == 2
    assert "wsPort" in r.stderr and "web" in r.stderr
