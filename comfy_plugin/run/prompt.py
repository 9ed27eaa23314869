"""Run one prompt of a batch file, end to end, and say what happened in one typed result.

The pytest layer hands a ``PromptJob`` (and the jobs it will run next, to be queued ahead)
to ``PromptJobs.run`` and gets a ``PromptReport`` back: the outcome, the images saved, the
seeds sent, the server's timing and the baseline verdict. Everything that decides an outcome
lives here, with no pytest: queueing ahead (the pipeline), a missing model (skip or fail),
a server that died (relaunched and the prompt queued again through the same pipeline), the
baseline check. Only a ``KeyboardInterrupt`` (or a bug) leaves by an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..baselines.pending import Pending, PendingStore
from ..baselines.perf import PerfBaselines, PerfVerdict
from ..baselines.regression import Regression, Verdict
from ..baselines.verdict import REVIEWABLE
from ..errors import BaselineMismatch, BaselineSkipped, ComfyError, ModelMissing, PerfRegression, ServerUnavailable
from ..media.kind import DEFAULT_KIND, SavedOutput
from ..server.measure import PromptTiming, cold_reason
from ..server.session import ComfySession
from . import steps
from .confirm import Confirmation, confirm
from .pipeline import Pipeline, PromptJob

SEED_VALUES = ("seed", "noise_seed")


@dataclass
class PromptReport:
    """What one prompt did: enough for pass/fail/skip, report sections, junit and the HTML report."""

    job: PromptJob
    status: str = "passed"  # passed | failed | skipped
    error: ComfyError | None = None  # why it failed or was skipped
    prompt_ids: list[str] = field(default_factory=list)  # every try, in order
    drawn_seed: int | None = None  # the value a "random" seed was given
    values: dict[str, Any] = field(default_factory=dict)  # the values sent, seeds included
    outputs: list[SavedOutput] = field(default_factory=list)
    cached_nodes: list[str] = field(default_factory=list)
    wholly_cached: bool = False
    execution_s: float | None = None  # from the server's own timestamps
    timing: PromptTiming = field(default_factory=PromptTiming)  # queued time, node times, peak memory
    verdict: Verdict | None = None
    perf: PerfVerdict | None = None  # against the time baseline
    cold: str = ""  # why its time is a cold one (it loaded a model), compared with cold figures only
    provenance: dict[str, Any] = field(default_factory=dict)  # where it ran (server/identity.py), as JSON
    confirmation: Confirmation | None = None  # the uncached reruns of a failure (--comfy-confirm-failures)

    @property
    def prompt_id(self) -> str | None:
        return self.prompt_ids[-1] if self.prompt_ids else None

    @property
    def perf_figures(self) -> dict[str, float]:
        """What a time baseline keeps: the server's execution time and the peak memory."""
        figures = {"execution_s": self.execution_s, "peak_mem_mb": self.timing.peak_mem_mb}
        return {name: value for name, value in figures.items() if value is not None}

    @property
    def seeds(self) -> dict[str, Any]:
        return {key: self.values[key] for key in SEED_VALUES if key in self.values}

    @property
    def saved(self) -> list[Path]:
        return [o.path for o in self.outputs if o.path is not None]

    @property
    def still_images(self) -> list[SavedOutput]:
        return [o for o in self.outputs if o.kind == DEFAULT_KIND]

    def failed_with(self, error: ComfyError) -> PromptReport:
        self.status, self.error = "failed", error
        return self

    def skipped_with(self, error: ComfyError) -> PromptReport:
        self.status, self.error = "skipped", error
        return self


#: Called with each ComfyUI prompt id as soon as it is queued (live progress, junit).
OnQueued = Callable[[str], None]


@dataclass
class PromptJobs:
    """Runs prompts on the session's server through the pipeline that queues them ahead."""

    session: ComfySession
    pipeline: Pipeline
    regression: Regression
    perf: PerfBaselines
    pending: PendingStore | None = None  # where results wait for review (--comfy-accept)

    def run(self, job: PromptJob, upcoming: list[PromptJob], on_queued: OnQueued = lambda _: None) -> PromptReport:
        report = PromptReport(job)
        if job.spec.error is not None:
            return report.failed_with(job.spec.error)  # found by reading the file: no server time spent
        try:
            self._run(job, upcoming, report, on_queued)
        except ComfyError as exc:
            self._judge(report, exc)
        except KeyboardInterrupt:
            raise  # the prompt stays "current": the session's end cancels it
        except BaseException:
            self.pipeline.settled()
            raise
        self.pipeline.settled()
        return report

    def check(self, job: PromptJob) -> PromptReport:
        """--comfy-check: the prompt validated as a run would validate it, and nothing queued.
        Without a named or launched server only what the batch file itself tells is checked."""
        report = PromptReport(job)
        if job.spec.error is not None:
            return report.failed_with(job.spec.error)
        if not self.session.settings.server_named:
            return report
        try:
            prepared = steps.checked(self.session, job.batch, job.spec)
        except ComfyError as exc:
            return self._judge(report, exc)
        report.values = dict(prepared.values)
        return report

    def _judge(self, report: PromptReport, exc: ComfyError) -> PromptReport:
        """A server that is gone fails this and every later prompt; a missing model skips the
        prompt (--comfy-missing=fail: fails it); any other error fails it."""
        if isinstance(exc, ServerUnavailable):
            self.session.note_failure(exc)
        if isinstance(exc, ModelMissing) and self.session.settings.missing != "fail":
            return report.skipped_with(exc)
        return report.failed_with(exc)

    def _run(self, job: PromptJob, upcoming: list[PromptJob], report: PromptReport, on_queued: OnQueued) -> None:
        run = self._take(job, upcoming, report, on_queued)
        outcome = self._finish(job, run, report, on_queued)
        self.pipeline.depth.executed(outcome.result.execution_s)
        report.outputs = outcome.outputs
        report.cached_nodes = list(outcome.result.cached_nodes)
        report.wholly_cached = bool(report.cached_nodes) and set(report.cached_nodes) >= set(run.prepared.workflow)
        report.execution_s = outcome.result.execution_s
        report.timing = self.session.timings.result(outcome.prompt_id)
        report.cold = cold_reason(run.prepared.workflow, report.cached_nodes)
        provenance = self.session.provenance(run.prepared.workflow)
        report.provenance = provenance.to_json()
        report.verdict = self.regression.check(job.key, job.batch, job.spec, run.prepared, outcome.outputs,
                                               provenance=provenance)
        if report.verdict.status == "diff" and self.regression.settings.confirm_failures > 0:
            self._confirm(job, run, outcome, report)
        if report.verdict.skip:
            report.skipped_with(BaselineSkipped(report.verdict.message))
        elif report.verdict.failed:
            report.failed_with(BaselineMismatch(report.verdict.message))
        self._check_perf(job, report)
        self._keep_for_review(job, report)

    def _confirm(self, job: PromptJob, run: steps.PromptRun, outcome: steps.PromptOutcome,
                 report: PromptReport) -> None:
        """A prompt that differs from its baseline, run again uncached (run/confirm.py): a rerun
        that differs from the first run makes it nondeterministic, else the diff is confirmed."""
        settings = self.regression.settings
        report.confirmation = confirm(self.session, run, outcome.outputs, self.regression,
                                      times=settings.confirm_failures, on_queued=self._rerunning)
        assert report.verdict is not None  # (compared just before)
        report.verdict = report.confirmation.verdict(report.verdict, settings.nondeterministic)
        self.regression.keep(job.key, report.verdict)

    def _rerunning(self, prompt_id: str) -> None:
        self.pipeline.current = prompt_id  # the session's end cancels it if a Ctrl-C comes

    def _keep_for_review(self, job: PromptJob, report: PromptReport) -> None:
        """A comparison a reviewer may accept leaves a pending result; one that matches now
        removes the pending result of an earlier run (there is nothing left to accept)."""
        reviewable = self.regression.reviewable.pop(job.key, None)
        if self.pending is None or report.verdict is None or report.verdict.status == "not-compared":
            return
        if reviewable is None or report.verdict.status not in REVIEWABLE:  # nondeterministic: nothing to accept
            key = self.regression.batch_key(job.batch)  # None outside the rootdir: no baselines there
            if key is not None:
                self.pending.drop(key, job.spec.id)
            return
        key, prompt_id, observations = reviewable
        perf = {"device": self.session.device, "figures": report.perf_figures, "cold": report.cold} \
            if report.perf_figures else {}
        self.pending.put(Pending(job.key, key, prompt_id, report.verdict.status, report.verdict.message,
                                 [o.to_json() for o in observations], perf,
                                 self.regression.pending_provenance(job.key, report.provenance)))

    def _check_perf(self, job: PromptJob, report: PromptReport) -> None:
        """Compare time and memory with the prompt's time baseline (fixed seeds, really run)."""
        if report.wholly_cached or report.verdict is None or report.verdict.status == "not-compared":
            return
        report.perf = self.perf.check(job.key, job.batch.path, job.spec.id, self.session.device, report.perf_figures,
                                      cold=report.cold, provenance=report.provenance)
        if report.perf.failed and report.status == "passed":
            report.failed_with(PerfRegression(f"time baseline: {report.perf.message}"))

    def _take(self, job: PromptJob, upcoming: list[PromptJob], report: PromptReport,
              on_queued: OnQueued) -> steps.PromptRun:
        """This job's prompt on the server; after a crash (and a relaunch) queued again."""
        while True:
            try:
                run = self.pipeline.take(job, upcoming)
                break
            except ServerUnavailable as exc:
                if not self.session.recover(exc):  # bounded: at most MAX_RESTARTS relaunches
                    raise
                upcoming = []
        self._queued(run, report, on_queued)
        return run

    def _finish(self, job: PromptJob, run: steps.PromptRun, report: PromptReport,
                on_queued: OnQueued) -> steps.PromptOutcome:
        """Wait for the prompt and save its outputs. With --comfy-restart-on-crash, a prompt
        whose launched server died (or was replaced) is queued again with the same seed, each
        time the server is relaunched (session.recover allows at most MAX_RESTARTS)."""
        while True:
            try:
                if self.session.holds(run.prompt_id):
                    return steps.finish(self.session, run, self.regression.kinds)
                run = self.pipeline.take(replace(job, seed=run.prepared.drawn_seed), [])
                self._queued(run, report, on_queued)
            except ServerUnavailable as exc:
                if not self.session.recover(exc):
                    raise

    @staticmethod
    def _queued(run: steps.PromptRun, report: PromptReport, on_queued: OnQueued) -> None:
        report.prompt_ids.append(run.prompt_id)
        report.drawn_seed = run.prepared.drawn_seed
        report.values = dict(run.prepared.values)
        on_queued(run.prompt_id)

