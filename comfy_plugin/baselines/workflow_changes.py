"""What changed in a workflow since its baseline was recorded, node by node and input by input.

An entry keeps only the digest of the workflow it was recorded with, which says *that* it
changed. So each prompt's recorded provenance also keeps a compact map of the workflow
(``"workflow": {node id: {"class": ..., "inputs": {name: value}}}``: short values as they
are, a link as ``[node, output]``, a long text as a digest), and a changed test names what
differs: ``the workflow changed since the baseline was recorded: node 3 (KSampler) input
steps: 4 -> 6; node 9 (ImageBlur) added``. A baseline recorded before keeps the old line.
No pytest here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..media.kind import plain

KEY = "workflow"  # in a prompt's provenance, as the baseline file holds it
CHANGED = "the workflow changed since the baseline was recorded"
SHORT = 40  # longer texts (and any structure but a link) are kept as a digest
SHOWN = 6  # at most this many changes are named


def _compact(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, str) and len(value) <= SHORT:
        return value
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int):
        return list(value)  # a link: [node id, output index]
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def node_inputs(workflow: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The compact map of an API-format workflow that the provenance keeps."""
    found: dict[str, dict[str, Any]] = {}
    for node_id, node in workflow.items():
        if not isinstance(node, Mapping):
            continue
        inputs = node.get("inputs")
        found[str(node_id)] = {"class": str(node.get("class_type", "")),
                               "inputs": {str(k): _compact(v) for k, v in sorted(inputs.items())}
                               if isinstance(inputs, Mapping) else {}}
    return plain(found)  # type: ignore[no-any-return]  # (JSON in, JSON out)


def _shown(value: Any) -> str:
    if isinstance(value, str) and value.startswith("sha256:"):
        return "(a long value)"
    if isinstance(value, list):
        return f"node {value[0]} output {value[1]}"
    return json.dumps(value, ensure_ascii=False)


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``node 3 (KSampler) input steps: 4 -> 6``, ``node 9 (ImageBlur) added``, in node order."""
    found: list[str] = []
    for node_id in sorted(set(old) | set(new), key=lambda n: (len(n), n)):
        then, now = old.get(node_id), new.get(node_id)
        label = f"node {node_id} ({(now or then or {}).get('class', '?')})"
        if then is None or now is None:
            found.append(f"{label} {'added' if then is None else 'removed'}")
            continue
        if then.get("class") != now.get("class"):
            found.append(f"node {node_id}: {then.get('class')} -> {now.get('class')}")
            continue
        before, after = then.get("inputs") or {}, now.get("inputs") or {}
        for name in sorted(set(before) | set(after)):
            if name not in after:
                found.append(f"{label} input {name} removed")
            elif name not in before:
                found.append(f"{label} input {name} added: {_shown(after[name])}")
            elif before[name] != after[name]:
                found.append(f"{label} input {name}: {_shown(before[name])} -> {_shown(after[name])}")
    return found


def described(message: str, recorded: Any, workflow: Mapping[str, Any]) -> str:
    """``message`` with its "the workflow changed" naming the nodes and inputs, when the
    baseline's provenance kept the map (``recorded``: that provenance as the file holds it)."""
    stored = recorded.get(KEY) if isinstance(recorded, Mapping) else None
    if CHANGED not in message or not isinstance(stored, Mapping):
        return message
    found = changes(stored, node_inputs(workflow))
    if not found:
        return message
    more = f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return message.replace(CHANGED, f"{CHANGED}: {'; '.join(found[:SHOWN])}{more}", 1)
