"""Keep the server's queue full: prompts are queued ahead of the test that waits for them.

While one test waits for (and then saves and compares) its result, the next ``lookahead``
prompts are already on the server: sent and waited for on the client's background threads
(``ComfyClient.submit_later``), so that the test's thread never waits on a busy server's slow
answers one prompt at a time. By default (``Depth``) the lookahead grows while prompts are
short, so that the client's slower moments never leave a fast server idle. A prompt queued
for a test that will not run (``-x``, ``--maxfail``, Ctrl-C) is removed from the server's
queue, or interrupted if it runs.
No pytest here: the pytest layer says which prompts come next.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from concurrent import futures
from dataclasses import dataclass, field

from ..batchfile.batch import Batch, PromptSpec
from ..errors import ComfyError
from ..server.session import ComfySession
from . import steps

#: How long the session's end waits for POSTs still on their way before it cancels.
POST_WAIT_S = 60.0
#: --comfy-prefetch auto: at least AUTO_LEAST prompts queued ahead, and while prompts are
#: short as many as the server runs in AUTO_WINDOW_S (at most AUTO_MOST). A garbage collection
#: or pytest's reporting then costs a server of 5 ms prompts no idle time; a prompt of a second
#: or more keeps two ahead, so that little is queued to remove when a test stops the run.
AUTO_LEAST = 2
AUTO_MOST = 16
AUTO_WINDOW_S = 0.1
#: How many recent execution times the automatic lookahead goes by (their median).
AUTO_RECENT = 16


@dataclass
class Depth:
    """How many prompts to queue ahead: ``fixed`` (--comfy-prefetch N), or None for "auto"."""

    fixed: int | None = AUTO_LEAST
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=AUTO_RECENT))

    def now(self) -> int:
        if self.fixed is not None:
            return self.fixed
        if not self.recent:
            return AUTO_LEAST
        typical = statistics.median(self.recent)
        fits = math.ceil(AUTO_WINDOW_S / typical) if typical > 0 else AUTO_MOST
        return max(AUTO_LEAST, min(AUTO_MOST, fits))

    def executed(self, seconds: float | None) -> None:
        """A prompt's execution time on the server (None: not known, not counted)."""
        if seconds is not None and seconds >= 0:
            self.recent.append(seconds)


@dataclass(frozen=True)
class PromptJob:
    """One prompt to run: the test's node id, its batch file and prompt; ``seed`` replaces a
    "random" seed (a prompt queued again after a crash keeps the seed of its first try)."""

    key: str
    batch: Batch
    spec: PromptSpec
    seed: int | None = None


@dataclass(frozen=True)
class Cancelled:
    """What the session's end removed from the server (``removed``), and what it could not."""

    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class Pipeline:
    session: ComfySession
    depth: Depth = field(default_factory=Depth)
    started: dict[str, steps.PromptRun | ComfyError] = field(default_factory=dict)
    current: str | None = None  # the prompt the running test waits for, until it settles

    def take(self, job: PromptJob, upcoming: list[PromptJob]) -> steps.PromptRun:
        """This test's prompt, queued now if it was not queued ahead (a job with a seed is queued
        again: a retry); then the next ones are queued before the caller starts waiting. A
        failure found while queueing ahead is raised here, for its own test."""
        run = self.started.pop(job.key, None)
        if run is None or job.seed is not None:
            run = self._start(job)
        for nxt in upcoming[: self.depth.now()]:
            if nxt.key not in self.started and not self.session.failure:
                self.started[nxt.key] = self._start_quietly(nxt)
        if isinstance(run, ComfyError):
            raise run
        if run.later is not None:
            run.later.posted.result()  # the server's refusal of a prompt sent ahead, for its own test
        self.current = run.prompt_id
        return run

    def settled(self) -> None:
        """The running test is done with its prompt (it is no longer ours to cancel)."""
        self.current = None

    def _start(self, job: PromptJob) -> steps.PromptRun | ComfyError:
        return steps.start(self.session, job.batch, job.spec, seed=job.seed)

    def _start_quietly(self, job: PromptJob) -> steps.PromptRun | ComfyError:
        try:
            return steps.start(self.session, job.batch, job.spec, seed=job.seed, ahead=True)
        except ComfyError as exc:
            return exc

    def cancel(self) -> Cancelled:
        """Remove every prompt queued ahead for a test that did not run, and the one a test was
        waiting for when the session was interrupted (Ctrl-C). A POST still on its way is
        let arrive first, so that no prompt reaches the queue after its removal."""
        sending = [run.later.posted for run in self.started.values()
                   if isinstance(run, steps.PromptRun) and run.later is not None]
        futures.wait(sending, timeout=POST_WAIT_S)
        ids = [run.prompt_id for run in self.started.values()
               if isinstance(run, steps.PromptRun) and self.session.holds(run.prompt_id)]
        ids += [self.current] if self.current else []
        self.started.clear()
        self.current = None
        if not ids:
            return Cancelled()
        if self.session.failure is not None:
            return Cancelled(left=ids, error=f"the server is not available ({self.session.failure.url})")
        try:
            removed = self.session.client().cancel(ids)
        except ComfyError as exc:
            return Cancelled(left=ids, error=str(exc).splitlines()[0])
        return Cancelled(removed=[i for i in ids if i in removed], left=[i for i in ids if i not in removed])
