"""The WebSocket: one background thread reads it, hands each text message to Watches, and
reconnects after a drop.

ComfyUI replays nothing a dropped socket missed, so every drop is counted (``drops``) and
waiters then ask /history. While HTTP still answers, the socket keeps trying to come back;
a server that answers neither for RECONNECT_WINDOW_S is gone, and every waiter fails at once.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time

import websocket

from ..errors import ConnectionCut, ServerUnavailable, SocketUnavailable
from .access import AUTH_STATUSES
from .transport import GONE, START_HINT, Transport, describe
from .watches import Watches

#: How long a dropped socket may take to reconnect before the server counts as gone
#: (unless HTTP still answers: then the socket keeps trying and waiters poll /history).
RECONNECT_WINDOW_S = 3.0
#: How long recv() blocks before the thread looks whether it should stop.
RECV_TICK_S = 0.5
#: ComfyUI drops a client id's registration when its old socket's handler ends: a short
#: pause lets that happen before the new socket registers under the same id.
REREGISTER_PAUSE_S = 0.2
#: Between two tries to reconnect.
RETRY_PAUSE_S = 0.25
UPGRADE_HINT = ("HTTP answers but the upgrade of /ws was refused: a reverse proxy in front of ComfyUI must pass it "
                "on (nginx: proxy_http_version 1.1, the Upgrade and Connection headers; see docs/remote-servers.md)")
_TICK = object()  # nothing to hand on (recv() timed out, or a frame that is not text): the socket is fine


class SocketReader:
    def __init__(self, http: Transport, ws_url: str, watches: Watches) -> None:
        self.http = http
        self.ws_url = ws_url
        self.watches = watches
        self.drops = 0  # counts drops and reconnects: each one sends waiters to /history
        self.gone: ServerUnavailable | None = None
        self.last_error = ""  # why the last try to (re)connect failed
        self._ws: websocket.WebSocket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def ensure_started(self) -> None:
        """Open the socket and start the thread, once; SocketUnavailable if it cannot open."""
        with self._lock:
            if self._thread is not None:
                return
            try:
                self._ws = self._connect(self.http.timeout)
            except websocket.WebSocketBadStatusException as exc:
                if exc.status_code in AUTH_STATUSES:
                    raise self.http.auth_failure("the WebSocket upgrade (GET /ws)", exc.status_code) from None
                raise SocketUnavailable(self.http.url, f"cannot open the WebSocket ({describe(exc)})",
                                        UPGRADE_HINT) from None
            except ssl.SSLCertVerificationError as exc:
                raise self.http.failure(exc, sent=False) from None
            except (OSError, websocket.WebSocketException) as exc:
                raise SocketUnavailable(self.http.url, f"cannot open the WebSocket ({describe(exc)})",
                                        START_HINT) from None
            self._thread = threading.Thread(target=self._run, name="comfy-ws", daemon=True)
            self._thread.start()

    def check_gone(self) -> None:
        if self.gone is not None:
            raise self.gone

    def close(self) -> None:
        self._closing.set()
        old, self._ws = self._ws, None
        close_quietly(old)
        if self._thread is not None:
            self._thread.join(timeout=2)

    # -- the thread -------------------------------------------------------------------------

    def _connect(self, timeout: float) -> websocket.WebSocket:
        headers = [f"{k}: {v}" for k, v in self.http.headers.items()]
        sslopt = {"context": self.http.tls} if self.http.tls is not None else None
        # redirect_limit=0: a redirect is refused, never followed with the credentials.
        # skip_utf8_validation: websocket-client checks UTF-8 byte by byte in Python (about 2 ms
        # of client CPU for the 24 messages of a 64x64 prompt); recv()'s decode checks it in C.
        ws = websocket.create_connection(self.ws_url, timeout=timeout, header=headers, sslopt=sslopt, redirect_limit=0,
                                         skip_utf8_validation=True)
        ws.settimeout(RECV_TICK_S)
        return ws

    def _run(self) -> None:
        while not self._closing.is_set():
            message = self._next()
            if message is _TICK:
                continue
            if message is None:
                if self._closing.is_set() or not self._reconnect():
                    return
                continue
            if isinstance(message, str):  # binary frames are previews: not needed
                self._handle(message)

    def _next(self) -> object:
        """The next message; _TICK when none came in time; None when the socket dropped."""
        ws = self._ws
        if ws is None:
            return None
        try:
            message = ws.recv()
        except websocket.WebSocketTimeoutException:
            return _TICK
        except UnicodeDecodeError:  # a text frame that is not UTF-8: not a message, like any other malformed one
            self.watches.malformed += 1
            return _TICK
        except (OSError, websocket.WebSocketException):
            return None
        except Exception as exc:  # reported once; the socket is then treated as dropped
            self.watches.report(exc, "reading the socket")
            return None
        return message if message != "" else None  # "": the server closed the socket

    def _handle(self, message: str) -> None:
        try:
            self.watches.dispatch(message)
        except Exception as exc:  # a bug must not stop the reader: reported once
            self.watches.report(exc, "handling a message")

    def _reconnect(self) -> bool:
        """Reconnect after a drop; False when closing or when the server is gone."""
        old, self._ws = self._ws, None
        close_quietly(old)
        self.drops += 1
        self._closing.wait(REREGISTER_PAUSE_S)
        deadline = time.monotonic() + RECONNECT_WINDOW_S
        while not self._closing.is_set():
            try:
                self._ws = self._connect(RECONNECT_WINDOW_S)
                self.drops += 1
                return True
            except (OSError, websocket.WebSocketException) as exc:
                self.last_error = describe(exc)  # tried again below; named if the server is gone
            if time.monotonic() >= deadline:
                if not self.http.answers(timeout=RECONNECT_WINDOW_S):
                    break
                deadline = time.monotonic() + RECONNECT_WINDOW_S
            self._closing.wait(RETRY_PAUSE_S)
        if self._closing.is_set():
            return False
        self.gone = ConnectionCut(self.http.url, f"{GONE} (the connection closed and it does not answer)",
                                  START_HINT, reason=self.last_error)
        self.watches.fail_all(self.gone)
        return False


def close_quietly(ws: websocket.WebSocket | None) -> None:
    """Close a socket that may already be broken (its errors say nothing new)."""
    if ws is not None:
        with contextlib.suppress(OSError, websocket.WebSocketException):
            ws.close()
