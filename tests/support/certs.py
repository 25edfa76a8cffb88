"""Test certificates made with the ``openssl`` command line tool.

``make_pki(directory)`` writes, all PEM:
  ca.crt / ca.key                 the test CA
  server.crt / server.key         server certificate for 127.0.0.1 and localhost (SAN)
  server2.crt / server2.key       a second server certificate (rotation tests)
  client.crt / client.key         client certificate, CN=tls-client, signed by the CA
  expired.crt / expired.key       client certificate signed by the CA, expired in 2020
  other-ca.crt / other-ca.key     an unrelated CA
  rogue.crt / rogue.key           client certificate signed by the unrelated CA

and returns a ``Pki`` with the paths.  ``cert_serial(path)`` and ``served_cert(host, port)``
help to check which certificate a server presents.
"""

import os
import re
import subprocess

OPENSSL = "openssl"


def _run(args, cwd=None, input=None):
    proc = subprocess.run([OPENSSL] + args, cwd=cwd, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), proc.stderr.decode(errors="replace")))
    return proc.stdout


class Pki:
    def __init__(self, directory):
        self.dir = directory

    def path(self, name):
        return os.path.join(self.dir, name)

    def __getattr__(self, name):
        # pki.server_crt -> <dir>/server.crt
        if name.endswith(("_crt", "_key")):
            base, ext = name.rsplit("_", 1)
            return os.path.join(self.dir, base.replace("_", "-") + "." + ext)
        raise AttributeError(name)


def _key(path):
    _run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path])


def _ca(directory, name, cn):
    key = os.path.join(directory, name + ".key")
    crt = os.path.join(directory, name + ".crt")
    _key(key)
    _run(["req", "-x509", "-new", "-key", key, "-sha256", "-days", "3650", "-subj", "/CN=" + cn,
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", crt])
    return crt, key


_serial = [0x1000]


def _next_serial():
    _serial[0] += 1
    return "0x%X" % (_serial[0] + (os.getpid() % 1000) * 0x10000)


def _signed(directory, name, cn, ca_crt, ca_key, server):
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    crt = os.path.join(directory, name + ".crt")
    ext = os.path.join(directory, name + ".ext")
    _key(key)
    _run(["req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr])
    with open(ext, "w") as fh:
        fh.write("basicConstraints=CA:FALSE\n")
        if server:
            fh.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
            fh.write("extendedKeyUsage=serverAuth\n")
        else:
            fh.write("extendedKeyUsage=clientAuth\n")
    _run(["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial", _next_serial(),
          "-days", "825", "-sha256", "-extfile", ext, "-out", crt])
    return crt, key


def _expired(directory, name, cn, ca_crt, ca_key):
    """A client certificate valid from 2020-01-01 to 2020-01-02 (``openssl ca`` can backdate)."""
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    crt = os.path.join(directory, name + ".crt")
    cadir = os.path.join(directory, name + "-ca")
    os.makedirs(cadir, exist_ok=True)
    open(os.path.join(cadir, "index.txt"), "w").close()
    with open(os.path.join(cadir, "serial"), "w") as fh:
        fh.write("1000\n")
    conf = os.path.join(cadir, "ca.cnf")
    with open(conf, "w") as fh:
        fh.write("""[ ca ]
default_ca = test_ca
[ test_ca ]
dir = %s
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
x509_extensions = client_ext
[ anything ]
commonName = supplied
[ client_ext ]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
""" % cadir)
    _key(key)
    _run(["req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr])
    _run(["ca", "-batch", "-config", conf, "-cert", ca_crt, "-keyfile", ca_key, "-in", csr,
          "-out", crt, "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext"])
    return crt, key


def make_pki(directory):
    os.makedirs(directory, exist_ok=True)
    ca_crt, ca_key = _ca(directory, "ca", "Colony Test CA")
    _signed(directory, "server", "localhost", ca_crt, ca_key, server=True)
    _signed(directory, "server2", "localhost", ca_crt, ca_key, server=True)
    _signed(directory, "client", "tls-client", ca_crt, ca_key, server=False)
    _expired(directory, "expired", "expired-client", ca_crt, ca_key)
    other_crt, other_key = _ca(directory, "other-ca", "Some Other CA")
    _signed(directory, "rogue", "rogue-client", other_crt, other_key, server=False)
    return Pki(directory)


def cert_serial(path):
    """Serial number of a PEM certificate file, upper-case hex without leading zeros."""
    out = _run(["x509", "-in", path, "-noout", "-serial"]).decode()
    return out.strip().split("=", 1)[1].upper().lstrip("0")


def cert_fingerprint(pem_text):
    out = _run(["x509", "-noout", "-fingerprint", "-sha256"], input=pem_text.encode()).decode()
    return out.strip().split("=", 1)[1]


def served_cert(host, port, extra=(), timeout=15):
    """Connects with ``openssl s_client`` and returns (returncode, serial, stdout+stderr)."""
    proc = subprocess.run([OPENSSL, "s_client", "-connect", "%s:%d" % (host, port),
                           "-servername", "localhost"] + list(extra),
                          input=b"", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    text = proc.stdout.decode(errors="replace")
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    serial = None
    if m:
        out = _run(["x509", "-noout", "-serial"], input=m.group(0).encode()).decode()
        serial = out.strip().split("=", 1)[1].upper().lstrip("0")
    return proc.returncode, serial, text
