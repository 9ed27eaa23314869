"""The UI-format file read into plain dataclasses: the root graph and its subgraph definitions.

Only what the conversion needs is kept. Structural faults the editor would trip over
(a legacy group node, a node without a type) are reported here, naming the node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import LegacyGroupNode, UIFormatError
from .fields import Fields, brief

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
    graph: Graph = field(repr=False, compare=False, default=None)  # type: ignore[assignment]  # set by its Graph

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


def _link(raw: Any, fields: Fields) -> Link:
    """A link: ``[id, origin_id, origin_slot, target_id, target_slot, type]`` or the same as an
    object (subgraph definitions)."""
    if isinstance(raw, Mapping):
        values = [raw.get(k) for k in ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")]
    elif isinstance(raw, list) and len(raw) >= 5:
        values = [*raw[:6], None][:6]
    else:
        raise fields.error(f"a link is not [id, origin_id, origin_slot, target_id, target_slot, type]: {brief(raw)}")
    link_id = fields.integer(values[0], "a link's id")
    at = Fields(fields.source, f"link {link_id}" + (f" in {fields.where}" if fields.where else ""))
    link_type = values[5] if isinstance(values[5], str) else "*"  # the editor shows the type only
    return Link(link_id, at.node_id(values[1], "origin_id"), at.slot(values[2], "origin_slot"),
                at.node_id(values[3], "target_id"), at.slot(values[4], "target_slot"), link_type)


def _inputs(raw: Any, fields: Fields) -> list[Input]:
    out = []
    for index, item in enumerate(fields.listed(raw, "'inputs'")):
        if not isinstance(item, Mapping):
            raise fields.error(f"inputs[{index}] is not an object: {brief(item)}")
        if item.get("name") is None:
            continue  # a socket without a name is none the editor can build
        link = item.get("link")
        widget = fields.mapping(item.get("widget"), f"inputs[{index}].widget")
        widget_name = widget.get("name")
        out.append(Input(fields.text(item["name"], f"inputs[{index}].name"),
                         fields.text(item.get("type"), f"inputs[{index}].type", "*"),
                         fields.integer(link, f"inputs[{index}].link") if link is not None else None,
                         fields.text(widget_name, f"inputs[{index}].widget.name") if widget_name is not None else None))
    return out


def _outputs(raw: Any, fields: Fields) -> list[str]:
    types = []
    for index, item in enumerate(fields.listed(raw, "'outputs'")):
        entry = fields.mapping(item, f"outputs[{index}]")
        types.append(fields.text(entry.get("type"), f"outputs[{index}].type", "*"))
    return types


def _node(raw: Any, source: str, where: str) -> Node:
    if not isinstance(raw, Mapping) or "id" not in raw or not isinstance(raw.get("type"), str):
        raise UIFormatError(source, f"a node without an id or a type: {brief(raw)}", where)
    raw_type: str = raw["type"]
    node_type = RENAMED.get(raw_type, raw_type)
    node_id = Fields(source, where).node_id(raw["id"], "a node's id")
    fields = Fields(source, f"node {node_id} ({node_type})" + (f" in {where}" if where else ""))
    title = raw.get("title")
    values = raw.get("widgets_values")
    if values is not None and not isinstance(values, (list, Mapping)):
        raise fields.error(f"widgets_values is not a list: {brief(values)}")
    mode = raw.get("mode")
    node = Node(node_id, node_type, fields.integer(mode, "'mode'") if mode is not None else 0,
                title if isinstance(title, str) else None, _inputs(raw.get("inputs"), fields),
                _outputs(raw.get("outputs"), fields), values,
                dict(fields.mapping(raw.get("properties"), "'properties'")))
    _check_properties(node, fields)
    if node_type.startswith(("workflow>", "workflow/")):
        raise LegacyGroupNode(
            source, f"'{node_type}' is a legacy group node, which current editors replaced with subgraphs",
            node.label() + (f" in {where}" if where else ""),
            "open the file in the ComfyUI editor, right-click the group node and choose "
            "'Convert to subgraph' (or 'Convert to nodes'), then save it again")
    return node


def _check_properties(node: Node, fields: Fields) -> None:
    """The properties the converter reads: ``proxyWidgets`` a list of ``[node id, widget name]``
    pairs (``ver`` is read only where it is a string)."""
    proxies = node.properties.get("proxyWidgets")
    for index, entry in enumerate(fields.listed(proxies, "properties.proxyWidgets")):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str)
                and isinstance(entry[0], (str, int)) and not isinstance(entry[0], bool)):
            raise fields.error(f"properties.proxyWidgets[{index}] is not [node id, widget name]: {brief(entry)}")


def _graph(raw: Mapping[str, Any], source: str, graph_id: str, name: str) -> Graph:
    where = f"subgraph '{name}'" if name else ""
    fields = Fields(source, where)
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, list):
        raise fields.error("'nodes' is not a list")
    graph = Graph(graph_id, name, {}, {})
    for item in nodes_raw:
        node = _node(item, source, where)
        node.graph = graph
        graph.nodes[node.id] = node
    for item in fields.listed(raw.get("links"), "'links'"):
        if item is None:
            continue
        link = _link(item, fields)
        graph.links[link.id] = link
    for key, slots in (("inputs", graph.inputs), ("outputs", graph.outputs)):
        for index, slot in enumerate(fields.listed(raw.get(key), f"'{key}'") if graph_id else []):
            entry = fields.mapping(slot, f"{key}[{index}]")
            ids = fields.listed(entry.get("linkIds"), f"{key}[{index}].linkIds")
            slots.append(IOSlot(fields.text(entry.get("name"), f"{key}[{index}].name"),
                                fields.text(entry.get("type"), f"{key}[{index}].type", "*"),
                                tuple(fields.integer(i, f"{key}[{index}].linkIds") for i in ids)))
    return graph


def _definitions(raw: Mapping[str, Any], source: str) -> list[Mapping[str, Any]]:
    """Subgraph definitions, including any a definition holds itself (read without recursion:
    the nesting comes from the file)."""
    found: list[Mapping[str, Any]] = []
    pending = [raw]
    seen: set[int] = set()
    while pending:
        holder = pending.pop()
        if id(holder) in seen:
            continue
        seen.add(id(holder))
        defs = Fields(source, "definitions").mapping(holder.get("definitions"), "'definitions'")
        for item in Fields(source, "definitions").listed(defs.get("subgraphs"), "'subgraphs'"):
            if not isinstance(item, Mapping):
                raise UIFormatError(source, f"a subgraph definition is not an object: {brief(item)}", "definitions")
            found.append(item)
            pending.append(item)
    return found


def read_workflow(data: Mapping[str, Any], source: str) -> Workflow:
    """Parse a UI-format workflow. ``source`` names the file in every message; a field of the
    wrong type raises ``UIFormatError`` naming its place."""
    root = _graph(data, source, "", "")
    subgraphs: dict[str, Graph] = {}
    for item in _definitions(data, source):
        graph_id = Fields(source, "definitions").text(item.get("id"), "a subgraph definition's id")
        if graph_id and graph_id not in subgraphs:
            name = item.get("name")
            subgraphs[graph_id] = _graph(item, source, graph_id, name if isinstance(name, str) and name else graph_id)
    extra = data.get("extra")
    version = extra.get("frontendVersion") if isinstance(extra, Mapping) else None
    return Workflow(source, root, subgraphs, version if isinstance(version, str) and version else None)
