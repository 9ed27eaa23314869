"""comfy_plugin.uiformat: UI-format workflows converted as the editor converts them, offline.

The fixtures' expected prompts are the editor's own outputs, recorded in
tests/ui_fixtures/editor_outputs.json (tests/test_ui_oracle.py checks that they are current);
the object info is the real server's (ComfyUI 0.3.75, tests/ui_fixtures/object_info.json).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ui_fixtures import (
    EDITOR_OUTPUTS,
    EXAMPLES,
    FIXTURES,
    OBJECT_INFO,
    ROOT,
    differences,
    load,
)

from comfy_plugin.uiformat import Catalog, convert, is_api_format, is_ui_format

INFO = load(OBJECT_INFO)
RECORDED = load(EDITOR_OUTPUTS)
#: Fixtures where the converter knowingly differs from the editor (see tests/test_ui_oracle.py).
DIFFERENT = {"keyed-widgets.json", "primitive-in-subgraph.json"}


def fixture(name: str) -> dict[str, Any]:
    return convert(load(next(p for p in FIXTURES if p.name == name)), INFO, name)


def one_node(node_type: str, values: Any, info: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The prompt for a workflow of one node (id 1)."""
    node = {"id": 1, "type": node_type, "mode": 0, "inputs": [], "outputs": [], "properties": {}, **extra}
    if values is not None:
        node["widgets_values"] = values
    return convert({"nodes": [node], "links": []}, info or INFO, "one.json")["1"]["inputs"]


def synthetic(**inputs: Any) -> dict[str, Any]:
    """Object info with one class X whose required inputs are ``inputs`` (in that order)."""
    return {"X": {"input": {"required": inputs}, "input_order": {"required": list(inputs)}, "output": ["IMAGE"],
                  "display_name": "X"}}


@pytest.mark.parametrize("path", [p for p in FIXTURES if p.name not in DIFFERENT], ids=lambda p: p.stem)
def test_fixtures_give_the_editors_recorded_prompt(path) -> None:
    assert differences(convert(load(path), INFO, path.name), RECORDED[path.name]) == []


def test_reroutes_pass_their_input_through_and_are_never_sent() -> None:
    prompt = fixture("reroutes.json")
    assert prompt["4"]["inputs"]["image"] == ["1", 0]
    assert prompt["8"]["inputs"]["string_a"] == ["6", 0]
    assert "image" not in prompt["10"]["inputs"], "a reroute fed by nothing: the input is dropped"
    assert not {"2", "3", "7", "9"} & set(prompt)


def test_muted_and_bypassed_nodes() -> None:
    prompt = fixture("muted-bypassed.json")
    assert not {"2", "5", "7", "8", "10", "12"} & set(prompt), "muted (2) and bypassed (4) nodes are not sent"
    assert prompt["3"]["inputs"]["image"] == ["1", 0], "a bypassed node passes its input of the same slot"
    assert "images" not in prompt["6"]["inputs"], "an input linked to a muted node is dropped"
    assert prompt["9"]["inputs"] == {}, "a bypassed ImageToMask has no MASK input to pass: dropped"
    assert prompt["11"]["inputs"]["image"] == ["1", 0], "slot 0 (destination) fits"
    assert prompt["13"]["inputs"] == {}, "slot 0 fits and is empty: the editor does not look further"
    assert prompt["14"]["inputs"]["sigma"] == 0.5 and prompt["15"]["inputs"]["image"] == ["14", 0], \
        "modes 1 and 3 are sent"


def test_primitives_write_their_value_and_notes_are_never_sent() -> None:
    prompt = fixture("primitives-notes.json")
    assert prompt["3"]["inputs"]["seed"] == 123 and prompt["4"]["inputs"]["seed"] == 123
    assert prompt["10"]["inputs"]["string_a"] == "a cat" and prompt["11"]["inputs"]["find"] == "a cat"
    assert set(prompt) == {"2", "3", "4", "5", "10", "11"}


def test_nested_subgraphs_are_flattened_with_path_ids_and_promoted_values() -> None:
    prompt = fixture("nested-subgraphs.json")
    assert prompt["10:5:1"]["inputs"] == {"seed": 11, "strength": 0.7, "image": ["1", 0]}
    assert prompt["10:6"]["inputs"]["blur_radius"] == 3 and prompt["11:6"]["inputs"]["blur_radius"] == 5
    assert prompt["11:5:1"]["inputs"]["strength"] == ["12", 0], "a linked instance input beats its value"
    assert prompt["11:5:1"]["inputs"]["image"] == ["10:6", 0], "the bypassed 10:7 passes 10:6 through"
    assert prompt["13"]["inputs"]["images"] == ["11:6", 0]
    assert prompt["17"]["inputs"]["images"] == ["1", 0], "a bypassed instance passes its input through"
    assert not {"10", "11", "10:5", "10:7", "14", "16"} & set(prompt)
    assert {"14:1", "14:2"} <= set(prompt), "the editor sends the inner nodes of a muted instance"


def test_keyed_widget_values_are_used_by_name() -> None:
    prompt = fixture("keyed-widgets.json")
    assert prompt["1"]["inputs"] == {"width": 32, "height": 24, "batch_size": 2, "color": 255}
    assert prompt["2"]["inputs"] == {"seed": 5, "strength": 0.2, "image": ["1", 0]}


def test_a_primitive_inside_a_subgraph_writes_its_value() -> None:
    assert fixture("primitive-in-subgraph.json")["2:2"]["inputs"]["seed"] == 9


def test_the_subgraph_example_has_instance_inner_ids() -> None:
    path = next(p for p in EXAMPLES if "subgraph" in p.name)
    prompt = convert(load(path), INFO, path.name)
    assert {"10:3", "10:5", "10:6", "10:7"} <= set(prompt) and "10" not in prompt
    assert prompt["10:6"]["inputs"]["text"] == "a photo of a cat"
    assert prompt["8"]["inputs"]["samples"] == ["10:3", 0]


def test_a_seed_is_followed_by_its_control_widget() -> None:
    values = [42, "fixed", 4, 7.5, "euler", "normal", 1]
    assert one_node("KSampler", values) == {"seed": 42, "steps": 4, "cfg": 7.5, "sampler_name": "euler",
                                            "scheduler": "normal", "denoise": 1}


def test_a_combo_with_control_after_generate_gets_control_and_filter_widgets() -> None:
    info = synthetic(pick=[["a", "b"], {"control_after_generate": True}], n=["INT", {"default": 1}])
    assert one_node("X", ["b", "fixed", "", 5], info) == {"pick": "b", "n": 5}


def test_an_upload_button_takes_a_value_after_all_inputs() -> None:
    assert one_node("LoadImage", ["cat.png", "image"]) == {"image": "cat.png"}


def test_missing_values_take_defaults_and_extra_values_are_ignored() -> None:
    assert one_node("EmptyImage", [64]) == {"width": 64, "height": 512, "batch_size": 1, "color": 0}
    assert one_node("ImageBlur", [3, 0.5, "display only", 9]) == {"blur_radius": 3, "sigma": 0.5}


def test_list_values_are_wrapped_and_a_combo_without_options_is_left_out() -> None:
    info = synthetic(tags=["COMBO", {"options": ["a", "b"], "multi_select": True}], empty=["COMBO", {}])
    assert one_node("X", [["a", "b"]], info) == {"tags": {"__value__": ["a", "b"]}}


def test_old_files_are_migrated_as_the_editor_does() -> None:
    old = one_node("KSampler", [1, True, 20, 8, "sample_euler", "normal", 1])
    assert old["sampler_name"] == "euler" and old["steps"] == 20
    info = synthetic(a=["INT", {"default": 1}], forced=["INT", {"forceInput": True}], b=["FLOAT", {"default": 0.5}])
    assert one_node("X", [3, 0, 0.25], info) == {"a": 3, "b": 0.25}, "the dummy value of a forceInput is dropped"
    assert one_node("X", [3, 0.25], info) == {"a": 3, "b": 0.25}


def test_values_are_sent_as_written() -> None:
    text = "a {red|blue} car // not a comment here, %date:yyyy% stays"
    assert one_node("CLIPTextEncode", [text])["text"] == text
    assert one_node("SaveImage", ["%date:yyyy-MM-dd%/x"])["filename_prefix"] == "%date:yyyy-MM-dd%/x"
    assert one_node("ImageAddNoise", [2**60 + 7, "randomize", 0.5])["seed"] == 2**60 + 7


def test_inputs_linked_from_the_file_follow_the_definitions_order_not_the_files() -> None:
    workflow = load(next(p for p in FIXTURES if p.name == "muted-bypassed.json"))
    reordered = copy.deepcopy(workflow)
    node = next(n for n in reordered["nodes"] if n["id"] == 10)
    node["inputs"].reverse()
    assert convert(reordered, INFO)["11"]["inputs"]["image"] == ["1", 0]


def test_one_catalog_serves_many_conversions() -> None:
    catalog = Catalog(INFO)
    for path in FIXTURES:
        convert(load(path), catalog, path.name)
    assert catalog.get("ImageBlur") is catalog.get("ImageBlur")
    assert catalog.get("NoSuchClass") is None


def test_formats_are_recognised() -> None:
    api = {"1": {"class_type": "EmptyImage", "inputs": {}}}
    ui = load(FIXTURES[0])
    assert is_api_format(api) and not is_ui_format(api)
    assert is_ui_format(ui) and not is_api_format(ui)
    assert not is_api_format({}) and not is_ui_format([])


def _last_id(value: Any) -> Any:
    return [value[0].split(":")[-1], value[1]] if isinstance(value, list) else value


def _without_paths(prompt: dict[str, Any]) -> dict[str, Any]:
    """The prompt with ``10:3`` ids (and links to them) written as ``3``."""
    return {k.split(":")[-1]: {"class_type": v["class_type"], "inputs": {n: _last_id(x) for n, x in v["inputs"].items()}}
            for k, v in prompt.items()}


def test_the_ui_examples_give_the_api_workflow_they_were_saved_from() -> None:
    """workflows-files/tiny-sd15-*-ui.json were made in the editor from the API workflow (the
    second with four nodes turned into subgraph 10): both give its prompt back."""
    api = load(ROOT / "workflows-files" / "tiny-sd15-txt2img-api.json")
    expected = {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in api.items()}
    for name in ("tiny-sd15-txt2img-ui.json", "tiny-sd15-subgraph-ui.json"):
        assert _without_paths(convert(load(ROOT / "workflows-files" / name), INFO, name)) == expected, name
