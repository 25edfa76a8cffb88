"""Start/stop the broker under test (Colony, or Mosquitto as a reference).

Environment:
  COLONY_BIN           path of the colony executable (required for colony)
  COLONY_TEST_BROKER   "colony" (default) or "mosquitto": run the same suite
                       against Debian's /usr/sbin/mosquitto to validate the
                       tests themselves.  Tests marked ``colony_only`` are
                       skipped then (see conftest.py).

Fixtures (imported by tests/integration/conftest.py):
  broker          a broker started with default options, or with the options
                  of the test's ``@pytest.mark.broker_opts(...)`` marker
  broker_factory  call it with options to start more/other brokers

Broker options (keyword arguments), mapped to Colony flags and to
Mosquitto configuration directives:
  max_queued_messages  --max-queued-messages   max_queued_messages
  max_inflight         --max-inflight          max_inflight_messages
  max_packet_size      --max-packet-size       max_packet_size
  max_keepalive        --max-keepalive         max_keepalive
  connect_timeout      --connect-timeout       (none: Mosquitto lacks it)
  max_write_buffer     --max-write-buffer      (none: Mosquitto lacks it)
  sys_interval         --sys-interval          sys_interval
  log_level            --log-level             (Mosquitto: fixed log_type set)
  extra_args           extra Colony command line arguments (ignored for Mosquitto)

Every broker started is stopped at teardown with SIGTERM and must exit with
status 0 within 10 s; only the PID we started is ever signalled.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

HOST = "127.0.0.1"
MOSQUITTO = "/usr/sbin/mosquitto"
STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def broker_kind():
    kind = os.environ.get("COLONY_TEST_BROKER", "colony").strip().lower() or "colony"
    if kind not in ("colony", "mosquitto"):
        raise RuntimeError("COLONY_TEST_BROKER must be 'colony' or 'mosquitto', not %r" % kind)
    return kind


def is_mosquitto():
    return broker_kind() == "mosquitto"


_COLONY_FLAGS = {
    "max_queued_messages": "--max-queued-messages",
    "max_inflight": "--max-inflight",
    "max_packet_size": "--max-packet-size",
    "max_keepalive": "--max-keepalive",
    "connect_timeout": "--connect-timeout",
    "max_write_buffer": "--max-write-buffer",
    "sys_interval": "--sys-interval",
}

_MOSQUITTO_DIRECTIVES = {
    "max_queued_messages": "max_queued_messages",
    "max_inflight": "max_inflight_messages",
    "max_packet_size": "max_packet_size",
    "max_keepalive": "max_keepalive",
    "sys_interval": "sys_interval",
}

_KNOWN = set(_COLONY_FLAGS) | {"log_level", "extra_args"}


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _die_with_parent():
    """In the child: SIGKILL the broker if the test process dies (e.g. a ctest
    timeout kills pytest before teardown), so no broker is ever orphaned."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass
    # A runaway broker must fail its test, not exhaust the machine: cap its address space.
    try:
        import resource
        limit = 4 * 1024 ** 3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except Exception:
        pass


class BrokerStartError(AssertionError):
    pass


class Broker:
    """A running broker process.  ``host``/``port`` give its MQTT listener."""

    def __init__(self, **opts):
        unknown = set(opts) - _KNOWN
        if unknown:
            raise TypeError("unknown broker options: %s" % ", ".join(sorted(unknown)))
        self.opts = opts
        self.kind = broker_kind()
        self.host = HOST
        self.port = None
        self.proc = None
        self.returncode = None
        self.workdir = tempfile.mkdtemp(prefix="colony-it-")
        self.stderr_path = os.path.join(self.workdir, "stderr.log")
        self._stderr_file = None

    # -- lifecycle -----------------------------------------------------------
    def start(self):
        if self.kind == "mosquitto":
            self._start_mosquitto()
        else:
            self._start_colony()
        return self

    def _spawn(self, argv):
        self._stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._stderr_file,
            stderr=self._stderr_file, cwd=self.workdir, preexec_fn=_die_with_parent)

    def _start_colony(self):
        binary = os.environ.get("COLONY_BIN")
        if not binary:
            raise BrokerStartError("COLONY_BIN is not set (or set COLONY_TEST_BROKER=mosquitto)")
        if not os.access(binary, os.X_OK):
            raise BrokerStartError("COLONY_BIN=%r is not an executable" % binary)
        argv = [binary, "--host", HOST, "--port", "0", "--ws-port", "-1",
                "--http-port", "-1", "--log-level", str(self.opts.get("log_level", "debug"))]
        for key, flag in _COLONY_FLAGS.items():
            if self.opts.get(key) is not None:
                argv += [flag, str(self.opts[key])]
        argv += [str(a) for a in self.opts.get("extra_args", ())]
        self.argv = argv
        self._spawn(argv)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            for rec in self.log_records():
                if rec.get("msg") == "listening" and rec.get("listener") == "mqtt" \
                        and isinstance(rec.get("port"), int):
                    self.port = rec["port"]
                    return
            if self.proc.poll() is not None:
                raise BrokerStartError("colony exited with %r before listening; stderr:\n%s"
                                       % (self.proc.returncode, self.stderr_text()))
            time.sleep(0.02)
        self._kill()
        raise BrokerStartError("colony did not log a mqtt 'listening' line within %.0fs; stderr:\n%s"
                               % (STARTUP_TIMEOUT, self.stderr_text()))

    def _start_mosquitto(self):
        last_error = None
        for _attempt in range(3):
            port = _free_port()
            conf = os.path.join(self.workdir, "mosquitto.conf")
            lines = [
                "listener %d %s" % (port, HOST),
                "allow_anonymous true",
                "user root",  # no setuid: it would clear PR_SET_PDEATHSIG
                "persistence false",
                "log_dest stderr",
                "log_type error",
                "log_type warning",
                "log_type notice",
                "log_type information",
                "connection_messages true",
                "log_timestamp true",
            ]
            if self.opts.get("log_level") in ("trace", "debug"):
                lines.append("log_type debug")
            for key, directive in _MOSQUITTO_DIRECTIVES.items():
                if self.opts.get(key) is not None:
                    lines.append("%s %s" % (directive, self.opts[key]))
            with open(conf, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            os.chmod(self.workdir, 0o755)
            os.chmod(conf, 0o644)
            self.argv = [MOSQUITTO, "-c", conf]
            self._spawn(self.argv)
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection((HOST, port), timeout=0.5).close()
                    self.port = port
                    return
                except OSError:
                    time.sleep(0.02)
            last_error = self.stderr_text()
            self._kill()
            self._stderr_file.close()
        raise BrokerStartError("mosquitto failed to start:\n%s" % last_error)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        """Send ``sig`` to the broker process we started (never anything else)."""
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for exit; returns the exit status or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the broker and wait; returns its exit status (None if it hung)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.send_signal(sig)
            rc = self.wait(timeout)
            if rc is None:
                self._kill()
                if self._stderr_file:
                    self._stderr_file.close()
                return None
        self.returncode = self.proc.returncode
        if self._stderr_file:
            self._stderr_file.close()
        return self.returncode

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- logs ------------------------------------------------------------------
    def stderr_text(self, tail=None):
        try:
            with open(self.stderr_path, "rb") as fh:
                data = fh.read()
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        if tail is not None:
            text = "\n".join(text.splitlines()[-tail:])
        return text

    def log_records(self):
        """Parse stderr as JSON lines; lines that are not JSON objects are skipped."""
        recs = []
        for line in self.stderr_text().splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                recs.append(rec)
        return recs

    def wait_for_log(self, predicate, timeout=5.0):
        """Poll the JSON log until a record satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for rec in self.log_records():
                if predicate(rec):
                    return rec
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def __repr__(self):
        return "<Broker %s %s:%s pid=%s>" % (self.kind, self.host, self.port,
                                             self.proc.pid if self.proc else None)


def start_broker(**opts):
    return Broker(**opts).start()


@pytest.fixture
def broker_factory(request):
    """Start brokers on demand; all are SIGTERMed at teardown and must exit 0."""
    started = []

    def factory(**opts):
        b = Broker(**opts)
        started.append(b)
        try:
            return b.start()
        except BrokerStartError:
            b.start_failed = True  # already killed; reported by the raised error itself
            raise

    yield factory

    problems = []
    for b in started:
        if b.proc is None or getattr(b, "start_failed", False):
            b.stop()
            continue
        already_stopped = b.returncode is not None
        rc = b.stop()
        if rc != 0:
            problems.append("%r: exit status %r (expected 0 within %.0fs after SIGTERM)%s; stderr tail:\n%s"
                            % (b, rc, STOP_TIMEOUT, " [stopped by the test]" if already_stopped else "",
                               b.stderr_text(tail=40)))
    failed = getattr(request.node, "rep_call", None)
    for b in started:
        if failed is not None and failed.failed:
            # Keep the broker's log next to the failure report.
            print("\n----- %r stderr (last 60 lines) -----\n%s" % (b, b.stderr_text(tail=60)))
        b.cleanup()
    assert not problems, "\n".join(problems)


@pytest.fixture
def broker(request, broker_factory):
    """A fresh broker for this test (options from @pytest.mark.broker_opts)."""
    marker = request.node.get_closest_marker("broker_opts")
    opts = dict(marker.kwargs) if marker else {}
    return broker_factory(**opts)


def keepalive_deadline(keepalive):
    """Upper bound (s) by which a silent client with ``keepalive`` must be closed.

    The spec says 1.5 x keepalive (MQTT-3.1.2-24); we allow generous slack since
    this checks correctness, not timer precision.  Mosquitto 2.0.11 only checks
    keepalives every ~5 s (deviation), so it gets extra slack.
    """
    bound = 1.5 * keepalive + 2.5
    if is_mosquitto():
        bound += 5.0
    return bound
