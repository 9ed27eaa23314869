"""Where a session's files live, found the same way from any working directory in the project.

The rule: baselines (``baselines/``), pending results (``images/comfy-pending/``) and the saved
outputs (a batch file's ``output_directory``, ``./images/``) are relative to the folder of
pytest's configuration file (``pyproject.toml`` with ``[tool.pytest.ini_options]``,
``pytest.ini``, ...); a baseline file's name mirrors its batch file's path under the rootdir,
which is that folder too. Without a configuration file pytest takes the rootdir from the paths
on the command line, so ``cd batches; pytest x.json`` would look for (and record) another tree:
then the summary says once what to add. Paths given on the command line or in the environment
stay relative to the working directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def output_root(config: pytest.Config) -> Path:
    """What relative output folders of batch files start from: the configuration file's
    folder; without one, the working directory at invocation (as the original tool)."""
    return config.inipath.parent if config.inipath is not None else config.invocation_params.dir


def no_config_lines(config: pytest.Config) -> list[str]:
    """The summary's warning for a project without a pytest configuration file (else none)."""
    if config.inipath is not None:
        return []
    return [f"no pytest configuration file: baselines and pending results are under {config.rootpath}, "
            "pytest's rootdir, which it took from this command line's paths (a run started from another "
            f"folder looks elsewhere), and images under the working directory {config.invocation_params.dir}",
            "  add one at the project's root so that every run finds them: a pyproject.toml with a "
            "[tool.pytest.ini_options] table (or a pytest.ini with a [pytest] section)"]
