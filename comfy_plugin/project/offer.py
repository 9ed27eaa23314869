"""What a new project starts from: the workflows and models a ComfyUI offers, or a bundled graph.

A running ComfyUI 0.3.75 serves the editor's default graph (an SD1.5 txt2img, UI format) at
``/templates/default.json`` (comfyui-workflow-templates), its custom nodes' example workflows at
``/api/workflow_templates`` (``{"node folder": ["name", ...]}``, each at
``/api/workflow_templates/<folder>/<name>.json``), and its checkpoints in
``/object_info/CheckpointLoaderSimple``. Without a server the bundled API-format graph
(files/txt2img-api.json) stands in for the default graph.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import quote

from ..errors import ComfyError, ServerUnavailable
from ..files import safe_piece
from ..urls import without_credentials

#: The default graph's checkpoint loader, whose model list the server reports.
LOADER = "CheckpointLoaderSimple"


class OfferError(ComfyError):
    """The server named by --url cannot be read."""


@dataclass
class Workflow:
    """A workflow to write into the project, and where its prompt keys go."""

    name: str  # a file-name piece: "txt2img", "my_node-tint"
    graph: dict[str, Any]  # as the server (or the bundle) gave it: UI or API format
    items: dict[str, str] = field(default_factory=dict)  # prompt key -> "node_id,inputs,input"
    values: dict[str, Any] = field(default_factory=dict)  # the example's generic_prompts
    source: str = ""  # where it came from, for the lines init prints


@dataclass
class Offer:
    """The example workflows, the checkpoints the server has (None: no server asked), a note."""

    workflows: list[Workflow]
    checkpoints: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def _links(graph: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Each node's class and, per linked input, the id of the node it reads: from the API
    format's ``[node_id, slot]`` inputs or the UI format's links table."""
    if isinstance(graph.get("nodes"), list):
        ends = {link[0]: str(link[1]) for link in graph.get("links") or [] if isinstance(link, list) and len(link) > 3}
        nodes: dict[str, tuple[str, dict[str, str]]] = {}
        for node in graph["nodes"]:
            if isinstance(node, dict):
                inputs = {str(i.get("name")): ends[i["link"]] for i in node.get("inputs") or []
                          if isinstance(i, dict) and i.get("link") in ends}
                nodes[str(node.get("id"))] = (str(node.get("type")), inputs)
        return nodes
    return {str(key): (str(node.get("class_type")),
                       {name: str(value[0]) for name, value in (node.get("inputs") or {}).items()
                        if isinstance(value, list) and len(value) == 2})
            for key, node in graph.items() if isinstance(node, dict)}


def txt2img_items(graph: dict[str, Any]) -> dict[str, str]:
    """The keys of a txt2img graph (positive and negative prompt, seed, steps, size, checkpoint),
    found from its KSampler's links; empty when the graph has no such sampler."""
    nodes = _links(graph)
    sampler = next((key for key, (kind, _) in nodes.items() if kind == "KSampler"), None)
    if sampler is None:
        return {}
    linked = nodes[sampler][1]
    items = {"seed": f"{sampler},inputs,seed", "steps": f"{sampler},inputs,steps"}
    for key, name, field_name in (("positive_prompt", "positive", "text"), ("negative_prompt", "negative", "text"),
                                  ("width", "latent_image", "width"), ("height", "latent_image", "height"),
                                  ("ckpt_name", "model", "ckpt_name")):
        source = linked.get(name)
        if source is not None and (field_name != "ckpt_name" or nodes[source][0] == LOADER):
            items[key] = f"{source},inputs,{field_name}"
    return items


def bundled() -> Workflow:
    """The bundled API-format txt2img graph (the default graph's nodes and ids)."""
    text = resources.files(__package__).joinpath("files/txt2img-api.json").read_text(encoding="utf-8")
    graph = json.loads(text)
    return Workflow("txt2img", graph, txt2img_items(graph), {}, "the bundled txt2img graph")


def _checkpoint(graph: dict[str, Any], items: dict[str, str]) -> str | None:
    """The checkpoint a graph names at its ``ckpt_name`` target (UI: the loader's first widget)."""
    if "ckpt_name" not in items:
        return None
    node_id = items["ckpt_name"].split(",")[0]
    if isinstance(graph.get("nodes"), list):
        node = next((n for n in graph["nodes"] if isinstance(n, dict) and str(n.get("id")) == node_id), {})
        values = node.get("widgets_values") or [None]
        return str(values[0]) if isinstance(values, list) and values[0] else None
    value = (graph.get(node_id) or {}).get("inputs", {}).get("ckpt_name")
    return str(value) if isinstance(value, str) else None


def choose_model(workflow: Workflow, checkpoints: list[str] | None, notes: list[str]) -> None:
    """Run the example on a checkpoint the server has: the graph's own when the server lists it,
    else the server's first one; with none (or no server asked) the graph's name stays, noted."""
    named = _checkpoint(workflow.graph, workflow.items)
    if named is None:
        return
    if checkpoints:
        chosen = named if named in checkpoints else checkpoints[0]
        workflow.values["ckpt_name"] = chosen
        if chosen != named:
            notes.append(f"the example runs on {chosen} (the server lacks {named})")
        return
    workflow.values["ckpt_name"] = named
    where = "the server has no checkpoint" if checkpoints is not None else "no server asked"
    notes.append(f"the example needs {named} in ComfyUI's models/checkpoints ({where}); or change ckpt_name")


def _optional(client: Any, path: str) -> Any:
    """An endpoint only some servers have: None where it does not answer with JSON."""
    try:
        return client.get_json(path)
    except ServerUnavailable:
        raise
    except ComfyError:
        return None


def _node_examples(client: Any) -> list[Workflow]:
    """Each custom node's example workflows, run as saved (one prompt, no keys)."""
    listing = _optional(client, "/api/workflow_templates")
    found: list[Workflow] = []
    for folder, names in sorted(listing.items()) if isinstance(listing, dict) else []:
        for name in sorted(names) if isinstance(names, list) else []:
            graph = _optional(client, f"/api/workflow_templates/{quote(str(folder))}/{quote(str(name))}.json")
            if isinstance(graph, dict) and graph:
                found.append(Workflow(f"{safe_piece(str(folder))}-{safe_piece(str(name))}", graph,
                                      source=f"custom node {folder}'s example {name}"))
    return found


def from_server(url: str, ca_bundle: str | None = None) -> Offer:
    """What the ComfyUI at ``url`` offers; its default graph where it serves one (else the bundled)."""
    from ..client import ComfyClient  # (only --url talks to a server)

    shown = without_credentials(url)
    try:
        client = ComfyClient(url, ca_bundle=ca_bundle)
        loader = _optional(client, f"/object_info/{LOADER}") or {}
        names = (((loader.get(LOADER) or {}).get("input") or {}).get("required") or {}).get("ckpt_name") or [[]]
        checkpoints = [str(n) for n in names[0]] if isinstance(names[0], list) else []
        default = _optional(client, "/templates/default.json")
        examples = _node_examples(client)
    except ComfyError as exc:
        raise OfferError(f"cannot read what ComfyUI at {shown} offers: {getattr(exc, 'what', exc)}") from None
    offer = Offer([], checkpoints)
    items = txt2img_items(default) if isinstance(default, dict) else {}
    if items:
        offer.workflows.append(Workflow("txt2img", default, items, {}, f"{shown}/templates/default.json"))
    else:
        offer.workflows.append(bundled())
        offer.notes.append(f"{shown} serves no default graph with a KSampler: the bundled one is used")
    choose_model(offer.workflows[0], checkpoints, offer.notes)
    offer.workflows += examples
    return offer


def offline() -> Offer:
    """No server: the bundled graph, its checkpoint name kept."""
    offer = Offer([bundled()])
    choose_model(offer.workflows[0], None, offer.notes)
    return offer
