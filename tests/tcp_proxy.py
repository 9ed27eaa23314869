"""A small threaded TCP proxy for tests: 127.0.0.1:<port> forwards to a real server.

``cut()`` closes every live connection at once, as a network drop would (the client's
WebSocket and any HTTP request in flight break), and can refuse WebSocket upgrades for a
while afterwards (the socket stays down while HTTP still answers). What clients send is
recorded, so a test can see which headers reached the server. ``break_next()`` breaks one
chosen request: before it reaches the server, or after the server has answered it (the
client never sees the answer). The proxy is bounded: at most ``max_connections`` at a
time, and it stops itself after ``lifetime_s``.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse

RECORD_LIMIT = 64 * 1024  # bytes kept per connection


class TcpProxy:
    def __init__(self, target_url: str, lifetime_s: float = 300.0, max_connections: int = 64,
                 port: int = 0) -> None:
        parts = urllib.parse.urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.lifetime_s = lifetime_s
        self.max_connections = max_connections
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(32)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._live: list[tuple[socket.socket, socket.socket]] = []
        self._refuse_ws_until = 0.0
        self._stopped = threading.Event()
        self.sent: list[bytes] = []  # what each client sent towards the server (first RECORD_LIMIT bytes)
        self.cuts = 0  # connections closed by cut()
        self.refused_ws = 0  # WebSocket upgrades refused after a cut
        self._breaks: list[tuple[bytes, bool]] = []  # (request prefix, deliver) still to break
        self.broken: list[tuple[bytes, bool]] = []  # (first bytes, delivered) of each request broken
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "TcpProxy":
        self._thread.start()
        return self

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        self.cut()
        self._thread.join(timeout=2)
        self._listener.close()

    def cut(self, refuse_ws_s: float = 0.0) -> int:
        """Close every live connection; refuse new WebSocket upgrades for ``refuse_ws_s``."""
        with self._lock:
            live, self._live = self._live, []
            self._refuse_ws_until = time.monotonic() + refuse_ws_s
        for pair in live:
            for s in pair:
                _close(s)
        self.cuts += len(live)
        return len(live)

    def break_next(self, prefix: bytes, deliver: bool) -> None:
        """Break the next connection whose request starts with ``prefix`` (``b"POST /prompt"``).
        ``deliver``: the whole request reaches the server, and the connection is closed as the
        server's answer starts; otherwise it is closed before anything reaches the server.
        Broken requests are listed in ``broken``, not in ``sent``."""
        with self._lock:
            self._breaks.append((prefix, deliver))

    def requests_with(self, needle: bytes) -> list[bytes]:
        """The recorded client streams that contain ``needle``."""
        with self._lock:
            return [data for data in self.sent if needle in data]

    # -- internals ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        deadline = time.monotonic() + self.lifetime_s
        while not self._stopped.is_set() and time.monotonic() < deadline:
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self._lock:
                full = len(self._live) >= self.max_connections
            if full:
                _close(client)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()
        self._stopped.set()
        self.cut()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(5)
        try:
            first = client.recv(65536)
        except OSError:
            first = b""
        if not first:
            _close(client)
            return
        is_ws = first.startswith(b"GET ") and b"/ws?" in first.split(b"\r\n", 1)[0]
        if is_ws and time.monotonic() < self._refuse_ws_until:
            self.refused_ws += 1
            _close(client)
            return
        deliver = self._take_break(first)
        if deliver is False:
            with self._lock:
                self.broken.append((first, False))
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        if deliver:
            self._deliver_then_break(client, upstream, first)
            return
        client.settimeout(None)
        upstream.settimeout(None)
        record = bytearray(first[:RECORD_LIMIT])
        with self._lock:
            if self._stopped.is_set():
                _close(client), _close(upstream)
                return
            self._live.append((client, upstream))
            self.sent.append(b"")
            slot = len(self.sent) - 1
        try:
            upstream.sendall(first)
        except OSError:
            self._drop(client, upstream)
            return

        def on_data(data: bytes) -> None:
            if len(record) < RECORD_LIMIT:
                record.extend(data[:RECORD_LIMIT - len(record)])
                with self._lock:
                    self.sent[slot] = bytes(record)

        with self._lock:
            self.sent[slot] = bytes(record)
        back = threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True)
        back.start()
        self._pump(client, upstream, on_data)
        back.join(timeout=5)
        self._drop(client, upstream)

    def _take_break(self, first: bytes) -> bool | None:
        """Whether to break this request (True: after delivering it), or None."""
        with self._lock:
            for n, (prefix, deliver) in enumerate(self._breaks):
                if first.startswith(prefix):
                    del self._breaks[n]
                    return deliver
        return None

    def _deliver_then_break(self, client: socket.socket, upstream: socket.socket, first: bytes) -> None:
        """Pass the request on; once the server's answer starts, close both sides unanswered."""
        client.settimeout(None)
        upstream.settimeout(30)
        try:
            upstream.sendall(first)
        except OSError:
            pass
        threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
        try:
            upstream.recv(1)  # the server has read the whole request and handled it
        except OSError:
            pass
        with self._lock:
            self.broken.append((first, True))
        _close(client)
        _close(upstream)

    def _pump(self, src: socket.socket, dst: socket.socket, on_data) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            if on_data is not None:
                on_data(data)
            try:
                dst.sendall(data)
            except OSError:
                break
        # one side finished: let the other side see the end too
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _drop(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            if (client, upstream) in self._live:
                self._live.remove((client, upstream))
        _close(client)
        _close(upstream)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
