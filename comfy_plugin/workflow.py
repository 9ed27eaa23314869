"""Pure functions on ComfyUI API-format workflows: recognise, load, address and patch them.

An API-format workflow maps node ids to ``{"class_type", "inputs", "_meta"}``; a batch
file's ``workflow_items`` say which node input each prompt key writes to.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import WorkflowError

UI_EXPORT_HINT = (
    "this is ComfyUI's UI (editor) format; the harness needs the API format: in ComfyUI "
    "open the workflow and choose Workflow > Export (API) (older versions: enable "
    "'Dev mode Options' in the settings, then 'Save (API Format)')"
)


def is_api_workflow(data: Any) -> bool:
    """Every value is a node object carrying ``class_type``."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, dict) and "class_type" in v for v in data.values())
    )


def is_ui_workflow(data: Any) -> bool:
    return isinstance(data, dict) and "nodes" in data and "links" in data


def is_workflow(data: Any) -> bool:
    return is_api_workflow(data) or is_ui_workflow(data)


def load_workflow(path: Path, shown_as: str) -> dict[str, Any]:
    """Read an API-format workflow; ``shown_as`` is how error messages name the batch file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowError(shown_as, f"cannot read workflow {path}: {exc}", "parameters.workflow_file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowError(
            shown_as,
            f"workflow {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            "parameters.workflow_file",
        )
    if is_ui_workflow(data):
        raise WorkflowError(shown_as, f"workflow {path} is not in API format", "parameters.workflow_file", UI_EXPORT_HINT)
    if not is_api_workflow(data):
        raise WorkflowError(
            shown_as,
            f"workflow {path} is not an API-format ComfyUI workflow (an object of nodes with 'class_type')",
            "parameters.workflow_file",
            UI_EXPORT_HINT,
        )
    return data


@dataclass(frozen=True)
class Target:
    """One place a prompt value is written to: ``workflow[node][section][field]``.

    ``node`` is a node id, or a node title when ``by_title`` (the object form of a mapping).
    """

    node: str
    section: str
    field: str
    by_title: bool = False

    def __str__(self) -> str:
        if self.by_title:
            return f"node titled '{self.node}', input '{self.field}'"
        return f"{self.node},{self.section},{self.field}"


def parse_target(spec: Any) -> Target:
    """Parse ``"node_id,inputs,field_name"`` (spaces tolerated, ``:`` allowed in node ids)
    or ``{"node": id-or-title, "input": name}``. Raises ValueError with the reason."""
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"'{spec}' is not of the form 'node_id,inputs,field_name'")
        return Target(parts[0], parts[1], parts[2])
    if isinstance(spec, dict):
        node, field = spec.get("node"), spec.get("input")
        if not isinstance(node, str) or not isinstance(field, str) or not node or not field:
            raise ValueError(f"{json.dumps(spec)} needs string 'node' (id or title) and 'input'")
        return Target(node, "inputs", field, by_title=True)
    raise ValueError(f"{json.dumps(spec)} is neither a 'node_id,inputs,field_name' string nor a {{node, input}} object")


def parse_targets(spec: Any) -> list[Target]:
    """A mapping value is one target or a list of them (one value written to several nodes)."""
    if isinstance(spec, list):
        if not spec:
            raise ValueError("an empty list writes the value nowhere")
        return [parse_target(s) for s in spec]
    return [parse_target(spec)]


def node_id_for(workflow: Mapping[str, Any], target: Target) -> str:
    """The node id a target addresses; raises KeyError when no node matches."""
    if not target.by_title:
        if target.node in workflow:
            return target.node
        raise KeyError(target.node)
    if target.node in workflow:
        return target.node
    matches = [nid for nid, node in workflow.items() if node.get("_meta", {}).get("title") == target.node]
    if len(matches) != 1:
        raise KeyError(target.node)
    return matches[0]


def patch(workflow: Mapping[str, Any], targets: Mapping[str, list[Target]], values: Mapping[str, Any]) -> dict[str, Any]:
    """A patched deep copy: each value whose key has targets is written to all of them.

    Keys without targets are left to the caller (harness keys such as ``id``)."""
    result = copy.deepcopy(dict(workflow))
    for key, value in values.items():
        for target in targets.get(key, ()):
            node = result[node_id_for(result, target)]
            node.setdefault(target.section, {})[target.field] = value
    return result
