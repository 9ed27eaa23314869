"""comfy_plugin.uiformat.visible_nodes: a UI-format workflow's nodes as the user sees them,
by the ids a batch file writes, and where a value written to one of them lands."""

from __future__ import annotations

import pytest
from ui_fixtures import HERE, OBJECT_INFO, ROOT, load

from comfy_plugin.errors import MissingSubgraph, RecursiveSubgraph
from comfy_plugin.uiformat import convert, visible_nodes

INFO = load(OBJECT_INFO)


def nodes(name: str, with_server: bool = True):
    path = HERE / name
    return visible_nodes(load(path), name, INFO if with_server else None)


def test_the_file_alone_gives_every_id_class_and_title() -> None:
    found = nodes("nested-subgraphs.json", with_server=False)
    assert {"10", "10:5", "10:5:1", "10:5:2", "10:6", "10:7", "11:5:1", "14:1", "16:2"} <= set(found)
    assert found["10"].class_type == "subgraph 'Treatment'" and found["10"].title == "First treatment"
    assert found["10:5:1"].class_type == "ImageAddNoise" and found["10:5:1"].title is None
    assert found["10:5:1"].fields is None, "input names come from the server"
    assert "10:5 (subgraph 'Noise and blur'), 10:6 (ImageBlur)" in found["10"].instead


def test_nodes_the_editor_never_sends_say_why_and_what_was_meant() -> None:
    found = nodes("reroutes.json", with_server=False)
    assert found["2"].unsent == "a reroute"
    assert found["2"].instead == "address the node it leads to: node 4 (ImageInvert) input 'image'"
    assert found["9"].instead == "address the node it leads to: node 10 (ImageBlur) input 'image'"
    notes = nodes("primitives-notes.json", with_server=False)
    assert notes["6"].unsent == "a note" and notes["7"].unsent == "a note"
    muted = nodes("muted-bypassed.json", with_server=False)
    assert muted["5"].unsent == "muted" and "Ctrl+M" in muted["5"].instead
    assert muted["2"].unsent == "bypassed" and "Ctrl+B" in muted["2"].instead


def test_promoted_inputs_and_primitives_forward_to_the_prompts_inputs() -> None:
    found = nodes("nested-subgraphs.json")
    assert found["10"].forwards == {"strength": (("10:5:1", "strength"),), "blur_radius": (("10:6", "blur_radius"),)}
    assert found["11"].forwards == {"blur_radius": (("11:6", "blur_radius"),)}, "11's strength is linked"
    assert found["10"].fields == ("strength", "blur_radius")
    prims = nodes("primitives-notes.json")
    assert prims["1"].forwards == {"value": (("3", "seed"), ("4", "seed"))} and prims["1"].fields == ("value",)
    assert prims["9"].forwards == {"value": (("10", "string_a"), ("11", "find"))}
    assert nodes("primitive-in-subgraph.json")["2:1"].forwards == {"value": (("2:2", "seed"),)}
    into = nodes("primitive-into-subgraph.json")
    assert into["3"].forwards == {"value": (("2:1", "blur_radius"),)}, "through the instance's widget"
    assert into["2"].forwards == {}, "its blur_radius input is linked (to the primitive)"


def test_a_sent_nodes_fields_are_its_inputs_and_its_classes() -> None:
    found = nodes("muted-bypassed.json")
    assert found["9"].fields == ("mask",), "the dropped input can still be written"
    assert found["14"].fields == ("blur_radius", "sigma", "image")


def test_forwards_write_where_the_editor_would_send_the_widgets_value() -> None:
    workflow = load(HERE / "nested-subgraphs.json")
    instance = next(n for n in workflow["nodes"] if n["id"] == 10)
    instance["widgets_values"] = [0.123, 7]
    prompt = convert(workflow, INFO)
    for name, value in (("strength", 0.123), ("blur_radius", 7)):
        for node_id, field in visible_nodes(workflow, object_info=INFO)["10"].forwards[name]:
            assert prompt[node_id]["inputs"][field] == value


def test_widgets_of_inner_nodes_shown_on_the_instance() -> None:
    found = visible_nodes(load(ROOT / "workflows-files" / "tiny-sd15-subgraph-ui.json"))
    assert found["10"].forwards == {"seed": (("10:3", "seed"),)}
    assert "'text' is shown 2 times on it: address one of 10:6, 10:7" in found["10"].instead


def test_structural_faults_are_found_without_the_server() -> None:
    with pytest.raises(MissingSubgraph):
        visible_nodes(load(HERE / "bad" / "missing-definition.json"))
    with pytest.raises(RecursiveSubgraph):
        visible_nodes(load(HERE / "bad" / "recursive-subgraph.json"))
    assert "4" in visible_nodes(load(HERE / "bad" / "unknown-type.json")), "unknown types need the server"
