"""A prompt as a pytest test: runs it through ``run/prompt.py`` and turns the typed result into
pass, fail or skip, a report section, junit properties and a failure in plain words."""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING, Any

import pytest

from ..baselines.regression import is_compared
from ..batchfile.batch import Batch, PromptSpec
from ..errors import ComfyError, InternalError, PreflightError, ServerUnavailable
from ..run.pipeline import PromptJob
from ..run.prompt import PromptReport
from ..settings import REGRESSION_MARKER
from .failure import FailureRepr
from .registry import comfy_state

if TYPE_CHECKING:
    from pathlib import Path

    from _pytest._code.code import TerminalRepr, TracebackStyle  # (types pytest does not export)

    from .state import ComfyPlugin


class PromptFailed(Exception):
    """Raised by ``runtest`` for a prompt whose report says failed; carries the report."""

    def __init__(self, report: PromptReport) -> None:
        super().__init__(str(report.error))
        self.report = report


class PromptItem(pytest.Item):
    """One prompt: queued on ComfyUI, its outputs saved and compared."""

    def __init__(self, *, batch: Batch, spec: PromptSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        self.spec = spec
        self.add_marker("comfy")
        for tag in spec.tags:
            self.add_marker(tag)
        self.drawn_seed: int | None = None
        self.user_properties.append(("prompt", spec.id))
        if spec.error is not None:
            return  # a prompt written wrongly fails, whatever its skip or xfail says
        if is_compared(spec):
            self.add_marker(REGRESSION_MARKER)
        if spec.skip:
            self.add_marker(pytest.mark.skip(reason=spec.skip))
        if spec.xfail:
            self.add_marker(pytest.mark.xfail(reason=spec.xfail, strict=False))

    @property
    def plugin(self) -> ComfyPlugin:
        return comfy_state(self.config)

    def job(self) -> PromptJob:
        return PromptJob(self.nodeid, self.batch, self.spec)

    def runs_prompt(self) -> bool:
        """Whether running this test queues its prompt (a skipped or broken one does not)."""
        return self.spec.error is None and self.get_closest_marker("skip") is None \
            and self.get_closest_marker("skipif") is None

    def runtest(self) -> None:
        try:
            report = self.plugin.run(self)
            self.drawn_seed = report.drawn_seed
            if report.prompt_id is not None:  # something was queued: say what
                self._record(report)
        except ComfyError:
            raise
        except Exception as exc:  # the safety net: a bug fails this prompt alone, reported
            raise InternalError(self.nodeid, exc) from exc
        if report.verdict is not None:  # the prompt ran to its end: the project's own checks
            self.config.hook.pytest_comfy_check_images(item=self, images=report.still_images)
        if report.status == "skipped":
            pytest.skip(str(report.error))
        if report.status == "failed":
            raise PromptFailed(report)

    def on_queued(self, prompt_id: str) -> None:
        """The prompt is on the server: its id is known to live progress and junit at once."""
        self.user_properties.append(("prompt_id", prompt_id))

    def _record(self, report: PromptReport) -> None:
        for key, value in report.seeds.items():
            self.user_properties.append((key, str(value)))
        self.user_properties.append(("images", " ".join(str(p) for p in report.saved)))
        for name, value in (("queued_s", report.timing.queued_s), ("execution_s", report.execution_s),
                            ("peak_mem_mb", report.timing.peak_mem_mb)):
            if value is not None:
                self.user_properties.append((name, f"{value:.3f}" if name != "peak_mem_mb" else f"{value:.0f}"))
        # every reading of every output kind: <reading>_distance (one figure per output) and
        # <reading>_threshold; still images' readings have no kind prefix (hash_distance, ...)
        for reading, (values, limit) in (report.verdict.readings if report.verdict is not None else {}).items():
            # (names and thresholds are the same for every prompt: interned, each is held once)
            self.user_properties.append((sys.intern(f"{reading}_distance"), " ".join(_figure(v) for v in values)))
            self.user_properties.append((sys.intern(f"{reading}_threshold"), sys.intern(_figure(limit))))
        if report.confirmation is not None:  # --comfy-confirm-failures: what the uncached reruns said
            self.user_properties.append(("confirm", report.confirmation.outcome))
            self.user_properties.append(("confirm_prompt_ids", " ".join(report.confirmation.prompt_ids)))
        self.add_report_section("call", "comfy", "\n".join(section_lines(report)))

    def repr_failure(  # type: ignore[override]  # pytest shows any longrepr that has toterminal
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None,
    ) -> str | TerminalRepr | FailureRepr:
        exc: BaseException | None = excinfo.value
        if isinstance(exc, PromptFailed):
            exc = exc.report.error
        if isinstance(exc, InternalError):
            return FailureRepr.of_internal(exc, self.config.option.verbose > 0)
        if not isinstance(exc, ComfyError):
            return super().repr_failure(excinfo, style)
        if isinstance(exc, PreflightError):
            text = f"{self.batch.shown_as}: prompts[{self.spec.index}]: {exc}"
        elif isinstance(exc, ServerUnavailable) and self.plugin.server_failure is not None:
            text = exc.short()
        else:
            text = str(exc)
        sections = [("", text)]
        if self.drawn_seed is not None:
            sections.append(("", f"random seed drawn: {self.drawn_seed}; rerun exactly with:\n"
                                 f"  pytest {shlex.quote(self.nodeid)} --comfy-seed {self.drawn_seed}"))
        return FailureRepr(sections)

    def reportinfo(self) -> tuple[Path, int, str]:
        # pytest shows the node id, with this domain (the failure headline) at its end.
        return self.path, self.spec.line, self.spec.id


def section_lines(report: PromptReport) -> list[str]:
    """The prompt's report section ("Captured comfy call"): what ran and what came out. A
    failure's own message is not repeated here."""
    lines = [f"prompt_id: {report.prompt_id}"]
    random_keys = report.job.spec.random_keys()
    lines += [f"{key}: {value}" + (" (drawn at random)" if key in random_keys else "")
              for key, value in report.seeds.items()]
    lines += [f"{o.file.kind}: {o.path or o.file.filename} {_detail(o.detail)}".rstrip() for o in report.outputs]
    if report.wholly_cached:
        lines.append("served wholly from ComfyUI's cache (--comfy-fresh clears it)")
    elif report.cached_nodes:
        lines.append(f"nodes {', '.join(report.cached_nodes)} were not run again: "
                     "ComfyUI reused their cached results")
    lines += timing_lines(report)
    if report.perf is not None and report.perf.status != "off":
        detail = f": {report.perf.message}" if report.perf.message else ""
        lines.append(f"time baseline: {report.perf.status}{detail}")
    if report.confirmation is not None:
        lines.append(f"reruns (uncached): {report.confirmation.outcome}: " + ", ".join(
            f"{r.prompt_id} " + (f"differs ({r.differences})" if r.differences else "the same")
            for r in report.confirmation.reruns))
    if report.verdict is not None:
        shown = "see the failure above" if report.status == "failed" else report.verdict.message
        lines.append(f"baseline: {report.verdict.status}: {shown}")
    return lines


def timing_lines(report: PromptReport) -> list[str]:
    """Queued and execution time, peak memory, and the slowest nodes (client receive times)."""
    timing, lines = report.timing, []
    times = [f"{label} {value:.2f} s" for label, value in (("queued", timing.queued_s),
                                                           ("executed", report.execution_s)) if value is not None]
    if times:
        lines.append("time: " + ", ".join(times) + " (execution: the server's timestamps)")
    if timing.peak_mem_mb is not None:
        lines.append(f"memory: {timing.peak_mem_mb:.0f} MB ({timing.mem_kind})")
    slowest = sorted(timing.node_s, key=lambda pair: -pair[1])[:3]
    if slowest:
        lines.append("slowest nodes (as the client saw them): "
                     + ", ".join(f"{report.job.batch.node_label(node)} {seconds:.2f} s" for node, seconds in slowest))
    return lines


def _figure(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _detail(detail: str) -> str:
    return f"({detail})" if detail else ""
