"""pytest hooks only: options, collection of batch files, session start and end, summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import options, report
from .collect import SESSION_KEY, BatchFile, comfy_session, is_batch_candidate
from .session import ComfySession


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "comfy: a prompt of a ComfyUI batch file")
    settings = options.resolve(config)
    config.stash[SESSION_KEY] = ComfySession(settings, config.rootpath, say=_say(config))


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


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        report.summary(terminalreporter, session)
