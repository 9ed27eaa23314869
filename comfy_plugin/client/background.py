"""Calls run in order on one background thread, each outcome kept in a ``Future``.

The prompts queued ahead of the running test are sent (POST /prompt) and waited for (the
socket's end message, then /history) here, while the test's own thread saves and compares
the previous result: with small prompts those round trips, each slowed by a busy server,
would otherwise keep the server's queue short. Every outcome, an exception included, is
handed to whoever asks the future for it (nothing is swallowed here).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any


class InOrder:
    """One daemon thread (started at the first call) running calls first come, first served.
    A daemon: a call still waiting at the session's end (a prompt that was cancelled) never
    holds the process open."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, function: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._calls.put((function, future))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        return future

    def close(self) -> None:
        """The thread ends after the calls already given."""
        self._calls.put(None)

    def _run(self) -> None:
        while (item := self._calls.get()) is not None:
            function, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function())
            except BaseException as exc:  # handed to the caller by future.result(), never lost
                future.set_exception(exc)


@dataclass(frozen=True)
class Later:
    """A prompt sent and waited for in the background: ``posted`` holds its id once the server
    took it (or the refusal), ``waited`` its result (or its failure)."""

    posted: Future[str]
    waited: Future[Any]
