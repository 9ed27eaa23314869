"""pytest's entry point (``-p no:comfy_plugin`` turns it off): options, the one state object,
collection of batch files and the ``comfy`` fixture. Everything else waits until needed, so
a pytest run without batch files pays almost nothing for the plugin being installed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..settings import REGRESSION_MARKER
from . import hookspecs, joined, options
from .registry import STATE_NAME, comfy_state
from .state import ComfyPlugin

if TYPE_CHECKING:
    from ..run.steps import WorkflowRunner
    from .collect import BatchFile


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_load_initial_conftests(args: list[str]) -> None:
    """Between pytest's two parses of the command line: ``--comfy-launch-args "--cpu"`` works."""
    options.join_dashed_values(args)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "comfy: a prompt of a ComfyUI batch file")
    config.addinivalue_line("markers", f"{REGRESSION_MARKER}: a fixed-seed prompt compared with its baseline")
    config.pluginmanager.register(ComfyPlugin(config), STATE_NAME)
    if options.ci_form(config):
        from . import ci

        ci.register(config)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """A path option given as two words that misled pytest's search for the project: the
    command runs again with it as one word (``joined.py``). ``--comfy-accept FILE``: write the
    listed prompts' pending results as their baselines, print each change, and stop (nothing is
    collected or run, as with ``--fixtures``)."""
    code = joined.rerun(config)
    if code is not None:
        return code
    if not config.getoption("comfy_accept"):
        return None
    from .accept import command

    return command(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> BatchFile | None:
    if file_path.suffix.lower() != ".json":
        return None
    from .collect import batch_file_at

    return batch_file_at(file_path, parent)


@pytest.fixture
def comfy(pytestconfig: pytest.Config) -> WorkflowRunner:
    """Run an API-format workflow on the session's ComfyUI from an ordinary test:
    ``result = comfy.run(workflow)``; ``result.images`` holds the output images' bytes."""
    from ..run.steps import WorkflowRunner

    return WorkflowRunner(comfy_state(pytestconfig).activate().session)
