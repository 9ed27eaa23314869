"""Offline checks of a batch against its workflow: every mapping lands on a real node input,
every key is declared, every value fits the input it is written to.

Each check returns problems instead of raising, so all of them are reported at once.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .errors import Problem
from .schema import suggest
from .workflow import Target, node_id_for

#: Keys the harness reads itself; they are never written into the workflow.
HARNESS_KEYS = frozenset({"id", "name", "tags", "skip", "xfail", "timeout", "baseline"})
SEED_KEYS = frozenset({"seed", "noise_seed"})
RANDOM = "random"


def check_target(workflow: Mapping[str, Any], target: Target, place: str) -> list[Problem]:
    """The node must exist (by id or title) and hold the input (a near miss is suggested)."""
    try:
        node_id = node_id_for(workflow, target)
    except KeyError:
        names = list(workflow) + [n.get("_meta", {}).get("title", "") for n in workflow.values()]
        what = "no node titled" if target.by_title else "no node with id"
        hint = suggest(target.node, [n for n in names if n]) or f"the workflow's node ids: {', '.join(workflow)}"
        return [Problem(place, f"{what} '{target.node}' in the workflow", hint)]
    node = workflow[node_id]
    section = node.get(target.section)
    if not isinstance(section, dict):
        return [Problem(place, f"node {node_id} has no '{target.section}'", 'the middle part is normally "inputs"')]
    if target.field not in section:
        inputs = list(section)
        hint = suggest(target.field, inputs) or f"node {node_id} ({node.get('class_type')}) has: {', '.join(inputs)}"
        return [Problem(place, f"node {node_id} ({node.get('class_type')}) has no input '{target.field}'", hint)]
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
    return {(bool,): "a boolean", (int, float): "a number", (str,): "a string"}[types]


def check_values(workflow: Mapping[str, Any], targets: Mapping[str, list[Target]], values: Mapping[str, Any],
                 place: str) -> list[Problem]:
    """Offline type check: a value must have the type of the value the workflow holds there."""
    problems = []
    for key, value in values.items():
        if key in SEED_KEYS and value == RANDOM:
            continue
        for target in targets.get(key, ()):
            try:
                node_id = node_id_for(workflow, target)
            except KeyError:
                continue  # reported by check_target
            current = workflow[node_id].get(target.section, {}).get(target.field)
            types = expected_type(current)
            if types is None or (isinstance(value, types) and not (isinstance(value, bool) and bool not in types)):
                continue
            problems.append(Problem(
                f"{place}.{key}",
                f"{value!r} does not fit node {node_id} ({workflow[node_id].get('class_type')}) input "
                f"'{target.field}', which takes {_type_name(types)} (the workflow holds {current!r})",
            ))
    return problems
