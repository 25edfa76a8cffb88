"""MQTT 5.0 enhanced authentication (section 4.12) with SCRAM-SHA-256 and SCRAM-SHA-512 over
the password file, spoken in raw bytes by an independent Python SCRAM client (scram.py).

Entries come from ``colony passwd`` (``--scram-sha-256`` and the default ``$7$``) and from a
line made by mosquitto_passwd. Also: refusals (wrong password, unknown method, another method
or packet mid-exchange, timeout), re-authentication (section 4.12.1), and plain passwords and
MQTT 3.1.1 clients next to it. Colony-only: Mosquitto has no built-in SCRAM method.
"""

import os
import subprocess
import time

import pytest

import rawmqtt as raw
import rawmqtt5 as v5
from clients import unique_id
from scram import ScramClient, ScramError

pytestmark = pytest.mark.colony_only

# mosquitto_passwd -c -b pw alice 's3cret!' (see config/password_file_test.cpp).
ALICE_7 = ("alice:$7$101$GqACOFlQTehkB2A+$ekjcCrGryhwsIXtOJuFq+Pz91Rn+n0NzPH3O7hkHtU83iqw11y632"
           "t9qwwJpqry19sqd4yoMdUAL6UzEsTpENw==")

RC_CONTINUE = 0x18
RC_REAUTHENTICATE = 0x19
RC_NOT_AUTHORIZED = 0x87
RC_BAD_CREDENTIALS = 0x86

SHA256 = "SCRAM-SHA-256"
SHA512 = "SCRAM-SHA-512"


def colony_passwd(*args):
    res = subprocess.run([os.environ["COLONY_BIN"], "passwd", *args], capture_output=True,
                         timeout=30, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr.decode()


@pytest.fixture
def password_file(tmp_path):
    """bob: $scram-sha-256$ entry by `colony passwd --scram-sha-256`; carol: $7$ entry by
    `colony passwd`; alice: mosquitto_passwd's $7$ line."""
    path = tmp_path / "pw"
    path.write_text(ALICE_7 + "\n")
    colony_passwd("--scram-sha-256", "-b", str(path), "bob", "hunter2")
    colony_passwd("-b", str(path), "carol", "c4rol pass")
    text = path.read_text()
    assert "bob:$scram-sha-256$4096$" in text and "carol:$7$101$" in text, text
    return str(path)


@pytest.fixture
def auth_broker(broker_factory, password_file):
    return broker_factory(connect_timeout=2,
                          extra_args=["--password-file", password_file,
                                      "--allow-anonymous=false"])


def auth_props(method, data):
    return [(v5.AUTHENTICATION_METHOD, method), (v5.AUTHENTICATION_DATA, data)]


def scram_connect(c, method, user, password, client_id=None, keepalive=60):
    """Runs CONNECT, AUTH 0x18, AUTH 0x18 up to the CONNACK; returns (CONNACK, client)."""
    sc = ScramClient(method, user, password)
    c.send(v5.connect(client_id or unique_id("scram"), keepalive=keepalive,
                      props=auth_props(method, sc.client_first())))
    challenge = c.recv_packet()
    if challenge.type == v5.CONNACK:
        return challenge, sc
    # MQTT-4.12.0-2 / MQTT-4.12.0-5: AUTH 0x18 carrying the CONNECT's method.
    assert challenge.type == v5.AUTH and challenge.rc == RC_CONTINUE, challenge
    assert challenge.props.get(v5.AUTHENTICATION_METHOD) == method, challenge
    final = sc.client_final(challenge.props.get(v5.AUTHENTICATION_DATA))
    c.send(v5.auth(RC_CONTINUE, auth_props(method, final)))
    return c.expect(v5.CONNACK), sc


def assert_scram_success(ack, sc, method):
    assert ack.rc == 0, ack
    # MQTT-4.12.0-5: a successful CONNACK carries the same Authentication Method.
    assert ack.props.get(v5.AUTHENTICATION_METHOD) == method, ack
    assert sc.verify_server_final(ack.props.get(v5.AUTHENTICATION_DATA))


# -- CONNECT exchanges --------------------------------------------------------------------------


@pytest.mark.parametrize("method,user,password", [
    (SHA256, "bob", "hunter2"),      # colony passwd --scram-sha-256
    (SHA512, "alice", "s3cret!"),    # mosquitto_passwd $7$ line
    (SHA512, "carol", "c4rol pass"),  # colony passwd $7$
])
def test_scram_success_and_server_final_verified(auth_broker, method, user, password):
    """CONNECT (client-first) -> AUTH 0x18 (server-first) -> AUTH 0x18 (client-final) ->
    CONNACK 0x00 with server-final, which the client verifies (section 4.12); the session works."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack, sc = scram_connect(c, method, user, password)
        assert_scram_success(ack, sc, method)
        ack2 = c.subscribe([("scram/t", v5.sub_options(qos=1))])
        assert ack2.codes == [1]
        c.send(v5.publish("scram/t", b"hello", qos=0))
        msg = c.await_packet(v5.PUBLISH)
        assert msg.payload == b"hello"


def test_scram_client_detects_a_wrong_server_signature(auth_broker):
    """The server-final really proves the server knows the key: verifying it against another
    exchange's AuthMessage fails (guards the client check used above)."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack, sc = scram_connect(c, SHA256, "bob", "hunter2")
        assert ack.rc == 0
        sc.auth_message += b"x"
        with pytest.raises(ScramError):
            sc.verify_server_final(ack.props.get(v5.AUTHENTICATION_DATA))


@pytest.mark.parametrize("method,user,password", [
    (SHA256, "bob", "wrong"),
    (SHA512, "alice", "wrong"),
    (SHA256, "alice", "s3cret!"),   # alice has no SCRAM-SHA-256 entry
    (SHA256, "nobody", "x"),
])
def test_scram_failure_connack_not_authorized(auth_broker, method, user, password):
    """A proof that does not verify -> CONNACK 0x87 (or 0x86) and close (MQTT-4.12.0-4)."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack, _ = scram_connect(c, method, user, password)
        assert ack.rc in (RC_NOT_AUTHORIZED, RC_BAD_CREDENTIALS), ack
        assert v5.AUTHENTICATION_DATA not in ack.props
        c.expect_closed(3)


def test_unknown_method_connack_0x8c(auth_broker):
    """An Authentication Method the server does not offer -> CONNACK 0x8C, close
    (MQTT-4.12.0-1)."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack = c.connect(unique_id("m"), props=auth_props("SCRAM-SHA-1", b"n,,n=bob,r=abc"))
        assert ack.rc == v5.RC_BAD_AUTH_METHOD, ack
        c.expect_closed(3)


def test_auth_methods_flag_limits_the_methods(broker_factory, password_file):
    b = broker_factory(extra_args=["--password-file", password_file, "--auth-methods",
                                   "SCRAM-SHA-512"])
    with v5.Client(b.host, b.port) as c:
        ack, _ = scram_connect(c, SHA256, "bob", "hunter2")
        assert ack.rc == v5.RC_BAD_AUTH_METHOD, ack
    with v5.Client(b.host, b.port) as c:
        ack, sc = scram_connect(c, SHA512, "alice", "s3cret!")
        assert_scram_success(ack, sc, SHA512)


def test_no_password_file_means_no_methods(broker):
    with v5.Client(broker.host, broker.port) as c:
        ack, _ = scram_connect(c, SHA256, "bob", "hunter2")
        assert ack.rc == v5.RC_BAD_AUTH_METHOD, ack


def test_authentication_data_without_method_is_a_protocol_error(auth_broker):
    """Authentication Data without an Authentication Method is a Protocol Error
    (section 3.1.2.11.10): CONNACK 0x82."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack = c.connect(unique_id("d"), props=[(v5.AUTHENTICATION_DATA, b"n,,n=bob,r=abc")])
        assert ack.rc == v5.RC_PROTOCOL_ERROR, ack
        c.expect_closed(3)


def start_exchange(c, method, user, password):
    sc = ScramClient(method, user, password)
    c.send(v5.connect(unique_id("x"), props=auth_props(method, sc.client_first())))
    challenge = c.expect(v5.AUTH)
    assert challenge.rc == RC_CONTINUE
    return sc, challenge


def test_auth_with_another_method_mid_exchange_is_a_protocol_error(auth_broker):
    """The client's AUTH must carry the CONNECT's method (MQTT-4.12.0-5): otherwise CONNACK
    0x82 (or a bare close), and no session."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        sc, challenge = start_exchange(c, SHA256, "bob", "hunter2")
        final = sc.client_final(challenge.props.get(v5.AUTHENTICATION_DATA))
        c.send(v5.auth(RC_CONTINUE, auth_props(SHA512, final)))
        got = c.expect_closed(3)
        assert [(p.type, p.rc) for p in got] == [(v5.CONNACK, v5.RC_PROTOCOL_ERROR)], got


def test_other_packet_before_connack_is_a_protocol_error(auth_broker):
    """Only AUTH or DISCONNECT until CONNACK (MQTT-3.1.2-30)."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        start_exchange(c, SHA256, "bob", "hunter2")
        c.send(v5.publish("x/y", b"early"))
        got = c.expect_closed(3)
        assert [(p.type, p.rc) for p in got] == [(v5.CONNACK, v5.RC_PROTOCOL_ERROR)], got


def test_auth_reason_other_than_continue_is_a_protocol_error(auth_broker):
    """During the CONNECT exchange the client answers with 0x18 only (MQTT-4.12.0-3)."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        sc, challenge = start_exchange(c, SHA256, "bob", "hunter2")
        final = sc.client_final(challenge.props.get(v5.AUTHENTICATION_DATA))
        c.send(v5.auth(RC_REAUTHENTICATE, auth_props(SHA256, final)))
        got = c.expect_closed(3)
        assert [(p.type, p.rc) for p in got] == [(v5.CONNACK, v5.RC_PROTOCOL_ERROR)], got


def test_tampered_nonce_is_refused(auth_broker):
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        sc, challenge = start_exchange(c, SHA256, "bob", "hunter2")
        server_first = challenge.props.get(v5.AUTHENTICATION_DATA).decode()
        nonce = dict(p.split("=", 1) for p in server_first.split(","))["r"]
        final = sc.client_final(server_first, nonce_override=nonce[:-1] + "X")
        c.send(v5.auth(RC_CONTINUE, auth_props(SHA256, final)))
        ack = c.expect(v5.CONNACK)
        assert ack.rc in (RC_NOT_AUTHORIZED, RC_BAD_CREDENTIALS), ack


def test_no_client_final_times_out(auth_broker):
    """A client that stops after the server-first is closed within the CONNECT timeout
    (2 s here), with no CONNACK."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        start_exchange(c, SHA256, "bob", "hunter2")
        t0 = time.monotonic()
        got = c.expect_closed(6)
        assert time.monotonic() - t0 >= 1.5  # closed by the timeout, not by something else
        assert not [p for p in got if p.type == v5.CONNACK], got


# -- re-authentication (section 4.12.1) ---------------------------------------------------------


def reauth(c, method, user, password, reply_method=None):
    """AUTH 0x19 (client-first) -> AUTH 0x18 -> AUTH 0x18 (client-final); returns the
    packet that follows and the client."""
    sc = ScramClient(method, user, password)
    c.send(v5.auth(RC_REAUTHENTICATE, auth_props(method, sc.client_first())))
    challenge = c.expect(v5.AUTH)
    assert challenge.rc == RC_CONTINUE, challenge
    assert challenge.props.get(v5.AUTHENTICATION_METHOD) == method
    final = sc.client_final(challenge.props.get(v5.AUTHENTICATION_DATA))
    c.send(v5.auth(RC_CONTINUE, auth_props(reply_method or method, final)))
    return sc


@pytest.mark.parametrize("method,user,password", [(SHA256, "bob", "hunter2"),
                                                  (SHA512, "alice", "s3cret!")])
def test_reauthentication_success(auth_broker, method, user, password):
    """AUTH 0x19 with the CONNECT's method (MQTT-4.12.1-1) runs the exchange again; success ->
    AUTH 0x00 with server-final; the connection carries on."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack, sc = scram_connect(c, method, user, password)
        assert_scram_success(ack, sc, method)
        sc2 = reauth(c, method, user, password)
        done = c.expect(v5.AUTH)
        assert done.rc == 0, done
        assert done.props.get(v5.AUTHENTICATION_METHOD) == method
        assert sc2.verify_server_final(done.props.get(v5.AUTHENTICATION_DATA))
        c.ping()
        # And once more: re-authentication can be repeated.
        reauth(c, method, user, password)
        assert c.expect(v5.AUTH).rc == 0
        c.ping()


def test_reauthentication_failure_disconnects(auth_broker):
    """A failed re-authentication -> DISCONNECT 0x87 and close (MQTT-4.12.1-2)."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack, sc = scram_connect(c, SHA256, "bob", "hunter2")
        assert_scram_success(ack, sc, SHA256)
        reauth(c, SHA256, "bob", "not-the-password")
        c.expect_disconnect(RC_NOT_AUTHORIZED)


def test_reauthentication_as_another_user_disconnects(auth_broker):
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack, sc = scram_connect(c, SHA512, "alice", "s3cret!")
        assert_scram_success(ack, sc, SHA512)
        reauth(c, SHA512, "carol", "c4rol pass")
        c.expect_disconnect(RC_NOT_AUTHORIZED)


def test_reauthentication_with_another_method_is_a_protocol_error(auth_broker):
    """Re-authentication must use the CONNECT's method (MQTT-4.12.1-1): DISCONNECT 0x82."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack, sc = scram_connect(c, SHA256, "bob", "hunter2")
        assert_scram_success(ack, sc, SHA256)
        other = ScramClient(SHA512, "alice", "s3cret!")
        c.send(v5.auth(RC_REAUTHENTICATE, auth_props(SHA512, other.client_first())))
        c.expect_disconnect(v5.RC_PROTOCOL_ERROR)


def test_auth_without_method_in_connect_is_a_protocol_error(auth_broker):
    """No Authentication Method in CONNECT -> the client must not send AUTH (MQTT-4.12.0-7);
    the server answers DISCONNECT 0x82."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        c.connect_ok(unique_id("plain"), username="bob", password=b"hunter2")
        sc = ScramClient(SHA256, "bob", "hunter2")
        c.send(v5.auth(RC_REAUTHENTICATE, auth_props(SHA256, sc.client_first())))
        c.expect_disconnect(v5.RC_PROTOCOL_ERROR)


# -- plain passwords and MQTT 3.1.1 are unaffected ----------------------------------------------


@pytest.mark.parametrize("user,password", [("bob", b"hunter2"), ("alice", b"s3cret!"),
                                           ("carol", b"c4rol pass")])
def test_plain_password_still_works_for_every_entry_kind(auth_broker, user, password):
    """A $scram-sha-256$ entry also checks plain CONNECT passwords; $7$ entries as before."""
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack = c.connect_ok(unique_id("pw"), username=user, password=password)
        assert v5.AUTHENTICATION_METHOD not in ack.props  # MQTT-4.12.0-6
    with v5.Client(auth_broker.host, auth_broker.port) as c:
        ack = c.connect(unique_id("pw"), username=user, password=password + b"x")
        assert ack.rc == RC_BAD_CREDENTIALS, ack


def test_v311_client_unaffected(auth_broker):
    with raw.RawClient(auth_broker.host, auth_broker.port) as c:
        c.send(raw.connect(unique_id("v3"), username="bob", password=b"hunter2"))
        assert c.expect(raw.CONNACK).rc == 0
        c.ping()
    with raw.RawClient(auth_broker.host, auth_broker.port) as c:
        c.send(raw.connect(unique_id("v3"), username="bob", password=b"nope"))
        assert c.expect(raw.CONNACK).rc in (4, 5)


def test_scram_user_is_the_acl_username(broker_factory, password_file, tmp_path):
    """The SCRAM user is the username for ACL rules (%u), as after a password login."""
    acl = tmp_path / "acl.conf"
    acl.write_text("allow username * 3 %u/#\n")
    b = broker_factory(extra_args=["--password-file", password_file, "--acl-file", str(acl)])
    with v5.Client(b.host, b.port) as c:
        ack, sc = scram_connect(c, SHA256, "bob", "hunter2")
        assert_scram_success(ack, sc, SHA256)
        assert c.subscribe([("bob/in", v5.sub_options(qos=1))]).codes == [1]
        assert c.subscribe([("alice/in", v5.sub_options(qos=1))], packet_id=2).codes[0] >= 0x80
