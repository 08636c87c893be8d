#!/usr/bin/python3
"""Records real traffic and turns it into libFuzzer seed corpora (tests/fuzz/seeds/<target>/).

Runs the interop test server (courier) and the Node reference server (socket.io 4.8 with
@socket.io/redis-adapter) as one cluster over a real redis-server, puts a recording TCP proxy in
front of courier's HTTP port and in front of Redis, drives them with the real socket.io-client
(drive.js) and python-socketio (drive.py), then splits what the clients and servers really sent:
  raw_client_streams/  whole client->server byte streams (HTTP requests, upgrades, WebSocket frames)
  query_fuzz/          request query strings
  engine_payload_fuzz/ polling bodies and WebSocket messages (Engine.IO packets)
  sio_decoder_fuzz/    Socket.IO packets with their binary attachments (the target's input format)
  msgpack_fuzz/        msgpack messages the two adapters PUBLISHed
Usage: capture.py <build-dir> [out-seeds-dir]   (a developer tool, not a test: rerun when the
protocol surface grows, review the diff, commit the seeds).
"""
import asyncio
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
NODE_DIR = os.path.join(ROOT, "tests", "interop", "node")
MAX_PER_TARGET = 80
MAX_SEED = 64 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


class Recorder:
    """A TCP proxy that keeps every connection's client->server bytes."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.streams = []

    async def handle(self, reader, writer):
        record = bytearray()
        self.streams.append(record)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pump(src, dst, keep):
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    if keep is not None:
                        keep.extend(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    dst.close()
                except OSError:
                    pass

        await asyncio.gather(pump(reader, up_writer, record), pump(up_reader, writer, None))


def run_proxies(recorders, ports, stop_event_holder):
    loop = asyncio.new_event_loop()

    async def main():
        servers = [await asyncio.start_server(r.handle, "127.0.0.1", p) for r, p in zip(recorders, ports)]
        stop = asyncio.Event()
        stop_event_holder.append((loop, stop))
        await stop.wait()
        for s in servers:
            s.close()

    loop.run_until_complete(main())


# ---- splitting the recordings ----------------------------------------------------------------

def split_http(stream):
    """Yields ("request", method, target, body) and ("ws", opcode, payload) from one connection."""
    data = bytes(stream)
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return
        head = data[pos:end].decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 2:
            return
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = data[end + 4:end + 4 + length]
        yield ("request", parts[0], parts[1], body)
        pos = end + 4 + length
        if headers.get("upgrade", "").lower() == "websocket":
            yield from split_ws(data[pos:])
            return


def split_ws(data):
    pos = 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        opcode, masked, length = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        pos += 2
        if length == 126:
            length = int.from_bytes(data[pos:pos + 2], "big")
            pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos:pos + 8], "big")
            pos += 8
        mask = data[pos:pos + 4] if masked else b"\0\0\0\0"
        pos += 4 if masked else 0
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(data[pos:pos + length]))
        pos += length
        yield ("ws", opcode, payload)


def split_resp(stream):
    """Yields each command (list of bytes) a Redis client sent."""
    data = bytes(stream)
    pos = 0
    while pos < len(data) and data[pos:pos + 1] == b"*":
        eol = data.find(b"\r\n", pos)
        count = int(data[pos + 1:eol])
        pos = eol + 2
        args = []
        for _ in range(count):
            eol = data.find(b"\r\n", pos)
            n = int(data[pos + 1:eol])
            pos = eol + 2
            args.append(data[pos:pos + n])
            pos += n + 2
        yield args


def sio_seed(text, attachments):
    # sio_decoder_fuzz: byte 0 % 4 = attachment count fed after the text; parts split at NUL.
    n = min(len(attachments), 3)
    return bytes([n]) + text + b"".join(b"\0" + a for a in attachments[:n])


def collect(http_streams, redis_streams):
    seeds = {k: set() for k in ("raw_client_streams", "query_fuzz", "engine_payload_fuzz",
                                "sio_decoder_fuzz", "msgpack_fuzz")}
    for stream in http_streams:
        if stream:
            seeds["raw_client_streams"].add(bytes(stream[:MAX_SEED]))
        pending = None  # (text, [attachments]) waiting for binary WebSocket frames
        for item in split_http(stream):
            if item[0] == "request":
                _, _method, target, body = item
                if "?" in target:
                    seeds["query_fuzz"].add(target.split("?", 1)[1].encode())
                if body:
                    seeds["engine_payload_fuzz"].add(body)
                    # A polling body: packets split by 0x1e; binary attachments follow as "b<base64>".
                    text, attachments = None, []
                    for packet in body.split(b"\x1e") + [b""]:
                        if packet.startswith(b"b") and text is not None:
                            try:
                                attachments.append(base64.b64decode(packet[1:]))
                            except ValueError:
                                pass
                            continue
                        if text is not None:
                            seeds["sio_decoder_fuzz"].add(sio_seed(text, attachments))
                        text, attachments = (packet[1:], []) if packet.startswith(b"4") else (None, [])
            else:
                _, opcode, payload = item
                if opcode == 1:
                    seeds["engine_payload_fuzz"].add(payload)
                    if pending and pending[0]:
                        seeds["sio_decoder_fuzz"].add(sio_seed(pending[0], pending[1]))
                    pending = (payload[1:], []) if payload.startswith(b"4") else None
                    if pending:
                        seeds["sio_decoder_fuzz"].add(sio_seed(pending[0], []))
                elif opcode == 2 and pending:
                    pending[1].append(payload)
        if pending and pending[1]:
            seeds["sio_decoder_fuzz"].add(sio_seed(pending[0], pending[1]))
    for stream in redis_streams:
        for args in split_resp(stream):
            if args and args[0].upper() in (b"PUBLISH", b"SPUBLISH") and len(args) >= 3:
                seeds["msgpack_fuzz"].add(args[2])
    return seeds


def write_seeds(seeds, out_dir):
    for target, items in seeds.items():
        folder = os.path.join(out_dir, target)
        os.makedirs(folder, exist_ok=True)
        # Prefer variety: shortest first per distinct 8-byte prefix, then the rest by size.
        chosen, prefixes = [], set()
        for item in sorted(items, key=len):
            if item[:8] not in prefixes:
                prefixes.add(item[:8])
                chosen.append(item)
        for item in sorted(items, key=len):
            if len(chosen) >= MAX_PER_TARGET:
                break
            if item not in chosen:
                chosen.append(item)
        for item in chosen[:MAX_PER_TARGET]:
            name = "captured-" + hashlib.sha1(item).hexdigest()[:12]
            with open(os.path.join(folder, name), "wb") as f:
                f.write(item[:MAX_SEED])
        print("capture: %-20s %3d seeds (%d distinct seen)" % (target, min(len(chosen), MAX_PER_TARGET), len(items)))


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    out_dir = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests", "fuzz", "seeds"))
    server_bin = os.path.join(build, "tests", "interop", "socketio_server", "socketio_test_server")
    redis_port, redis_proxy = free_port(), free_port()
    courier_port, courier_proxy, node_port = free_port(), free_port(), free_port()
    procs = []
    http_rec, redis_rec = Recorder(courier_port), Recorder(redis_port)
    holder = []
    import threading
    proxy_thread = threading.Thread(target=run_proxies, args=([http_rec, redis_rec], [courier_proxy, redis_proxy], holder))
    proxy_thread.start()
    try:
        procs.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL))
        wait_port(redis_port)
        wait_port(redis_proxy)
        redis_url = "redis://127.0.0.1:%d" % redis_proxy
        procs.append(subprocess.Popen([server_bin], env=dict(os.environ, PORT=str(courier_port), REDIS_URL=redis_url,
                                                             SERVER_NAME="courier")))
        procs.append(subprocess.Popen(["node", os.path.join(NODE_DIR, "reference", "socketio_server.js")],
                                      env=dict(os.environ, PORT=str(node_port), REDIS_URL=redis_url, SERVER_NAME="node")))
        wait_port(courier_port)
        wait_port(node_port)
        time.sleep(0.5)  # both adapters subscribed
        node_env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
        subprocess.run(["node", os.path.join(HERE, "drive.js"), str(courier_proxy)], env=node_env, check=True, timeout=60)
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "drive.py"), str(courier_proxy)], check=True, timeout=60)
        time.sleep(0.5)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        if holder:
            loop, stop = holder[0]
            loop.call_soon_threadsafe(stop.set)
        proxy_thread.join(5)
    write_seeds(collect(http_rec.streams, redis_rec.streams), out_dir)


if __name__ == "__main__":
    main()
