"""Following a link back to the node that really produces the value, as the editor does.

A bypassed node passes one of its inputs through, a reroute passes its input through, a
subgraph instance hands over to the inner node behind its output, and a link that starts
at a subgraph's input continues outside the instance (or takes the instance's widget
value when nothing is linked there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BrokenLink, UIFormatError
from .catalog import UNDEFINED
from .flatten import Exec, Flat, promoted_widget, visible_source
from .graph import BYPASSED, PRIMITIVE, SUBGRAPH_INPUT


@dataclass(frozen=True)
class Resolved:
    """Where an input's value comes from: a node's output, or a value (``is_value``)."""

    origin_id: str = ""
    origin_slot: int = -1
    value: Any = None
    is_value: bool = False
    source: tuple[str, str] | None = None  # for a value: the node and input the user sees it on


def valid_connection(type_a: str, type_b: str) -> bool:
    """litegraph's rule: ``*`` or an empty type fits anything; "A,B" lists alternatives."""
    if type_a in ("", "*", "0") or type_b in ("", "*", "0") or type_a == type_b:
        return True
    a, b = type_a.lower(), type_b.lower()
    if "," not in a and "," not in b:
        return a == b
    return any(valid_connection(x, y) for x in a.split(",") for y in b.split(","))


def _broken(flat: Flat, item: Exec, what: str) -> BrokenLink:
    return BrokenLink(flat.workflow.source, what, f"node {item.id} ({item.node.type})",
                      "the file is damaged: open it in the editor, reconnect the input and save it again")


@dataclass(frozen=True)
class _Next:
    """The next place to look: an input (``output`` False) or an output of a node."""

    output: bool
    item: Exec
    index: int
    wanted: str | None = None


def resolve_input(flat: Flat, item: Exec, index: int) -> Resolved | None:
    """Where input ``index`` of ``item`` takes its value from: followed link by link, without
    recursion (a chain of reroutes or of nested subgraphs is as long as the file makes it),
    each place resolved once per conversion (many inputs fed through one long chain)."""
    step = _Next(False, item, index)
    walked: list[tuple[bool, str, int, str | None]] = []
    seen: set[tuple[bool, str, int, str | None]] = set()
    while True:
        key = (step.output, step.item.id, step.index, step.wanted)
        if key in flat.resolved:
            result: Resolved | None = flat.resolved[key]
            break
        if key in seen:
            what = "output" if step.output else "input"
            raise UIFormatError(flat.workflow.source, f"{what} {step.index} is part of a loop of links",
                                f"node {step.item.id}")
        seen.add(key)
        walked.append(key)
        following = _from_output(flat, step) if step.output else _from_input(flat, step)
        if not isinstance(following, _Next):
            result = following
            break
        step = following
    for key in walked:
        flat.resolved[key] = result
    return result


def _from_input(flat: Flat, at: _Next) -> _Next | Resolved | None:
    item, index = at.item, at.index
    if index >= len(item.slots):
        raise _broken(flat, item, f"a link goes into input {index}, which the node does not have")
    slot = item.slots[index]
    if slot.link is None:
        return None
    link = item.node.graph.links.get(slot.link)
    if link is None:
        raise _broken(flat, item, f"input '{slot.name}' is connected by link {slot.link}, which the file does not hold")
    if item.instance is not None and link.origin_id == str(SUBGRAPH_INPUT):
        return _from_instance_input(flat, item, link.origin_slot)
    origin = item.node.graph.nodes.get(link.origin_id)
    if origin is None:
        raise _broken(flat, item, f"input '{slot.name}' is linked (link {link.id}) to node {link.origin_id}, "
                                  "which does not exist")
    return _Next(True, flat.execs[":".join((*item.path, origin.id))], link.origin_slot, at.wanted or slot.type)


def _from_instance_input(flat: Flat, item: Exec, slot_index: int) -> _Next | Resolved | None:
    """A link from the subgraph's input node: continue at the instance's input of that slot."""
    instance = item.instance
    assert instance is not None
    if slot_index >= len(instance.slots):
        raise _broken(flat, instance, f"subgraph input {slot_index} used by node {item.id} does not exist")
    outer = instance.slots[slot_index]
    if outer.link is None:
        widget = promoted_widget(flat, instance, outer)
        if widget is None or widget.value is UNDEFINED:
            return None
        origin = ("primitive", widget.primitive) if widget.primitive else None
        source = visible_source(instance.path, origin) or (instance.id, widget.name)
        return Resolved(instance.id, -1, widget.value, True, source)
    if instance.node.graph.links.get(outer.link) is None:
        raise _broken(flat, instance, f"input '{outer.name}' is connected by link {outer.link}, "
                                      "which the file does not hold")
    return _Next(False, instance, slot_index)


def _from_output(flat: Flat, at: _Next) -> _Next | Resolved | None:
    item, slot, wanted = at.item, at.index, at.wanted or "*"
    if item.node.mode == BYPASSED:
        index = _bypass_index(item, slot, wanted)
        return None if index < 0 else _Next(False, item, index)
    if item.subgraph is not None:
        return _subgraph_output(flat, item, slot, wanted)
    if item.virtual:
        if item.node.type == PRIMITIVE or slot >= len(item.slots) or item.slots[slot].link is None:
            return None
        return _Next(False, item, slot, wanted)
    return Resolved(item.id, slot)


def _bypass_index(item: Exec, slot: int, wanted: str) -> int:
    """The input a bypassed node passes to output ``slot``: the same slot number when the types
    fit, else the first input of exactly the wanted type, else the first that fits."""
    inputs = item.slots
    if wanted in ("*", ""):
        return slot if len(inputs) > slot else (0 if inputs else -1)
    output_type = item.output_type(slot)
    if slot < len(inputs):
        same = inputs[slot].type
        if valid_connection(same, output_type) and valid_connection(same, wanted):
            return slot
    exact = next((i for i, s in enumerate(inputs) if s.type == wanted), -1)
    if exact >= 0:
        return exact
    return next((i for i, s in enumerate(inputs)
                 if valid_connection(s.type, output_type) and valid_connection(s.type, wanted)), -1)


def _subgraph_output(flat: Flat, item: Exec, slot: int, wanted: str) -> _Next | None:
    definition = item.subgraph
    assert definition is not None
    if slot >= len(definition.outputs):
        raise _broken(flat, item, f"a link uses output {slot} of subgraph '{definition.name}', which has "
                                  f"{len(definition.outputs)} output(s)")
    link_ids = definition.outputs[slot].link_ids
    link = definition.links.get(link_ids[0]) if link_ids else None
    if link is None:
        return None
    inner = definition.nodes.get(link.origin_id)
    if inner is None:
        raise _broken(flat, item, f"output '{definition.outputs[slot].name}' of subgraph '{definition.name}' is "
                                  f"linked to node {link.origin_id}, which the subgraph does not hold")
    return _Next(True, flat.execs[":".join((*item.path, item.node.id, inner.id))], link.origin_slot, wanted)
