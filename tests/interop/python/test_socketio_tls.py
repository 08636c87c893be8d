"""python-socketio (Debian's python3-socketio) over https and wss against courier's Socket.IO
interop test server started with TLS_CERT / TLS_KEY (tests/interop/socketio_server/CONTRACT.md).

The certificate is self-signed, made at test time with the openssl tool (env OPENSSL, default
"openssl") in a temporary directory, and trusted as the only CA through a requests session whose
`verify` is its path (python-engineio hands that path to websocket-client for wss too): verification
stays on. A client without it fails to connect and the server keeps serving. Run with /usr/bin/python3."""
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

import requests
import socketio

import harness

SERVER = harness.ServerUnderTest("COURIER_SOCKETIO_TEST_SERVER")
TIMEOUT = 5.0
CERT_DIR = tempfile.mkdtemp(prefix="courier-tls-")
CERT = os.path.join(CERT_DIR, "cert.pem")
KEY = os.path.join(CERT_DIR, "key.pem")


def setUpModule():
    try:
        subprocess.run([os.environ.get("OPENSSL", "openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", KEY, "-out", CERT],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError("cannot make a test certificate with openssl (scripts/install-deps.sh): %s" % e)
    os.environ["TLS_CERT"] = CERT
    os.environ["TLS_KEY"] = KEY
    SERVER.start()


def tearDownModule():
    error = SERVER.stop()
    shutil.rmtree(CERT_DIR, ignore_errors=True)
    if error:
        raise RuntimeError(error)


def url():
    return "https://%s:%d" % (harness.HOST, SERVER.port)


class TlsTests(unittest.TestCase):
    """Default transports (polling, then upgrade to wss); subclasses pin one."""
    transports = None
    final = "websocket"

    def connect(self):
        session = requests.Session()
        # Without this, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment would replace
        # `verify` for the polling requests.
        session.trust_env = False
        session.verify = CERT
        client = socketio.Client(reconnection=False, http_session=session)
        welcome = []
        got = threading.Event()
        client.on("welcome", lambda data: (welcome.append(data), got.set()))
        kwargs = dict(wait_timeout=TIMEOUT)
        if self.transports:
            kwargs["transports"] = self.transports
        client.connect(url(), **kwargs)
        self.addCleanup(client.disconnect)
        self.assertTrue(got.wait(TIMEOUT), "no welcome")
        self.assertEqual(welcome[0]["id"], client.get_sid())
        return client

    def test_acks_and_binary_over_tls(self):
        client = self.connect()
        blob = bytes(range(256)) * 400  # 100 KiB: several TLS records
        answer = client.call("echo", ("text", {"n": 1}, blob), timeout=TIMEOUT)
        self.assertEqual(answer, ("text", {"n": 1}, blob))
        self.assertEqual(client.transport(), self.final)

    def test_untrusted_certificate_fails_and_server_keeps_serving(self):
        client = socketio.Client(reconnection=False)  # system CAs only: ours is not among them
        kwargs = dict(wait_timeout=TIMEOUT)
        if self.transports:
            kwargs["transports"] = self.transports
        with self.assertRaises(socketio.exceptions.ConnectionError):
            client.connect(url(), **kwargs)
        client.disconnect()
        good = self.connect()
        self.assertEqual(good.call("echo", "still here", timeout=TIMEOUT), "still here")


class PollingOnly(TlsTests):
    transports = ["polling"]
    final = "polling"


class WebSocketOnly(TlsTests):
    transports = ["websocket"]


if __name__ == "__main__":
    unittest.main()
