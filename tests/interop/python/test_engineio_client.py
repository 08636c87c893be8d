"""Interop tests: the real python-engineio client against courier's Engine.IO v4 server.

Server contract (the conformance server):
  * listens on 127.0.0.1:$PORT, ready once the port accepts TCP, exits on SIGTERM;
  * /engine.io/ is a raw Engine.IO v4 endpoint with pingInterval 300 ms,
    pingTimeout 200 ms, maxPayload 1e6, polling + websocket with upgrade;
  * every message received is echoed back on the same session
    (text as text, binary as binary).

Which server is started:
  * $COURIER_SERVER_CMD   -- a full shell command line (wins if set), or
  * $COURIER_CONFORMANCE_SERVER -- path to the server binary.
The harness picks a free port and passes it as $PORT.
Set $COURIER_TEST_DEBUG=1 to log the client's packets to stderr.

Run with Debian's interpreter, which has python3-engineio:
  /usr/bin/python3 -m unittest -v test_engineio_client
"""

import importlib.metadata
import os
import queue
import sys
import threading
import time
import unittest

import engineio

import harness
from engineio import packet as eio_packet
import requests

HOST = "127.0.0.1"
ENGINEIO_PATH = "engine.io"
EXPECTED_PING_INTERVAL = 0.3
EXPECTED_PING_TIMEOUT = 0.2
RECV_TIMEOUT = 5.0

SERVER = harness.ServerUnderTest("COURIER_CONFORMANCE_SERVER")


def setUpModule():
    if os.environ.get("COURIER_TEST_DEBUG"):
        import logging
        logging.basicConfig(format="%(relativeCreated)9.1f %(threadName)s %(message)s")
        logging.getLogger("engineio.client").setLevel(logging.INFO)
    try:
        versions = ", ".join("%s %s" % (d, importlib.metadata.version(d)) for d in
                             ("python-engineio", "websocket-client", "requests"))
    except importlib.metadata.PackageNotFoundError:
        versions = "unknown versions"
    sys.stderr.write("client: %s (python %s)\n" % (versions, sys.version.split()[0]))
    try:
        SERVER.start()
    except BaseException:
        SERVER.stop()
        raise


def tearDownModule():
    error = SERVER.stop()
    if error:
        raise AssertionError(error)


def server_url():
    return "http://%s:%d" % (HOST, SERVER.port)


# --------------------------------------------------------------------------- client helper


def _describe(value, limit=60):
    r = repr(value)
    if len(r) > limit:
        r = r[:limit] + "..."
    size = " len=%d" % len(value) if isinstance(value, (str, bytes)) else ""
    return "%s%s %s" % (type(value).__name__, size, r)


class RecordingClient(engineio.Client):
    """engineio.Client that records what arrives, for the tests to wait on.

    Messages are taken through the public on('message') handler. python-engineio runs
    each message handler in its own thread, so that queue is not ordered; the
    _receive_packet hook (called in order from the read loop) keeps an ordered log
    and counts the server's PINGs.
    """

    def __init__(self):
        super().__init__(handle_sigint=False, request_timeout=5)
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self._lock = threading.Condition()
        self.ordered = []
        self.ping_times = []
        self.on("connect", self.connected.set)
        self.on("disconnect", self.disconnected.set)
        self.on("message", self.messages.put)

    def _send_request(self, method, url, headers=None, body=None, timeout=None):
        # python-engineio 4.3.4 passes the polling POST payload to requests as a
        # str, which http.client encodes as Latin-1: any other character kills the
        # client's write loop, and Latin-1-only characters reach the server as
        # invalid UTF-8. Send the payload as UTF-8, as the Engine.IO protocol says.
        if isinstance(body, str):
            body = body.encode("utf-8")
        return super()._send_request(method, url, headers=headers, body=body,
                                     timeout=timeout)

    def _receive_packet(self, pkt):
        with self._lock:
            if pkt.packet_type == eio_packet.PING:
                self.ping_times.append(time.monotonic())
            elif pkt.packet_type == eio_packet.MESSAGE:
                self.ordered.append(pkt.data)
            self._lock.notify_all()
        super()._receive_packet(pkt)

    def recv(self, timeout=RECV_TIMEOUT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no message received within %.1f s (client state: %s)"
                                 % (timeout, self.state)) from None

    def wait_ordered(self, count, timeout=RECV_TIMEOUT):
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.ordered) >= count, timeout):
                raise AssertionError("received %d of %d messages within %.1f s (client state: %s)"
                                     % (len(self.ordered), count, timeout, self.state))
            return list(self.ordered)

    def ping_count(self):
        with self._lock:
            return len(self.ping_times)


# --------------------------------------------------------------------------- tests


class _EngineIOClientTests:
    """Shared tests; subclasses choose the transports passed to connect()."""

    TRANSPORTS = None          # list passed to Client.connect, None = default
    FINAL_TRANSPORT = None     # what client.transport() must report after connect

    def setUp(self):
        self.assertIsNone(SERVER.proc.poll(), "server is not running")
        self.client = self.connect()

    def tearDown(self):
        for c in getattr(self, "_clients", []):
            if c.state == "connected":
                c.disconnect()
            if c.http is not None:
                c.http.close()
        self.assertIsNone(SERVER.proc.poll(),
                          "server exited during the test; output:\n" + SERVER.log_tail())

    def connect(self):
        c = RecordingClient()
        self.__dict__.setdefault("_clients", []).append(c)
        kwargs = {"engineio_path": ENGINEIO_PATH}
        if self.TRANSPORTS is not None:
            kwargs["transports"] = list(self.TRANSPORTS)
        c.connect(server_url(), **kwargs)
        self.assertTrue(c.connected.wait(RECV_TIMEOUT), "connect handler not called")
        self.assertEqual(c.state, "connected")
        return c

    def echo(self, data, client=None):
        c = client or self.client
        c.send(data)
        return c.recv()

    def assertSameMessage(self, got, expected):
        """Same type (str vs bytes) and same value, with a short failure message."""
        if type(got) is type(expected) and got == expected:
            return
        self.fail("expected %s, got %s" % (_describe(expected), _describe(got)))

    def assertEchoes(self, data, client=None):
        self.assertSameMessage(self.echo(data, client), data)

    # -- handshake

    def test_handshake(self):
        c = self.client
        self.assertIsInstance(c.sid, str)
        self.assertTrue(c.sid, "empty sid")
        self.assertEqual(c.transport(), self.FINAL_TRANSPORT)
        self.assertAlmostEqual(c.ping_interval, EXPECTED_PING_INTERVAL)
        self.assertAlmostEqual(c.ping_timeout, EXPECTED_PING_TIMEOUT)
        self.assertIsInstance(c.upgrades, list)

    def test_two_sessions_have_distinct_sids(self):
        other = self.connect()
        self.assertNotEqual(self.client.sid, other.sid)

    # -- echo

    def test_text_echo(self):
        text = "hello courier \u2713 \u00fcn\u00efc\u00f6d\u00e9 \U0001f680"
        self.assertEchoes(text)

    def test_binary_echo(self):
        self.assertEchoes(bytes(range(256)) * 4)

    def test_text_that_looks_binary_stays_text(self):
        # Over polling a leading 'b' marks base64 binary; a text message 'b...'
        # is carried as '4b...' and must come back as the same text.
        self.assertEchoes("bAAEC")

    def test_empty_text_echo(self):
        self.assertEchoes("")

    def test_json_text_echo(self):
        # python-engineio JSON-encodes dicts/lists on send and JSON-decodes text
        # on receive, so this checks the server echoes the text byte for byte.
        data = {"k": [1, "two", None, {"x": 3.5}], "u": "\u00e9"}
        self.assertEqual(self.echo(data), data)

    def test_large_text_echo(self):
        text = "".join(chr(ord("a") + i % 26) for i in range(100 * 1024))
        self.assertEchoes(text)

    def test_large_binary_echo(self):
        self.assertEchoes(os.urandom(100 * 1024))

    def test_many_messages_in_order(self):
        # At most 14: python-engineio 4.3.4 rejects a polling response holding
        # more than 16 packets (Payload.max_decode_packets), and the server may
        # batch all the echoes plus a PING into one response.
        sent = []
        for i in range(14):
            sent.append("msg-%d" % i if i % 3 else ("bin-%d" % i).encode())
        for m in sent:
            self.client.send(m)
        got = self.client.wait_ordered(len(sent))
        self.assertEqual(len(got), len(sent), "extra messages: %r" % got[len(sent):])
        for i, (g, s) in enumerate(zip(got, sent)):
            with self.subTest(index=i):
                self.assertSameMessage(g, s)

    def test_echo_stays_on_own_session(self):
        other = self.connect()
        self.client.send("for-first")
        other.send(b"for-second")
        self.assertSameMessage(self.client.recv(), "for-first")
        self.assertSameMessage(other.recv(), b"for-second")
        # Neither got the other's echo (nor a second copy of its own).
        for c in (self.client, other):
            with self.assertRaises(queue.Empty):
                c.messages.get(timeout=0.3)

    # -- heartbeat

    def test_stays_connected_across_ping_intervals(self):
        c = self.client
        start_pings = c.ping_count()
        # Wait >= 5 ping intervals; the connection must not drop meanwhile.
        self.assertFalse(c.disconnected.wait(1.6), "client disconnected during heartbeat window")
        self.assertEqual(c.state, "connected")
        self.assertEqual(c.transport(), self.FINAL_TRANSPORT)
        pings = c.ping_count() - start_pings
        self.assertGreaterEqual(pings, 3, "server sent only %d PINGs in 1.6 s "
                                          "(pingInterval 300 ms)" % pings)
        self.assertEchoes("still here")
        self.assertEchoes(b"\x00still\xff")

    # -- close

    def test_disconnect(self):
        c = self.client
        sid = c.sid
        self.assertEchoes("before close")
        t0 = time.monotonic()
        c.disconnect()
        elapsed = time.monotonic() - t0
        self.assertTrue(c.disconnected.is_set(), "disconnect handler not called")
        self.assertEqual(c.state, "disconnected")
        self.assertIsNone(c.sid)
        # python-engineio joins its read loop; with polling that waits for the
        # server to answer the pending GET once the session is closed.
        self.assertLess(elapsed, 3.0, "disconnect took %.1f s" % elapsed)
        self._assert_session_gone(sid)
        # The server still accepts new sessions afterwards.
        again = self.connect()
        self.assertEchoes("after", client=again)

    def _assert_session_gone(self, sid):
        url = "%s/%s/" % (server_url(), ENGINEIO_PATH)
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        deadline = time.monotonic() + 3.0
        status = None
        while time.monotonic() < deadline:
            r = requests.get(url, params=params, timeout=2)
            status = r.status_code
            if status == 400:
                return
            time.sleep(0.1)
        self.fail("closed session %s still answers polling GET (last status %s)" % (sid, status))


class PollingOnlyTests(_EngineIOClientTests, unittest.TestCase):
    TRANSPORTS = ["polling"]
    FINAL_TRANSPORT = "polling"

    def test_handshake_offers_websocket_upgrade(self):
        self.assertIn("websocket", self.client.upgrades)


class WebSocketOnlyTests(_EngineIOClientTests, unittest.TestCase):
    TRANSPORTS = ["websocket"]
    FINAL_TRANSPORT = "websocket"


class DefaultUpgradeTests(_EngineIOClientTests, unittest.TestCase):
    """Default transports: polling handshake, then upgrade to websocket."""
    TRANSPORTS = None
    FINAL_TRANSPORT = "websocket"

    def test_upgraded_from_polling(self):
        c = self.client
        # base_url is set by the polling handshake and kept across the upgrade.
        self.assertIn("transport=polling", c.base_url)
        self.assertIn("sid=" + c.sid, c.base_url)
        self.assertEqual(c.transport(), "websocket")


if __name__ == "__main__":
    unittest.main(verbosity=2)
