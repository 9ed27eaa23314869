"""Offline checks of a batch against its workflow: every mapping lands on a real node input,
every key is declared, every value fits the input it is written to.

Each check returns problems instead of raising, so all of them are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import Problem, UnresolvedTarget
from .schema import suggest
from .workflow import Addresses, Place, Target, resolve

#: Keys the harness reads itself; they are never written into the workflow.
HARNESS_KEYS = frozenset({"id", "name", "tags", "skip", "xfail", "timeout", "baseline"})
#: The keys whose value "random" means a seed drawn when the prompt runs (the batch schema's
#: ``$defs/seed`` keys); in any other key "random" is just a text.
SEED_KEYS = ("seed", "noise_seed")
RANDOM = "random"


def check_target(addresses: Addresses, target: Target, place: str) -> list[Problem]:
    """The node must exist (by id, or by one title), be sent, and hold the input (a near
    miss is suggested). What only the server can tell is left to preflight."""
    try:
        resolve(addresses, target)
    except UnresolvedTarget as exc:
        return [] if exc.server_can_tell else [Problem(place, exc.message, exc.hint)]
    return []


def check_keys(values: Mapping[str, Any], declared: Iterable[str], place: str) -> list[Problem]:
    """Each key must be mapped in workflow_items or be a harness key."""
    known = sorted(set(declared) | HARNESS_KEYS)
    problems = []
    for key in values:
        if key in declared or key in HARNESS_KEYS or key.startswith("_"):
            continue
        hint = suggest(key, known) or "declare it in parameters.workflow_items, or remove it"
        problems.append(Problem(f"{place}.{key}", f"'{key}' is not declared in parameters.workflow_items", hint))
    return problems


def expected_type(current: Any) -> tuple[type, ...] | None:
    """What the workflow's current value says the input takes (None: a link or unknown)."""
    if isinstance(current, bool):
        return (bool,)
    if isinstance(current, (int, float)):
        # ComfyUI exports a FLOAT whose value is whole as an integer ("cfg": 8), so offline an
        # integer in the workflow admits any number; the server's spec tells INT from FLOAT.
        return (int, float)
    if isinstance(current, str):
        return (str,)
    return None


def _type_name(types: tuple[type, ...]) -> str:
    names: dict[tuple[type, ...], str] = {(bool,): "a boolean", (int, float): "a number", (str,): "a string"}
    return names[types]


def check_values(workflow: Mapping[str, Any], addresses: Addresses, targets: Mapping[str, list[Target]],
                 values: Mapping[str, Any], place: str) -> list[Problem]:
    """Offline type check: a value must have the type of the value the workflow holds there
    (a place the workflow does not hold yet, as in a UI file before conversion, is left to preflight)."""
    problems = []
    for key, value in values.items():
        if key in SEED_KEYS and value == RANDOM:
            continue
        for target in targets.get(key, ()):
            try:
                places = resolve(addresses, target)
            except UnresolvedTarget:
                continue  # reported by check_target
            for spot in places:
                problem = _value_problem(workflow, spot, value)
                if problem:
                    problems.append(Problem(f"{place}.{key}", problem))
    return problems


def _value_problem(workflow: Mapping[str, Any], spot: Place, value: Any) -> str:
    node = workflow.get(spot.node, {})
    current = node.get(spot.section, {}).get(spot.field)
    types = expected_type(current)
    if types is None or (isinstance(value, types) and not (isinstance(value, bool) and bool not in types)):
        return ""
    return (f"{value!r} does not fit node {spot.node} ({node.get('class_type')}) input '{spot.field}', "
            f"which takes {_type_name(types)} (the workflow holds {current!r})")
