"""``pytest --comfy-accept FILE``: the pytest side of accepting pending results.

pytest decides its rootdir and configuration file before it loads this plugin, so it does not
know that ``--comfy-accept`` takes a value: in ``--comfy-accept ~/Downloads/accepted.json`` it
takes the file for a test path and looks for the project around ``~/Downloads`` (wrong rootdir,
no ini, the wrong ``images/comfy-pending``). The command is then run once more, in this
process, with the file as part of the option (``--comfy-accept=/abs/accepted.json``), which
pytest leaves out of its search: the project is found from the working directory, as for
any run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import options

FLAG = "--comfy-accept"


def command(config: pytest.Config) -> int | None:
    """Accept the listed prompts' pending results, print each change, and return the exit code
    (None without ``--comfy-accept``: pytest goes on)."""
    listed = config.getoption("comfy_accept")
    if not listed:
        return None
    again = joined_args(config.invocation_params.args, config.invocation_params.dir)
    if again is not None:
        return int(pytest.main(again))
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


def joined_args(args: tuple[str, ...] | list[str], invocation_dir: Path) -> list[str] | None:
    """The command line with ``--comfy-accept FILE`` (two words, which pytest's rootdir search
    reads as a test path) as one word with an absolute path; None when it is one word already."""
    words = list(args)
    for i, word in enumerate(words[:-1]):
        if word == FLAG:
            return [*words[:i], f"{FLAG}={accepted_file(words[i + 1], invocation_dir)}", *words[i + 2:]]
    return None
