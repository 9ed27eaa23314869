"""What the socket said about each prompt, filed by prompt id for the one who waits for it.

The reader thread hands every text message to ``Watches.dispatch``; waiters read their
``Watch``. A failure while handling a message (a bug in this client or in a listener) is
not swallowed: the first one is kept and raised, once, by the next wait that ends, and the
failing listener is dropped so it cannot fail again.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ComfyError, ExecutionFailed, ExecutionInterrupted, ReaderFailed
from .answers import failure_from_message

#: A listener gets every message that names a prompt: (prompt id, type, data).
Listener = Callable[[str, str, dict[str, Any]], None]


@dataclass
class QueueClock:
    """How long a pending prompt has waited behind prompts that are not this run's. Each
    look at /queue says how many such prompts are ahead; the time from one look to the next
    counts when the earlier look saw any (time before the first look does not count)."""

    submitted_at: float = field(default_factory=time.monotonic)
    waited_s: float = 0.0
    ahead: int = 0  # prompts that are not this run's ahead of it, at the last look
    last_look: float | None = None

    def observe(self, now: float, ahead: int) -> None:
        if self.last_look is not None and self.ahead > 0:
            self.waited_s += max(0.0, now - self.last_look)
        self.last_look, self.ahead = now, ahead

    def expired(self, limit_s: float) -> bool:
        """Whether a bound of ``limit_s`` (0: none) has passed while others are still ahead."""
        return limit_s > 0 and self.ahead > 0 and self.waited_s >= limit_s


@dataclass
class Watch:
    """What the socket (and the looks at /queue) told us about one prompt."""

    done: threading.Event = field(default_factory=threading.Event)
    error: ComfyError | None = None
    cached_nodes: list[str] = field(default_factory=list)
    started_at: float | None = None  # monotonic time of execution_start: timeouts count from it
    clock: QueueClock = field(default_factory=QueueClock)


class Watches:
    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self._items: dict[str, Watch] = {}
        self._lock = threading.Lock()
        self._failure: ReaderFailed | None = None  # the first failure, until a waiter raises it
        self.failures = 0  # every failure inside the reader, the reported one included
        self.malformed = 0  # messages that are not of the protocol (ignored, counted)

    def add(self, prompt_id: str) -> Watch:
        with self._lock:
            watch = self._items[prompt_id] = Watch()
        return watch

    def get(self, prompt_id: str) -> Watch | None:
        with self._lock:
            return self._items.get(prompt_id)

    def forget(self, prompt_id: str) -> None:
        with self._lock:
            self._items.pop(prompt_id, None)

    def items(self) -> list[tuple[str, Watch]]:
        with self._lock:
            return list(self._items.items())

    def __contains__(self, prompt_id: object) -> bool:
        with self._lock:
            return prompt_id in self._items

    def fail_all(self, error: ComfyError) -> None:
        """End every wait with ``error`` (the server is gone)."""
        with self._lock:
            for watch in self._items.values():
                watch.error = watch.error or error
                watch.done.set()

    # -- failures inside the reader ---------------------------------------------------------

    def report(self, exc: BaseException, what: str) -> None:
        """Keep the first failure inside the reader, for the next waiter; count every one."""
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" (at {frame.filename}:{frame.lineno} in {frame.name})" if frame else ""
        with self._lock:
            self.failures += 1
            if self._failure is None:
                self._failure = ReaderFailed(f"the client's socket reader failed {what}: "
                                             f"{type(exc).__name__}: {exc}{where}")

    def take_failure(self) -> ReaderFailed | None:
        """The kept failure, once: the caller raises it."""
        with self._lock:
            failure, self._failure = self._failure, None
        return failure

    # -- messages ---------------------------------------------------------------------------

    def dispatch(self, text: str) -> None:
        """One text message: to every listener, then to the prompt's watch."""
        try:
            parsed = _parse(text)
        except (ValueError, RecursionError):  # untrusted input that is not a message: counted, ignored
            self.malformed += 1
            return
        if parsed is None:
            return
        prompt_id, kind, data = parsed
        for listener in list(self.listeners):
            try:
                listener(prompt_id, kind, data)
            except Exception as exc:  # a listener's bug: reported once, the listener dropped
                self._drop(listener)
                self.report(exc, f"in the listener {_name(listener)} on a {kind!r} message of prompt {prompt_id}")
        watch = self.get(prompt_id)
        if watch is None:
            return
        try:
            _apply(watch, prompt_id, kind, data)
        except Exception as exc:  # a bug here must not stop the reader: reported once
            self.report(exc, f"on a {kind!r} message of prompt {prompt_id}")

    def _drop(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)


def _parse(text: str) -> tuple[str, str, dict[str, Any]] | None:
    """(prompt id, type, data) of a message about one prompt; None for a message about
    no prompt (``status`` broadcasts). Raises ValueError for text that is not a message."""
    message = json.loads(text)
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError("not a message of the protocol")
    data = message.get("data")
    if not isinstance(data, dict):
        return None
    prompt_id = data.get("prompt_id")
    if not isinstance(prompt_id, str) or not prompt_id:
        return None
    return prompt_id, message["type"], data


def _apply(watch: Watch, prompt_id: str, kind: str, data: dict[str, Any]) -> None:
    """What a message means for the prompt's waiter."""
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


def _name(listener: Listener) -> str:
    return getattr(listener, "__qualname__", None) or type(listener).__name__
