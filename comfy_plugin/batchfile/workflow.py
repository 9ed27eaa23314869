"""Pure functions on ComfyUI workflows: recognise, load, address and patch them.

An API-format workflow maps node ids to ``{"class_type", "inputs", "_meta"}``; a UI-format
one (the editor's graph) is converted to that when a prompt runs (``comfy_plugin.uiformat``).
A batch file's ``workflow_items`` say which node input each prompt key writes to. A target is
resolved through ``Addresses``, the nodes as the user sees them: for an API file its own
nodes; for a UI-format file (the editor's graph) also subgraph instances, primitives and
nodes that are never sent, so that what the user sees in the editor can be addressed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from ..errors import UnresolvedTarget, WorkflowError
from ..settings import BatchLimits
from .reading import Source, read_json
from .schema import suggest

WORKFLOW_HINT = (
    "save the workflow from the ComfyUI editor (Workflow > Save), or export it in the API format "
    "(Workflow > Export (API))"
)


def is_api_workflow(data: Any) -> bool:
    """Every value is a node object carrying ``class_type``."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, dict) and "class_type" in v for v in data.values())
    )


def is_ui_workflow(data: Any) -> bool:
    """The graph the editor saves (``nodes`` and ``links``): converted when a prompt runs."""
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data


def is_workflow(data: Any) -> TypeGuard[dict[str, Any]]:
    return is_api_workflow(data) or is_ui_workflow(data)


def load_workflow(path: Path, shown_as: str, max_bytes: int | None = None) -> dict[str, Any]:
    """Read a workflow: API format, or the editor's UI format (``is_ui_workflow``), returned as
    written (an API workflow's shape is checked: see ``api_shape_problem``). ``shown_as`` is
    how error messages name the batch file; ``max_bytes`` bounds the file (see ``reading``)."""
    source = Source(shown_as, f"workflow {path}", "parameters.workflow_file", WorkflowError)
    data = read_json(path, source, max_bytes or BatchLimits().file_bytes).data
    if not is_workflow(data):
        raise WorkflowError(
            shown_as,
            f"workflow {path} is not a ComfyUI workflow: neither the editor's format ('nodes' and 'links') "
            "nor the API format (an object of nodes with 'class_type')",
            "parameters.workflow_file",
            WORKFLOW_HINT,
        )
    problem = api_shape_problem(data) if is_api_workflow(data) else ""
    if problem:
        source.fail(f"not a usable API-format workflow: {problem}", hint=WORKFLOW_HINT)
    return data


def api_shape_problem(workflow: Mapping[str, Any]) -> str:
    """What in an API-format workflow breaks the shape ComfyUI sends (``{"class_type": str,
    "inputs": {name: value}}`` per node), or "". Checked when the file is read, so patching
    and preflight can trust it."""
    for node_id, node in workflow.items():
        if not isinstance(node, dict):
            return f"node {node_id}: must be an object, found {type(node).__name__}"
        if not isinstance(node.get("class_type"), str) or not node["class_type"]:
            return f"node {node_id}: 'class_type' must be a non-empty string, found {node.get('class_type')!r:.60}"
        if not isinstance(node.get("inputs", {}), dict):
            return f"node {node_id}: 'inputs' must be an object, found {type(node['inputs']).__name__}"
    return ""


@dataclass(frozen=True)
class Target:
    """One place a batch file writes a prompt value to, as written: ``node,section,field``.

    ``node`` is a node id, or a node title when ``by_title`` (the object form of a mapping).
    ``resolve`` turns it into the places of the prompt that is sent.
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
        node, field_name = spec.get("node"), spec.get("input")
        if not isinstance(node, str) or not isinstance(field_name, str) or not node or not field_name:
            raise ValueError(f"{json.dumps(spec)} needs string 'node' (id or title) and 'input'")
        return Target(node, "inputs", field_name, by_title=True)
    raise ValueError(f"{json.dumps(spec)} is neither a 'node_id,inputs,field_name' string nor a {{node, input}} object")


def parse_targets(spec: Any) -> list[Target]:
    """A mapping value is one target or a list of them (one value written to several nodes)."""
    if isinstance(spec, list):
        if not spec:
            raise ValueError("an empty list writes the value nowhere")
        return [parse_target(s) for s in spec]
    return [parse_target(spec)]


# -- what a batch file can address -------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where a value lands in the prompt that is sent: ``prompt[node][section][field]``."""

    node: str
    section: str
    field: str


@dataclass(frozen=True)
class NodeEntry:
    """One node as a batch file can address it.

    An API file's nodes are all sent as they are. A UI-format file (converted by
    ``comfy_plugin.uiformat``) also has nodes the editor never sends (``unsent``: "a note",
    "a reroute", "muted", "bypassed"; ``instead`` then names what the user probably meant)
    and inputs whose value goes elsewhere (``forwards``: a subgraph instance's promoted
    input, a PrimitiveNode's ``value``). ``fields`` maps a section to its input names;
    None while only the server's ``/object_info`` knows them (a UI file before conversion).
    """

    class_type: str
    title: str | None = None
    fields: Mapping[str, tuple[str, ...]] | None = None
    unsent: str = ""
    instead: str = ""
    forwards: Mapping[str, tuple[Place, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Addresses:
    """The nodes of one workflow by the id a batch file writes (``75:6`` for node 6 inside
    subgraph instance 75). ``titles_complete`` is False when a title the file does not store
    may still be a class's display name, which only the server knows: such a target is
    checked after conversion, not when the file is read."""

    nodes: Mapping[str, NodeEntry]
    titles_complete: bool = True

    @classmethod
    def of_api(cls, workflow: Mapping[str, Any]) -> Addresses:
        """An API-format workflow: every node is sent, its sections and titles are stored."""
        nodes = {}
        for node_id, node in workflow.items():
            meta = node.get("_meta")
            title = meta.get("title") if isinstance(meta, dict) else None
            fields = {name: tuple(section) for name, section in node.items() if isinstance(section, dict)}
            nodes[node_id] = NodeEntry(str(node.get("class_type", "")), title if isinstance(title, str) else None,
                                       fields)
        return cls(nodes)

    def titled(self, title: str) -> list[str]:
        return [node_id for node_id, entry in self.nodes.items() if entry.title == title]

    def describe(self, node_id: str) -> str:
        return f"{node_id} ({self.nodes[node_id].class_type})"


def _by_title(addresses: Addresses, target: Target) -> str:
    matches = addresses.titled(target.node)
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = [addresses.describe(m) for m in matches]
        listed = ", ".join(shown[:-1]) + " and " + shown[-1]
        first = matches[0]
        raise UnresolvedTarget(
            f"{len(matches)} nodes are titled '{target.node}': {listed}",
            f'address one by its id: "{first},{target.section},{target.field}" or '
            f'{{"node": "{first}", "input": "{target.field}"}} (or give the nodes different titles)')
    titles = sorted({e.title for e in addresses.nodes.values() if e.title})
    if not addresses.titles_complete:
        raise UnresolvedTarget(f"no node of the file is titled '{target.node}'", suggest(target.node, titles),
                               server_can_tell=True)
    hint = suggest(target.node, titles + list(addresses.nodes)) or \
        f"the workflow's node ids: {', '.join(addresses.nodes)}"
    raise UnresolvedTarget(f"no node titled '{target.node}' in the workflow", hint)


def _missing_id(addresses: Addresses, target: Target) -> UnresolvedTarget:
    """The hint says what was probably meant: the id inside a subgraph, a title, a near id."""
    inner = [nid for nid in addresses.nodes if nid.endswith(f":{target.node}")]
    if inner:
        hint = " or ".join(f'"{nid},{target.section},{target.field}"' for nid in inner) \
            + f" (node {target.node} inside a subgraph; its id there is {' or '.join(inner)})"
    elif addresses.titled(target.node):
        hint = (f"'{target.node}' is a title; a node is addressed by title as "
                f'{{"node": "{target.node}", "input": "{target.field}"}}')
    else:
        hint = suggest(target.node, list(addresses.nodes)) or f"the workflow's node ids: {', '.join(addresses.nodes)}"
    return UnresolvedTarget(f"no node with id '{target.node}' in the workflow", hint)


def _field_problem(node_id: str, entry: NodeEntry, target: Target) -> UnresolvedTarget | None:
    if entry.fields is None:
        return None  # only the server knows this node's inputs: preflight checks them
    if target.section not in entry.fields:
        return UnresolvedTarget(f"node {node_id} has no '{target.section}'", 'the middle part is normally "inputs"')
    names = entry.fields[target.section]
    if target.field in names:
        return None
    listed = f"node {node_id} ({entry.class_type}) has: {', '.join(names)}" if names else \
        f"node {node_id} ({entry.class_type}) has no input a value can be written to"
    hint = suggest(target.field, names) or "; ".join(filter(None, (listed, entry.instead)))
    return UnresolvedTarget(f"node {node_id} ({entry.class_type}) has no input '{target.field}'", hint)


def resolve(addresses: Addresses, target: Target) -> tuple[Place, ...]:
    """The places of the sent prompt a target writes to; raises UnresolvedTarget saying why
    there are none (no such node, several with that title, a node that is never sent, no
    such input)."""
    if target.node in addresses.nodes:
        node_id = target.node
    elif target.by_title:
        node_id = _by_title(addresses, target)
    else:
        raise _missing_id(addresses, target)
    entry = addresses.nodes[node_id]
    if entry.unsent:
        raise UnresolvedTarget(f"node {node_id} ({entry.class_type}) is {entry.unsent}: the editor never sends it, "
                               "so a value written there goes nowhere", entry.instead)
    if target.section == "inputs" and target.field in entry.forwards:
        return entry.forwards[target.field]
    problem = _field_problem(node_id, entry, target)
    if problem is not None:
        raise problem
    return (Place(node_id, target.section, target.field),)


def patch(workflow: Mapping[str, Any], targets: Mapping[str, list[Target]], values: Mapping[str, Any],
          addresses: Addresses | None = None) -> dict[str, Any]:
    """A patched deep copy: each value whose key has targets is written to all their places.

    ``addresses`` default to the workflow's own (an API file); a converted UI-format file
    brings those of its graph. Keys without targets are left to the caller (harness keys
    such as ``id``). Raises UnresolvedTarget for a target that cannot be resolved."""
    book = addresses if addresses is not None else Addresses.of_api(workflow)
    result = copy.deepcopy(dict(workflow))
    for key, value in values.items():
        for target in targets.get(key, ()):
            for place in resolve(book, target):
                result[place.node].setdefault(place.section, {})[place.field] = copy.deepcopy(value)
    return result
