"""pytest's entry point (``-p no:comfy_plugin`` turns it off): options, the one state object,
collection of batch files and the ``comfy`` fixture. Everything else waits until needed, so
a pytest run without batch files pays almost nothing for the plugin being installed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..settings import REGRESSION_MARKER
from . import hookspecs, options
from .registry import STATE_NAME, comfy_state
from .state import ComfyPlugin, output_kinds

if TYPE_CHECKING:
    from ..run.steps import WorkflowRunner
    from .collect import BatchFile


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "comfy: a prompt of a ComfyUI batch file")
    config.addinivalue_line("markers", f"{REGRESSION_MARKER}: a fixed-seed prompt compared with its baseline")
    config.pluginmanager.register(ComfyPlugin(config), STATE_NAME)
    if options.ci_form(config):
        from . import ci

        ci.register(config)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--comfy-accept FILE``: write the listed prompts' pending results as their baselines,
    print each change, and stop (nothing is collected or run, as with ``--fixtures``)."""
    listed = config.getoption("comfy_accept")
    if not listed:
        return None
    from ..baselines import accept

    settings = options.resolve(config)
    batch_dir = settings.batch_dirs[0] if settings.batch_dirs else "batches"
    done = accept.run(options.baseline_settings(config), config.rootpath, batch_dir,
                      config.invocation_params.dir / listed, output_kinds(config))
    for line in done.lines:
        print(line)
    return done.code


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
