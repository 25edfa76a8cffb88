"""A SCRAM client (RFC 5802, RFC 7677) for enhanced-authentication tests (MQTT 5 section 4.12).

Written from the RFCs with hashlib/hmac only, independent of the broker's C++ code, so a bug
cannot hide on both sides::

    c = ScramClient("SCRAM-SHA-256", "user", "pencil")
    first = c.client_first()                 # CONNECT Authentication Data
    final = c.client_final(server_first)     # AUTH 0x18 Authentication Data
    c.verify_server_final(server_final)      # CONNACK / AUTH 0x00 Authentication Data
"""

import base64
import hashlib
import hmac
import os

DIGESTS = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


def saslname(user):
    """RFC 5802 section 5.1: ',' and '=' are escaped as '=2C' and '=3D'."""
    return user.replace("=", "=3D").replace(",", "=2C")


class ScramError(AssertionError):
    pass


class ScramClient:
    def __init__(self, method, user, password, nonce=None):
        self.method = method
        self.digest = DIGESTS[method]
        self.user = user
        self.password = password.encode() if isinstance(password, str) else password
        self.nonce = nonce or base64.b64encode(os.urandom(18)).decode()
        self.gs2_header = "n,,"
        self.client_first_bare = None
        self.auth_message = None
        self.server_key = None

    def _hmac(self, key, data):
        return hmac.new(key, data, self.digest).digest()

    def _h(self, data):
        return hashlib.new(self.digest, data).digest()

    def client_first(self):
        self.client_first_bare = "n=%s,r=%s" % (saslname(self.user), self.nonce)
        return (self.gs2_header + self.client_first_bare).encode()

    def client_final(self, server_first, nonce_override=None):
        server_first = server_first.decode() if isinstance(server_first, bytes) else server_first
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
        if not nonce.startswith(self.nonce) or len(nonce) <= len(self.nonce):
            raise ScramError("server nonce does not extend the client nonce: %r" % nonce)
        salted = hashlib.pbkdf2_hmac(self.digest, self.password, salt, iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = self._h(client_key)
        channel = base64.b64encode(self.gs2_header.encode()).decode()
        without_proof = "c=%s,r=%s" % (channel, nonce_override or nonce)
        self.auth_message = ",".join([self.client_first_bare, server_first, without_proof]).encode()
        signature = self._hmac(stored_key, self.auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_key = self._hmac(salted, b"Server Key")
        return ("%s,p=%s" % (without_proof, base64.b64encode(proof).decode())).encode()

    def verify_server_final(self, server_final):
        server_final = server_final.decode() if isinstance(server_final, bytes) else server_final
        if not server_final.startswith("v="):
            raise ScramError("server-final without a verifier: %r" % server_final)
        expected = self._hmac(self.server_key, self.auth_message)
        if not hmac.compare_digest(base64.b64decode(server_final[2:]), expected):
            raise ScramError("server signature does not verify")
        return True
