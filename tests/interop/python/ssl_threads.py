"""One thread reading and one writing the same TLS socket, made safe for the Python test clients.

python-engineio runs websocket-client with enable_multithread=True: a read loop thread blocks in
recv() while a write loop thread calls send(), and websocket-client guards them with two different
locks, so both reach the same ssl.SSLSocket at once. CPython's ssl module releases the GIL around
SSL_read_ex and SSL_write_ex, so the one OpenSSL SSL object is used by two threads at a time, which
OpenSSL does not support. What shows: the reader classifies its failed read with SSL_get_error,
which reads state the writer changes meanwhile (the SSL's rwstate, the shared socket BIO's retry
flags), gets SSL_ERROR_SYSCALL instead of SSL_ERROR_WANT_READ, and CPython reports that as a ragged
EOF: recv() returns b'' (or raises SSLEOFError) although the server neither sent nor closed
anything, and the engine.io client drops a healthy connection ("WebSocket connection was closed,
aborting"); more rarely the record layer breaks ("bad record mac"). On a loaded machine this failed
about one run in 30 to 50 of test_socketio_tls. The Node clients are single-threaded and never see
it; a plain ws:// socket has no such shared state.

SerializedSslSocket runs the SSL calls one at a time under a lock and waits for the socket outside
it (the SSLSocket itself is made non-blocking), so a blocked reader does not hold up the writer.
install() makes websocket-client wrap every TLS socket it opens in one."""
import select
import socket
import ssl
import threading
import time


class SerializedSslSocket:
    """An ssl.SSLSocket whose reads and writes never overlap; timeouts are kept by the wrapper."""

    def __init__(self, sock):
        self._sock = sock
        self._timeout = sock.gettimeout()
        self._lock = threading.Lock()
        sock.settimeout(0.0)

    def _call(self, op):
        if self._timeout == 0:
            with self._lock:
                return op()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            with self._lock:
                try:
                    return op()
                except ssl.SSLWantReadError:
                    want_read = True
                except ssl.SSLWantWriteError:
                    want_read = False
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise socket.timeout("timed out")
            waiting = [self._sock]
            r, w, _ = select.select(waiting if want_read else [], [] if want_read else waiting, [], remaining)
            if not r and not w:
                raise socket.timeout("timed out")

    def recv(self, bufsize, flags=0):
        return self._call(lambda: self._sock.recv(bufsize, flags))

    def send(self, data, flags=0):
        return self._call(lambda: self._sock.send(data, flags))

    def sendall(self, data, flags=0):
        view = memoryview(data)
        while view:
            view = view[self.send(view, flags):]

    def settimeout(self, timeout):
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    def __getattr__(self, name):  # fileno, close, shutdown, getpeercert...
        return getattr(self._sock, name)


def install():
    """Makes websocket-client (the wss transport of python-engineio) serialize its TLS sockets."""
    import websocket._http as ws_http

    original = getattr(ws_http, "_ssl_socket", None)
    if original is None:
        raise RuntimeError("websocket-client without websocket._http._ssl_socket: update ssl_threads.install()")
    if getattr(original, "serialized", False):
        return

    def serialized_ssl_socket(*args, **kwargs):
        return SerializedSslSocket(original(*args, **kwargs))

    serialized_ssl_socket.serialized = True
    ws_http._ssl_socket = serialized_ssl_socket
