"""The conversion itself: a UI-format graph read, flattened and turned into the prompt the
editor would queue. Pure functions."""


from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import UIFormatError
from ..settings import MAX_UI_NODES
from .catalog import UNDEFINED, Catalog
from .flatten import Exec, Flat, check_types, flatten, virtual_value, visible_source
from .graph import BYPASSED, MUTED, Workflow, read_workflow
from .resolve import resolve_input


def is_ui_format(data: Any) -> bool:
    """A graph as the editor saves it: ``nodes`` and ``links``."""
    return isinstance(data, Mapping) and isinstance(data.get("nodes"), list) and "links" in data


def is_api_format(data: Any) -> bool:
    """A prompt: every value a node with ``class_type``."""
    return (isinstance(data, Mapping) and bool(data)
            and all(isinstance(v, Mapping) and "class_type" in v for v in data.values()))


def convert(workflow: Mapping[str, Any], object_info: Mapping[str, Any] | Catalog, source: str = "workflow", *,
            server_version: str | None = None, sources: Sources | None = None,
            max_nodes: int = MAX_UI_NODES) -> dict[str, dict[str, Any]]:
    """The API-format prompt for a UI-format ``workflow``.

    ``source`` names the file in error messages; ``server_version`` (ComfyUI's version, when
    known) is added to the message for widget values that do not fit. ``sources``, when
    given, receives ``{(node id, input): (node id, input)}`` for each input of the prompt
    whose value the user sees on another node: a subgraph instance's widget (``("75",
    "text")``) or a PrimitiveNode (``("12", "value")``). Raises the
    ``UIFormatError`` subclasses of ``comfy_plugin.errors``: ``UnknownNodeType`` (also a
    ``ModelMissing``), ``LegacyGroupNode``, ``WidgetValuesMismatch``, ``BrokenLink``,
    ``MissingSubgraph``, ``RecursiveSubgraph``, ``TooManyNodes`` (more than ``max_nodes`` once
    the subgraph instances are expanded) and, for a field of the wrong type, ``UIFormatError``.
    """
    if not is_ui_format(workflow):
        raise UIFormatError(source, "not a UI-format workflow (an object with 'nodes' and 'links')")
    catalog = object_info if isinstance(object_info, Catalog) else Catalog(object_info)
    return convert_read(read_workflow(workflow, source), catalog, server_version, sources, max_nodes)


def convert_read(graph: Workflow, catalog: Catalog, server_version: str | None = None,
                 sources: Sources | None = None, max_nodes: int = MAX_UI_NODES) -> dict[str, dict[str, Any]]:
    """``convert`` for a file already read (``read_workflow``), so that it is read once."""
    check_types(graph, catalog, max_nodes)
    flat = flatten(graph, catalog, server_version, max_nodes)
    output: dict[str, dict[str, Any]] = {}
    for item in flat.execs.values():
        if item.virtual or item.node.mode in (MUTED, BYPASSED):
            continue
        output[item.id] = {"inputs": _inputs(flat, item, sources), "class_type": item.node.type,
                           "_meta": {"title": item.node.title if item.node.title is not None
                                     else item.cls.display_name if item.cls else item.node.type}}
    for node in output.values():
        inputs = node["inputs"]
        for name in [n for n, v in inputs.items() if _is_link(v) and v[0] not in output]:
            del inputs[name]
    return output


#: Where the values of a prompt's inputs are shown to the user: (node id, input) of the
#: prompt -> (node id, input) as the editor shows it.
Sources = dict[tuple[str, str], tuple[str, str]]

def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _inputs(flat: Flat, item: Exec, sources: Sources | None) -> dict[str, Any]:
    """Every sent widget's value, then each linked input: a link to the real origin, or the
    value the link stands for (a subgraph instance's widget)."""
    inputs: dict[str, Any] = {}
    shown: dict[str, tuple[str, str] | None] = {}
    values = flat.values.get(item.key, {})
    assert item.cls is not None
    for widget in item.cls.widgets:
        value = values.get(widget.name, UNDEFINED)
        if widget.sent and value is not UNDEFINED:
            inputs[widget.name] = virtual_value(value)
            shown[widget.name] = visible_source(item.path, flat.origins.get((item.key, widget.name)))
    for index, slot in enumerate(item.slots):
        found = resolve_input(flat, item, index)
        if found is None:
            continue
        if found.is_value:
            inputs[slot.name] = virtual_value(found.value)
        else:
            inputs[slot.name] = [found.origin_id, found.origin_slot]
        shown[slot.name] = found.source
    if sources is not None:
        sources.update({(item.id, name): where for name, where in shown.items() if where is not None})
    return inputs
