"""The pytest side: a batch file is a ``pytest.File``, each prompt a ``pytest.Item``.

This is the only place that renders the harness's exceptions, once, as plain text.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from . import html_report, runner
from .batch import Batch, PromptSpec, load_batch
from .errors import BatchFileError, ComfyError, ModelMissing, PreflightError, ServerUnavailable
from .pipeline import Pipeline, Upcoming
from .regression import MARKER as REGRESSION_MARKER
from .regression import BaselineMismatch, Regression, is_compared
from .schema import make_validator
from .session import ComfySession, PromptRecord

SESSION_KEY = pytest.StashKey[ComfySession]()
VALIDATOR_KEY = pytest.StashKey[Draft202012Validator]()
PIPELINE_KEY = pytest.StashKey[Pipeline]()
ORDER_KEY = pytest.StashKey[dict]()  # node id -> position in the session's final item list
NEXT_KEY = pytest.StashKey[object]()  # the item pytest runs next (all a pytest-xdist worker knows)
REGRESSION_KEY = pytest.StashKey[Regression]()


def comfy_session(config: pytest.Config) -> ComfySession:
    return config.stash[SESSION_KEY]


def batch_validator(config: pytest.Config) -> Draft202012Validator:
    """The schema validator, built once per session."""
    if VALIDATOR_KEY not in config.stash:
        config.stash[VALIDATOR_KEY] = make_validator()
    return config.stash[VALIDATOR_KEY]


class BatchFile(pytest.File):
    """One batch JSON file. A broken file yields one failing item, so the rest still run."""

    def collect(self):
        shown_as = self.nodeid or self.path.name
        try:
            batch = load_batch(self.path, shown_as, self.config.invocation_params.dir, batch_validator(self.config),
                               getattr(self.config, "cache", None))
        except BatchFileError as exc:
            yield BrokenBatchItem.from_parent(self, name="batch", error=exc)
            return
        register_tags(self.config, batch)
        self.config.stash[REGRESSION_KEY].collected(batch)
        for spec in batch.prompts:
            yield PromptItem.from_parent(self, name=spec.id, batch=batch, spec=spec)


class BrokenBatchItem(pytest.Item):
    """Stands for a batch file that cannot be read: fails with the file's error."""

    def __init__(self, *, error: BatchFileError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, BatchFileError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"{self.error.path} (batch file)"


class PromptItem(pytest.Item):
    """One prompt: queued on ComfyUI, its outputs saved."""

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

    def runtest(self) -> None:
        if self.spec.error is not None:
            raise self.spec.error  # found by reading the file: no server time spent
        session = comfy_session(self.config)
        pipeline = self.config.stash[PIPELINE_KEY]
        try:
            self._run(session)
        except ServerUnavailable as exc:
            session.note_failure(exc)
            raise
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt):  # Ctrl-C: the session end cancels the prompt
                pipeline.settled()
            raise
        pipeline.settled()

    def _run(self, session: ComfySession) -> None:
        try:
            run = self.config.stash[PIPELINE_KEY].take(self._job(), self._upcoming())
        except ModelMissing as exc:
            if session.settings.missing == "fail":
                raise
            pytest.skip(str(exc))
        except ServerUnavailable as exc:
            if not session.recover(exc):
                raise
            run = runner.start(session, self.batch, self.spec)
        self.drawn_seed = run.prepared.drawn_seed
        self._record_start(run)
        run, outcome = self._finish(session, run)
        saved = [o.path for o in outcome.outputs if o.path is not None]
        session.records.append(PromptRecord(self.nodeid, run.prompt_id, self.drawn_seed, saved,
                                            outcome.result.execution_s))
        self.user_properties.append(("images", " ".join(str(p) for p in saved)))
        lines = [f"prompt_id: {run.prompt_id}"]
        lines += [f"{key}: {run.prepared.values[key]}" + (" (drawn at random)" if key in self.spec.random_keys() else "")
                  for key in ("seed", "noise_seed") if key in run.prepared.values]
        lines += [f"{o.file.kind}: {o.path or o.file.filename} {_size(o.size)}".rstrip() for o in outcome.outputs]
        if outcome.result.cached_nodes:
            wholly = set(outcome.result.cached_nodes) >= set(run.prepared.workflow)
            lines.append("served wholly from ComfyUI's cache (--comfy-fresh clears it)" if wholly
                         else f"served from cache: nodes {', '.join(outcome.result.cached_nodes)}")
        verdict = self.config.stash[REGRESSION_KEY].check(self.nodeid, self.batch, self.spec, run.prepared,
                                                           outcome.outputs)
        lines.append(f"baseline: {verdict.status}: {verdict.message}")
        html_report.record(self.config, self, run, outcome, verdict, self.config.stash[REGRESSION_KEY])
        if verdict.distances:
            self.user_properties.append(("hash_distance", " ".join(str(d) for d in verdict.distances)))
            self.user_properties.append(("hash_threshold", str(verdict.threshold)))
        self.add_report_section("call", "comfy", "\n".join(lines))
        self.config.hook.pytest_comfy_check_images(
            item=self, images=[o for o in outcome.outputs if o.is_still_image])
        if verdict.skip:
            pytest.skip(verdict.message)
        if verdict.failed:
            raise BaselineMismatch(verdict.message)

    def _finish(self, session: ComfySession, run: runner.PromptRun) -> tuple[runner.PromptRun, runner.PromptOutcome]:
        """Wait for the prompt and save its outputs. With --comfy-restart-on-crash, a prompt
        whose launched server died (or was replaced) is queued once more, with the same seed."""
        try:
            if session.holds(run.prompt_id):
                return run, runner.finish(session, run, self.config.invocation_params.dir)
        except ServerUnavailable as exc:
            if not session.recover(exc):
                raise
        run = runner.start(session, self.batch, self.spec, seed=run.prepared.drawn_seed)
        self.user_properties.append(("prompt_id", run.prompt_id))
        return run, runner.finish(session, run, self.config.invocation_params.dir)

    def _job(self) -> Upcoming:
        return Upcoming(self.nodeid, self.batch, self.spec)

    def _upcoming(self) -> list[Upcoming]:
        """The prompts pytest will run next, to be queued ahead (only ``nextitem`` under xdist)."""
        lookahead = self.config.stash[PIPELINE_KEY].lookahead
        if lookahead <= 0:
            return []
        if hasattr(self.config, "workerinput"):
            candidates = [self.stash.get(NEXT_KEY, None)]
        else:
            position = self.config.stash[ORDER_KEY].get(self.nodeid, -1)
            candidates = self.session.items[position + 1: position + 1 + lookahead]
        return [item._job() for item in candidates if isinstance(item, PromptItem) and item.runs_prompt()]

    def runs_prompt(self) -> bool:
        """Whether running this test queues its prompt (a skipped or broken one does not)."""
        return self.spec.error is None and self.get_closest_marker("skip") is None \
            and self.get_closest_marker("skipif") is None

    def _record_start(self, run: runner.PromptRun) -> None:
        self.user_properties.append(("prompt_id", run.prompt_id))
        for key in ("seed", "noise_seed"):
            if key in run.prepared.values:
                self.user_properties.append((key, str(run.prepared.values[key])))

    def repr_failure(self, excinfo, style=None):
        exc = excinfo.value
        if not isinstance(exc, ComfyError):
            return super().repr_failure(excinfo, style)
        if isinstance(exc, PreflightError):
            return f"{self.batch.shown_as}: prompts[{self.spec.index}]: {exc}" + self._rerun_hint()
        session = comfy_session(self.config)
        text = exc.short() if isinstance(exc, ServerUnavailable) and session.failure is not None else str(exc)
        return text + self._rerun_hint()

    def _rerun_hint(self) -> str:
        if self.drawn_seed is None:
            return ""
        return (f"\nrandom seed drawn: {self.drawn_seed}; rerun exactly with:\n"
                f"  pytest {shlex.quote(self.nodeid)} --comfy-seed {self.drawn_seed}")

    def reportinfo(self):
        # pytest shows the node id, with this domain (the failure headline) at its end.
        return self.path, self.spec.line, self.spec.id


def register_tags(config: pytest.Config, batch: Batch) -> None:
    """Tags are markers; registering them keeps ``--strict-markers`` and -m working."""
    known = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    for tag in sorted({t for spec in batch.prompts for t in spec.tags} - known):
        config.addinivalue_line("markers", f"{tag}: tag from a batch file")


def _size(size: tuple[int, int] | None) -> str:
    return f"({size[0]}x{size[1]})" if size else ""


def is_batch_candidate(path: Path, named: bool, under_batch_dir: bool) -> bool:
    """Named on the command line or under a batch folder: always a batch file (so a broken
    one is reported), unless it is recognisably a workflow. Elsewhere only JSON holding
    top-level ``parameters`` and ``prompts`` is."""
    from .batch import read_json
    from .workflow import is_workflow

    try:
        data = read_json(path, str(path))
    except BatchFileError:
        return named or under_batch_dir
    if is_workflow(data):
        return False
    if named or under_batch_dir:
        return True
    return isinstance(data, dict) and "parameters" in data and "prompts" in data
