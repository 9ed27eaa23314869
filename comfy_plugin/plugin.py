"""pytest hooks only: options, collection of batch files, session start and end, summary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from . import html_report, options, progress, summary
from . import hookspecs
from .collect import (NEXT_KEY, ORDER_KEY, PIPELINE_KEY, REGRESSION_KEY, SESSION_KEY, BatchFile, PromptItem,
                      comfy_session, is_batch_candidate)
from .errors import ComfyError
from .pipeline import Pipeline
from .regression import MARKER, Regression
from .runner import WorkflowRunner
from .session import ComfySession, PromptRecord

WORKER_OUTPUT = "comfy_baselines"
WORKER_RECORDS = "comfy_records"  # the summary's prompt records, from a pytest-xdist worker
WORKER_REPORT = "comfy_report"  # the report's entries, from a pytest-xdist worker
PROGRESS_KEY = pytest.StashKey[progress.Progress]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "comfy: a prompt of a ComfyUI batch file")
    config.addinivalue_line("markers", f"{MARKER}: a fixed-seed prompt compared with its baseline")
    settings = options.resolve(config)
    baseline = options.baseline_settings(config)
    try:
        config.stash[REGRESSION_KEY] = Regression.create(baseline, config.rootpath,
                                                         settings.batch_dirs[0] if settings.batch_dirs else "batches")
    except ComfyError as exc:
        raise pytest.UsageError(str(exc)) from None
    session = ComfySession(settings, config.rootpath, say=_say(config), worker=_worker_number(config),
                           fresh=baseline.fresh)
    config.stash[SESSION_KEY] = session
    config.stash[PIPELINE_KEY] = Pipeline(session, settings.prefetch)
    config.stash[ORDER_KEY] = {}
    html_wanted = config.pluginmanager.hasplugin("html") and bool(getattr(config.option, "htmlpath", None))
    recorder = html_report.Recorder(None if hasattr(config, "workerinput") else options.report_path(config),
                                    images=html_wanted or bool(options.report_path(config)))
    config.stash[html_report.RECORDER_KEY] = recorder
    config.pluginmanager.register(recorder, "comfy-recorder")  # its pytest_runtest_logreport: outcomes
    if progress.wanted(config):
        shown = progress.Progress(config, tty=sys.stdout.isatty() and _reporter_tty(config))
        config.stash[PROGRESS_KEY] = shown
        session.listeners.append(shown.listener)


def _reporter_tty(config: pytest.Config) -> bool:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return reporter is not None and bool(reporter.isatty())


def _worker_number(config: pytest.Config) -> int:
    """pytest-xdist's worker id ``gw3`` -> 3; 0 in a plain session."""
    worker_id = getattr(config, "workerinput", {}).get("workerid", "gw0")
    return int(worker_id[2:]) if worker_id[2:].isdigit() else 0


def _say(config: pytest.Config):
    """Write a line to the terminal now, even while a test's output is being captured."""

    def say(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    return say


def _named_paths(config: pytest.Config) -> set[Path]:
    base = config.invocation_params.dir
    return {(base / arg.split("::")[0]).resolve() for arg in config.args}


def _under_batch_dir(path: Path, config: pytest.Config) -> bool:
    dirs = comfy_session(config).settings.batch_dirs
    parents = path.resolve().parents
    for entry in dirs:
        folder = (config.rootpath / entry).resolve()
        if folder in parents or (len(Path(entry).parts) == 1 and any(p.name == entry for p in parents)):
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix.lower() != ".json":
        return None
    config = parent.config
    named = file_path.resolve() in _named_paths(config)
    if is_batch_candidate(file_path, named, _under_batch_dir(file_path, config)):
        return BatchFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember the final order (after -k, -m, --lf), so prompts can be queued ahead."""
    session.config.stash[ORDER_KEY] = {item.nodeid: i for i, item in enumerate(session.items)}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if isinstance(item, PromptItem):
        item.stash[NEXT_KEY] = nextitem


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Live progress is written only during a prompt test's call phase, for its own prompt."""
    shown = item.config.stash.get(PROGRESS_KEY, None)
    if shown is None or not isinstance(item, PromptItem):
        return (yield)
    shown.start(item)
    try:
        return (yield)
    finally:
        shown.stop(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """With pytest-html: the prompt's output thumbnails become extras of its report."""
    report = yield
    if call.when == "call" and isinstance(item, PromptItem):
        try:
            import pytest_html  # noqa: PLC0415
        except ImportError:
            return report
        recorder = item.config.stash.get(html_report.RECORDER_KEY, None)
        thumbs = recorder.thumbnails(item.nodeid) if recorder is not None else []
        if thumbs:
            extras = list(getattr(report, "extras", []))
            extras += [pytest_html.extras.image(b64, mime_type="image/png") for b64 in thumbs]
            report.extras = extras
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Prompts of tests that did not run or were interrupted (-x, --maxfail, Ctrl-C) leave the server.
    Baselines are written here, by the one process that writes: a pytest-xdist worker hands
    its results to the controller instead."""
    config = session.config
    pipeline = config.stash.get(PIPELINE_KEY, None)
    if pipeline is not None:
        cancelled = pipeline.cancel()
        if cancelled:
            comfy_session(config).cancelled += cancelled
    recorder = config.stash.get(html_report.RECORDER_KEY, None)
    comfy = config.stash.get(SESSION_KEY, None)
    if hasattr(config, "workerinput"):
        if recorder is not None:
            config.workeroutput[WORKER_REPORT] = recorder.to_json()
        if comfy is not None:
            config.workeroutput[WORKER_RECORDS] = [
                {"nodeid": r.nodeid, "prompt_id": r.prompt_id, "drawn_seed": r.drawn_seed,
                 "saved": [str(p) for p in r.saved], "execution_s": r.execution_s} for r in comfy.records]
    elif recorder is not None and recorder.path is not None:
        try:
            recorder.write()
        except OSError as exc:
            recorder.error = f"{recorder.path}: {exc}"
    regression = config.stash.get(REGRESSION_KEY, None)
    if regression is None:
        return
    if hasattr(config, "workerinput"):
        config.workeroutput[WORKER_OUTPUT] = regression.results.to_json()
        return
    regression.finish()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist controller: merge a worker's baseline results (only the controller writes)."""
    payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    regression = node.config.stash.get(REGRESSION_KEY, None)
    if payload and regression is not None:
        regression.absorb(payload)
    output = getattr(node, "workeroutput", {})
    recorder = node.config.stash.get(html_report.RECORDER_KEY, None)
    if output.get(WORKER_REPORT) and recorder is not None:
        recorder.absorb(output[WORKER_REPORT])
    comfy = node.config.stash.get(SESSION_KEY, None)
    if comfy is not None:
        comfy.records += [PromptRecord(r["nodeid"], r["prompt_id"], r["drawn_seed"], [Path(p) for p in r["saved"]],
                                       r["execution_s"]) for r in output.get(WORKER_RECORDS, [])]


@pytest.fixture
def comfy(pytestconfig: pytest.Config) -> WorkflowRunner:
    """Run an API-format workflow on the session's ComfyUI from an ordinary test:
    ``result = comfy.run(workflow)``; ``result.images`` holds the output images' bytes."""
    return WorkflowRunner(comfy_session(pytestconfig))


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    recorder = config.stash.get(html_report.RECORDER_KEY, None)
    if session is not None:
        summary.summary(terminalreporter, session, recorder)
    regression = config.stash.get(REGRESSION_KEY, None)
    if regression is not None and not hasattr(config, "workerinput"):
        summary.baseline_summary(terminalreporter, regression)
