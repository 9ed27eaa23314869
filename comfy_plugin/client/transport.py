"""HTTP to one ComfyUI: requests, the one retry of a cut connection, and which error is which.

Each way a request can fail has its own exception type, because callers act differently:
a refused connection never reached the server (ConnectionRefused), a cut one may have
(ConnectionCut: ask before sending a state-changing request again), a silent server ran
past the timeout (NoAnswer), an unusable status is an HttpError and a 200 that is not
JSON a BadAnswer. The first three are ServerUnavailable: "cannot talk to the server".
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Mapping

from ..errors import BadAnswer, ConnectionCut, ConnectionRefused, HttpError, NoAnswer, ServerUnavailable

START_HINT = (
    "start ComfyUI (python main.py --listen 127.0.0.1 --port 8188), point the harness at a "
    "running one with --comfy-url URL, or let it start one with --comfy-launch PATH/TO/ComfyUI"
)
GONE = "the server went away during the run"
#: Errors of a connection that was cut (not refused): the request is worth one more try.
CUT_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.HTTPException)
#: How long to pause before the one retry of a cut request.
RETRY_PAUSE_S = 0.1
#: How much of an unusable answer's body an error message shows.
BODY_EXCERPT = 300


def describe(exc: BaseException) -> str:
    """An error's text for a message; never the request's headers (they may hold secrets)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and type(exc).__name__ == "WebSocketBadStatusException":
        return f"the upgrade was answered with HTTP {status}"
    return str(exc) or type(exc).__name__


class Transport:
    """Requests to one server, with its headers; remembers whether it ever answered, so a
    refusal later in the run reads "went away" instead of "cannot connect"."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ServerUnavailable(url, "not an http(s) URL", "use a URL such as http://127.0.0.1:8188")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.answered = False

    def request(self, method: str, path: str, body: Any = None, retry: bool = True) -> tuple[int, bytes]:
        """One request with a JSON body; (status, raw answer) for any HTTP status. A
        connection cut mid-request is tried once more when ``retry``; a refused one is not
        (nothing listens: asking again at once would not help)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        return self.send(method, path, data, headers, retry)

    def send(self, method: str, path: str, data: bytes | None, headers: Mapping[str, str],
             retry: bool = True) -> tuple[int, bytes]:
        """One request with raw bytes; see ``request``."""
        for attempt in (1, 2):
            try:
                return self._once(method, path, data, headers)
            except ConnectionCut:
                if not retry or attempt == 2:
                    raise
                time.sleep(RETRY_PAUSE_S)
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, data: bytes | None, headers: Mapping[str, str]) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={**self.headers, **headers})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                self.answered = True
                return resp.status, raw
        except urllib.error.HTTPError as exc:
            self.answered = True
            return exc.code, _read_quietly(exc)
        except http.client.InvalidURL:
            raise  # the caller's path is wrong (unquoted): no request was made, nothing to retry
        except urllib.error.URLError as exc:  # while connecting or sending
            raise self.failure(exc.reason if isinstance(exc.reason, BaseException) else exc, sent=False) from None
        except (OSError, http.client.HTTPException) as exc:  # while waiting for, or reading, the answer
            raise self.failure(exc, sent=True) from None

    def failure(self, reason: BaseException, sent: bool) -> ServerUnavailable:
        """The ServerUnavailable subclass for why a request got no answer; ``sent``: the
        request was on its way (a timeout then means the server is silent, not absent)."""
        text = describe(reason)
        what = f"{GONE if self.answered else 'cannot connect'} ({text})"
        if isinstance(reason, CUT_ERRORS):
            return ConnectionCut(self.url, what, START_HINT, reason=text)
        if sent and isinstance(reason, (TimeoutError, socket.timeout)):
            return NoAnswer(self.url, f"no answer within {self.timeout:g} s ({text})", START_HINT)
        return ConnectionRefused(self.url, what, START_HINT)

    def get_json(self, path: str) -> Any:
        """GET a JSON answer; anything but a 200 with JSON is an error."""
        status, raw = self.request("GET", path)
        return self.json_of("GET", path, status, raw)

    def post_json(self, path: str, body: Any, retry: bool = True) -> tuple[int, Any]:
        """POST, then (status, the answer as JSON, or as text when it is not JSON)."""
        status, raw = self.request("POST", path, body, retry)
        try:
            return status, json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return status, raw.decode("utf-8", "replace")

    def post_ok(self, path: str, body: Any) -> None:
        """POST a command whose answer carries nothing (``/free``, ``/interrupt``, ``/queue``)."""
        status, raw = self.request("POST", path, body)
        if status != 200:
            raise HttpError("POST", self.url + path, status, _excerpt(raw))

    def json_of(self, method: str, path: str, status: int, raw: bytes) -> Any:
        if status != 200:
            raise HttpError(method, self.url + path, status, _excerpt(raw))
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadAnswer(method, self.url + path, f"something that is not JSON: {_excerpt(raw)!r}") from None

    def post_file(self, path: str, field: str, filename: str, data: bytes, form: Mapping[str, str]) -> Any:
        """POST one file as multipart/form-data (plus plain ``form`` fields); its JSON answer."""
        boundary = uuid.uuid4().hex
        parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
                 for name, value in form.items()]
        parts += [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n".encode(), data, f"\r\n--{boundary}--\r\n".encode()]
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        status, raw = self.send("POST", path, b"".join(parts), headers)
        return self.json_of("POST", path, status, raw)

    def answers(self, timeout: float = 5.0) -> bool:
        """Whether the server answers HTTP now (one try, no retry), with any status."""
        req = urllib.request.Request(self.url + "/system_stats", headers=dict(self.headers))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read()
                return True
        except urllib.error.HTTPError:
            return True  # it answered, even if not with 200
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            return False


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    """An error answer's body; one cut short is as good as none for a message."""
    try:
        return exc.read()
    except (OSError, http.client.HTTPException):
        return b""


def _excerpt(raw: bytes) -> str:
    return raw[:BODY_EXCERPT].decode("utf-8", "replace")
