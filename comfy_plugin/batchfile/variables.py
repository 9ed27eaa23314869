"""``variables``: named value lists from files, expanded into one prompt per value.

``"variables": {"poses": "./files/poses.txt"}`` makes each non-empty, stripped line of that
file a value; a prompt whose strings contain ``$poses`` becomes one test per value (the
Cartesian product when several variables appear). ``$$`` is a literal ``$``. Batches that
declare no variables are left exactly as written.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import BatchFileError, Problem
from . import reading
from .reading import Source

REFERENCE = re.compile(r"\$\$|\$([A-Za-z_]\w*)")


def read_values(path: Path, source: Source, max_bytes: int) -> list[str]:
    """The file's non-empty lines, stripped; a fault raises ``source.error`` (see ``reading``)."""
    text = reading.decode(reading.read_bytes(path, source, max_bytes), source)
    return [line.strip() for line in text.splitlines() if line.strip()]


def used_names(values: dict[str, Any], declared: dict[str, list[str]]) -> list[str]:
    """Declared variables referenced by the prompt's strings, in first-use order."""
    names: list[str] = []
    for value in values.values():
        if isinstance(value, str):
            for match in REFERENCE.finditer(value):
                name = match.group(1)
                if name in declared and name not in names:
                    names.append(name)
    return names


def substitute(text: str, assignment: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        value: str = assignment.get(match.group(1), match.group(0))
        return value

    return REFERENCE.sub(replace, text)


def expand(values: dict[str, Any], declared: dict[str, list[str]]) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """(assignment, values) for each combination; one plain copy when nothing is used."""
    if not declared:
        yield {}, values
        return
    names = used_names(values, declared)
    for combo in itertools.product(*(declared[n] for n in names)):
        assignment = dict(zip(names, combo, strict=True))
        yield assignment, {k: substitute(v, assignment) if isinstance(v, str) else v for k, v in values.items()}


def count(prompts: list[Any], generic: dict[str, Any], declared: dict[str, list[str]]) -> int:
    """How many prompts ``prompts`` expand to, computed without building one (the product of
    the lengths of the variables each prompt uses)."""
    total = 0
    for p in prompts:
        values = {**generic, **p} if isinstance(p, dict) else {}
        total += math.prod(len(declared[name]) for name in used_names(values, declared))
    return total


def load_declared(spec: dict[str, str], resolve: Callable[[str], tuple[Path, list[Path]]], max_bytes: int,
                  shown_as: str) -> tuple[dict[str, list[str]], list[Problem]]:
    """Read every variable file; ``resolve(name) -> (path, places looked at)``."""
    declared: dict[str, list[str]] = {}
    problems: list[Problem] = []
    for name, file_name in spec.items():
        place = f"variables.{name}"
        problem = reading.path_problem(file_name)
        if problem:
            problems.append(Problem(place, f"variable file {file_name!r:.80} cannot be looked for: {problem}"))
            continue
        path, looked = resolve(file_name)
        if not reading.exists(path):
            problems.append(Problem(place, f"variable file '{file_name}' not found; looked at "
                                    + " and ".join(str(p) for p in looked)))
            continue
        try:
            values = read_values(path, Source(shown_as, f"variable file {path}", place), max_bytes)
        except BatchFileError as exc:
            problems += exc.problems
            continue
        if not values:
            problems.append(Problem(place, f"variable file {path} has no values", "write one value per line"))
            continue
        declared[name] = values
    return declared, problems
