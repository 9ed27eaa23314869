"""workflow.py: recognising, loading, addressing and patching API-format workflows."""

from __future__ import annotations

import copy
import json

import pytest

from comfy_plugin.batchfile.checks import check_target
from comfy_plugin.batchfile.workflow import (
    Addresses,
    NodeEntry,
    Place,
    Target,
    is_api_workflow,
    is_ui_workflow,
    is_workflow,
    load_workflow,
    parse_target,
    parse_targets,
    patch,
    resolve,
)
from comfy_plugin.errors import UnresolvedTarget, WorkflowError

WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "model": ["4", 0]},
          "_meta": {"title": "KSampler"}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "model.safetensors"},
          "_meta": {"title": "Load Checkpoint"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]},
          "_meta": {"title": "Positive"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]},
          "_meta": {"title": "Negative"}},
    "21:20": {"class_type": "KSamplerAdvanced", "inputs": {"noise_seed": 0},
              "_meta": {"title": "Refiner"}},
}

UI_WORKFLOW = {
    "last_node_id": 9,
    "last_link_id": 9,
    "nodes": [{"id": 3, "type": "KSampler", "widgets_values": [1, "fixed", 20]}],
    "links": [[1, 4, 0, 3, 0, "MODEL"]],
    "version": 0.4,
}


# -- parse_target / parse_targets ------------------------------------------------------


def test_parse_target_plain():
    assert parse_target("6,inputs,text") == Target("6", "inputs", "text")


def test_parse_target_tolerates_spaces_and_colon_in_node_id():
    t = parse_target("21:20, inputs, text")
    assert (t.node, t.section, t.field, t.by_title) == ("21:20", "inputs", "text", False)


def test_parse_target_surrounding_whitespace():
    assert parse_target("  3 ,  inputs ,seed  ") == Target("3", "inputs", "seed")


@pytest.mark.parametrize("spec", ["6,inputs", "6", "6,inputs,text,extra", "6,,text", ",inputs,text",
                                  "6,inputs,", "6, ,text", ""])
def test_parse_target_malformed_strings(spec):
    with pytest.raises(ValueError) as info:
        parse_target(spec)
    assert "node_id,inputs,field_name" in str(info.value)
    assert f"'{spec}'" in str(info.value)


def test_parse_target_object_form():
    t = parse_target({"node": "Positive", "input": "text"})
    assert t == Target("Positive", "inputs", "text", by_title=True)
    assert str(t) == "node titled 'Positive', input 'text'"


@pytest.mark.parametrize("spec", [{"node": "Positive"}, {"input": "text"}, {"node": "", "input": "text"},
                                  {"node": 6, "input": "text"}, {"node": "Positive", "input": None}])
def test_parse_target_object_form_incomplete(spec):
    with pytest.raises(ValueError, match="needs string 'node'"):
        parse_target(spec)


@pytest.mark.parametrize("spec", [6, None, 3.5, True])
def test_parse_target_wrong_type(spec):
    with pytest.raises(ValueError, match="neither"):
        parse_target(spec)


def test_target_str_round_trips():
    assert str(parse_target("21:20, inputs, text")) == "21:20,inputs,text"


def test_parse_targets_single_and_list():
    assert parse_targets("3,inputs,seed") == [Target("3", "inputs", "seed")]
    assert parse_targets(["3,inputs,seed", {"node": "Refiner", "input": "noise_seed"}]) == [
        Target("3", "inputs", "seed"),
        Target("Refiner", "inputs", "noise_seed", by_title=True),
    ]


def test_parse_targets_empty_list_rejected():
    with pytest.raises(ValueError, match="empty list"):
        parse_targets([])


def test_parse_targets_list_with_bad_entry():
    with pytest.raises(ValueError):
        parse_targets(["3,inputs,seed", "bad"])


# -- recognising formats ---------------------------------------------------------------


def test_is_api_workflow():
    assert is_api_workflow(WORKFLOW)
    assert not is_api_workflow({})
    assert not is_api_workflow([])
    assert not is_api_workflow({"1": {"inputs": {}}})  # no class_type
    assert not is_api_workflow({"1": "KSampler"})
    assert not is_api_workflow({**WORKFLOW, "extra": {"inputs": {}}})
    assert not is_api_workflow(UI_WORKFLOW)


def test_is_ui_workflow():
    assert is_ui_workflow(UI_WORKFLOW)
    assert not is_ui_workflow(WORKFLOW)
    assert not is_ui_workflow({"nodes": []})  # needs links too
    assert not is_ui_workflow([{"nodes": [], "links": []}])
    assert is_workflow(UI_WORKFLOW) and is_workflow(WORKFLOW) and not is_workflow({"a": 1})


# -- load_workflow ---------------------------------------------------------------------


def test_load_workflow_api(tmp_path):
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(WORKFLOW), encoding="utf-8")
    assert load_workflow(path, "b.json") == WORKFLOW


def test_load_workflow_returns_a_ui_format_graph_as_written(tmp_path):
    path = tmp_path / "ui.json"
    path.write_text(json.dumps(UI_WORKFLOW), encoding="utf-8")
    assert load_workflow(path, "batches/b.json") == UI_WORKFLOW


def test_load_workflow_not_a_workflow(tmp_path):
    path = tmp_path / "wf.json"
    path.write_text(json.dumps({"foo": 1}), encoding="utf-8")
    with pytest.raises(WorkflowError) as info:
        load_workflow(path, "batches/b.json")
    err = info.value
    assert err.message == (f"workflow {path} is not a ComfyUI workflow: neither the editor's format ('nodes' and "
                           "'links') nor the API format (an object of nodes with 'class_type')")
    assert err.path == "batches/b.json" and err.place == "parameters.workflow_file"
    assert "Workflow > Save" in err.hint and "Export (API)" in err.hint
    assert str(err).startswith("batches/b.json: parameters.workflow_file: ")


def test_load_workflow_invalid_json_reports_line_and_column(tmp_path):
    path = tmp_path / "wf.json"
    # the stray comma on line 3 makes "}" at line 4, column 1 unexpected
    path.write_text('{\n  "3": {"class_type": "KSampler",\n          "inputs": {}},\n}\n', encoding="utf-8")
    with pytest.raises(WorkflowError) as info:
        load_workflow(path, "b.json")
    msg = info.value.message
    assert "invalid JSON" in msg
    assert "line 4, column 1" in msg
    assert str(path) in msg


def test_load_workflow_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(WorkflowError) as info:
        load_workflow(path, "b.json")
    assert info.value.message == f"workflow {path}: cannot read the file: No such file or directory"


# -- resolve / patch -------------------------------------------------------------------


API = Addresses.of_api(WORKFLOW)


def node_of(addresses: Addresses, target: Target) -> str:
    (place,) = resolve(addresses, target)
    assert (place.section, place.field) == (target.section, target.field)
    return place.node


def test_resolve_by_id_and_title():
    assert node_of(API, Target("21:20", "inputs", "noise_seed")) == "21:20"
    assert node_of(API, Target("Negative", "inputs", "text", by_title=True)) == "7"
    # an id works in the object form too
    assert node_of(API, Target("6", "inputs", "text", by_title=True)) == "6"
    with pytest.raises(UnresolvedTarget, match="no node with id '99'"):
        resolve(API, Target("99", "inputs", "text"))
    with pytest.raises(UnresolvedTarget, match="no node titled 'No Such Title'"):
        resolve(API, Target("No Such Title", "inputs", "text", by_title=True))


def test_a_title_in_the_id_form_says_how_titles_are_written():
    with pytest.raises(UnresolvedTarget) as info:
        resolve(API, Target("Positive", "inputs", "text"))  # a title is not an id
    assert info.value.message == "no node with id 'Positive' in the workflow"
    assert info.value.hint == ("'Positive' is a title; a node is addressed by title as "
                               '{"node": "Positive", "input": "text"}')


def test_an_inner_id_written_without_its_subgraph_instance():
    with pytest.raises(UnresolvedTarget) as info:
        resolve(API, Target("20", "inputs", "noise_seed"))
    assert '"21:20,inputs,noise_seed"' in info.value.hint
    assert "inside a subgraph" in info.value.hint


def test_ambiguous_title_names_the_ids_and_how_to_address_one():
    wf = copy.deepcopy(WORKFLOW)
    wf["7"]["_meta"]["title"] = "Positive"
    with pytest.raises(UnresolvedTarget) as info:
        resolve(Addresses.of_api(wf), Target("Positive", "inputs", "text", by_title=True))
    err = info.value
    assert err.message == "2 nodes are titled 'Positive': 6 (CLIPTextEncode) and 7 (CLIPTextEncode)"
    assert "did you mean" not in str(err)
    assert err.hint.startswith('address one by its id: "6,inputs,text" or {"node": "6", "input": "text"}')
    assert not err.server_can_tell


def test_three_nodes_sharing_a_title():
    wf = copy.deepcopy(WORKFLOW)
    for node_id in ("3", "6", "7"):
        wf[node_id]["_meta"]["title"] = "Same"
    with pytest.raises(UnresolvedTarget, match=r"^3 nodes are titled 'Same': 3 \(KSampler\), 6 \(CLIPTextEncode\) "
                                               r"and 7 \(CLIPTextEncode\)"):
        resolve(Addresses.of_api(wf), Target("Same", "inputs", "text", by_title=True))


def test_missing_input_and_section():
    with pytest.raises(UnresolvedTarget) as info:
        resolve(API, Target("3", "inputs", "sed"))
    assert info.value.message == "node 3 (KSampler) has no input 'sed'"
    assert info.value.hint == 'did you mean "seed"?'
    with pytest.raises(UnresolvedTarget, match="node 3 has no 'input'"):
        resolve(API, Target("3", "input", "seed"))
    # the _meta section is addressable, as before
    assert resolve(API, Target("3", "_meta", "title")) == (Place("3", "_meta", "title"),)


# -- what a converted UI-format workflow can address ----------------------------------
#
# The converter (comfy_plugin.uiformat) builds such Addresses from the editor's graph; these
# are written by hand here, as the file alone tells them (no /object_info): subgraph instance
# 75 holds node 75:6 and promotes its "text"; PrimitiveNode 30 feeds two seeds; 12 is a note;
# 9 is muted; 40 has no stored title (its display name comes from the server).

CONVERTED = {
    "75:6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}},
    "21:20": {"class_type": "KSamplerAdvanced", "inputs": {"noise_seed": 0}},
    "40": {"class_type": "EmptyLatentImage", "inputs": {"width": 512}},
}
UI_ADDRESSES = Addresses({
    "75": NodeEntry("subgraph", "Prompt box", {"inputs": ("text",)},
                    forwards={"text": (Place("75:6", "inputs", "text"),)}),
    "75:6": NodeEntry("CLIPTextEncode", "Positive"),
    "3": NodeEntry("KSampler"),
    "21:20": NodeEntry("KSamplerAdvanced", "Refiner"),
    "30": NodeEntry("PrimitiveNode", "Seed", {"inputs": ("value",)},
                    forwards={"value": (Place("3", "inputs", "seed"), Place("21:20", "inputs", "noise_seed"))}),
    "12": NodeEntry("Note", "Read me", unsent="a note"),
    "9": NodeEntry("KSampler", "Old sampler", unsent="muted (mode 2)", instead='did you mean node 3 (KSampler)?'),
    "40": NodeEntry("EmptyLatentImage"),
}, titles_complete=False)


def test_converted_ui_ids_with_a_colon_and_titles():
    assert resolve(UI_ADDRESSES, parse_target("75:6, inputs, text")) == (Place("75:6", "inputs", "text"),)
    assert resolve(UI_ADDRESSES, parse_target({"node": "Refiner", "input": "noise_seed"})) == (
        Place("21:20", "inputs", "noise_seed"),)
    # the file does not say which inputs a node has: the server does, in preflight
    assert resolve(UI_ADDRESSES, parse_target("3,inputs,anything")) == (Place("3", "inputs", "anything"),)


def test_promoted_input_and_primitive_value_forward():
    assert resolve(UI_ADDRESSES, parse_target("75,inputs,text")) == (Place("75:6", "inputs", "text"),)
    assert resolve(UI_ADDRESSES, parse_target({"node": "Seed", "input": "value"})) == (
        Place("3", "inputs", "seed"), Place("21:20", "inputs", "noise_seed"))
    with pytest.raises(UnresolvedTarget) as info:
        resolve(UI_ADDRESSES, parse_target("75,inputs,txt"))
    assert info.value.message == "node 75 (subgraph) has no input 'txt'"
    assert info.value.hint == 'did you mean "text"?'


def test_patch_through_forwards():
    targets = {"positive_prompt": parse_targets("75,inputs,text"), "seed": parse_targets({"node": "Seed", "input": "value"})}
    out = patch(CONVERTED, targets, {"positive_prompt": "a cat", "seed": 7}, UI_ADDRESSES)
    assert out["75:6"]["inputs"] == {"text": "a cat", "clip": ["4", 1]}
    assert out["3"]["inputs"]["seed"] == 7 and out["21:20"]["inputs"]["noise_seed"] == 7
    assert "75" not in out and "30" not in out


def test_nodes_never_sent_are_errors_with_a_hint():
    with pytest.raises(UnresolvedTarget) as info:
        resolve(UI_ADDRESSES, parse_target("9,inputs,seed"))
    assert info.value.message == ("node 9 (KSampler) is muted (mode 2): the editor never sends it, "
                                  "so a value written there goes nowhere")
    assert info.value.hint == "did you mean node 3 (KSampler)?"
    problems = check_target(UI_ADDRESSES, parse_target({"node": "Read me", "input": "text"}), "parameters.workflow_items.x")
    assert [p.message for p in problems] == [
        "node 12 (Note) is a note: the editor never sends it, so a value written there goes nowhere"]


def test_a_title_the_file_does_not_store_is_left_to_the_server():
    target = parse_target({"node": "Empty Latent Image", "input": "width"})
    with pytest.raises(UnresolvedTarget) as info:
        resolve(UI_ADDRESSES, target)
    assert info.value.server_can_tell
    assert check_target(UI_ADDRESSES, target, "parameters.workflow_items.width") == []
    # an API file stores every title: there, an unknown title is the batch file's mistake
    assert check_target(API, target, "p")[0].message == "no node titled 'Empty Latent Image' in the workflow"


def test_patch_writes_several_targets_and_by_title():
    original = copy.deepcopy(WORKFLOW)
    targets = {
        "positive_prompt": [Target("6", "inputs", "text")],
        "negative_prompt": [Target("Negative", "inputs", "text", by_title=True)],
        "seed": [Target("3", "inputs", "seed"), Target("21:20", "inputs", "noise_seed")],
        "steps": parse_targets("3, inputs, steps"),
    }
    values = {"positive_prompt": "a cat", "negative_prompt": "blurry", "seed": 42, "steps": 8}
    out = patch(WORKFLOW, targets, values)
    assert out["6"]["inputs"]["text"] == "a cat"
    assert out["7"]["inputs"]["text"] == "blurry"
    assert out["3"]["inputs"]["seed"] == 42
    assert out["21:20"]["inputs"]["noise_seed"] == 42
    assert out["3"]["inputs"]["steps"] == 8
    # untouched inputs kept
    assert out["3"]["inputs"]["model"] == ["4", 0]
    assert out["4"] == WORKFLOW["4"]
    # the original is unchanged
    assert original == WORKFLOW


def test_patch_returns_a_deep_copy():
    original = copy.deepcopy(WORKFLOW)
    out = patch(WORKFLOW, {}, {})
    assert out == WORKFLOW
    out["3"]["inputs"]["model"].append("x")
    out["6"]["_meta"]["title"] = "changed"
    assert original == WORKFLOW
    assert out["3"] is not WORKFLOW["3"]


def test_patch_ignores_keys_without_targets():
    targets = {"positive_prompt": [Target("6", "inputs", "text")]}
    values = {"id": "my-id", "tags": ["slow"], "skip": True, "width": 1024, "positive_prompt": "x"}
    out = patch(WORKFLOW, targets, values)
    expected = copy.deepcopy(WORKFLOW)
    expected["6"]["inputs"]["text"] = "x"
    assert out == expected


def test_patch_unknown_node_raises_unresolved_target():
    with pytest.raises(UnresolvedTarget):
        patch(WORKFLOW, {"seed": [Target("99", "inputs", "seed")]}, {"seed": 1})


def test_patch_section_the_node_lacks_is_unresolved():
    # load_batch reports this target; patch, given the same addresses, refuses it too
    wf = {"1": {"class_type": "Note"}}
    with pytest.raises(UnresolvedTarget, match="node 1 has no 'inputs'"):
        patch(wf, {"text": [Target("1", "inputs", "text")]}, {"text": "hi"})
    assert wf == {"1": {"class_type": "Note"}}


def test_patch_creates_a_section_only_the_server_knows():
    wf = {"1": {"class_type": "CLIPTextEncode"}}
    book = Addresses({"1": NodeEntry("CLIPTextEncode")})  # a converted UI node: inputs known to the server
    out = patch(wf, {"text": [Target("1", "inputs", "text")]}, {"text": "hi"}, book)
    assert out == {"1": {"class_type": "CLIPTextEncode", "inputs": {"text": "hi"}}}
    assert wf == {"1": {"class_type": "CLIPTextEncode"}}


def test_load_workflow_accepts_utf8_bom(tmp_path):
    # Batch files with a UTF-8 BOM (Windows editors) are accepted (batch.read_json decodes
    # utf-8-sig); the workflow file they name must be too.
    path = tmp_path / "wf.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(WORKFLOW).encode("utf-8"))
    assert load_workflow(path, "b.json") == WORKFLOW
