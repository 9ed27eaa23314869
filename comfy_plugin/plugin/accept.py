"""``pytest --comfy-accept FILE``: the pytest side of accepting pending results.

The file may be anywhere (``~/Downloads/accepted.json``): given as two words, pytest first took
it for a test path, and the command was run again with it joined (``joined.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import options


def command(config: pytest.Config) -> int | None:
    """Accept the listed prompts' pending results, print each change, and return the exit code
    (None without ``--comfy-accept``: pytest goes on)."""
    listed = config.getoption("comfy_accept")
    if not listed:
        return None
    from ..baselines import accept
    from .state import output_kinds

    settings = options.resolve(config)
    batch_dir = settings.batch_dirs[0] if settings.batch_dirs else "batches"
    done = accept.run(options.baseline_settings(config), config.rootpath, batch_dir,
                      accepted_file(listed, config.invocation_params.dir), output_kinds(config))
    for line in done.lines:
        print(line)
    return done.code


def accepted_file(value: str, invocation_dir: Path) -> Path:
    """The accepted-results file: anywhere, ``~`` expanded, relative to the working directory."""
    return invocation_dir / os.path.expanduser(value)
