"""TLS listener: server certificate, protocol versions, ciphers, mutual TLS (wrong CA, expired
or missing client certificate), the client certificate as identity, refusals that leave the
broker unaffected, handshake timeout, and certificate rotation (SIGHUP and file change).
"""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import rawmqtt as raw
from broker import BrokerStartError
from certs import cert_serial, served_cert
from clients import MOSQUITTO_PUB, MosquittoSub, unique_id
from transport_util import listener_port, pki, wait_for, override_fixture_flags  # noqa: F401

pytestmark = pytest.mark.colony_only(reason="TLS listeners are configured with Colony flags")

HOST = "127.0.0.1"


def _pub(port, args=(), topic="tls/t", message="m", timeout=15):
    argv = [MOSQUITTO_PUB, "-h", HOST, "-p", str(port), "-t", topic, "-m", message, "-q", "1"] + list(args)
    proc = subprocess.run(argv, capture_output=True, timeout=timeout)
    return proc.returncode, proc.stderr.decode(errors="replace")


def _tls_broker(broker_factory, pki, verify=False, extra=(), **opts):  # noqa: F811
    b = broker_factory(extra_args=["--tls-port", "0", "--wss-port", "0",
                                   "--tls-cert", pki.server_crt, "--tls-key", pki.server_key,
                                   "--tls-ca", pki.ca_crt] + (["--tls-verify"] if verify else [])
                       + list(extra), **opts)
    b.tls_port = listener_port(b, "mqtts")
    return b


def _assert_healthy(b, pki, client_cert=False):  # noqa: F811
    """A normal client still works, over plain TCP and TLS."""
    rc, err = _pub(b.port)
    assert rc == 0, err
    args = ["--cafile", pki.ca_crt]
    if client_cert:
        args += ["--cert", pki.client_crt, "--key", pki.client_key]
    rc, err = _pub(b.tls_port, args)
    assert rc == 0, err
    assert b.alive()


def test_tls_connect_verifies_server_certificate(broker_factory, pki):  # noqa: F811
    b = _tls_broker(broker_factory, pki)
    with MosquittoSub(raw_addr(b.tls_port), "tls/a", qos=1, extra=["--cafile", pki.ca_crt]) as sub:
        rc, err = _pub(b.tls_port, ["--cafile", pki.ca_crt], topic="tls/a", message="secret")
        assert rc == 0, err
        msgs = sub.wait_messages(1, timeout=10)
    assert [(m[0], m[3]) for m in msgs] == [("tls/a", "secret")]
    # The $SYS notice names the listener.
    assert b.wait_for_log(lambda r: r.get("msg") == "listening" and r.get("listener") == "mqtts")


def test_client_with_wrong_ca_refuses_server(broker_factory, pki):  # noqa: F811
    b = _tls_broker(broker_factory, pki)
    rc, _err = _pub(b.tls_port, ["--cafile", pki.other_ca_crt])
    assert rc != 0
    _assert_healthy(b, pki)


def test_tls_versions(broker_factory, pki):  # noqa: F811
    b = _tls_broker(broker_factory, pki)
    rc, _serial, text = served_cert(HOST, b.tls_port, ["-CAfile", pki.ca_crt])
    assert "TLSv1.3" in text, text[-2000:]
    rc, _serial, text = served_cert(HOST, b.tls_port, ["-tls1_2", "-CAfile", pki.ca_crt])
    assert rc == 0 and "TLSv1.2" in text, text[-2000:]
    rc, _serial, text = served_cert(HOST, b.tls_port, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
    assert rc != 0 or "Cipher is (NONE)" in text, "TLS 1.1 accepted:\n" + text[-2000:]
    _assert_healthy(b, pki)


def test_tls_min_version_13(broker_factory, pki):  # noqa: F811
    b = _tls_broker(broker_factory, pki, extra=["--tls-min-version", "1.3"])
    rc, _serial, text = served_cert(HOST, b.tls_port, ["-tls1_2"])
    assert rc != 0 or "Cipher is (NONE)" in text, "TLS 1.2 accepted:\n" + text[-2000:]
    rc, _serial, text = served_cert(HOST, b.tls_port, ["-tls1_3", "-CAfile", pki.ca_crt])
    assert rc == 0 and "TLSv1.3" in text


def test_tls_ciphers(broker_factory, pki):  # noqa: F811
    b = _tls_broker(broker_factory, pki,
                    extra=["--tls-ciphers", "ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_128_GCM_SHA256"])
    rc, _s, text = served_cert(HOST, b.tls_port, ["-tls1_2"])
    assert rc == 0 and "ECDHE-RSA-AES256-GCM-SHA384" in text, text[-2000:]
    rc, _s, text = served_cert(HOST, b.tls_port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])
    assert rc != 0 or "Cipher is (NONE)" in text
    rc, _s, text = served_cert(HOST, b.tls_port, ["-tls1_3"])
    assert rc == 0 and "TLS_AES_128_GCM_SHA256" in text, text[-2000:]


@pytest.mark.parametrize("which", ["missing", "expired", "wrong_ca"])
def test_mutual_tls_refuses_bad_client_certificates(broker_factory, pki, which):  # noqa: F811
    b = _tls_broker(broker_factory, pki, verify=True)
    args = ["--cafile", pki.ca_crt]
    if which == "expired":
        args += ["--cert", pki.expired_crt, "--key", pki.expired_key]
    elif which == "wrong_ca":
        args += ["--cert", pki.rogue_crt, "--key", pki.rogue_key]
    rc, err = _pub(b.tls_port, args)
    assert rc != 0, "client with %s certificate was accepted" % which
    rec = b.wait_for_log(lambda r: r.get("msg") == "tls handshake failed", timeout=5)
    assert rec is not None and rec.get("listener") == "mqtts"
    if which == "expired":
        assert "expired" in rec.get("detail", ""), rec
    # The right certificate is accepted, and nothing else was disturbed.
    _assert_healthy(b, pki, client_cert=True)


def test_client_certificate_as_username(broker_factory, pki):  # noqa: F811
    """--tls-use-identity-as-username: the CN of a verified client certificate is the username,
    so such clients get in without a password while anonymous access is off."""
    b = _tls_broker(broker_factory, pki, verify=True,
                    extra=["--tls-use-identity-as-username", "--allow-anonymous", "false"])
    cert = ["--cafile", pki.ca_crt, "--cert", pki.client_crt, "--key", pki.client_key]
    cid = unique_id("cn")
    with MosquittoSub(raw_addr(b.tls_port), "$SYS/broker/connection/clients/" + cid, qos=0,
                      extra=cert) as sub:
        rc, err = _pub(b.tls_port, cert + ["-i", cid])
        assert rc == 0, err
        msgs = sub.wait_messages(1, timeout=10)
    assert msgs, "no $SYS connection notice"
    assert '"username":"tls-client"' in msgs[0][3], msgs
    assert '"listener":"mqtts"' in msgs[0][3], msgs
    # Plain TCP without credentials stays refused.
    rc, _err = _pub(b.port)
    assert rc != 0


def test_plain_tcp_to_tls_port(broker_factory, pki):  # noqa: F811
    b = _tls_broker(broker_factory, pki)
    s = socket.create_connection((HOST, b.tls_port), timeout=5)
    s.sendall(raw.connect(unique_id()))
    got = b""
    s.settimeout(5)
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert not got.startswith(b"\x20"), "got a CONNACK over plain TCP on the TLS port: %r" % got
    assert got == b"" or got[0] == 0x15, "expected a TLS alert or nothing, got %r" % got[:20]
    _assert_healthy(b, pki)


def test_handshake_timeout(broker_factory, pki):  # noqa: F811
    """A client that never starts the TLS handshake is closed after the connect timeout."""
    b = _tls_broker(broker_factory, pki, connect_timeout=1)
    s = socket.create_connection((HOST, b.tls_port), timeout=10)
    t0 = time.monotonic()
    s.settimeout(10)
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    elapsed = time.monotonic() - t0
    s.close()
    assert data == b"" and elapsed < 5, (data, elapsed)
    _assert_healthy(b, pki)


def test_bad_certificate_at_startup_is_reported(broker_factory, pki, tmp_path):  # noqa: F811
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(BrokerStartError) as ei:
        broker_factory(extra_args=["--tls-port", "0", "--wss-port", "0", "--tls-cert", missing,
                                   "--tls-key", pki.server_key])
    assert "cannot read certificate" in str(ei.value)
    with pytest.raises(BrokerStartError) as ei:
        broker_factory(extra_args=["--tls-port", "0", "--wss-port", "0", "--tls-cert", pki.server_crt,
                                   "--tls-key", pki.client_key])
    text = str(ei.value)
    assert "TLS configuration failed" in text and "private key" in text \
        and ("mismatch" in text or "does not match" in text), text


def test_connection_limit_applies_to_tls(broker_factory, pki):  # noqa: F811
    b = _tls_broker(broker_factory, pki, extra=["--max-connections", "1"])
    cert = ["--cafile", pki.ca_crt]
    with MosquittoSub(raw_addr(b.tls_port), "lim/t", qos=0, extra=cert):
        rc, _err = _pub(b.tls_port, cert)
        assert rc != 0, "a second TLS connection was accepted with --max-connections 1"
    assert wait_for(lambda: _pub(b.tls_port, cert)[0] == 0, timeout=5)


# -- rotation ----------------------------------------------------------------------------------

def _install(pki, name, workdir):  # noqa: F811
    """Atomically puts <name>.crt/.key in place as cert.pem/key.pem."""
    for src, dst in ((pki.path(name + ".key"), "key.pem"), (pki.path(name + ".crt"), "cert.pem")):
        tmp = os.path.join(workdir, dst + ".tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, os.path.join(workdir, dst))


def _serial_served(port):
    _rc, serial, text = served_cert(HOST, port)
    return serial


def test_certificate_rotation_on_sighup(broker_factory, pki, tmp_path):  # noqa: F811
    work = str(tmp_path)
    _install(pki, "server", work)
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    b = broker_factory(extra_args=["--tls-port", "0", "--wss-port", "0", "--tls-cert", cert,
                                   "--tls-key", key, "--tls-ca", pki.ca_crt])
    port = listener_port(b, "mqtts")
    old, new = cert_serial(pki.server_crt), cert_serial(pki.server2_crt)
    assert _serial_served(port) == old
    tls = ["--cafile", pki.ca_crt]
    with MosquittoSub(raw_addr(port), "rot/t", qos=1, extra=tls) as sub:
        _install(pki, "server2", work)
        b.send_signal(signal.SIGHUP)
        assert b.wait_for_log(lambda r: r.get("msg") == "tls certificate reloaded", timeout=10)
        assert wait_for(lambda: _serial_served(port) == new, timeout=10), \
            "still serving %s" % _serial_served(port)
        # The connection made before the rotation is still up and working.
        rc, err = _pub(port, tls, topic="rot/t", message="after")
        assert rc == 0, err
        msgs = sub.wait_messages(1, timeout=10)
        assert [m[3] for m in msgs] == ["after"]

        # A broken file is reported and the current certificate stays.
        with open(cert, "w") as fh:
            fh.write("not a certificate\n")
        b.send_signal(signal.SIGHUP)
        assert b.wait_for_log(lambda r: r.get("msg") == "tls reload failed, keeping the previous certificate",
                              timeout=10)
        assert _serial_served(port) == new
        rc, err = _pub(port, tls, topic="rot/t", message="still")
        assert rc == 0, err
        assert [m[3] for m in sub.wait_messages(2, timeout=10)] == ["after", "still"]
    assert b.alive()


def test_certificate_rotation_on_file_change(broker_factory, pki, tmp_path):  # noqa: F811
    """Without SIGHUP: the files are watched and a replaced certificate is picked up."""
    work = str(tmp_path)
    _install(pki, "server", work)
    b = broker_factory(extra_args=["--tls-port", "0", "--wss-port", "0",
                                   "--tls-cert", os.path.join(work, "cert.pem"),
                                   "--tls-key", os.path.join(work, "key.pem")])
    port = listener_port(b, "mqtts")
    assert _serial_served(port) == cert_serial(pki.server_crt)
    _install(pki, "server2", work)
    new = cert_serial(pki.server2_crt)
    assert wait_for(lambda: _serial_served(port) == new, timeout=15, interval=0.5)
    assert b.wait_for_log(lambda r: r.get("msg") == "tls certificate reloaded", timeout=1)


class raw_addr:  # noqa: N801 - a tiny host/port holder for clients.MosquittoSub
    def __init__(self, port):
        self.host = HOST
        self.port = port


def test_tls_port_minus_one_is_off_even_with_a_certificate(broker_factory, pki):  # noqa: F811
    """--tls-port -1 / --wss-port -1 switch the TLS listeners off although --tls-cert is set
    (before the fix "-1" and "not given" were the same value, so 8883/8084 opened anyway)."""
    b = broker_factory(extra_args=["--tls-port", "-1", "--wss-port", "-1",
                                   "--tls-cert", pki.server_crt, "--tls-key", pki.server_key])
    assert listener_port(b, "mqtt") == b.port
    names = {r.get("listener") for r in b.log_records() if r.get("msg") == "listening"}
    assert "mqtts" not in names and "wss" not in names, names
    rc, err = _pub(b.port)
    assert rc == 0, err


def test_tls_port_not_given_defaults_to_8883_with_a_certificate(broker_factory, pki):  # noqa: F811
    """Without --tls-port a certificate turns the TLS listener on at 8883 (skipped when that
    port is taken on this machine)."""
    with socket.socket() as probe:
        try:
            probe.bind((HOST, 8883))
        except OSError:
            pytest.skip("port 8883 is in use")
    b = broker_factory(extra_args=["--wss-port", "-1", "--tls-cert", pki.server_crt,
                                   "--tls-key", pki.server_key])
    assert listener_port(b, "mqtts") == 8883
