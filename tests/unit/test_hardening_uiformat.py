"""Malformed and hostile editor workflows end in a ``UIFormatError`` that names the place, or in
a result, within bounded time: one test per crash family the fuzzing found (issue 25)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import OBJECT_INFO, load

from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.batchfile.ui_addressing import file_addresses
from comfy_plugin.errors import TooManyNodes, UIFormatError, WidgetValuesMismatch, WorkflowError
from comfy_plugin.settings import BatchLimits
from comfy_plugin.uiformat import command, convert, convert_visible, visible_nodes

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from fuzz_ui import _chain, _reroutes

INFO = load(OBJECT_INFO)
#: Generous: each case takes well under a second; this catches quadratic or worse work.


def blur(**changes: Any) -> dict[str, Any]:
    """LoadImage > ImageBlur, with ``changes`` made to node 2 (the blur)."""
    blur_node = {"id": 2, "type": "ImageBlur", "mode": 0, "widgets_values": [1, 1.0],
                 "inputs": [{"name": "image", "type": "IMAGE", "link": 1}], "outputs": [{"type": "IMAGE"}]}
    blur_node.update(changes)
    return {"nodes": [{"id": 1, "type": "LoadImage", "mode": 0, "widgets_values": ["a.png", "image"],
                       "outputs": [{"type": "IMAGE"}, {"type": "MASK"}]}, blur_node],
            "links": [[1, 1, 0, 2, 0, "IMAGE"]]}


def error(workflow: dict[str, Any], info: dict[str, Any] = INFO) -> UIFormatError:
    with pytest.raises(UIFormatError) as caught:
        convert(workflow, info, "wf.json")
    return caught.value


@pytest.mark.parametrize("field, value, said", [
    ("mode", math.nan, "'mode' is not an integer: nan"),
    ("mode", "muted", "'mode' is not an integer: 'muted'"),
    ("inputs", 5, "'inputs' is not a list: 5"),
    ("inputs", [{"name": "image", "type": "IMAGE", "link": {"id": 1}}], "inputs[0].link is not an integer"),
    ("inputs", [{"name": "image", "type": "IMAGE", "link": math.inf}], "inputs[0].link is not an integer: inf"),
    ("inputs", ["image"], "inputs[0] is not an object"),
    ("outputs", "IMAGE", "'outputs' is not a list"),
    ("outputs", [{"type": ["IMAGE"]}], "outputs[0].type is not a string"),
    ("properties", [1, 2], "'properties' is not an object: [1, 2]"),
    ("properties", {"proxyWidgets": "seed"}, "properties.proxyWidgets is not a list"),
    ("widgets_values", "12", "widgets_values is not a list: '12'"),
])
def test_a_field_of_the_wrong_type_names_the_node_and_the_field(field: str, value: Any, said: str) -> None:
    found = error(blur(**{field: value}))
    assert found.place == "node 2 (ImageBlur)"
    assert said in found.message


@pytest.mark.parametrize("link, said", [
    ([1, 1, math.nan, 2, 0, "IMAGE"], "origin_slot is not an integer: nan"),
    ([1, 1, -1, 2, 0, "IMAGE"], "origin_slot is negative: -1"),
    ([1, 1, 0, 2, -5, "IMAGE"], "target_slot is negative: -5"),
    ([1, {"id": 1}, 0, 2, 0, "IMAGE"], "origin_id is not an integer"),
    ([1.5, 1, 0, 2, 0, "IMAGE"], "a link's id is not an integer: 1.5"),
    ([1, 1, 0], "a link is not [id, origin_id, origin_slot, target_id, target_slot, type]"),
])
def test_a_malformed_link_is_named(link: list[Any], said: str) -> None:
    workflow = blur()
    workflow["links"] = [link]
    found = error(workflow)
    assert said in found.message
    assert "link" in found.place or found.place == ""


def test_links_and_subgraph_slots_that_are_not_lists() -> None:
    assert "'links' is not a list" in error({**blur(), "links": {"1": [1, 1, 0, 2, 0]}}).message
    sub = json.loads(json.dumps(_chain(1, 1)))
    sub["definitions"]["subgraphs"][0]["inputs"] = [{"name": "x", "type": "*", "linkIds": 3}]
    found = error(sub)
    assert "inputs[0].linkIds is not a list: 3" in found.message and found.place == "subgraph 'level 0'"


def test_integers_as_json_may_write_them_are_still_read() -> None:
    """3.0 and "3" are the integer 3 (as JavaScript reads them), so such files still convert."""
    workflow = blur(id=2.0, mode="0")
    workflow["links"] = [["1", 1, 0.0, 2, 0, "IMAGE"]]
    workflow["nodes"][1]["inputs"][0]["link"] = 1.0
    assert convert(workflow, INFO)["2"]["inputs"]["image"] == ["1", 0]


def test_a_list_in_a_control_widget_is_a_mismatch_not_a_crash() -> None:
    values = [1, ["randomize"], 20, 8, "euler", "normal", 1]
    sampler = {"id": 1, "type": "KSampler", "mode": 0, "widgets_values": values}
    with pytest.raises(WidgetValuesMismatch, match=r"widgets_values\[1\] = \['randomize'\] cannot be the CONTROL"):
        convert({"nodes": [sampler], "links": []}, INFO)


@pytest.mark.parametrize("version", ["²", "1.٢.3", "9" * 5000, "v", ["1"], {"major": 1}])
def test_a_node_version_that_is_not_a_version_is_shown_not_compared(version: Any) -> None:
    workflow = blur(widgets_values=["gaussian", 1.0], properties={"ver": version, "cnr_id": "comfy-core"})
    with pytest.raises(WidgetValuesMismatch) as caught:
        convert(workflow, INFO, "wf.json", server_version="0.3.75")
    assert "older than the node's version" not in caught.value.message
    assert len(caught.value.message) < 600


def test_proxy_widgets_naming_a_missing_inner_node_forward_nothing() -> None:
    workflow = json.loads(json.dumps(_chain(1, 1)))
    workflow["nodes"][0]["properties"] = {"proxyWidgets": [["99", "seed"], ["1", "image"]]}
    found = visible_nodes(workflow, "wf.json")
    assert set(found["1"].forwards) == {"image"}


def test_a_value_left_undefined_is_left_out_of_the_prompt() -> None:
    """A combo without options has no value (JavaScript's undefined); promoted through a
    subgraph instance it must not reach the prompt (which must stay JSON)."""
    info = {**INFO, "Chooser": {"input": {"required": {"choice": [[]]}}, "output": [], "display_name": "Chooser"}}
    sub = {"id": "00000000-0000-4000-8000-000000000001", "name": "wrap",
           "nodes": [{"id": 1, "type": "Chooser", "mode": 0,
                      "inputs": [{"name": "choice", "type": "COMBO", "widget": {"name": "choice"}, "link": 1}]}],
           "links": [{"id": 1, "origin_id": -10, "origin_slot": 0, "target_id": 1, "target_slot": 0, "type": "COMBO"}],
           "inputs": [{"name": "choice", "type": "COMBO", "linkIds": [1]}], "outputs": []}
    outer = {"name": "choice", "type": "COMBO", "widget": {"name": "choice"}, "link": None}
    workflow = {"nodes": [{"id": 5, "type": sub["id"], "mode": 0, "inputs": [outer]}],
                "links": [], "definitions": {"subgraphs": [sub]}}
    prompt = convert(workflow, info)
    assert prompt["5:1"]["inputs"] == {}
    json.dumps(prompt)


def test_subgraphs_nested_1200_deep_convert_without_recursion() -> None:
    prompt, found = convert_visible(_chain(1200, 1), INFO, "deep.json")
    assert len(prompt) == 1 and len(found) == 1201  # 1200 instances and the node inside


def test_a_chain_of_1000_reroutes_is_collected_and_converted() -> None:
    """Without recursion; its time (linear: it was cubic) is printed by bench/bounded_work.py."""
    workflow = _reroutes(1000)
    addresses = file_addresses(workflow, "chain.json")
    prompt = convert(workflow, INFO)
    assert prompt["1002"]["inputs"]["image"] == ["1", 0]
    assert "node 1002 (ImageInvert) input 'image'" in addresses.nodes["2"].instead


def test_a_loop_of_reroutes_is_named() -> None:
    workflow = _reroutes(3)
    workflow["links"][0] = [1, 4, 0, 2, 0, "IMAGE"]  # the first reroute fed by the last
    with pytest.raises(UIFormatError, match="loop of links"):
        convert(workflow, INFO)


def test_subgraphs_doubling_at_each_level_stop_at_the_node_limit() -> None:
    """17 levels of 2 instances (a 7 KB file) would flatten to 262,142 nodes."""
    workflow = _chain(17, 2)
    for call in (lambda: convert(workflow, INFO, "wide.json"), lambda: file_addresses(workflow, "wide.json")):
        with pytest.raises(TooManyNodes) as caught:
            call()
        assert "more than 10000 nodes" in caught.value.message and caught.value.path == "wide.json"
        assert "--comfy-max-nodes" in caught.value.hint
    # 6 levels: 2 + 4 + ... + 64 instances and 64 nodes inside the innermost: 190 nodes
    with pytest.raises(TooManyNodes, match="more than 189 nodes"):
        convert(_chain(6, 2), INFO, max_nodes=189)
    assert len(convert(_chain(6, 2), INFO, max_nodes=190)) == 64


def test_a_lone_surrogate_ends_the_converter_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps({"nodes": [{"id": 1, "type": "PrimitiveStringMultiline", "mode": 0,
                                               "widgets_values": ["bad \ud800 text"]}], "links": []}), encoding="utf-8")
    code = command.main([str(workflow), "--object-info", str(OBJECT_INFO), "-o", str(tmp_path / "out.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "not valid Unicode" in err and "\\ud800" in err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("text, said", [
    ("[" * 100_000 + "]" * 100_000, "nests arrays or objects too deeply"),
    ('{"nodes": [], "links": [], "n": ' + "9" * 5000 + "}", "cannot be read"),
])
def test_json_the_reader_refuses_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                             said: str) -> None:
    workflow = tmp_path / "wf.json"
    workflow.write_text(text, encoding="utf-8")
    assert command.main([str(workflow), "--object-info", str(OBJECT_INFO)]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1


def test_the_converters_node_limit_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = tmp_path / "wide.json"
    workflow.write_text(json.dumps(_chain(8, 2)), encoding="utf-8")
    assert command.main([str(workflow), "--object-info", str(OBJECT_INFO), "--max-nodes", "100"]) == 2
    assert "more than 100 nodes" in capsys.readouterr().err
    assert command.main([str(workflow), "--object-info", str(OBJECT_INFO), "--max-nodes", "766"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 256


def test_an_unexpected_exception_is_one_line_and_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr(command, "convert", broken)
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(blur()), encoding="utf-8")
    assert command.main([str(workflow), "--object-info", str(OBJECT_INFO)]) == 3
    err = capsys.readouterr().err
    assert err == f"error: internal error converting {workflow}: KeyError: 'surprise'; please report it\n"


def test_collection_applies_the_node_limit_it_is_given(tmp_path: Path) -> None:
    """``--comfy-max-nodes`` reaches collection through ``BatchLimits``: the batch file fails
    with the workflow named, or loads when the limit allows the file."""
    (tmp_path / "wide.json").write_text(json.dumps(_chain(8, 2)), encoding="utf-8")  # 766 nodes flattened
    batch = tmp_path / "b.json"
    batch.write_text(json.dumps({"parameters": {"workflow_file": "wide.json"}, "prompts": [{"id": "one"}]}),
                     encoding="utf-8")
    with pytest.raises(WorkflowError) as caught:
        load_batch(batch, "b.json", tmp_path, limits=BatchLimits(nodes=765))
    assert "wide.json: its subgraph instances expand to more than 765 nodes" in caught.value.message
    assert "--comfy-max-nodes" in caught.value.hint
    assert load_batch(batch, "b.json", tmp_path, limits=BatchLimits(nodes=766)).prompts[0].id == "one"
