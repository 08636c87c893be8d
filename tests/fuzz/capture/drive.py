"""Drives the interop test server through the capture proxy with Debian's python-socketio client
(polling, then WebSocket), so the fuzz seeds also hold a second real client's bytes.
Used by capture.py only. Usage: /usr/bin/python3 drive.py <port>"""
import sys

import socketio

URL = "http://127.0.0.1:%s" % sys.argv[1]


def exercise(transports):
    client = socketio.Client(reconnection=False)
    client.connect(URL, transports=transports, auth={"token": "py", "n": 1.5}, wait_timeout=5)
    client.call("echo", ("text", 7, {"k": [True, None, "v"]}), timeout=5)
    client.call("echo", (b"\x00\x01binary\xff", {"nested": b"\x10" * 64}), timeout=5)
    client.call("join", "py-room", timeout=5)
    client.call("to-room", ("py-room", "news", "from python"), timeout=5)
    client.call("rooms", timeout=5)
    client.emit("emit-back", {"unicode": "\u00e9\u4e2d\U0001f600"})
    client.call("count", timeout=5)
    client.disconnect()


exercise(["polling"])
exercise(["websocket"])
