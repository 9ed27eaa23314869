"""ComfyUI's HTTP + WebSocket API. No pytest here.

Submit, wait and fetch are separate calls, so a caller can queue prompts ahead of the
test that waits for them. One background thread reads the socket and files each message
under its prompt id; a waiter that misses its messages (socket dropped and reconnected)
recovers the result from ``/history``.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import websocket

from .errors import (
    ComfyError,
    ExecutionFailed,
    ExecutionFailure,
    ExecutionInterrupted,
    NodeError,
    OutputError,
    PromptLost,
    PromptRejected,
    PromptTimeout,
    ServerUnavailable,
)

START_HINT = (
    "start ComfyUI (python main.py --listen 127.0.0.1 --port 8188), point the harness at a "
    "running one with --comfy-url URL, or let it start one with --comfy-launch PATH/TO/ComfyUI"
)
GONE = "the server went away during the run"
#: How long a dropped socket may take to reconnect before the server counts as gone
#: (unless HTTP still answers: then the socket keeps trying and waiters poll /history).
RECONNECT_WINDOW_S = 3.0
#: How often a waiter asks /history in case the socket missed the prompt's end.
HISTORY_POLL_S = 2.0
#: After a broken POST /prompt, how long to let the server finish validating it before
#: asking whether it was queued (so a prompt is never queued twice).
SUBMIT_SETTLE_S = 0.5
#: Errors of a connection that was cut (not refused): the request is worth one more try.
_CUT = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.HTTPException)


@dataclass(frozen=True)
class OutputFile:
    """A file an output node produced, as /history lists it (names are untrusted)."""

    node_id: str
    kind: str  # the output key: images, gifs, audio, video, ...
    filename: str
    subfolder: str
    type: str


@dataclass
class PromptResult:
    prompt_id: str
    files: list[OutputFile]
    texts: list[tuple[str, str]]  # (node id, text) for text outputs
    cached_nodes: list[str]
    status: str
    execution_s: float | None  # from the server's own timestamps


@dataclass
class _Watch:
    """What the socket told us about one prompt."""

    done: threading.Event = field(default_factory=threading.Event)
    error: ComfyError | None = None
    cached_nodes: list[str] = field(default_factory=list)
    started_at: float | None = None  # monotonic time of execution_start: timeouts count from it


Listener = Callable[[str, str, dict[str, Any]], None]


class ComfyClient:
    def __init__(self, url: str, headers: Mapping[str, str] | None = None, http_timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ServerUnavailable(url, "not an http(s) URL", "use a URL such as http://127.0.0.1:8188")
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        self.client_id = uuid.uuid4().hex
        self.ws_url = f"{ws_scheme}://{parts.netloc}{parts.path}/ws?clientId={self.client_id}"
        self.headers = dict(headers or {})
        self.http_timeout = http_timeout
        self.listeners: list[Listener] = []
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()
        self._ws: websocket.WebSocket | None = None
        self._reader: threading.Thread | None = None
        self._closing = threading.Event()
        self._gone: ServerUnavailable | None = None
        self._answered = False  # once the server has answered, a refusal means it went away
        self.drops = 0  # counts socket drops and reconnects: each one sends waiters to /history

    # -- HTTP -----------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, retry: bool = True) -> tuple[int, bytes]:
        """One HTTP request. A connection cut mid-request (reset, truncated answer) is tried
        once more when ``retry``; a refused one is not (the server is not listening)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        for attempt in (1, 2):
            req = urllib.request.Request(self.url + path, data=data, method=method, headers=dict(self.headers))
            if data is not None:
                req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=self.http_timeout) as resp:
                    raw = resp.read()
                    self._answered = True
                    return resp.status, raw
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                cut = isinstance(reason, _CUT)
                if retry and attempt == 1 and cut:
                    time.sleep(0.1)
                    continue
                what = f"{GONE if self._answered else 'cannot connect'} ({_describe(reason)})"
                if cut:
                    raise _ConnectionCut(self.url, what, START_HINT, reason=_describe(reason)) from None
                raise ServerUnavailable(self.url, what, START_HINT) from None
        raise AssertionError("unreachable")

    def get_json(self, path: str) -> Any:
        status, raw = self._request("GET", path)
        if status != 200:
            raise ComfyError(f"GET {self.url}{path} answered HTTP {status}: {raw[:300].decode('utf-8', 'replace')}")
        return json.loads(raw)

    def post_json(self, path: str, body: Any, retry: bool = True) -> tuple[int, Any]:
        status, raw = self._request("POST", path, body, retry)
        try:
            return status, json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return status, raw.decode("utf-8", "replace")

    def system_stats(self) -> dict[str, Any]:
        return self.get_json("/system_stats")

    def answers(self, timeout: float = 5.0) -> bool:
        """Whether the server answers HTTP now (one try, no retry)."""
        req = urllib.request.Request(self.url + "/system_stats", headers=dict(self.headers))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read()
                return True
        except urllib.error.HTTPError:
            return True  # it answered, even if not with 200
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            return False

    def object_info(self) -> dict[str, Any]:
        return self.get_json("/object_info")

    def free(self) -> None:
        """Unload models and clear the result cache, so identical prompts run again."""
        self.post_json("/free", {"unload_models": True, "free_memory": True})

    def interrupt(self, prompt_id: str) -> None:
        self.post_json("/interrupt", {"prompt_id": prompt_id})

    def delete_queued(self, prompt_ids: list[str]) -> None:
        self.post_json("/queue", {"delete": prompt_ids})

    def upload_image(self, data: bytes, filename: str) -> str:
        """Upload an input image (``/upload/image``); returns the name a LoadImage takes."""
        boundary = uuid.uuid4().hex
        body = b"".join([
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n".encode(),
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ])
        req = urllib.request.Request(self.url + "/upload/image", data=body, method="POST", headers=dict(self.headers))
        req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        try:
            with urllib.request.urlopen(req, timeout=self.http_timeout) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise ComfyError(f"uploading {filename} failed: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServerUnavailable(self.url, f"{GONE if self._answered else 'cannot connect'} ({exc})", START_HINT) from None
        name = str(answer.get("name", filename))
        return f"{answer['subfolder']}/{name}" if answer.get("subfolder") else name

    def queued_ids(self, running_only: bool = False) -> set[str]:
        """Ids of the prompts running (and pending) on the server (``GET /queue``)."""
        queue = self.get_json("/queue")
        keys = ("queue_running",) if running_only else ("queue_running", "queue_pending")
        return {str(entry[1]) for key in keys for entry in queue.get(key, [])}

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The finished prompt's history entry, or None while it is pending or unknown."""
        answer = self.get_json(f"/history/{urllib.parse.quote(prompt_id)}")
        entry = answer.get(prompt_id) if isinstance(answer, dict) else None
        return entry if isinstance(entry, dict) else None

    def download(self, file: OutputFile) -> bytes:
        """The file's bytes, complete: a download cut short is tried once more, and one that
        breaks off twice while the server still answers is an OutputError (nothing is saved)."""
        query = urllib.parse.urlencode({"filename": file.filename, "subfolder": file.subfolder, "type": file.type})
        try:
            status, raw = self._request("GET", f"/view?{query}")
        except _ConnectionCut as exc:
            if not self.answers():
                raise
            raise OutputError(f"downloading {file.filename!r} broke off twice ({exc.reason}); nothing was saved") from None
        if status != 200:
            raise OutputError(f"GET /view for {file.filename!r} answered HTTP {status}")
        return raw

    # -- submit / wait ----------------------------------------------------------

    def submit(self, workflow: Mapping[str, Any], prompt_id: str | None = None) -> str:
        """Queue a prompt; returns its id. The socket is open before, so no message is missed."""
        self._check_gone()
        self._ensure_socket()
        prompt_id = prompt_id or str(uuid.uuid4())
        with self._lock:
            self._watches[prompt_id] = _Watch()
        body = {"prompt": workflow, "client_id": self.client_id, "prompt_id": prompt_id}
        try:
            try:
                status, answer = self.post_json("/prompt", body, retry=False)
            except _ConnectionCut:
                # The connection broke: the server may have queued the prompt anyway. Ask it
                # (by the id we chose) before sending again, so a prompt never runs twice.
                time.sleep(SUBMIT_SETTLE_S)
                if self.known_to_server(prompt_id):
                    return prompt_id
                status, answer = self.post_json("/prompt", body, retry=False)
        except ComfyError:
            self._forget(prompt_id)
            raise
        if status != 200:
            self._forget(prompt_id)
            raise rejection(status, answer, workflow)
        return prompt_id

    def known_to_server(self, prompt_id: str) -> bool:
        """Whether the server has the prompt: queued, running or finished."""
        return prompt_id in self.queued_ids() or self.history(prompt_id) is not None

    def knows(self, prompt_id: str) -> bool:
        """Whether this client submitted the prompt and nobody has waited for it yet."""
        return prompt_id in self._watches

    def wait(self, prompt_id: str, timeout: float) -> PromptResult:
        """Block until the prompt finished; raise its failure. ``timeout`` counts from the
        prompt's execution start (time spent queued behind others does not count); on expiry
        the prompt is interrupted. Polls /history and /queue as a backstop for a lost socket."""
        watch = self._watches.get(prompt_id)
        if watch is None:
            raise ComfyError(f"prompt {prompt_id} was not submitted by this client")
        # With the socket down (reconnecting), ask /history at once rather than in 2 s.
        next_poll = time.monotonic() + (HISTORY_POLL_S if self._ws is not None else 0.0)
        drops = self.drops
        entry = None
        try:
            while True:
                if watch.done.wait(0.2):
                    if watch.error is not None:
                        raise watch.error
                    entry = self._history_after_done(prompt_id)
                    break
                self._check_gone()
                now = time.monotonic()
                if self.drops != drops:  # the socket dropped or came back: messages may be lost
                    drops, next_poll = self.drops, now
                if now >= next_poll:
                    next_poll = now + HISTORY_POLL_S
                    entry = self._poll(prompt_id)
                    if entry is not None:
                        break
                    if watch.started_at is None and prompt_id in self.queued_ids(running_only=True):
                        watch.started_at = now  # the socket missed execution_start
                if watch.started_at is not None and now - watch.started_at >= timeout:
                    self.cancel([prompt_id])
                    raise PromptTimeout(f"timed out: no result within {timeout:g} s of the prompt's execution "
                                        f"start; the prompt was interrupted (prompt {prompt_id})")
        finally:
            self._forget(prompt_id)
        return result_from_history(prompt_id, entry, watch.cached_nodes)

    def _poll(self, prompt_id: str) -> dict[str, Any] | None:
        """The backstop: the finished prompt's history entry (its failure raised), or None
        while it is queued or running. A prompt in neither place is lost (the server
        restarted, or it was removed from the queue): waiting longer would never end."""
        entry = self._finished(prompt_id)
        if entry is not None or prompt_id in self.queued_ids():
            return entry
        entry = self._finished(prompt_id)  # it may have finished after /history was asked
        if entry is not None:
            return entry
        raise PromptLost(f"prompt {prompt_id} is no longer on the server at {self.url}: not queued, not running "
                         "and not in /history (the server restarted, or the prompt was removed from its queue)")

    def _finished(self, prompt_id: str) -> dict[str, Any] | None:
        """The history entry (ComfyUI writes one when a prompt ends), its failure raised."""
        entry = self.history(prompt_id)
        failure = failure_from_history(entry) if entry is not None else None
        if failure is not None:
            raise failure
        return entry

    def cancel(self, prompt_ids: list[str], wait_s: float = 30.0) -> None:
        """Delete queued prompts and interrupt a running one, then wait until none of them is
        on the server's queue (an interrupt acts at the next node or sampler step)."""
        self.delete_queued(prompt_ids)
        for prompt_id in prompt_ids:
            self.interrupt(prompt_id)  # acts only on the prompt that is running
        deadline = time.monotonic() + wait_s
        while self.queued_ids() & set(prompt_ids) and time.monotonic() < deadline:
            time.sleep(0.1)

    def _history_after_done(self, prompt_id: str) -> dict[str, Any]:
        # ``executing: null`` follows the history write, but retry briefly to be safe.
        for _ in range(50):
            entry = self.history(prompt_id)
            if entry is not None:
                return entry
            time.sleep(0.1)
        raise ComfyError(f"prompt {prompt_id} finished but /history has no entry for it")

    def _forget(self, prompt_id: str) -> None:
        with self._lock:
            self._watches.pop(prompt_id, None)

    def _check_gone(self) -> None:
        if self._gone is not None:
            raise self._gone

    # -- socket -------------------------------------------------------------------

    def _connect(self, timeout: float | None = None) -> websocket.WebSocket:
        headers = [f"{k}: {v}" for k, v in self.headers.items()]
        ws = websocket.create_connection(self.ws_url, timeout=timeout or self.http_timeout, header=headers)
        ws.settimeout(0.5)
        return ws

    def _ensure_socket(self) -> None:
        with self._lock:
            if self._reader is not None:
                return
            try:
                self._ws = self._connect()
            except (OSError, websocket.WebSocketException) as exc:
                raise ServerUnavailable(self.url, f"cannot open the WebSocket ({_describe(exc)})", START_HINT) from None
            self._reader = threading.Thread(target=self._read_loop, name="comfy-ws", daemon=True)
            self._reader.start()

    def _read_loop(self) -> None:
        while not self._closing.is_set():
            ws = self._ws
            try:
                message = ws.recv() if ws is not None else None
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException):
                message = None
            if message is None or message == "":
                if self._closing.is_set() or not self._reconnect():
                    return
                continue
            if isinstance(message, str):
                try:
                    self._dispatch(message)
                except Exception:  # noqa: BLE001 - a malformed message must not stop the reader
                    pass

    def _reconnect(self) -> bool:
        """Reconnect after a drop. While the server still answers HTTP the socket keeps trying
        (waiters recover results from /history meanwhile); a server that answers neither for
        RECONNECT_WINDOW_S is gone, and every waiter fails at once."""
        old, self._ws = self._ws, None
        _close_quietly(old)
        self.drops += 1
        # ComfyUI drops the registration of a client id when its old socket's handler ends;
        # a short pause lets that happen before the new socket registers under the same id.
        self._closing.wait(0.2)
        deadline = time.monotonic() + RECONNECT_WINDOW_S
        while not self._closing.is_set():
            try:
                self._ws = self._connect(timeout=RECONNECT_WINDOW_S)
                self.drops += 1
                return True
            except (OSError, websocket.WebSocketException):
                pass
            if time.monotonic() >= deadline:
                if not self.answers(timeout=RECONNECT_WINDOW_S):
                    break
                deadline = time.monotonic() + RECONNECT_WINDOW_S
            self._closing.wait(0.25)
        if self._closing.is_set():
            return False
        self._gone = ServerUnavailable(self.url, f"{GONE} (the connection closed and it does not answer)", START_HINT)
        with self._lock:
            for watch in self._watches.values():
                watch.error = watch.error or self._gone
                watch.done.set()
        return False

    def _dispatch(self, text: str) -> None:
        try:
            message = json.loads(text)
            kind, data = message["type"], message.get("data") or {}
        except (ValueError, KeyError, TypeError):
            return  # not a message of the protocol: ignore it rather than crash the reader
        prompt_id = data.get("prompt_id") if isinstance(data, dict) else None
        if not isinstance(prompt_id, str) or not prompt_id:
            return
        for listener in list(self.listeners):
            try:
                listener(prompt_id, kind, data)
            except Exception:  # noqa: BLE001 - a listener's bug must not cost the prompt its result
                pass
        watch = self._watches.get(prompt_id)
        if watch is None:
            return
        if kind == "execution_start":
            watch.started_at = time.monotonic()
        elif kind == "execution_cached" and isinstance(data.get("nodes"), list):
            watch.cached_nodes = [str(n) for n in data["nodes"]]
        elif kind == "execution_error":
            watch.error = ExecutionFailed(failure_from_message(data))
            watch.done.set()
        elif kind == "execution_interrupted":
            watch.error = ExecutionInterrupted(f"prompt {prompt_id} was interrupted on the server")
            watch.done.set()
        elif kind == "executing" and data.get("node") is None:
            watch.done.set()

    def close(self) -> None:
        self._closing.set()
        old, self._ws = self._ws, None
        _close_quietly(old)
        if self._reader is not None:
            self._reader.join(timeout=2)


class _ConnectionCut(ServerUnavailable):
    """The connection broke during a request (reset, truncated answer), rather than being refused."""

    def __init__(self, url: str, what: str, how_to_fix: str = "", reason: str = "") -> None:
        super().__init__(url, what, how_to_fix)
        self.reason = reason


def _describe(exc: BaseException) -> str:
    """An error's text for a message; never the request's headers (they may hold secrets)."""
    if isinstance(exc, websocket.WebSocketBadStatusException):
        return f"the upgrade was answered with HTTP {exc.status_code}"
    return str(exc) or type(exc).__name__


def _close_quietly(ws: websocket.WebSocket | None) -> None:
    """Close a socket that may already be broken."""
    if ws is not None:
        try:
            ws.close()
        except (OSError, websocket.WebSocketException):
            pass


# -- turning server answers into data ------------------------------------------------


def rejection(status: int, answer: Any, workflow: Mapping[str, Any]) -> PromptRejected:
    """A readable PromptRejected from POST /prompt's error answer, keeping every detail."""
    if not isinstance(answer, dict):
        return PromptRejected("", f"HTTP {status}: {str(answer)[:500]}", [])
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {"message": str(answer.get("error", ""))}
    nodes: list[NodeError] = []
    for node_id, info in (answer.get("node_errors") or {}).items():
        node = workflow.get(node_id, {}) if isinstance(workflow, Mapping) else {}
        title = node.get("_meta", {}).get("title", "") if isinstance(node, dict) else ""
        for err in info.get("errors", []):
            extra = err.get("extra_info") or {}
            nodes.append(NodeError(
                node_id=str(node_id),
                class_type=str(info.get("class_type", node.get("class_type", "?") if isinstance(node, dict) else "?")),
                title=title,
                input_name=str(extra.get("input_name", "")),
                message=str(err.get("message", "")),
                details=str(err.get("details", "")),
                error_type=str(err.get("type", "")),
                received=extra.get("received_value"),
            ))
    message = str(error.get("message", "")) or f"HTTP {status}"
    details = str(error.get("details", ""))
    if details and details not in message:
        message += f": {details}"
    return PromptRejected(str(error.get("type", "")), message, nodes)


def failure_from_message(data: Mapping[str, Any]) -> ExecutionFailure:
    trace = data.get("traceback")
    return ExecutionFailure(
        node_id=str(data.get("node_id", "?")),
        node_type=str(data.get("node_type", "?")),
        exception_type=str(data.get("exception_type", "?")),
        exception_message=str(data.get("exception_message", "")),
        traceback=[str(t) for t in trace] if isinstance(trace, list) else [],
    )


def _messages(status: Any) -> list[tuple[str, dict[str, Any]]]:
    """A history entry's ``status.messages`` as (kind, data) pairs, malformed ones left out."""
    messages = status.get("messages") if isinstance(status, dict) else None
    return [(str(m[0]), m[1]) for m in messages or [] if isinstance(m, (list, tuple)) and len(m) == 2
            and isinstance(m[1], dict)] if isinstance(messages, list) else []


def failure_from_history(entry: Mapping[str, Any]) -> ComfyError | None:
    status = entry.get("status")
    if not isinstance(status, dict) or status.get("status_str") != "error":
        return None
    for kind, data in _messages(status):
        if kind == "execution_error":
            return ExecutionFailed(failure_from_message(data))
        if kind == "execution_interrupted":
            return ExecutionInterrupted("the prompt was interrupted on the server")
    return ComfyError("the prompt ended with an error (no details in /history)")


def result_from_history(prompt_id: str, entry: Mapping[str, Any], cached_nodes: list[str]) -> PromptResult:
    """The prompt's outputs as /history lists them. Names stay untrusted: outputs.py makes
    the file names; anything that is not the expected shape is left out."""
    files: list[OutputFile] = []
    texts: list[tuple[str, str]] = []
    outputs = entry.get("outputs")
    for node_id, output in (outputs.items() if isinstance(outputs, dict) else ()):
        for kind, items in (output.items() if isinstance(output, dict) else ()):
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("filename"), str):
                    files.append(OutputFile(str(node_id), str(kind), item["filename"],
                                            str(item.get("subfolder", "")), str(item.get("type", "output"))))
                elif isinstance(item, str) and kind == "text":
                    texts.append((str(node_id), item))
    status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
    messages = _messages(status)
    times = {kind: data.get("timestamp") for kind, data in messages}
    start, end = times.get("execution_start"), times.get("execution_success")
    execution_s = (end - start) / 1000.0 if isinstance(start, (int, float)) and isinstance(end, (int, float)) else None
    if not cached_nodes:
        for kind, data in messages:
            if kind == "execution_cached" and isinstance(data.get("nodes"), list):
                cached_nodes = [str(n) for n in data["nodes"]]
    return PromptResult(prompt_id, files, texts, cached_nodes, str(status.get("status_str", "")), execution_s)
