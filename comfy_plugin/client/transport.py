"""HTTP to one ComfyUI: requests, the one retry of a cut connection, and which error is which.

Each way a request can fail has its own exception type, because callers act differently:
a refused connection never reached the server (ConnectionRefused), a cut one may have
(ConnectionCut: ask before sending a state-changing request again), a silent server ran
past the timeout (NoAnswer), an unusable status is an HttpError and a 200 that is not
JSON a BadAnswer. The first three are ServerUnavailable: "cannot talk to the server", as
are a 401/403 (AuthenticationFailed) and a certificate that cannot be verified
(TlsVerificationFailed): every later request would fail alike. A redirect is not followed
(it would carry the credentials to another address): it is a ServerUnavailable that names
where it points.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from typing import IO, Any

from ..errors import (
    BadAnswer,
    ConnectionCut,
    ConnectionRefused,
    HttpError,
    NoAnswer,
    ServerUnavailable,
    UpstreamUnavailable,
)
from ..urls import split_credentials, without_credentials
from .access import AUTH_STATUSES, auth_failure, tls_context, tls_failure

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
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"TLS verification failed: {exc.verify_message}"
    return str(exc) or type(exc).__name__
#: What a proxy answers when ComfyUI behind it is down (ComfyUI itself never does).
UPSTREAM_DOWN = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Answers a redirect with its HTTPError instead of following it: following would send
    the headers (an API key, basic auth) on to whatever address it names."""

    def redirect_request(  # noqa: PLR0917  (urllib's signature)
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


class Transport:
    """Requests to one server, with its headers; remembers whether it ever answered, so a
    refusal later in the run reads "went away" instead of "cannot connect".

    ``user:password@`` in the URL is sent as basic auth (unless ``headers`` hold an
    Authorization of their own) and left out of ``url``, the one every message shows. An
    https server is verified against ``ca_bundle`` when given, else the system's store."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None, timeout: float = 60.0,
                 ca_bundle: str | os.PathLike[str] | None = None) -> None:
        shown, basic = split_credentials(url.strip())
        self.url = shown.rstrip("/")
        try:
            parts = urllib.parse.urlsplit(self.url)
        except ValueError:  # e.g. an unclosed [ of an IPv6 address
            parts = urllib.parse.urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ServerUnavailable(self.url, "not an http(s) URL", "use a URL such as http://127.0.0.1:8188")
        self.headers = dict(headers or {})
        self.basic_from_url = basic is not None and not any(k.lower() == "authorization" for k in self.headers)
        if self.basic_from_url:
            self.headers["Authorization"] = str(basic)
        self.timeout = timeout
        self.ca_bundle = ca_bundle
        self.tls = tls_context(self.url, ca_bundle) if parts.scheme == "https" else None
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.tls), _NoRedirects())
        self.answered = False

    def request(self, method: str, path: str, body: Any = None, retry: bool = True, *,
                denials: tuple[int, ...] = AUTH_STATUSES) -> tuple[int, bytes]:
        """One request with a JSON body; (status, raw answer) for any HTTP status but the
        ``denials`` (AuthenticationFailed). A connection cut mid-request is tried once more
        when ``retry``; a refused one is not (nothing listens: asking again would not help)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        return self.send(method, path, data, headers, retry=retry, denials=denials)

    def send(self, method: str, path: str, data: bytes | None, headers: Mapping[str, str], *,
             retry: bool = True, denials: tuple[int, ...] = AUTH_STATUSES) -> tuple[int, bytes]:
        """One request with raw bytes; see ``request``."""
        for attempt in (1, 2):
            try:
                status, raw = self._once(method, path, data, headers)
                if status in denials:
                    raise self.auth_failure(f"{method} {path.partition('?')[0]}", status)
                if status in UPSTREAM_DOWN:
                    raise UpstreamUnavailable(self.url, f"{method} {path.partition('?')[0]} was answered HTTP {status} "
                                              f"{UPSTREAM_DOWN[status]}: a proxy in front of ComfyUI cannot reach it",
                                              "check that ComfyUI runs behind the proxy, and the proxy's upstream")
                return status, raw
            except ConnectionCut:
                if not retry or attempt == 2:
                    raise
                time.sleep(RETRY_PAUSE_S)
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, data: bytes | None, headers: Mapping[str, str]) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={**self.headers, **headers})
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                raw = resp.read()
                self.answered = True
                return resp.status, raw
        except urllib.error.HTTPError as exc:
            self.answered = True
            if 300 <= exc.code < 400:
                raise self.redirected(f"{method} {path.partition('?')[0]}", exc.code,
                                      exc.headers.get("Location")) from None
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
        if isinstance(reason, ssl.SSLCertVerificationError):
            return tls_failure(self.url, reason, self.ca_bundle)
        text = describe(reason)
        what = f"{GONE if self.answered else 'cannot connect'} ({text})"
        if isinstance(reason, CUT_ERRORS):
            return ConnectionCut(self.url, what, START_HINT, reason=text)
        if sent and isinstance(reason, (TimeoutError, socket.timeout)):
            return NoAnswer(self.url, f"no answer within {self.timeout:g} s ({text})", START_HINT)
        return ConnectionRefused(self.url, what, START_HINT)

    def redirected(self, request: str, status: int, location: str | None) -> ServerUnavailable:
        where = f" to {without_credentials(location)}" if location else ""
        return ServerUnavailable(self.url, f"{request} was redirected (HTTP {status}){where}; redirects are not "
                                           "followed, so that credentials never go to another address",
                                 "use the address it redirects to in --comfy-url")

    def auth_failure(self, request: str, status: int) -> ServerUnavailable:
        """A 401/403 to ``request``: the credentials sent are named, never their values."""
        names = [f"{name} (user:password from the URL)" if self.basic_from_url and name == "Authorization" else name
                 for name in self.headers]
        return auth_failure(self.url, request, status, names)

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
            with self._opener.open(req, timeout=timeout) as resp:
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
