"""The UI-format file read into plain dataclasses: the root graph and its subgraph definitions.

Only what the conversion needs is kept. Structural faults the editor would trip over
(a legacy group node, a node without a type) are reported here, naming the node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import LegacyGroupNode, UIFormatError

#: Origin id of a link that starts at a subgraph's input node, target id of one that ends
#: at its output node (litegraph's SUBGRAPH_INPUT_ID / SUBGRAPH_OUTPUT_ID).
SUBGRAPH_INPUT = -10
SUBGRAPH_OUTPUT = -20
#: Node types the editor renames when it loads a file (old names and typos).
RENAMED = {
    "T2IAdapterLoader": "ControlNetLoader",
    "ConditioningAverage ": "ConditioningAverage",
    "SDV_img2vid_Conditioning": "SVD_img2vid_Conditioning",
    "Load3DAnimation": "Load3D",
    "Preview3DAnimation": "Preview3D",
}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
NOTES = frozenset({"Note", "MarkdownNote"})
PRIMITIVE = "PrimitiveNode"
REROUTE = "Reroute"
MUTED, BYPASSED = 2, 4


@dataclass
class Input:
    name: str
    type: str
    link: int | None
    widget: str | None  # the widget this socket belongs to, as the file says


@dataclass
class Node:
    id: str
    type: str
    mode: int
    title: str | None
    inputs: list[Input]
    outputs: list[str]  # output types, by slot
    widgets_values: Any
    properties: dict[str, Any]
    graph: "Graph" = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def label(self) -> str:
        """How messages name the node: id, class (or "subgraph instance"), title, where."""
        title = f" '{self.title}'" if self.title and self.title != self.type else ""
        kind = "subgraph instance" if UUID.match(self.type) else self.type
        where = f" in subgraph '{self.graph.name}'" if self.graph is not None and self.graph.name else ""
        return f"node {self.id} ({kind}{title}){where}"

    def input_by_link(self, link_id: int) -> Input | None:
        return next((i for i in self.inputs if i.link == link_id), None)


@dataclass(frozen=True)
class Link:
    id: int
    origin_id: str
    origin_slot: int
    target_id: str
    target_slot: int
    type: str


@dataclass(frozen=True)
class IOSlot:
    """A subgraph definition's input or output: its name, type and the inner links."""

    name: str
    type: str
    link_ids: tuple[int, ...]


@dataclass
class Graph:
    """The root graph (``id`` "", ``name`` "") or one subgraph definition."""

    id: str
    name: str
    nodes: dict[str, Node]
    links: dict[int, Link]
    inputs: list[IOSlot] = field(default_factory=list)
    outputs: list[IOSlot] = field(default_factory=list)


@dataclass
class Workflow:
    source: str
    root: Graph
    subgraphs: dict[str, Graph]
    frontend_version: str | None


def _node_id(value: Any) -> str:
    return str(value)


def _link(raw: Any, source: str, where: str) -> Link:
    try:
        if isinstance(raw, Mapping):
            return Link(int(raw["id"]), _node_id(raw["origin_id"]), int(raw["origin_slot"]),
                        _node_id(raw["target_id"]), int(raw["target_slot"]), str(raw.get("type", "*")))
        return Link(int(raw[0]), _node_id(raw[1]), int(raw[2]), _node_id(raw[3]), int(raw[4]),
                    str(raw[5]) if len(raw) > 5 else "*")
    except (KeyError, IndexError, TypeError, ValueError):
        raise UIFormatError(source, f"a link is not [id, origin_id, origin_slot, target_id, target_slot, type]: "
                                    f"{str(raw)[:80]}", where) from None


def _inputs(raw: Any) -> list[Input]:
    out = []
    for item in raw or []:
        if not isinstance(item, Mapping) or "name" not in item:
            continue
        link = item.get("link")
        widget = item.get("widget")
        out.append(Input(str(item["name"]), str(item.get("type", "*")), int(link) if link is not None else None,
                         str(widget["name"]) if isinstance(widget, Mapping) and "name" in widget else None))
    return out


def _node(raw: Any, source: str, where: str) -> Node:
    if not isinstance(raw, Mapping) or "id" not in raw or not isinstance(raw.get("type"), str):
        raise UIFormatError(source, f"a node without an id or a type: {str(raw)[:80]}", where)
    node_type = RENAMED.get(raw["type"], raw["type"])
    title = raw.get("title")
    node = Node(_node_id(raw["id"]), node_type, int(raw.get("mode") or 0), title if isinstance(title, str) else None,
                _inputs(raw.get("inputs")),
                [str(o.get("type", "*")) if isinstance(o, Mapping) else "*" for o in raw.get("outputs") or []],
                raw.get("widgets_values"), dict(raw.get("properties") or {}))
    if node_type.startswith(("workflow>", "workflow/")):
        raise LegacyGroupNode(
            source, f"'{node_type}' is a legacy group node, which current editors replaced with subgraphs",
            node.label() + (f" in {where}" if where else ""), "open the file in the ComfyUI editor, right-click the group node and choose "
                   "'Convert to subgraph' (or 'Convert to nodes'), then save it again")
    return node


def _graph(raw: Mapping[str, Any], source: str, graph_id: str, name: str) -> Graph:
    where = f"subgraph '{name}'" if name else ""
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, list):
        raise UIFormatError(source, "'nodes' is not a list", where)
    graph = Graph(graph_id, name, {}, {})
    for item in nodes_raw:
        node = _node(item, source, where)
        node.graph = graph
        graph.nodes[node.id] = node
    for item in raw.get("links") or []:
        if item is None:
            continue
        link = _link(item, source, where)
        graph.links[link.id] = link
    for key, slots in (("inputs", graph.inputs), ("outputs", graph.outputs)):
        for slot in raw.get(key) or [] if graph_id else []:
            if isinstance(slot, Mapping):
                slots.append(IOSlot(str(slot.get("name", "")), str(slot.get("type", "*")),
                                    tuple(int(i) for i in slot.get("linkIds") or [])))
    return graph


def _definitions(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Subgraph definitions, including any a definition holds itself."""
    found: list[Mapping[str, Any]] = []
    pending = [raw]
    while pending:
        holder = pending.pop()
        defs = holder.get("definitions") if isinstance(holder, Mapping) else None
        for item in (defs or {}).get("subgraphs") or [] if isinstance(defs, Mapping) else []:
            if isinstance(item, Mapping):
                found.append(item)
                pending.append(item)
    return found


def read_workflow(data: Mapping[str, Any], source: str) -> Workflow:
    """Parse a UI-format workflow. ``source`` names the file in every message."""
    root = _graph(data, source, "", "")
    subgraphs: dict[str, Graph] = {}
    for item in _definitions(data):
        graph_id = str(item.get("id", ""))
        if graph_id and graph_id not in subgraphs:
            subgraphs[graph_id] = _graph(item, source, graph_id, str(item.get("name") or graph_id))
    extra = data.get("extra") if isinstance(data.get("extra"), Mapping) else {}
    version = extra.get("frontendVersion")
    return Workflow(source, root, subgraphs, str(version) if version else None)
