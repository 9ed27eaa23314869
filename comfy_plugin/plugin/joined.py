"""A path option given as two words (``--comfy-launch ~/ComfyUI``), run again as one.

pytest decides its rootdir and configuration file before it loads this plugin, so it does not
know that such an option takes a value: it takes the value for a test path, looks for the
project around it, and may make ComfyUI's own ``pytest.ini`` (or nothing, for a file in
``~/Downloads``) the project's configuration. When that happened, the command is run once more,
in this process, with each such value joined to its option (``--comfy-launch=/home/you/ComfyUI``),
which pytest leaves out of its search: the project is found from the working directory and the
test paths, as for any run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

#: The options whose value is a file or folder: the ones pytest's early search misreads.
PATH_FLAGS = frozenset({
    "--comfy-accept", "--comfy-launch", "--comfy-python", "--comfy-model-paths", "--comfy-models",
    "--comfy-model-cache", "--comfy-report", "--comfy-baselines", "--comfy-pending", "--comfy-ca-bundle",
})


def joined_args(args: Sequence[str], invocation_dir: Path) -> list[str] | None:
    """The command line with every ``--comfy-<path option> VALUE`` as one word (a path made
    absolute, ``~`` expanded; a bare interpreter name kept as it is); None when none was
    given as two words."""
    words, joined, index = list(args), [], 0
    while index < len(words):
        word = words[index]
        if word == "--":
            joined.extend(words[index:])
            break
        if word in PATH_FLAGS and index + 1 < len(words):
            joined.append(f"{word}={_absolute(words[index + 1], invocation_dir)}")
            index += 2
            continue
        joined.append(word)
        index += 1
    return joined if joined != words else None


def _absolute(value: str, invocation_dir: Path) -> str:
    expanded = os.path.expanduser(value)
    if os.sep not in expanded and not (invocation_dir / expanded).exists():
        return expanded  # `--comfy-python python3`: found on PATH, not a file here
    return str(invocation_dir / expanded)


def misread(config: pytest.Config) -> bool:
    """Whether pytest's early search may have been misled: ``--comfy-accept`` always (its file
    lives anywhere), any other path option when the configuration file pytest took is above
    neither the working directory nor a test path, or when there is none (the rootdir, which
    names the tests, then followed the value)."""
    if config.option.inifilename or config.option.rootdir:
        return False  # the user chose them
    if config.getoption("comfy_accept"):
        return True
    return config.inipath is None or foreign_ini(config)


def foreign_ini(config: pytest.Config) -> bool:
    """Whether the configuration file pytest took is above neither the working directory nor
    a test path (a project's own is always one of them)."""
    if config.inipath is None:
        return False
    here = config.invocation_params.dir
    folder = config.inipath.resolve().parent
    paths = [here, *(here / str(arg).split("::")[0] for arg in config.args)]
    return not any(folder == p or folder in p.parents for p in (q.resolve() for q in paths))


def rerun(config: pytest.Config) -> int | None:
    """The exit code of the command run again with its path options joined, or None when it
    needs no second run."""
    args = config.invocation_params.args
    if not PATH_FLAGS.intersection(args):
        return None
    again = joined_args(args, config.invocation_params.dir)
    if again is None or not misread(config):
        return None
    return int(pytest.main(again))
