"""python-socketio (Debian's python3-socketio) against courier's Socket.IO interop test server
(tests/interop/socketio_server/CONTRACT.md): connect with auth, emit, acks both ways, binary,
namespaces, rooms, middleware refusal. Run with /usr/bin/python3."""
import threading
import time
import unittest

import socketio

import harness

SERVER = harness.ServerUnderTest("COURIER_SOCKETIO_TEST_SERVER")
TIMEOUT = 5.0
REFUSAL_WAIT = 2.0


def setUpModule():
    harness.dispatch_messages_in_order()
    SERVER.start()


def tearDownModule():
    error = SERVER.stop()
    if error:
        raise RuntimeError(error)


def url():
    return "http://%s:%d" % (harness.HOST, SERVER.port)


class Waiter:
    """Collects events by name; wait() blocks (bounded) until one arrives."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = {}

    def push(self, name, value):
        with self.cond:
            self.events.setdefault(name, []).append(value)
            self.cond.notify_all()

    def wait(self, name, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.events.get(name):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %r within %.1f s" % (name, timeout))
                self.cond.wait(left)
            return self.events[name].pop(0)


class SocketIOClientTests(unittest.TestCase):
    """Runs with the client's default transports (polling, then upgrade); subclasses pin one."""
    transports = None

    def connect(self, namespaces=None, auth=None):
        client = socketio.Client(reconnection=False)
        waiter = Waiter()
        for event in ("welcome", "emit-back", "question", "auth", "hello-admin", "nsp", "news"):
            client.on(event, (lambda e: lambda *args: waiter.push(e, args))(event))
        kwargs = dict(auth=auth, wait_timeout=TIMEOUT)
        if self.transports:
            kwargs["transports"] = self.transports
        if namespaces:
            kwargs["namespaces"] = namespaces
        client.connect(url(), **kwargs)
        self.addCleanup(client.disconnect)
        return client, waiter

    def test_connect_welcome_with_auth(self):
        client, waiter = self.connect(auth={"user": "py"})
        (welcome,) = waiter.wait("welcome")
        self.assertEqual(welcome["id"], client.get_sid())
        self.assertEqual(welcome["auth"], {"user": "py"})

    def test_emit_and_server_emit_back(self):
        client, waiter = self.connect()
        client.emit("emit-back", ("a", 1, {"b": [True, None]}))
        self.assertEqual(waiter.wait("emit-back"), ("a", 1, {"b": [True, None]}))

    def test_ack_from_server(self):
        client, _ = self.connect()
        self.assertEqual(client.call("echo", ("hello", 42), timeout=TIMEOUT), ("hello", 42))

    def test_big_integer_exact(self):
        client, _ = self.connect()
        self.assertEqual(client.call("echo", 1795329446586541802, timeout=TIMEOUT), 1795329446586541802)

    def test_binary_both_ways(self):
        client, _ = self.connect()
        blob = bytes(range(256))
        answer = client.call("echo", {"name": "blob", "data": blob, "list": [b"\x00\x01", "x"]}, timeout=TIMEOUT)
        self.assertEqual(answer, {"name": "blob", "data": blob, "list": [b"\x00\x01", "x"]})

    def test_ack_to_server(self):
        client, waiter = self.connect()
        client.on("question", lambda payload: ["answer to", payload])
        result = client.call("server-ack", ("life?", 2000), timeout=TIMEOUT)
        self.assertEqual(result, {"answer": [["answer to", "life?"]]})

    def test_server_ack_timeout(self):
        client, _ = self.connect()
        client.on("question", lambda payload: None)  # python-socketio acks with no args
        # A handler returning None still acks (with no arguments) in python-socketio, so the server
        # gets an empty answer rather than a timeout.
        result = client.call("server-ack", ("ping", 500), timeout=TIMEOUT)
        self.assertEqual(result, {"answer": []})

    def test_custom_namespace_auth(self):
        client = socketio.Client(reconnection=False)
        got = Waiter()
        client.on("auth", lambda a: got.push("auth", a), namespace="/custom")
        kwargs = dict(namespaces=["/custom"], auth={"token": "t"}, wait_timeout=TIMEOUT)
        if self.transports:
            kwargs["transports"] = self.transports
        client.connect(url(), **kwargs)
        self.addCleanup(client.disconnect)
        self.assertEqual(got.wait("auth"), {"token": "t"})
        self.assertEqual(client.call("echo", "via custom", namespace="/custom", timeout=TIMEOUT), "via custom")

    def test_middleware_refusal(self):
        client = socketio.Client(reconnection=False)
        refused = Waiter()
        client.on("connect_error", lambda data: refused.push("connect_error", data))
        # python-socketio 5.7 waits wait_timeout once more after a refusal before it raises, so with
        # TIMEOUT each run of this test waited 5 s. The refusal comes within milliseconds (under
        # ASan too), far inside REFUSAL_WAIT.
        kwargs = dict(auth={"token": "bad"}, wait_timeout=REFUSAL_WAIT)
        if self.transports:
            kwargs["transports"] = self.transports
        with self.assertRaises(socketio.exceptions.ConnectionError):
            client.connect(url(), **kwargs)
        # This python-socketio version raises a generic error; the details come with connect_error.
        self.assertEqual(refused.wait("connect_error"),
                         {"message": "not authorized", "data": {"reason": "bad token"}})
        client.disconnect()

    def test_rooms(self):
        a, wa = self.connect()
        b, wb = self.connect()
        room = "py-room-%s" % (self.transports or ["default"])[0]
        self.assertEqual(a.call("join", room, timeout=TIMEOUT), True)
        self.assertEqual(b.call("to-room", (room, "news", {"n": 1}), timeout=TIMEOUT), True)
        self.assertEqual(wa.wait("news"), ({"n": 1},))
        ids = b.call("fetch", room, timeout=TIMEOUT)
        self.assertEqual(ids, [a.get_sid()])


class HarnessDispatchesInOrder(unittest.TestCase):
    """harness.dispatch_messages_in_order() keeps a binary ack's attachment behind its header even
    when decoding the header is slow, which without it loses the ack (its docstring says why)."""

    def test_slow_header_decode_keeps_binary_ack(self):
        decode = socketio.packet.Packet.decode

        def slow_decode(packet, encoded):
            if isinstance(encoded, str) and encoded[:1] in ("5", "6"):  # binary event / binary ack
                time.sleep(0.05)
            return decode(packet, encoded)

        socketio.packet.Packet.decode = slow_decode
        self.addCleanup(setattr, socketio.packet.Packet, "decode", decode)
        client = socketio.Client(reconnection=False)
        client.connect(url(), transports=["websocket"], wait_timeout=TIMEOUT)
        self.addCleanup(client.disconnect)
        self.assertEqual(client.call("echo", ("text", b"\x00\x01"), timeout=TIMEOUT), ("text", b"\x00\x01"))


class PollingOnly(SocketIOClientTests):
    transports = ["polling"]


class WebSocketOnly(SocketIOClientTests):
    transports = ["websocket"]


if __name__ == "__main__":
    unittest.main()
