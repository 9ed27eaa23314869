"""The plugin's one registered object: the session's state, and the hooks that need it.

An installed pytest plugin is loaded by every pytest run in its environment, so nothing
heavy is imported or built here until it is needed: ``activate()`` builds the server
connection, the pipeline, the regression suite and the report recorder when the first batch
file is collected, when a ``comfy`` option is set, when the ``comfy`` fixture is used, or
when a pytest-xdist worker's payload arrives.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import options
from .records import PAYLOAD_KEY, PromptRecord, ServerInfo, WorkerPayload

if TYPE_CHECKING:  # imported only when activated
    from jsonschema.protocols import Validator
    from xdist.workermanage import WorkerController  # (pytest-xdist ships no types: Any to mypy)

    from ..baselines.perf import PerfBaselines
    from ..baselines.regression import Regression
    from ..errors import ServerUnavailable
    from ..media.kinds import Kinds
    from ..report.html import Recorder
    from ..run.pipeline import Pipeline, PromptJob
    from ..run.prompt import PromptJobs, PromptReport
    from ..server.session import ComfySession
    from .item import PromptItem
    from .progress import OpenLine, Progress

RUN_MARK_KEY = "comfy_run_mark"  # in pytest-xdist's workerinput: one mark for every worker's prompts


@dataclass
class Parts:
    """What a session with batch files needs, built once, on first use."""

    session: ComfySession
    pipeline: Pipeline
    regression: Regression
    perf: PerfBaselines
    jobs: PromptJobs
    recorder: Recorder
    validator: Validator  # the batch schema's
    progress: Progress | None


class ComfyPlugin:
    """Owns the session's state; registered with pytest as ``comfy-state``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings = options.resolve(config)  # usage errors show at start, before collection
        self.baseline = options.baseline_settings(config)
        self.report_path = options.report_path(config)
        workerinput = getattr(config, "workerinput", None)
        self.worker = workerinput["workerid"] if workerinput else ""
        self.run_mark = (workerinput or {}).get(RUN_MARK_KEY) or uuid.uuid4().hex
        self.parts: Parts | None = None
        self.order: dict[str, int] = {}  # node id -> position in the final item list (after -k, --lf)
        self.next_items: dict[str, pytest.Item | None] = {}  # what pytest runs next (all a worker knows)
        self.outcomes: dict[str, str] = {}  # prompt test node id -> passed, failed, skipped, ...
        self.local = WorkerPayload()  # this process's findings
        self.workers: list[WorkerPayload] = []  # the controller's: each worker's findings
        self.started_at = time.monotonic()
        self.started_wall = time.time()  # the report's date
        self.invalid: list[tuple[str, str]] = []  # --collect-only: (node id, message) of prompts that cannot run
        self.open_line: OpenLine | None = None  # the lines of say(), registered on the first
        if options.any_given(config):
            self.activate()

    @functools.cached_property
    def named_paths(self) -> frozenset[Path]:
        """The paths named on the command line, once a session (not once a JSON file): each as
        pytest spells it (absolute, links kept) and resolved."""
        base = self.config.invocation_params.dir
        given = [base / arg.split("::")[0] for arg in self.config.args]
        return frozenset([*(Path(os.path.abspath(path)) for path in given), *(path.resolve() for path in given)])

    @functools.cached_property
    def batch_folders(self) -> tuple[tuple[Path, str], ...]:
        """Each of ``comfy_batch_dirs`` resolved under the rootdir, with its name as given."""
        return tuple(((self.config.rootpath / entry).resolve(), entry) for entry in self.settings.batch_dirs)

    @property
    def is_worker(self) -> bool:
        return bool(self.worker)

    @property
    def server_failure(self) -> ServerUnavailable | None:
        return self.parts.session.failure if self.parts else None

    def activate(self) -> Parts:
        if self.parts is None:
            self.parts = self._build()
        return self.parts

    def _build(self) -> Parts:
        from ..baselines.pending import PendingStore
        from ..baselines.perf import PerfBaselines
        from ..baselines.regression import Regression
        from ..batchfile.schema import make_validator
        from ..errors import ComfyError
        from ..report.html import Recorder
        from ..run.pipeline import Depth, Pipeline
        from ..run.prompt import PromptJobs
        from ..server.session import ComfySession
        from . import paths, progress

        config = self.config
        batch_dir = self.settings.batch_dirs[0] if self.settings.batch_dirs else "batches"
        html_wanted = config.pluginmanager.hasplugin("html") and bool(getattr(config.option, "htmlpath", None))
        images = html_wanted or bool(self.report_path)
        try:
            regression = Regression.create(self.baseline, config.rootpath, batch_dir, output_kinds(config), images)
        except ComfyError as exc:
            raise pytest.UsageError(str(exc)) from None
        session = ComfySession(self.settings, config.rootpath, say=self.say, worker=_worker_number(self.worker),
                               fresh=self.baseline.fresh, output_root=paths.output_root(config),
                               run_mark=self.run_mark)
        pipeline = Pipeline(session, Depth(self.settings.prefetch))
        recorder = Recorder(None if self.is_worker else self.report_path, regression.kinds, images=images,
                            html=html_wanted)
        shown = progress.Progress(config) if progress.wanted(config) else None
        if shown is not None:
            session.listeners.append(shown.listener)
        perf = PerfBaselines(self.baseline, regression.store)
        jobs = PromptJobs(session, pipeline, regression, perf, PendingStore(self.baseline.pending))
        return Parts(session, pipeline, regression, perf, jobs, recorder, make_validator(), shown)

    def say(self, line: str) -> None:
        """Write a line to the terminal now, on a line of its own, even while output is captured
        (pytest's progress line goes on below it: ``progress.OpenLine``)."""
        from .progress import OpenLine

        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        if self.open_line is None:
            self.open_line = OpenLine(self.config)
            self.config.pluginmanager.register(self.open_line, "comfy-open-line")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if capture is None:
            self.open_line.write(reporter, line)
            return
        with capture.global_and_fixture_disabled():
            self.open_line.write(reporter, line)

    # -- running one prompt ----------------------------------------------------------------

    def run(self, item: PromptItem) -> PromptReport:
        """Run a prompt test's prompt (queueing the next ones ahead) and keep what it did."""
        parts = self.activate()
        if self.settings.check:
            return parts.jobs.check(item.job())
        report = parts.jobs.run(item.job(), self._upcoming(item, parts.pipeline.depth.now()), on_queued=item.on_queued)
        self.local.queued += len(report.prompt_ids)
        if report.prompt_id is not None and report.verdict is not None:
            self.local.records.append(PromptRecord(item.nodeid, report.prompt_id, report.drawn_seed,
                                                   tuple(str(p) for p in report.saved), report.execution_s,
                                                   report.timing.queued_s, report.timing.peak_mem_mb))
            parts.recorder.record(report, parts.regression.cards.pop(report.job.key, []))
        return report

    def _upcoming(self, item: PromptItem, lookahead: int) -> list[PromptJob]:
        """The next ``lookahead`` prompts pytest will run, to be queued ahead (only ``nextitem``
        under xdist)."""
        from .item import PromptItem

        if lookahead <= 0:
            return []
        candidates: Sequence[pytest.Item | None]
        if self.is_worker:
            candidates = [self.next_items.get(item.nodeid)]
        else:
            position = self.order.get(item.nodeid, -1)
            candidates = item.session.items[position + 1: position + 1 + lookahead]
        return [c.job() for c in candidates if isinstance(c, PromptItem) and c.runs_prompt()]

    # -- hooks -----------------------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Remember the final order (after -k, -m, --lf), so prompts can be queued ahead."""
        self.order = {item.nodeid: i for i, item in enumerate(session.items)}
        if self.parts is not None and self.config.option.collectonly:
            from .collect import invalid_prompts

            self.invalid = invalid_prompts(session.items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        if self.parts is not None and self.is_worker:  # (elsewhere the session's order says it)
            self.next_items[item.nodeid] = nextitem

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """Live progress is written only during a prompt test's call phase, for its own prompt."""
        shown = self.parts.progress if self.parts else None
        if shown is None:
            return (yield)
        from .item import PromptItem

        if not isinstance(item, PromptItem):
            return (yield)
        shown.start(item)
        try:
            return (yield)
        finally:
            shown.stop(item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None],
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if self.parts is not None and call.when == "call":
            from .item import PromptItem
            from .pytest_reports import adjust_report

            if isinstance(item, PromptItem):
                adjust_report(item, report, self.parts.recorder)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Outcomes of prompt tests, here or forwarded by pytest-xdist workers."""
        if self.parts is None and not any(name == "prompt" for name, _ in report.user_properties):
            return
        from .pytest_reports import outcome_of

        found = outcome_of(report)
        if found is not None:
            outcome, message, duration_s = found
            self.outcomes[report.nodeid] = outcome
            self.activate().recorder.outcome(report.nodeid, outcome, message, duration_s)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Prompts of tests that did not run or were interrupted (-x, --maxfail, Ctrl-C) leave the
        server. Then a worker hands its findings to the controller; the one process that writes
        writes the baselines and the report."""
        if self.parts is None:
            return
        if self.invalid and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # --collect-only found prompts that cannot run
        cancelled = self.parts.pipeline.cancel()
        self.local.cancelled += cancelled.removed
        self.local.not_cancelled += cancelled.left
        self.local.cancel_error = self.local.cancel_error or cancelled.error
        self.local.server = self.server_info()
        failure = self.parts.session.failure
        self.local.failure = str(failure) if failure is not None else ""
        if self.is_worker:
            output = self.config.workeroutput  # type: ignore[attr-defined]  # pytest-xdist's: Config lacks it
            output[PAYLOAD_KEY] = self._payload().to_json()
            return
        self._write_report()
        self.parts.regression.finish()
        self.parts.perf.finish()

    def _payload(self) -> WorkerPayload:
        parts = self.activate()
        self.local.verdicts = {k: v.to_json() for k, v in parts.regression.verdicts.items()}
        self.local.baseline_results = parts.regression.results.to_json()
        self.local.perf = parts.perf.to_json()
        self.local.report_entries = parts.recorder.to_json()
        return self.local

    def _write_report(self) -> None:
        recorder = self.activate().recorder
        if recorder.path is None:
            return
        servers = [f.server.url for f in self.findings() if f.server is not None]
        try:
            recorder.write(started=self.started_wall, servers=list(dict.fromkeys(servers)))
        except OSError as exc:
            recorder.error = f"{recorder.path}: {exc}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: WorkerController) -> None:
        """pytest-xdist controller: every worker marks its prompts with this run's mark."""
        node.workerinput[RUN_MARK_KEY] = self.run_mark

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: WorkerController, error: object) -> None:
        """pytest-xdist controller: merge a worker's findings (only the controller writes)."""
        data = getattr(node, "workeroutput", {}).get(PAYLOAD_KEY)
        if not data:
            return
        from ..baselines.verdict import merge_verdicts

        payload = WorkerPayload.from_json(data)
        parts = self.activate()
        self.workers.append(payload)
        parts.regression.absorb(payload.baseline_results)
        merge_verdicts(parts.regression.verdicts, payload.verdicts)
        parts.recorder.absorb(payload.report_entries)
        parts.perf.absorb(payload.perf)

    def findings(self) -> list[WorkerPayload]:
        """Every pytest-xdist worker's findings on a controller; else this process's."""
        return self.workers or [self.local]

    def server_info(self) -> ServerInfo | None:
        if self.parts is None:
            return None
        session = self.parts.session
        server = session.server
        launch = str(self.settings.launch) if self.settings.launch else ""
        return ServerInfo(self.worker, session.url, launch,
                          str(server.log_path) if server is not None else "",
                          launched=server is not None,
                          failed=session.failure is not None or (server is not None and server.failed),
                          contacted=session.contacted)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.parts is None or self.is_worker:
            return
        from . import summary

        summary.write(terminalreporter, self)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.parts is not None:
            self.parts.session.close()


def _worker_number(worker: str) -> int:
    """pytest-xdist's worker id ``gw3`` -> 3; 0 in a plain session."""
    return int(worker[2:]) if worker[2:].isdigit() else 0


def output_kinds(config: pytest.Config) -> Kinds:
    """The session's output kinds: the built-in ones and a project's (``pytest_comfy_output_kinds``)."""
    from ..media.kinds import Kinds

    return Kinds.of(kind for kinds in config.hook.pytest_comfy_output_kinds() for kind in kinds)
