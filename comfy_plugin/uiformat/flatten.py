"""Subgraph instances expanded into executable nodes with ``instance:inner`` ids, and the
widget values every node holds once the editor has loaded the file.

Widget values belong to a node object, and a subgraph definition's nodes are shared by
all its instances (as in the editor), so values are keyed by (graph, node), not by the
flattened id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import MissingSubgraph, UnknownNodeType
from ..settings import MAX_UI_NODES
from .catalog import Catalog, NodeClass
from .graph import BYPASSED, MUTED, NOTES, PRIMITIVE, REROUTE, UUID, Graph, IOSlot, Node, Workflow
from .walk import reach
from .widgets import widget_values

VIRTUAL = NOTES | {PRIMITIVE, REROUTE}
Key = tuple[str, str]  # (graph id, node id)


@dataclass
class SlotRef:
    """One input of a node as the editor holds it: name, type, the link into it, its widget."""

    name: str
    type: str
    link: int | None
    widget: str | None


@dataclass
class Exec:
    """A node of the flattened graph (the editor's ExecutableNodeDTO)."""

    id: str
    node: Node
    path: tuple[str, ...]
    instance: Exec | None
    cls: NodeClass | None
    slots: list[SlotRef]
    subgraph: Graph | None = None  # the definition, when the node is a subgraph instance

    @property
    def key(self) -> Key:
        return (self.node.graph.id, self.node.id)

    @property
    def virtual(self) -> bool:
        return self.subgraph is not None or self.node.type in VIRTUAL

    def output_type(self, slot: int) -> str:
        if self.cls is not None:
            return self.cls.outputs[slot] if slot < len(self.cls.outputs) else "*"
        if self.subgraph is not None:
            return self.subgraph.outputs[slot].type if slot < len(self.subgraph.outputs) else "*"
        return self.node.outputs[slot] if slot < len(self.node.outputs) else "*"


@dataclass
class Promoted:
    """A subgraph instance's widget for one of its inputs (the editor's promoted widget)."""

    name: str
    value: Any
    primitive: str | None = None  # the PrimitiveNode (in the instance's own graph) that wrote it


#: Where a widget's value came from when not from the node itself: ("primitive", id of the
#: PrimitiveNode in the same graph), ("instance", name of the enclosing instance's promoted
#: widget) or ("instance-primitive", id of the PrimitiveNode that wrote that promoted widget).
Origin = tuple[str, str]


@dataclass
class Flat:
    """The flattened workflow: executable nodes in order, and the widget values of every node."""

    workflow: Workflow
    catalog: Catalog
    execs: dict[str, Exec] = field(default_factory=dict)
    values: dict[Key, dict[str, Any]] = field(default_factory=dict)
    promoted: dict[Key, list[Promoted]] = field(default_factory=dict)
    slots: dict[Key, list[SlotRef]] = field(default_factory=dict)
    origins: dict[tuple[Key, str], Origin] = field(default_factory=dict)
    outgoing: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # graph id -> origin id -> link ids
    resolved: dict[tuple[bool, str, int, str | None], Any] = field(default_factory=dict)  # resolve.py's answers


def check_types(workflow: Workflow, catalog: Catalog, max_nodes: int = MAX_UI_NODES) -> None:
    """Every node type used from the root must be a server class, an editor-only node or a
    defined subgraph, and no subgraph may contain itself."""
    unknown: dict[str, Node] = {}
    for reached in reach(workflow, once=True, max_nodes=max_nodes):
        node = reached.node
        if node.type in workflow.subgraphs or node.type in VIRTUAL or node.type in catalog:
            continue
        if node.mode in (MUTED, BYPASSED):
            continue  # the editor never sends a muted or bypassed node, known or not
        if UUID.match(node.type):
            raise MissingSubgraph(workflow.source, f"the definition of subgraph {node.type} is not in the file "
                                  "(definitions.subgraphs)", node.label(),
                                  "save the workflow again with the editor, or copy the subgraph's definition in")
        unknown.setdefault(node.type, node)
    if unknown:
        first = next(iter(unknown.values()))
        types = sorted(unknown)
        raise UnknownNodeType(workflow.source, types,
                              f"the server has no node type {', '.join(repr(t) for t in types)}",
                              first.label(), "install the custom nodes that provide it on the server")


def _class_slots(node: Node, cls: NodeClass) -> list[SlotRef]:
    """The class's inputs in the editor's order, each with the file's link by name; inputs the
    class does not define (added by a script) follow, as the editor keeps them."""
    by_name = {i.name: i for i in node.inputs}
    slots = [SlotRef(s.name, s.type, by_name[s.name].link if s.name in by_name else None,
                     s.name if s.widget else None) for s in cls.slots]
    known = {s.name for s in cls.slots}
    slots += [SlotRef(i.name, i.type, i.link, i.widget) for i in node.inputs if i.name not in known]
    return slots


def _instance_slots(node: Node, definition: Graph) -> list[SlotRef]:
    """The definition's inputs, each with the saved input of the same name (its link and
    widget); saved inputs the definition lacks follow."""
    by_name = {i.name: i for i in node.inputs}
    slots = [SlotRef(s.name, s.type, by_name[s.name].link if s.name in by_name else None,
                     by_name[s.name].widget if s.name in by_name else None) for s in definition.inputs]
    known = {s.name for s in definition.inputs}
    slots += [SlotRef(i.name, i.type, i.link, i.widget) for i in node.inputs if i.name not in known]
    return slots


def flatten(workflow: Workflow, catalog: Catalog, server_version: str | None = None,
            max_nodes: int = MAX_UI_NODES) -> Flat:
    """Every node with its ``instance:inner`` id (``TooManyNodes`` past ``max_nodes``), then
    the widget values."""
    flat = Flat(workflow, catalog)
    for reached in reach(workflow, max_nodes):
        node = reached.node
        instance = flat.execs[":".join(reached.path)] if reached.path else None
        definition = workflow.subgraphs.get(node.type)
        cls = None if definition is not None else catalog.get(node.type)
        flat.execs[reached.flat_id] = Exec(reached.flat_id, node, reached.path, instance, cls, slots_of(flat, node),
                                           definition)
    _load_values(flat, server_version)
    return flat


def _load_values(flat: Flat, server_version: str | None) -> None:
    """Widget values after load, then what the editor does before it builds the prompt:
    primitives write their value into the widgets they feed, and each instance copies its
    promoted values into the inner widgets (when the graph is serialised)."""
    graphs = [flat.workflow.root, *flat.workflow.subgraphs.values()]
    for graph in graphs:
        for node in graph.nodes.values():
            cls = flat.catalog.get(node.type) if node.type not in flat.workflow.subgraphs else None
            if cls is not None:
                flat.values[(graph.id, node.id)] = widget_values(
                    flat.workflow, node, cls, flat.catalog.object_info, node.label(), server_version=server_version,
                    at_root=not graph.id)
    for graph in _inner_first(flat.workflow):  # each instance's inner instances are promoted before it
        for node in graph.nodes.values():
            if node.type in flat.workflow.subgraphs:
                _promote(flat, node)
    for graph in graphs:
        for node in graph.nodes.values():
            if node.type == PRIMITIVE:
                _apply_primitive(flat, node)
    for graph in graphs:
        for node in graph.nodes.values():
            if node.type in flat.workflow.subgraphs:
                _sync_promoted(flat, node)


def _inner_first(workflow: Workflow) -> list[Graph]:
    """The subgraph definitions, each after those it holds instances of, then the root
    (a depth-first post-order, without recursion: the nesting comes from the file)."""
    order: list[Graph] = []
    seen: set[str] = set()
    for top in [*workflow.subgraphs.values(), workflow.root]:
        if top.id in seen:
            continue
        seen.add(top.id)
        stack = [(top, iter(top.nodes.values()))]
        while stack:
            nodes = stack[-1][1]
            node = next(nodes, None)
            if node is None:
                order.append(stack.pop()[0])
            elif node.type in workflow.subgraphs and node.type not in seen:
                seen.add(node.type)
                inner = workflow.subgraphs[node.type]
                stack.append((inner, iter(inner.nodes.values())))
    return order


def widget_of(flat: Flat, graph: Graph, node: Node, slot_name: str | None) -> tuple[Key, str] | None:
    """The widget behind an input of ``node`` (named by the input's widget), if it has one."""
    if slot_name is None:
        return None
    key = (graph.id, node.id)
    if key in flat.values:
        return (key, slot_name) if slot_name in flat.values[key] else None
    if node.type in flat.workflow.subgraphs:
        promoted = _promote(flat, node)
        return (key, slot_name) if any(p.name == slot_name for p in promoted) else None
    return None


def slots_of(flat: Flat, node: Node) -> list[SlotRef]:
    """A node's inputs as the editor holds them (an editor-only node's: as saved)."""
    key = (node.graph.id, node.id)
    found = flat.slots.get(key)
    if found is None:
        definition = flat.workflow.subgraphs.get(node.type)
        cls = flat.catalog.get(node.type) if definition is None else None
        if definition is not None:
            found = _instance_slots(node, definition)
        elif cls is not None:
            found = _class_slots(node, cls)
        else:
            found = [SlotRef(i.name, i.type, i.link, i.widget) for i in node.inputs]
        flat.slots[key] = found
    return found


def _target_slot(flat: Flat, node: Node, link_id: int, target_slot: int) -> SlotRef | None:
    """The input a link goes into: the one holding the link's id (the editor re-numbers
    target slots after ordering inputs by the definition), else the slot by number."""
    slots = slots_of(flat, node)
    found = next((s for s in slots if s.link == link_id), None)
    return found or (slots[target_slot] if 0 <= target_slot < len(slots) else None)


def get_value(flat: Flat, key: Key, name: str) -> Any:
    if key in flat.values:
        return flat.values[key][name]
    return next(p.value for p in flat.promoted[key] if p.name == name)


def set_value(flat: Flat, key: Key, name: str, value: Any, origin: Origin) -> None:
    if key in flat.values:
        flat.values[key][name] = value
        flat.origins[(key, name)] = origin
    else:
        for p in flat.promoted[key]:
            if p.name == name:
                p.value = value
                p.primitive = origin[1] if origin[0] == "primitive" else None


def _fed_widget(flat: Flat, graph: Graph, link_id: int) -> tuple[Key, str] | None:
    """The widget that link ``link_id`` of ``graph`` goes into, if it goes into one."""
    link = graph.links.get(link_id)
    target = graph.nodes.get(link.target_id) if link else None
    ref = _target_slot(flat, target, link_id, link.target_slot) if target and link else None
    return widget_of(flat, graph, target, ref.widget) if ref and target else None


def _promote(flat: Flat, node: Node) -> list[Promoted]:
    """The instance's promoted widgets: one per input whose definition slot feeds a widget
    (the first such), holding that widget's value, then the saved values (by position;
    with ``proxyWidgets``, the ``["-1", name]`` entries by name)."""
    key = (node.graph.id, node.id)
    if key in flat.promoted:
        return flat.promoted[key]
    flat.promoted[key] = promoted = []
    definition = flat.workflow.subgraphs[node.type]
    inputs: dict[str, IOSlot] = {}
    for entry in definition.inputs:
        inputs.setdefault(entry.name, entry)
    for slot in slots_of(flat, node):
        io = inputs.get(slot.name)
        found = next(filter(None, (_fed_widget(flat, definition, i) for i in io.link_ids)), None) if io else None
        if found and io:
            promoted.append(Promoted(io.name, get_value(flat, *found)))
    saved = node.widgets_values
    if isinstance(saved, list):
        for widget, value in zip(promoted, saved, strict=False):  # (either may be the longer)
            widget.value = value
        proxies = node.properties.get("proxyWidgets")
        for entry, value in zip(proxies if isinstance(proxies, list) else [], saved, strict=False):
            if isinstance(entry, list) and len(entry) == 2 and str(entry[0]) == "-1" and value is not None:
                named = next((w for w in promoted if w.name == entry[1]), None)
                if named is not None:
                    named.value = value
    return promoted


def _apply_primitive(flat: Flat, node: Node) -> None:
    """A PrimitiveNode writes its value into every widget it is linked to."""
    saved = node.widgets_values
    if not isinstance(saved, list) or not saved:
        return
    outgoing = flat.outgoing.get(node.graph.id)
    if outgoing is None:  # the links by origin, once a graph (a scan per primitive grows as their product)
        outgoing = flat.outgoing[node.graph.id] = {}
        for link in node.graph.links.values():
            outgoing.setdefault(link.origin_id, []).append(link.id)
    for link_id in outgoing.get(node.id, ()):
        found = _fed_widget(flat, node.graph, link_id)
        if found:
            set_value(flat, *found, saved[0], ("primitive", node.id))


def _sync_promoted(flat: Flat, node: Node) -> None:
    """Serialising an instance copies each promoted value into the widgets its input feeds."""
    definition = flat.workflow.subgraphs[node.type]
    for widget in _promote(flat, node):
        io = next((s for s in definition.inputs if s.name == widget.name), None)
        for link_id in io.link_ids if io else ():
            found = _fed_widget(flat, definition, link_id)
            if found:
                origin = ("instance-primitive", widget.primitive) if widget.primitive else ("instance", widget.name)
                set_value(flat, *found, widget.value, origin)


def virtual_value(value: Any) -> Any:
    """A list value as the editor sends it (a bare list would read as a link)."""
    return {"__value__": value} if isinstance(value, list) else value


def promoted_widget(flat: Flat, instance: Exec, slot: SlotRef) -> Promoted | None:
    """The instance's widget for one of its inputs: the one promoted for that input, else the
    one the saved input names."""
    promoted = _promote(flat, instance.node)
    for name in (slot.name, slot.widget):
        for widget in promoted:
            if name is not None and widget.name == name:
                return widget
    return None


def visible_source(path: tuple[str, ...], origin: Origin | None) -> tuple[str, str] | None:
    """The node and input a user sees for a widget value with this origin, for a node whose
    flattened path (its enclosing instances) is ``path``."""
    if origin is None:
        return None
    kind, name = origin
    if kind == "primitive":
        return ":".join((*path, name)), "value"
    if kind == "instance":
        return ":".join(path), name
    return ":".join((*path[:-1], name)), "value"
