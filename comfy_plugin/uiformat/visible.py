"""The nodes of a UI-format workflow as the user sees them in the editor, by the id a batch
file writes (``75:6`` inside subgraph instance 75), and where a value written to one of
them lands in the prompt.

From the file alone: every id, its class (or subgraph), its stored title, and whether the
editor never sends it (with a hint at what the user probably meant). With the server's
``/object_info`` also each node's input names and the inputs of the prompt that take the
value of a subgraph instance's widget or of a PrimitiveNode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import BrokenLink, MissingSubgraph, RecursiveSubgraph, UIFormatError
from .catalog import Catalog
from .prompt import convert_read, is_ui_format
from .graph import (BYPASSED, MUTED, NOTES, PRIMITIVE, REROUTE, SUBGRAPH_INPUT, UUID, Graph, Node, Workflow,
                    read_workflow)

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


def visible_nodes(workflow: Mapping[str, Any], source: str = "workflow",
                  object_info: Mapping[str, Any] | Catalog | None = None,
                  server_version: str | None = None) -> dict[str, Visible]:
    """Every node of the file by its flattened id. Raises the converter's errors (from the
    file alone a legacy group node, a missing or recursive subgraph, a broken link; with
    ``object_info`` all of them)."""
    if object_info is None:
        return file_nodes(read_workflow(workflow, source))
    return convert_visible(workflow, object_info, source, server_version)[1]


def file_nodes(graph: Workflow) -> dict[str, Visible]:
    """What the file alone tells; raises its structural faults."""
    found: dict[str, Visible] = {}
    _walk(graph, graph.root, (), (), found)
    check_links(graph)
    return found


def convert_visible(workflow: Mapping[str, Any], object_info: Mapping[str, Any] | Catalog, source: str = "workflow",
                    server_version: str | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, Visible]]:
    """The prompt (as ``convert`` gives it) and every node as the user sees it, with the
    server's input names, display names and where forwarded values land: the file is read
    and converted once."""
    if not is_ui_format(workflow):
        raise UIFormatError(source, "not a UI-format workflow (an object with 'nodes' and 'links')")
    catalog = object_info if isinstance(object_info, Catalog) else Catalog(object_info)
    graph = read_workflow(workflow, source)
    found = file_nodes(graph)
    sources: dict[Place, Place] = {}
    prompt = convert_read(graph, catalog, server_version, sources)
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

    def walk(inner: Graph, path: tuple[str, ...], stack: tuple[str, ...]) -> None:
        for node in inner.nodes.values():
            if node.mode in (MUTED, BYPASSED) or node.type in NOTES or node.type in (PRIMITIVE, REROUTE):
                continue
            definition = graph.subgraphs.get(node.type)
            if definition is not None:
                if node.type not in stack:
                    walk(definition, path + (node.id,), stack + (node.type,))
                continue
            for entry in node.inputs:
                _check_link(graph, inner, node, ":".join(path + (node.id,)), entry.name, entry.link)

    walk(graph.root, (), ())


def _check_link(graph: Workflow, inner: Graph, node: Node, node_id: str, name: str, link_id: int | None) -> None:
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


def _walk(workflow: Workflow, graph: Graph, path: tuple[str, ...], stack: tuple[str, ...],
          found: dict[str, Visible]) -> None:
    for node in graph.nodes.values():
        node_id = ":".join(path + (node.id,))
        definition = workflow.subgraphs.get(node.type)
        if definition is None and UUID.match(node.type):
            raise MissingSubgraph(workflow.source, f"the definition of subgraph {node.type} is not in the file "
                                  "(definitions.subgraphs)", node.label(),
                                  "save the workflow again with the editor, or copy the subgraph's definition in")
        if definition is not None and node.type in stack:
            chain = " > ".join(f"'{workflow.subgraphs[s].name}'" for s in stack + (node.type,))
            raise RecursiveSubgraph(workflow.source, f"subgraph '{definition.name}' contains an instance of itself "
                                    f"({chain})", node.label(), "a subgraph cannot hold itself: remove that instance")
        found[node_id] = _visible(workflow, graph, node, path, definition)
        if definition is not None:
            _walk(workflow, definition, path + (node.id,), stack + (node.type,), found)


def _visible(workflow: Workflow, graph: Graph, node: Node, path: tuple[str, ...],
             definition: Graph | None) -> Visible:
    node_id = ":".join(path + (node.id,))
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
        return Visible(class_type, node.title, "a reroute", _reroute_hint(graph, node, path), fields=(),
                       default_title=EDITOR_TITLES[REROUTE])
    if node.type == PRIMITIVE:
        return Visible(class_type, node.title, fields=("value",), default_title=EDITOR_TITLES[PRIMITIVE])
    if definition is not None:
        inner = ", ".join(f"{node_id}:{n.id} ({_kind(workflow, n)})" for n in definition.nodes.values()
                          if n.type not in NOTES and n.type != REROUTE)
        forwards, twice = _proxies(node, node_id)
        instead = f"the nodes inside are {inner}" + "".join(
            f"; '{name}' is shown {len(places)} times on it: address one of {', '.join(p for p, _ in places)}"
            for name, places in twice.items())
        return Visible(class_type, node.title, instead=instead, forwards=forwards, default_title=definition.name)
    return Visible(class_type, node.title)


def _kind(workflow: Workflow, node: Node) -> str:
    definition = workflow.subgraphs.get(node.type)
    return f"subgraph '{definition.name}'" if definition is not None else node.type


def _reroute_hint(graph: Graph, node: Node, path: tuple[str, ...]) -> str:
    """Where a reroute leads: the inputs it feeds, through further reroutes."""
    targets: list[str] = []
    pending, seen = [node.id], {node.id}
    while pending:
        current = pending.pop()
        for link in graph.links.values():
            if link.origin_id != current or link.target_id not in graph.nodes:
                continue
            target = graph.nodes[link.target_id]
            if target.type == REROUTE and target.id not in seen:
                seen.add(target.id)
                pending.append(target.id)
            elif target.type != REROUTE:
                entry = target.input_by_link(link.id)
                name = f" input '{entry.name}'" if entry else ""
                targets.append(f"node {':'.join(path + (target.id,))} ({target.type}){name}")
    return "address the node it leads to: " + ", ".join(targets) if targets else "it leads nowhere"


def _proxies(node: Node, node_id: str) -> tuple[dict[str, tuple[Place, ...]], dict[str, list[Place]]]:
    """Widgets of inner nodes shown on the instance (``properties.proxyWidgets`` entries
    other than ``["-1", name]``): a name shown once forwards to the inner node's input; the
    names shown more than once are returned apart (which one is meant is not known)."""
    found: dict[str, list[Place]] = {}
    entries = node.properties.get("proxyWidgets")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, list) and len(entry) == 2 and str(entry[0]) != "-1" and isinstance(entry[1], str):
            found.setdefault(entry[1], []).append((f"{node_id}:{entry[0]}", entry[1]))
    once = {name: (places[0],) for name, places in found.items() if len(places) == 1}
    return once, {name: places for name, places in found.items() if len(places) > 1}
