"""Writes the small UI-format fixtures for the rules that the installed templates never use
(reroutes, muted and bypassed nodes, primitives, notes, nested subgraphs, keyed and old
widget values) and the broken files whose messages are tested.

    .venv/bin/python tests/ui_fixtures/make_fixtures.py

The graphs use only model-free core nodes. ``tests/test_ui_oracle.py`` compares the
converter with the editor on every fixture in this folder; the broken ones are in bad/.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


class Graph:
    """A root graph or a subgraph definition, written in the editor's own layout."""

    def __init__(self, counter: list[int], name: str = "") -> None:
        self.counter = counter  # link ids, shared by the root and its definitions
        self.name = name
        self.id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"comfy-fixture/{name}")) if name else ""
        self.nodes: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.io_inputs: list[dict[str, Any]] = []
        self.io_outputs: list[dict[str, Any]] = []

    def node(self, node_id: int, node_type: str, values: Any = None, mode: int = 0, title: str | None = None,
             **properties: Any) -> dict[str, Any]:
        node = {"id": node_id, "type": node_type, "pos": [node_id * 40 % 1200, node_id * 30 % 600],
                "size": [300, 120], "flags": {}, "order": len(self.nodes), "mode": mode, "inputs": [],
                "outputs": [], "properties": {"Node name for S&R": node_type, **properties}}
        if title is not None:
            node["title"] = title
        if values is not None:
            node["widgets_values"] = values
        self.nodes.append(node)
        return node

    def _find(self, node_id: int) -> dict[str, Any]:
        return next(n for n in self.nodes if n["id"] == node_id)

    def link(self, origin: int, origin_slot: int, target: int, name: str, link_type: str) -> int:
        """Connect ``origin``'s output to ``target``'s input ``name`` (-10 / -20: the subgraph's
        input / output node, ``name`` then being the subgraph input or output)."""
        self.counter[0] += 1
        link_id = self.counter[0]
        target_slot = 0
        if target == -20:
            slot = next(s for s in self.io_outputs if s["name"] == name)
            slot["linkIds"].append(link_id)
            target_slot = self.io_outputs.index(slot)
        else:
            node = self._find(target)
            entry = {"name": name, "type": link_type, "link": link_id}
            if link_type in WIDGET_TYPES:
                entry["widget"] = {"name": name}
            node["inputs"].append(entry)
            target_slot = len(node["inputs"]) - 1
        if origin == -10:
            self.io_inputs[origin_slot]["linkIds"].append(link_id)
        else:
            outputs = self._find(origin)["outputs"]
            while len(outputs) <= origin_slot:
                outputs.append({"name": link_type, "type": link_type, "links": []})
            outputs[origin_slot]["links"].append(link_id)
        self.links.append({"id": link_id, "origin_id": origin, "origin_slot": origin_slot, "target_id": target,
                           "target_slot": target_slot, "type": link_type})
        return link_id

    def io(self, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> None:
        def slot(name: str, slot_type: str, kind: str) -> dict[str, Any]:
            return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}/{kind}/{name}")), "name": name,
                    "type": slot_type, "linkIds": []}

        self.io_inputs = [slot(n, t, "in") for n, t in inputs]
        self.io_outputs = [slot(n, t, "out") for n, t in outputs]

    def definition(self) -> dict[str, Any]:
        return {"id": self.id, "version": 1, "state": {"lastGroupId": 0, "lastNodeId": 100,
                "lastLinkId": self.counter[0], "lastRerouteId": 0}, "revision": 0, "config": {}, "name": self.name,
                "inputNode": {"id": -10, "bounding": [0, 0, 120, 60]},
                "outputNode": {"id": -20, "bounding": [900, 0, 120, 60]},
                "inputs": self.io_inputs, "outputs": self.io_outputs, "widgets": [], "nodes": self.nodes,
                "groups": [], "links": self.links, "extra": {}}

    def workflow(self, *definitions: "Graph") -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": "", "revision": 0,
            "last_node_id": max([n["id"] for n in self.nodes] + [0]), "last_link_id": self.counter[0],
            "nodes": self.nodes,
            "links": [[x["id"], x["origin_id"], x["origin_slot"], x["target_id"], x["target_slot"], x["type"]]
                      for x in self.links],
            "groups": [], "config": {}, "extra": {"frontendVersion": "1.32.9"}, "version": 0.4}
        if definitions:
            data["definitions"] = {"subgraphs": [d.definition() for d in definitions]}
        return data


def instance(graph: Graph, node_id: int, definition: Graph, values: list[Any] | None = None,
             mode: int = 0, title: str | None = None, **properties: Any) -> dict[str, Any]:
    node = graph.node(node_id, definition.id, values, mode, title or definition.name, **properties)
    return node


def reroutes() -> dict[str, Any]:
    g = Graph([0])
    g.node(1, "EmptyImage", [64, 48, 1, 16711680])
    g.node(2, "Reroute")
    g.node(3, "Reroute")
    g.node(4, "ImageInvert")
    g.node(5, "SaveImage", ["ui-reroute"])
    g.node(6, "PrimitiveStringMultiline", ["rerouted text"])
    g.node(7, "Reroute")
    g.node(8, "StringConcatenate", ["a", "b", "-"])
    g.node(9, "Reroute")
    g.node(10, "ImageBlur", [2, 1.0])
    g.link(1, 0, 2, "", "*")
    g.link(2, 0, 3, "", "*")
    g.link(3, 0, 4, "image", "IMAGE")
    g.link(4, 0, 5, "images", "IMAGE")
    g.link(6, 0, 7, "", "*")
    g.link(7, 0, 8, "string_a", "STRING")
    g.link(9, 0, 10, "image", "IMAGE")  # a reroute fed by nothing: the input is dropped
    return g.workflow()


def muted_and_bypassed() -> dict[str, Any]:
    g = Graph([0])
    g.node(1, "EmptyImage", [32, 32, 1, 255])
    g.node(2, "ImageBlur", [3, 1.5], mode=4)
    g.node(3, "ImageInvert")
    g.node(4, "SaveImage", ["ui-bypass"])
    g.node(5, "ImageInvert", mode=2)
    g.node(6, "SaveImage", ["ui-muted-origin"])
    g.node(7, "SaveImage", ["ui-muted"], mode=2)
    g.node(8, "ImageToMask", ["red"], mode=4)
    g.node(9, "MaskToImage")
    g.node(10, "ImageCompositeMasked", [0, 0, False], mode=4)
    g.node(11, "ImageInvert")
    g.node(12, "ImageBatch", mode=4)
    g.node(13, "ImageInvert")
    g.node(14, "ImageBlur", [1, 0.5], mode=1)
    g.node(15, "ImageBlur", [1, 0.7], mode=3)
    g.link(1, 0, 2, "image", "IMAGE")
    g.link(2, 0, 3, "image", "IMAGE")
    g.link(3, 0, 4, "images", "IMAGE")
    g.link(1, 0, 5, "image", "IMAGE")
    g.link(5, 0, 6, "images", "IMAGE")
    g.link(1, 0, 7, "images", "IMAGE")
    g.link(1, 0, 8, "image", "IMAGE")
    g.link(8, 0, 9, "mask", "MASK")  # no MASK input to pass through: dropped
    g.link(1, 0, 10, "destination", "IMAGE")
    g.link(3, 0, 10, "source", "IMAGE")
    g.link(10, 0, 11, "image", "IMAGE")
    g.link(1, 0, 12, "image2", "IMAGE")  # slot 0 (image1) fits and is empty: dropped
    g.link(12, 0, 13, "image", "IMAGE")
    g.link(1, 0, 14, "image", "IMAGE")
    g.link(14, 0, 15, "image", "IMAGE")
    return g.workflow()


def primitives_and_notes() -> dict[str, Any]:
    g = Graph([0])
    g.node(1, "PrimitiveNode", [123, "fixed"], title="seed")
    g.node(2, "EmptyImage", [32, 32, 1, 0])
    g.node(3, "ImageAddNoise", [5, "randomize", 0.3])
    g.node(4, "ImageAddNoise", [6, "fixed", 0.4])
    g.node(5, "SaveImage", ["ui-primitive"])
    g.node(6, "Note", ["a note: never sent"])
    g.node(7, "MarkdownNote", ["# nor is this"])
    g.node(8, "PrimitiveNode", [77])
    g.node(9, "PrimitiveNode", ["a cat"], title="text")
    g.node(10, "StringConcatenate", ["x", "y", " "])
    g.node(11, "StringReplace", ["cat and dog", "old", "new"])
    g.link(1, 0, 3, "seed", "INT")
    g.link(1, 0, 4, "seed", "INT")
    g.link(2, 0, 3, "image", "IMAGE")
    g.link(3, 0, 4, "image", "IMAGE")
    g.link(4, 0, 5, "images", "IMAGE")
    g.link(9, 0, 10, "string_a", "STRING")
    g.link(9, 0, 11, "find", "STRING")
    for node in g.nodes:
        if node["type"] == "PrimitiveNode" and node["outputs"]:
            node["outputs"][0].update(name="connect to widget input", type=node["outputs"][0]["type"],
                                      widget={"name": "seed" if node["id"] == 1 else "string_a"})
    return g.workflow()


def nested_subgraphs() -> dict[str, Any]:
    counter = [0]
    inner = Graph(counter, "Noise and blur")
    inner.io([("image", "IMAGE"), ("strength", "FLOAT")], [("IMAGE", "IMAGE")])
    inner.node(1, "ImageAddNoise", [11, "fixed", 0.5])
    inner.node(2, "ImageBlur", [2, 1.0])
    inner.link(-10, 0, 1, "image", "IMAGE")
    inner.link(-10, 1, 1, "strength", "FLOAT")
    inner.link(1, 0, 2, "image", "IMAGE")
    inner.link(2, 0, -20, "IMAGE", "IMAGE")

    outer = Graph(counter, "Treatment")
    outer.io([("image", "IMAGE"), ("strength", "FLOAT"), ("blur_radius", "INT")], [("IMAGE", "IMAGE")])
    instance(outer, 5, inner, [0.25])
    outer.node(6, "ImageBlur", [1, 0.5])
    outer.node(7, "ImageInvert", mode=4)
    outer.link(-10, 0, 5, "image", "IMAGE")
    outer.link(-10, 1, 5, "strength", "FLOAT")
    outer.link(5, 0, 6, "image", "IMAGE")
    outer.link(-10, 2, 6, "blur_radius", "INT")
    outer.link(6, 0, 7, "image", "IMAGE")
    outer.link(7, 0, -20, "IMAGE", "IMAGE")

    root = Graph(counter)
    root.node(1, "EmptyImage", [48, 48, 1, 8421504])
    instance(root, 10, outer, [0.7, 3], title="First treatment")
    instance(root, 11, outer, [0.1, 5], title="Second treatment")
    root.node(12, "PrimitiveFloat", [0.9])
    root.node(13, "SaveImage", ["ui-nested"])
    instance(root, 14, inner, [0.6], mode=2, title="Muted instance")
    root.node(15, "SaveImage", ["ui-muted-instance"])
    instance(root, 16, inner, [0.6], mode=4, title="Bypassed instance")
    root.node(17, "SaveImage", ["ui-bypassed-instance"])
    root.link(1, 0, 10, "image", "IMAGE")
    root.link(10, 0, 11, "image", "IMAGE")
    root.link(12, 0, 11, "strength", "FLOAT")
    root.link(11, 0, 13, "images", "IMAGE")
    root.link(1, 0, 14, "image", "IMAGE")
    root.link(14, 0, 15, "images", "IMAGE")
    root.link(1, 0, 16, "image", "IMAGE")
    root.link(16, 0, 17, "images", "IMAGE")
    for node in root.nodes:  # promoted widget inputs, as the editor saves them
        if node["type"] == outer.id:
            for name, widget_type in (("strength", "FLOAT"), ("blur_radius", "INT")):
                if not any(i["name"] == name for i in node["inputs"]):
                    node["inputs"].append({"name": name, "type": widget_type, "link": None, "widget": {"name": name}})
    return root.workflow(inner, outer)


def keyed_widget_values() -> dict[str, Any]:
    g = Graph([0])
    g.node(1, "EmptyImage", {"width": 32, "height": 24, "batch_size": 2, "color": 255})
    g.node(2, "ImageAddNoise", {"seed": 5, "control_after_generate": "fixed", "strength": 0.2})
    g.node(3, "SaveImage", {"filename_prefix": "ui-keyed"})
    g.link(1, 0, 2, "image", "IMAGE")
    g.link(2, 0, 3, "images", "IMAGE")
    return g.workflow()


def primitive_in_subgraph() -> dict[str, Any]:
    counter = [100]  # link ids the root does not use
    inner = Graph(counter, "Primitive inside")
    inner.io([("image", "IMAGE")], [("IMAGE", "IMAGE")])
    inner.node(1, "PrimitiveNode", [9], title="seed")
    inner.node(2, "ImageAddNoise", [1, "fixed", 0.5])
    inner.link(-10, 0, 2, "image", "IMAGE")
    inner.link(1, 0, 2, "seed", "INT")
    inner.link(2, 0, -20, "IMAGE", "IMAGE")
    root = Graph(counter)
    root.node(1, "EmptyImage", [32, 32, 1, 0])
    instance(root, 2, inner)
    root.node(3, "SaveImage", ["ui-primitive-inside"])
    root.link(1, 0, 2, "image", "IMAGE")
    root.link(2, 0, 3, "images", "IMAGE")
    return root.workflow(inner)


def legacy_values() -> dict[str, Any]:
    """Values as old editors saved them: a ``sample_`` sampler name and a boolean seed control
    (migrated at the top level only), a dummy value for a ``forceInput`` input."""
    counter = [0]
    inner = Graph(counter, "Old sampler inside")
    inner.io([], [])
    inner.node(1, "KSamplerAdvanced", ["enable", 3, False, 10, 6, "sample_dpm_2", "karras", 0, 10, "disable"])
    root = Graph(counter)
    root.node(1, "KSampler", [5, True, 20, 8, "sample_euler", "normal", 1])
    root.node(2, "KSamplerAdvanced", ["enable", 4, False, 12, 7, "sample_lms", "normal", 0, 12, "disable"])
    root.node(3, "CreateHookKeyframesFromFloats", [-1, 0.1, 0.9, False])
    root.node(4, "CreateHookKeyframesFromFloats", [0.2, 0.8, True])
    instance(root, 5, inner)
    return root.workflow(inner)


def primitive_into_subgraph() -> dict[str, Any]:
    """A PrimitiveNode feeding a subgraph instance's promoted input."""
    counter = [0]
    inner = Graph(counter, "Blur")
    inner.io([("image", "IMAGE"), ("blur_radius", "INT")], [("IMAGE", "IMAGE")])
    inner.node(1, "ImageBlur", [2, 1.0])
    inner.link(-10, 0, 1, "image", "IMAGE")
    inner.link(-10, 1, 1, "blur_radius", "INT")
    inner.link(1, 0, -20, "IMAGE", "IMAGE")
    root = Graph(counter)
    root.node(1, "EmptyImage", [32, 32, 1, 0])
    instance(root, 2, inner, [4])
    root.node(3, "PrimitiveNode", [6], title="radius")
    root.node(4, "SaveImage", ["ui-primitive-into"])
    root.link(1, 0, 2, "image", "IMAGE")
    root.link(3, 0, 2, "blur_radius", "INT")
    root.link(2, 0, 4, "images", "IMAGE")
    return root.workflow(inner)


def unknown_but_unsent() -> dict[str, Any]:
    """Node types the server lacks, muted or bypassed: the editor sends the rest."""
    g = Graph([0])
    g.node(1, "EmptyImage", [32, 32, 1, 0])
    g.node(2, "FancyUpscaler", [2, "lanczos"], mode=4)
    g.node(3, "ImageInvert")
    g.node(4, "FancyFilter", [0.5], mode=2)
    g.node(5, "SaveImage", ["ui-unknown"])
    g.link(1, 0, 2, "image", "IMAGE")
    g.link(2, 0, 3, "image", "IMAGE")
    g.link(3, 0, 4, "image", "IMAGE")
    g.link(4, 0, 5, "images", "IMAGE")
    return g.workflow()


def _noise_graph(counter: list[int] | None = None) -> Graph:
    g = Graph(counter or [0])
    g.node(1, "EmptyImage", [32, 32, 1, 0])
    g.node(2, "ImageBlur", [2, 1.0])
    g.node(3, "SaveImage", ["ui-bad"])
    g.link(1, 0, 2, "image", "IMAGE")
    g.link(2, 0, 3, "images", "IMAGE")
    return g


def bad_group_node() -> dict[str, Any]:
    g = _noise_graph()
    g.node(4, "workflow>Blur twice", [2, 1.0, 3, 1.5])
    data = g.workflow()
    data["extra"]["groupNodes"] = {"Blur twice": {"nodes": [], "links": [], "external": []}}
    return data


def bad_widget_values() -> dict[str, Any]:
    """Saved by a newer editor and node version in which ImageBlur gained a combo first."""
    g = _noise_graph()
    blur = next(n for n in g.nodes if n["id"] == 2)
    blur["widgets_values"] = ["gaussian", 2, 1.0]
    blur["properties"].update(cnr_id="comfy-core", ver="0.9.1")
    data = g.workflow()
    data["extra"]["frontendVersion"] = "1.99.0"
    return data


def bad_link_origin() -> dict[str, Any]:
    data = _noise_graph().workflow()
    data["links"][0][1] = 99  # link 1 now starts at node 99
    return data


def bad_missing_definition() -> dict[str, Any]:
    counter = [0]
    inner = Graph(counter, "Never saved")
    inner.io([("image", "IMAGE")], [("IMAGE", "IMAGE")])
    g = _noise_graph(counter)
    instance(g, 4, inner)
    return g.workflow()  # the definition is left out


def bad_recursive_subgraph() -> dict[str, Any]:
    counter = [0]
    inner = Graph(counter, "Russian doll")
    inner.io([("image", "IMAGE")], [("IMAGE", "IMAGE")])
    instance(inner, 1, inner)
    inner.link(-10, 0, 1, "image", "IMAGE")
    inner.link(1, 0, -20, "IMAGE", "IMAGE")
    g = _noise_graph(counter)
    instance(g, 4, inner)
    g.link(1, 0, 4, "image", "IMAGE")
    return g.workflow(inner)


def bad_unknown_type() -> dict[str, Any]:
    g = _noise_graph()
    g.node(4, "FancyUpscaler", [2])
    g.link(2, 0, 4, "image", "IMAGE")
    return g.workflow()


BAD = {
    "group-node.json": bad_group_node,
    "widget-values.json": bad_widget_values,
    "link-origin.json": bad_link_origin,
    "missing-definition.json": bad_missing_definition,
    "recursive-subgraph.json": bad_recursive_subgraph,
    "unknown-type.json": bad_unknown_type,
}

FIXTURES = {
    "reroutes.json": reroutes,
    "muted-bypassed.json": muted_and_bypassed,
    "primitives-notes.json": primitives_and_notes,
    "nested-subgraphs.json": nested_subgraphs,
    "keyed-widgets.json": keyed_widget_values,
    "primitive-in-subgraph.json": primitive_in_subgraph,
    "legacy-values.json": legacy_values,
    "unknown-unsent.json": unknown_but_unsent,
    "primitive-into-subgraph.json": primitive_into_subgraph,
}


def main() -> None:
    (HERE / "bad").mkdir(exist_ok=True)
    for folder, table in ((HERE, FIXTURES), (HERE / "bad", BAD)):
        for name, build in table.items():
            data = build()
            data["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"comfy-fixture-root/{name}"))
            (folder / name).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            print("wrote", folder / name)


if __name__ == "__main__":
    main()
