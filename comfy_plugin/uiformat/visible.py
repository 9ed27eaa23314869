"""The nodes of a UI-format workflow as the user sees them in the editor, by the id a batch
file writes (``75:6`` inside subgraph instance 75), and where a value written to one of
them lands in the prompt.

From the file alone: every id, its class (or subgraph), its stored title, and whether the
editor never sends it (with a hint at what the user probably meant). With the server's
``/object_info`` also each node's input names and the inputs of the prompt that take the
value of a subgraph instance's widget or of a PrimitiveNode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BrokenLink, MissingSubgraph, UIFormatError
from ..settings import MAX_UI_NODES
from .catalog import Catalog
from .graph import (
    BYPASSED,
    MUTED,
    NOTES,
    PRIMITIVE,
    REROUTE,
    SUBGRAPH_INPUT,
    UUID,
    Graph,
    Link,
    Node,
    Workflow,
    read_workflow,
)
from .prompt import convert_read, is_ui_format
from .walk import Reached, reach

Place = tuple[str, str]  # (node id of the prompt, input name)


@dataclass(frozen=True)
class Visible:
    """One node as the editor shows it.

    ``unsent`` says why the editor never sends it ("a note", "a reroute", "muted",
    "bypassed"; empty otherwise) and ``instead`` what the user probably meant. ``fields``
    are the input names a value can be written to (None until the server's classes are
    known); ``forwards`` maps an input of a subgraph instance or PrimitiveNode to the
    prompt's inputs that take its value. ``default_title`` is what the editor shows when the
    file stores no title (a class's display name is known only with the server's classes)."""

    class_type: str
    title: str | None
    unsent: str = ""
    instead: str = ""
    fields: tuple[str, ...] | None = None
    forwards: Mapping[str, tuple[Place, ...]] = field(default_factory=dict)
    default_title: str | None = None


#: The titles the editor gives its own nodes (they are not server classes).
EDITOR_TITLES = {"Note": "Note", "MarkdownNote": "Markdown Note", PRIMITIVE: "Primitive", REROUTE: "Reroute"}
#: The inputs a reroute's hint names, and those kept per reroute while they are worked out.
MAX_SHOWN, MAX_KEPT = 20, 50


def visible_nodes(workflow: Mapping[str, Any], source: str = "workflow",
                  object_info: Mapping[str, Any] | Catalog | None = None,
                  server_version: str | None = None, max_nodes: int = MAX_UI_NODES) -> dict[str, Visible]:
    """Every node of the file by its flattened id. Raises the converter's errors (from the
    file alone a legacy group node, a missing or recursive subgraph, a broken link; with
    ``object_info`` all of them)."""
    if object_info is None:
        return file_nodes(read_workflow(workflow, source), max_nodes)
    return convert_visible(workflow, object_info, source, server_version, max_nodes)[1]


def file_nodes(graph: Workflow, max_nodes: int = MAX_UI_NODES) -> dict[str, Visible]:
    """What the file alone tells; raises its structural faults (``TooManyNodes`` past
    ``max_nodes`` once flattened)."""
    found: dict[str, Visible] = {}
    hints = _Reroutes(graph)
    for reached in reach(graph, max_nodes):
        node, definition = reached.node, graph.subgraphs.get(reached.node.type)
        if definition is None and UUID.match(node.type):
            raise MissingSubgraph(graph.source, f"the definition of subgraph {node.type} is not in the file "
                                  "(definitions.subgraphs)", node.label(),
                                  "save the workflow again with the editor, or copy the subgraph's definition in")
        found[reached.flat_id] = _visible(graph, reached, definition, hints)
    check_links(graph)
    return found


def convert_visible(workflow: Mapping[str, Any], object_info: Mapping[str, Any] | Catalog, source: str = "workflow",
                    server_version: str | None = None,
                    max_nodes: int = MAX_UI_NODES) -> tuple[dict[str, dict[str, Any]], dict[str, Visible]]:
    """The prompt (as ``convert`` gives it) and every node as the user sees it, with the
    server's input names, display names and where forwarded values land: the file is read
    and converted once."""
    if not is_ui_format(workflow):
        raise UIFormatError(source, "not a UI-format workflow (an object with 'nodes' and 'links')")
    catalog = object_info if isinstance(object_info, Catalog) else Catalog(object_info)
    graph = read_workflow(workflow, source)
    found = file_nodes(graph, max_nodes)
    sources: dict[Place, Place] = {}
    prompt = convert_read(graph, catalog, server_version, sources, max_nodes)
    forwards: dict[str, dict[str, list[Place]]] = {}
    for place, (node_id, name) in sources.items():
        forwards.setdefault(node_id, {}).setdefault(name, []).append(place)
    for node_id, entry in found.items():
        cls = catalog.get(entry.class_type)
        fields = entry.fields
        if node_id in prompt:  # what it sends, and every input its class has
            slots = [slot.name for slot in cls.slots] if cls else []
            fields = tuple(dict.fromkeys([*prompt[node_id]["inputs"], *slots]))
        extra = {name: tuple(places) for name, places in forwards.get(node_id, {}).items()}
        merged = {**entry.forwards, **extra}
        if node_id not in prompt:
            fields = tuple(dict.fromkeys((*(entry.fields or ()), *merged)))
        shown = entry.default_title or (cls.display_name if cls else None)
        found[node_id] = Visible(entry.class_type, entry.title, entry.unsent, entry.instead, fields, merged, shown)
    return prompt, found


def check_links(graph: Workflow) -> None:
    """Every input of a node that is sent must use a link the file holds, from a node that
    exists (the converter's first two checks, made without the server): a damaged file fails
    when it is read, not when a prompt runs. Inside muted or bypassed instances nothing is
    checked."""

    for reached in reach(graph, once=True, descend=lambda node: node.mode not in (MUTED, BYPASSED)):
        node = reached.node
        if node.mode in (MUTED, BYPASSED) or node.type in NOTES or node.type in (PRIMITIVE, REROUTE):
            continue
        if node.type not in graph.subgraphs:
            for entry in node.inputs:
                _check_link(graph, reached.graph, node, reached.flat_id, name=entry.name, link_id=entry.link)


def _check_link(graph: Workflow, inner: Graph, node: Node, node_id: str, *, name: str, link_id: int | None) -> None:
    if link_id is None:
        return
    place = f"node {node_id} ({node.type})"
    hint = "the file is damaged: open it in the editor, reconnect the input and save it again"
    link = inner.links.get(link_id)
    if link is None:
        raise BrokenLink(graph.source, f"input '{name}' is connected by link {link_id}, which the file does not hold",
                         place, hint)
    if link.origin_id not in inner.nodes and not (inner.id and link.origin_id == str(SUBGRAPH_INPUT)):
        raise BrokenLink(graph.source, f"input '{name}' is linked (link {link.id}) to node {link.origin_id}, "
                         "which does not exist", place, hint)


def _visible(workflow: Workflow, reached: Reached, definition: Graph | None, hints: _Reroutes) -> Visible:
    node, node_id = reached.node, reached.flat_id
    class_type = _kind(workflow, node)
    if node.mode in (MUTED, BYPASSED):
        how = "muted" if node.mode == MUTED else "bypassed"
        key = "Ctrl+M" if node.mode == MUTED else "Ctrl+B"
        return Visible(class_type, node.title, how, f"node {node_id} is {how} in the file: turn that off in the "
                       f"editor ({key}) and save the file, or address a node that runs",
                       default_title=EDITOR_TITLES.get(node.type, definition.name if definition else None))
    if node.type in NOTES:
        return Visible(class_type, node.title, "a note", "a note only holds text for people", fields=(),
                       default_title=EDITOR_TITLES[node.type])
    if node.type == REROUTE:
        return Visible(class_type, node.title, "a reroute", hints.hint(reached), fields=(),
                       default_title=EDITOR_TITLES[REROUTE])
    if node.type == PRIMITIVE:
        return Visible(class_type, node.title, fields=("value",), default_title=EDITOR_TITLES[PRIMITIVE])
    if definition is not None:
        inner = ", ".join(f"{node_id}:{n.id} ({_kind(workflow, n)})" for n in definition.nodes.values()
                          if n.type not in NOTES and n.type != REROUTE)
        forwards, twice = _proxies(node, node_id, definition)
        instead = f"the nodes inside are {inner}" + "".join(
            f"; '{name}' is shown {len(places)} times on it: address one of {', '.join(p for p, _ in places)}"
            for name, places in twice.items())
        return Visible(class_type, node.title, instead=instead, forwards=forwards, default_title=definition.name)
    return Visible(class_type, node.title)


def _kind(workflow: Workflow, node: Node) -> str:
    definition = workflow.subgraphs.get(node.type)
    return f"subgraph '{definition.name}'" if definition is not None else node.type


class _Reroutes:
    """Where each reroute leads (the inputs it feeds, through further reroutes), worked out once
    a graph: asked of every reroute of a chain, a search from each would take the square (and
    a scan of all links per step the cube) of the chain's length."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._targets: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}  # (graph, reroute) -> (id, text)
        self._outgoing: dict[str, dict[str, list[Link]]] = {}

    def hint(self, reached: Reached) -> str:
        found = self._reach(reached.graph, reached.node.id)
        prefix = ":".join(reached.path)
        shown = [f"node {prefix + ':' if prefix else ''}{text}" for _, text in found[:MAX_SHOWN]]
        more = "" if len(found) <= MAX_SHOWN else " and more" if len(found) >= MAX_KEPT else \
            f" and {len(found) - MAX_SHOWN} more"
        return "address the node it leads to: " + ", ".join(shown) + more if shown else "it leads nowhere"

    def _links_from(self, graph: Graph) -> dict[str, list[Link]]:
        found = self._outgoing.get(graph.id)
        if found is None:
            found = self._outgoing[graph.id] = {}
            for link in graph.links.values():
                if link.target_id in graph.nodes:
                    found.setdefault(link.origin_id, []).append(link)
        return found

    def _reach(self, graph: Graph, start: str) -> tuple[tuple[str, str], ...]:
        """The non-reroute inputs fed from reroute ``start``: a post-order walk that keeps each
        reroute's answer (a reroute in a loop answers what was found before the loop closed)."""
        outgoing = self._links_from(graph)
        stack, open_ = [(start, False)], {start}
        while stack:
            current, expanded = stack.pop()
            if (graph.id, current) in self._targets:
                continue
            links = outgoing.get(current, [])
            if not expanded:
                stack.append((current, True))
                for link in links:
                    target = graph.nodes[link.target_id]
                    if target.type == REROUTE and target.id not in open_:
                        open_.add(target.id)
                        stack.append((target.id, False))
                continue
            found: dict[tuple[str, str], None] = {}  # the inputs it feeds, then what its reroutes lead to
            for link in links:
                target = graph.nodes[link.target_id]
                if target.type != REROUTE:
                    entry = target.input_by_link(link.id)
                    name = f" input '{entry.name}'" if entry else ""
                    found[(target.id, f"{target.id} ({target.type}){name}")] = None
            for link in reversed(links):
                target = graph.nodes[link.target_id]
                if target.type == REROUTE:
                    found.update(dict.fromkeys(self._targets.get((graph.id, target.id), ())))
            self._targets[(graph.id, current)] = tuple(found)[:MAX_KEPT]
        return self._targets[(graph.id, start)]


def _proxies(node: Node, node_id: str,
             definition: Graph) -> tuple[dict[str, tuple[Place, ...]], dict[str, list[Place]]]:
    """Widgets of inner nodes shown on the instance (``properties.proxyWidgets`` entries
    other than ``["-1", name]``): a name shown once forwards to the inner node's input; the
    names shown more than once are returned apart (which one is meant is not known). An entry
    naming a node the subgraph does not hold shows nothing (the editor draws it disconnected)."""
    found: dict[str, list[Place]] = {}
    entries = node.properties.get("proxyWidgets")
    for entry in entries if isinstance(entries, list) else []:
        if (isinstance(entry, list) and len(entry) == 2 and str(entry[0]) in definition.nodes
                and isinstance(entry[1], str)):
            found.setdefault(entry[1], []).append((f"{node_id}:{entry[0]}", entry[1]))
    once: dict[str, tuple[Place, ...]] = {name: (places[0],) for name, places in found.items() if len(places) == 1}
    return once, {name: places for name, places in found.items() if len(places) > 1}
