"""Keep the server's queue full: prompts are queued ahead of the test that waits for them.

While one test waits for (and then downloads and saves) its result, the next ``lookahead``
prompts are already on the server. A prompt queued for a test that will not run (``-x``,
``--maxfail``, Ctrl-C) is removed from the server's queue, or interrupted if it runs.
No pytest here: the pytest layer says which prompts come next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import runner
from .batch import Batch, PromptSpec
from .errors import ComfyError
from .session import ComfySession


@dataclass(frozen=True)
class Upcoming:
    key: str  # the test's node id
    batch: Batch
    spec: PromptSpec


@dataclass
class Pipeline:
    session: ComfySession
    lookahead: int = 2
    started: dict[str, runner.PromptRun | ComfyError] = field(default_factory=dict)
    current: str | None = None  # the prompt the running test waits for, until it settles

    def take(self, job: Upcoming, upcoming: list[Upcoming]) -> runner.PromptRun:
        """This test's prompt, queued now if it was not queued ahead; then the next ones are
        queued before the caller starts waiting. A failure found while queueing ahead is
        raised here, for the test it belongs to."""
        run = self.started.pop(job.key, None)
        if run is None:
            run = self._start(job)
        for nxt in upcoming[: self.lookahead]:
            if nxt.key not in self.started and not self.session.failure:
                self.started[nxt.key] = self._start_quietly(nxt)
        if isinstance(run, ComfyError):
            raise run
        self.current = run.prompt_id
        return run

    def settled(self) -> None:
        """The running test is done with its prompt (it is no longer ours to cancel)."""
        self.current = None

    def _start(self, job: Upcoming) -> runner.PromptRun | ComfyError:
        return runner.start(self.session, job.batch, job.spec)

    def _start_quietly(self, job: Upcoming) -> runner.PromptRun | ComfyError:
        try:
            return self._start(job)
        except ComfyError as exc:
            return exc

    def cancel(self) -> list[str]:
        """Remove every prompt queued ahead for a test that did not run, and the one a test was
        waiting for when the session was interrupted (Ctrl-C); returns their ids."""
        ids = [run.prompt_id for run in self.started.values() if isinstance(run, runner.PromptRun)]
        ids += [self.current] if self.current else []
        self.started.clear()
        self.current = None
        if ids and self.session.failure is None:
            try:
                self.session.client().cancel(ids)
            except ComfyError:
                pass  # the server is gone: nothing left to cancel
        return ids
