"""python-socketio (Debian's python3-socketio) over https and wss against courier's Socket.IO
interop test server started with TLS_CERT / TLS_KEY (tests/interop/socketio_server/CONTRACT.md).

The certificate is self-signed, made at test time with the openssl tool (env OPENSSL, default
"openssl") in a temporary directory, and trusted as the only CA through a requests session whose
`verify` is its path (python-engineio hands that path to websocket-client for wss too): verification
stays on. A client without it fails to connect and the server keeps serving. Run with /usr/bin/python3.

websocket-client's TLS sockets are wrapped by ssl_threads (its docstring says why: python-engineio's
read and write threads share one SSLSocket, and CPython then reports spurious EOFs on it);
SslSocketSharedByThreads checks that wrapper without the server. The client's messages are handled in
the order they arrived (harness.dispatch_messages_in_order says why)."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import requests
import socketio

import harness
import ssl_threads

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
    ssl_threads.install()
    harness.dispatch_messages_in_order()
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


# A TLS peer in its own process (no GIL shared with the client's threads) that reads and discards
# everything and never writes or closes: the client's reads can only time out. Prints its port.
SINK = """
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
def drain(conn):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        while tls.recv(65536):
            pass
    except OSError:
        pass
while True:
    threading.Thread(target=drain, args=(listener.accept()[0],), daemon=True).start()
"""


class SslSocketSharedByThreads(unittest.TestCase):
    """One thread reads while another writes the same client TLS socket, as python-engineio's
    wss transport does. On the bare SSLSocket, recv() now and then returns b'' (or fails) although
    the peer never sends or closes; through ssl_threads it only times out."""
    SECONDS = 2.0

    def test_reads_only_time_out_while_another_thread_writes(self):
        sink = subprocess.Popen([sys.executable, "-c", SINK, CERT, KEY], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        self.addCleanup(sink.wait)
        self.addCleanup(sink.kill)
        port = int(sink.stdout.readline())
        context = ssl.create_default_context(cafile=CERT)
        raw = context.wrap_socket(socket.create_connection((harness.HOST, port), timeout=TIMEOUT),
                                  server_hostname=harness.HOST)
        self.addCleanup(raw.close)
        tls = ssl_threads.SerializedSslSocket(raw)
        tls.settimeout(0.002)  # many reads, each one a chance for the race
        stop = time.monotonic() + self.SECONDS
        spurious, timeouts = [], [0]

        def reader():
            while time.monotonic() < stop:
                try:
                    spurious.append(tls.recv(2))
                    return
                except socket.timeout:
                    timeouts[0] += 1
                except OSError as e:
                    spurious.append(e)
                    return

        def writer():
            blob = b"x" * 1024
            while time.monotonic() < stop:
                try:
                    tls.sendall(blob)
                except socket.timeout:
                    pass

        threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(spurious, [], "a read that did not time out (after %d that did)" % timeouts[0])
        self.assertGreater(timeouts[0], 0)


if __name__ == "__main__":
    unittest.main()
