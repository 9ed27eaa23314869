"""A tiny stand-in for ComfyUI, only for what a real one cannot be made to show: output file
names chosen by a hostile server, malformed socket messages, a download cut short.

It speaks just enough of ComfyUI's API for the plugin: ``GET /system_stats``,
``/object_info``, ``/queue``, ``/history/{id}``, ``/view``; ``POST /prompt``, ``/queue``,
``/interrupt``, ``/free``; and ``/ws`` through a minimal hand-written WebSocket (the
handshake, unmasked frames from the server, masked frames from the client read and
dropped). Each queued prompt "finishes" at once: its history entry lists ``outputs`` and
the socket gets ``execution_start``, the ``extra_messages``, then ``executing`` with
``node: null`` (or ``execution_error``, if ``socket_error`` is set).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import struct
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
#: Node types of workflows-files/noise-image-api.json: all the plugin's preflight needs is the name.
NODE_TYPES = ("EmptyImage", "ImageAddNoise", "PrimitiveStringMultiline", "StringConcatenate", "SaveImage")


def png_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), ((seed * 53) % 256, (seed * 97) % 256, 120)).save(buffer, "PNG")
    return buffer.getvalue()


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked WebSocket frame (server to client)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


class TextBytes(bytes):
    """A message sent as a text frame of exactly these bytes (other bytes go as a binary frame)."""


class FakeComfy:
    def __init__(self, outputs: list[dict[str, Any]], extra_messages: list[str | bytes] = (),
                 socket_error: dict[str, Any] | None = None, truncate_view: bool = False,
                 lifetime_s: float = 120.0) -> None:
        self.outputs = outputs  # the "images" of node 5 in every prompt's history entry
        self.extra_messages = list(extra_messages)
        self.socket_error = socket_error
        self.truncate_view = truncate_view
        self.requests: list[tuple[str, str]] = []
        self.history: dict[str, dict[str, Any]] = {}
        self._sockets: dict[str, tuple[socket.socket, threading.Lock]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.stop)  # bounded: never outlives a test run
        self._timer.daemon = True

    def __enter__(self) -> "FakeComfy":
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        with self._lock:
            sockets, self._sockets = list(self._sockets.values()), {}
        for sock, _ in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    # -- HTTP -----------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urllib.parse.urlsplit(h.path)
        path = parts.path.removeprefix("/api")
        self.requests.append((method, h.path))
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0)) if method == "POST" else b""
        if method == "GET" and path == "/ws":
            return self._websocket(h, urllib.parse.parse_qs(parts.query).get("clientId", [""])[0])
        if method == "GET" and path == "/system_stats":
            return self._json(h, {"system": {"comfyui_version": "fake"}, "devices": []})
        if method == "GET" and path == "/object_info":
            return self._json(h, {name: {"input": {"required": {}}, "output_node": name == "SaveImage"}
                                  for name in NODE_TYPES})
        if method == "GET" and path == "/queue":
            return self._json(h, {"queue_running": [], "queue_pending": []})
        if method == "GET" and path.startswith("/history/"):
            prompt_id = urllib.parse.unquote(path[len("/history/"):])
            entry = self.history.get(prompt_id)
            return self._json(h, {prompt_id: entry} if entry else {})
        if method == "GET" and path == "/view":
            query = urllib.parse.parse_qs(parts.query)
            data = png_bytes(len(query.get("filename", [""])[0]))
            if self.truncate_view:
                h.send_response(200)
                h.send_header("Content-Type", "image/png")
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data[: len(data) // 3])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return None
            return self._send(h, 200, data, "image/png")
        if method == "POST" and path == "/prompt":
            request = json.loads(body)
            prompt_id = str(request.get("prompt_id"))
            self._json(h, {"prompt_id": prompt_id, "number": len(self.history), "node_errors": {}})
            threading.Thread(target=self._run, args=(prompt_id, str(request.get("client_id", ""))),
                             daemon=True).start()
            return None
        if method == "POST" and path in ("/queue", "/interrupt", "/free"):
            return self._send(h, 200, b"", "text/plain")
        return self._send(h, 404, b"not found", "text/plain")

    def _json(self, h: BaseHTTPRequestHandler, data: Any) -> None:
        self._send(h, 200, json.dumps(data).encode(), "application/json")

    def _send(self, h: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    # -- the prompt "runs" ----------------------------------------------------------------

    def _run(self, prompt_id: str, client_id: str) -> None:
        time.sleep(0.05)
        now = int(time.time() * 1000)
        self.history[prompt_id] = {
            "prompt": [0, prompt_id, {}, {"client_id": client_id}, ["5"]],
            "outputs": {"5": {"images": self.outputs}},
            "status": {"status_str": "success", "completed": True,
                       "messages": [["execution_start", {"prompt_id": prompt_id, "timestamp": now}],
                                    ["execution_success", {"prompt_id": prompt_id, "timestamp": now + 5}]]},
            "meta": {},
        }
        self.send(client_id, json.dumps({"type": "execution_start", "data": {"prompt_id": prompt_id}}))
        for message in self.extra_messages:
            self.send(client_id, message.replace("PROMPT_ID", prompt_id) if isinstance(message, str) else message)
        if self.socket_error is not None:
            error = {"prompt_id": prompt_id, **self.socket_error}
            self.send(client_id, json.dumps({"type": "execution_error", "data": error}))
        else:
            self.send(client_id, json.dumps({"type": "executing", "data": {"node": None, "prompt_id": prompt_id}}))

    # -- WebSocket ------------------------------------------------------------------------

    def send(self, client_id: str, message: str | bytes) -> None:
        with self._lock:
            target = self._sockets.get(client_id)
        if target is None:
            return
        sock, lock = target
        if isinstance(message, TextBytes):
            data = frame(message)  # a text frame of these exact bytes (UTF-8 or not)
        else:
            data = frame(message.encode("utf-8")) if isinstance(message, str) else frame(message, 0x2)
        with lock:
            try:
                sock.sendall(data)
            except OSError:
                pass

    def _websocket(self, h: BaseHTTPRequestHandler, client_id: str) -> None:
        key = h.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        h.send_response(101, "Switching Protocols")
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        h.send_header("Sec-WebSocket-Accept", accept)
        h.end_headers()
        h.wfile.flush()
        sock = h.connection
        with self._lock:
            self._sockets[client_id] = (sock, threading.Lock())
        self.send(client_id, json.dumps({"type": "status", "data": {"sid": client_id}}))
        try:
            self._read_frames(sock, client_id)
        finally:
            with self._lock:
                if self._sockets.get(client_id, (None,))[0] is sock:
                    del self._sockets[client_id]
            h.close_connection = True

    def _read_frames(self, sock: socket.socket, client_id: str) -> None:
        """Read the client's (masked) frames and drop them; answer a close frame."""
        reader = sock.makefile("rb")
        while True:
            head = reader.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", reader.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", reader.read(8))[0]
            if head[1] & 0x80:
                reader.read(4)  # the mask: the payload is not needed
            reader.read(length)
            if opcode == 0x8:  # close: answer it, then end
                with self._lock:
                    target = self._sockets.get(client_id)
                if target is not None:
                    with target[1]:
                        try:
                            sock.sendall(frame(b"\x03\xe8", 0x8))
                        except OSError:
                            pass
                return
