"""Waiting for one prompt: the socket says when it ends, /queue and /history are the backstop.

Two clocks bound a wait. The execution timeout counts from the prompt's execution start.
The queue timeout counts only while the prompt is pending behind prompts that are not this
run's (another client's work on a shared server, or a stuck job): the client's own prompts,
and those of other clients with the same run mark (xdist workers), never make it run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import PromptLost, PromptTimeout, QueueTimeout
from .answers import QueueSnapshot, failure_from_history
from .endpoints import Endpoints
from .watches import Watch, Watches

if TYPE_CHECKING:
    from .reader import SocketReader

#: How often a waiter asks the server in case the socket missed the prompt's end.
HISTORY_POLL_S = 2.0
#: The most often a waiter looks at /queue while its prompt is pending under a queue timeout.
QUEUE_POLL_MIN_S = 0.5
#: How long one look at the watch blocks.
WAIT_TICK_S = 0.2
#: ``executing`` with ``node: null`` follows the history write; a few tries cover a slow one.
HISTORY_TRIES, HISTORY_PAUSE_S = 50, 0.1


def queue_poll_s(queue_timeout_s: float) -> float:
    """How often to look at /queue for a pending prompt: often enough to end a short bound
    near its time, never more often than QUEUE_POLL_MIN_S nor less than the backstop's."""
    return min(HISTORY_POLL_S, max(QUEUE_POLL_MIN_S, queue_timeout_s / 4))


@dataclass(frozen=True)
class Bounds:
    timeout_s: float  # from execution start
    queue_timeout_s: float = 0.0  # behind prompts that are not this run's; 0: no bound


@dataclass
class Waiting:
    """What a wait needs of its client."""

    api: Endpoints
    reader: SocketReader
    watches: Watches
    client_id: str
    run_mark: str | None

    def wait(self, prompt_id: str, watch: Watch, bounds: Bounds) -> dict[str, Any]:
        """The finished prompt's history entry; its failure, a timeout or a lost prompt raised."""
        # Look at once when the socket is down (reconnecting), or to start the queue clock.
        at_once = not self.reader.connected or bounds.queue_timeout_s > 0
        next_poll = time.monotonic() + (0.0 if at_once else HISTORY_POLL_S)
        drops = self.reader.drops
        while True:
            if watch.done.wait(WAIT_TICK_S):
                if watch.error is not None:
                    raise watch.error
                return self._history_after_done(prompt_id)
            self.reader.check_gone()
            now = time.monotonic()
            if self.reader.drops != drops:  # the socket dropped or came back: messages may be lost
                drops, next_poll = self.reader.drops, now
            if now >= next_poll:
                entry = self._poll(prompt_id, watch, bounds, now)
                if entry is not None:
                    return entry
                pending = watch.started_at is None and bounds.queue_timeout_s > 0
                next_poll = now + (queue_poll_s(bounds.queue_timeout_s) if pending else HISTORY_POLL_S)
            if watch.started_at is not None and now - watch.started_at >= bounds.timeout_s:
                self.api.cancel([prompt_id])
                raise PromptTimeout(f"timed out: no result within {bounds.timeout_s:g} s of the prompt's execution "
                                    f"start; the prompt was interrupted (prompt {prompt_id})")

    def _poll(self, prompt_id: str, watch: Watch, bounds: Bounds, now: float) -> dict[str, Any] | None:
        """The backstop: the finished prompt's history entry (its failure raised), or None
        while it is queued or running. The queue is asked first: ComfyUI moves a prompt from
        its queue to /history in one step, so one missing from both is lost (the server
        restarted, or the prompt was removed from its queue): waiting longer would never end."""
        queue = self.api.queue()
        self.observe(queue, now)
        if prompt_id in queue.ids():
            if queue.is_running(prompt_id) and watch.started_at is None:
                watch.started_at = now  # the socket missed execution_start
            if watch.started_at is None and watch.clock.expired(bounds.queue_timeout_s):
                return self._expire(prompt_id, watch, bounds, now)
            return None
        entry = self._finished(prompt_id)
        if entry is not None:
            return entry
        raise PromptLost(f"prompt {prompt_id} is no longer on the server at {self.api.url}: not queued, not running "
                         "and not in /history (the server restarted, or the prompt was removed from its queue)")

    def observe(self, queue: QueueSnapshot, now: float) -> None:
        """One look at the queue runs the queue clock of every pending prompt of this client."""
        for prompt_id, watch in self.watches.items():
            if queue.pending_entry(prompt_id) is not None:
                watch.clock.observe(now, queue.foreign_ahead(prompt_id, self.client_id, self.run_mark))

    def _expire(self, prompt_id: str, watch: Watch, bounds: Bounds, now: float) -> dict[str, Any] | None:
        """The queue timeout passed: remove the prompt from the queue and raise QueueTimeout,
        unless it started (or even finished) in the meantime."""
        self.api.delete_queued([prompt_id])
        queue = self.api.queue()
        if queue.is_running(prompt_id):
            watch.started_at = watch.started_at or now
            return None
        if prompt_id not in queue.ids():
            entry = self._finished(prompt_id)
            if entry is not None:
                return entry
        clock = watch.clock
        raise QueueTimeout(prompt_id, clock.waited_s, now - clock.submitted_at, clock.ahead,
                           bounds.queue_timeout_s, removed=prompt_id not in queue.ids())

    def _finished(self, prompt_id: str) -> dict[str, Any] | None:
        """The history entry (ComfyUI writes one when a prompt ends), its failure raised."""
        entry = self.api.history(prompt_id)
        failure = failure_from_history(entry) if entry is not None else None
        if failure is not None:
            raise failure
        return entry

    def _history_after_done(self, prompt_id: str) -> dict[str, Any]:
        for _ in range(HISTORY_TRIES):
            entry = self._finished(prompt_id)
            if entry is not None:
                return entry
            time.sleep(HISTORY_PAUSE_S)
        raise PromptLost(f"prompt {prompt_id} finished but /history at {self.api.url} has no entry for it")
