"""A batch file whose workflow is in the editor's UI format: what collection checks from the
file alone (and from an /object_info kept by an earlier run), and how a prompt is patched
once the workflow is converted with the server's /object_info."""

from __future__ import annotations

import json
import random
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import HERE, OBJECT_INFO, ROOT, load

from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.errors import (
    BatchFileError,
    ModelMissing,
    UnknownNodeType,
    WorkflowError,
)
from comfy_plugin.run.prepare import prepare, seed_limit
from comfy_plugin.settings import Settings
from comfy_plugin.batchfile.ui_addressing import Conversions, converted
from comfy_plugin.batchfile.known_info import (
    KnownInfo,
    Server,
    keep,
    known,
    launched_version,
    server_of,
    writes,
)

INFO = load(OBJECT_INFO)
SUBGRAPH = ROOT / "workflows-files" / "tiny-sd15-subgraph-ui.json"
TXT2IMG = ROOT / "workflows-files" / "tiny-sd15-txt2img-ui.json"


class Store:
    """A key-value store with pytest's cache interface."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any) -> Any:
        return json.loads(json.dumps(self.data[key])) if key in self.data else default

    def set(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))


@pytest.fixture
def tmp_project(tmp_path: Path) -> Path:
    """tmp/batches/ and tmp/workflows/ holding the UI-format examples and fixtures."""
    (tmp_path / "batches").mkdir()
    (tmp_path / "workflows").mkdir()
    for path in (SUBGRAPH, TXT2IMG, *HERE.glob("*.json"), *(HERE / "bad").glob("*.json")):
        shutil.copy(path, tmp_path / "workflows" / path.name)
    return tmp_path


def batch(tmp_project: Path, workflow: str, items: dict[str, Any], prompts: list[dict[str, Any]] | None = None,
          known: KnownInfo | None = None):
    data = {"parameters": {"workflow_file": f"../workflows/{workflow}", "workflow_items": items},
            "prompts": prompts or [{"id": "one"}]}
    path = tmp_project / "batches" / "b.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return load_batch(path, "batches/b.json", tmp_project, known=lambda: known)


def problems(tmp_project: Path, workflow: str, items: dict[str, Any], known: KnownInfo | None = None) -> list[str]:
    with pytest.raises(BatchFileError) as info:
        batch(tmp_project, workflow, items, known=known)
    return [f"{p.place}: {p.message}" + (f" | {p.hint}" if p.hint else "") for p in info.value.problems]


# -- collection: what the file tells ---------------------------------------------------


def test_a_ui_workflow_is_kept_as_written_for_the_run(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "tiny-sd15-subgraph-ui.json", {"text": "10:6,inputs,text", "seed": "10,inputs,seed"})
    assert loaded.workflow == {} and loaded.source == load(SUBGRAPH)
    assert loaded.source_shown == "workflows/tiny-sd15-subgraph-ui.json"
    assert not loaded.addresses.titles_complete
    assert {"10", "10:3", "10:6", "4"} <= set(loaded.addresses.nodes)


def test_ids_inside_a_subgraph_and_nodes_never_sent_are_checked_from_the_file(tmp_project: Path) -> None:
    assert problems(tmp_project, "tiny-sd15-subgraph-ui.json", {"text": "6,inputs,text"}) == [
        "parameters.workflow_items.text: no node with id '6' in the workflow | \"10:6,inputs,text\" "
        "(node 6 inside a subgraph; its id there is 10:6)"]
    assert problems(tmp_project, "reroutes.json", {"image": "2,inputs,image"}) == [
        "parameters.workflow_items.image: node 2 (Reroute) is a reroute: the editor never sends it, so a value "
        "written there goes nowhere | address the node it leads to: node 4 (ImageInvert) input 'image'"]
    muted = problems(tmp_project, "muted-bypassed.json", {"a": "5,inputs,image", "b": "2,inputs,blur_radius"})
    assert muted[0].startswith("parameters.workflow_items.a: node 5 (ImageInvert) is muted: ")
    assert "Ctrl+M" in muted[0] and "Ctrl+B" in muted[1]
    assert problems(tmp_project, "primitives-notes.json", {"note": {"node": "Note", "input": "text"}}) == [
        "parameters.workflow_items.note: node 6 (Note) is a note: the editor never sends it, so a value written "
        "there goes nowhere | a note only holds text for people"]
    assert problems(tmp_project, "primitives-notes.json", {"seed": "1,inputs,seed"}) == [
        "parameters.workflow_items.seed: node 1 (PrimitiveNode) has no input 'seed' | node 1 (PrimitiveNode) has: "
        "value"]


def test_titles_the_file_does_not_store_and_input_names_are_left_to_the_server(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "tiny-sd15-txt2img-ui.json", {
        "width": {"node": "Empty Latent Image", "input": "width"},  # the display name: the server knows it
        "typo": {"node": "Empty Latnet Image", "input": "width"},  # a typo only the server can tell
        "steps": "3,inputs,stpes",  # input names come from the server
    })
    assert loaded.prompts[0].error is None


@pytest.mark.parametrize("name, message", [
    ("group-node.json", "workflows/group-node.json: node 4 (workflow>Blur twice): 'workflow>Blur twice' is a "
                        "legacy group node, which current editors replaced with subgraphs"),
    ("missing-definition.json", "workflows/missing-definition.json: node 4 (subgraph instance 'Never saved'): the "
                                "definition of subgraph *"),
    ("recursive-subgraph.json", "workflows/recursive-subgraph.json: node 1 (subgraph instance 'Russian doll') in "
                                "subgraph 'Russian doll': subgraph 'Russian doll' contains an instance of itself "
                                "('Russian doll' > 'Russian doll')"),
    ("link-origin.json", "workflows/link-origin.json: node 2 (ImageBlur): input 'image' is linked (link 1) to node "
                         "99, which does not exist"),
])
def test_a_damaged_ui_file_fails_the_whole_batch_file_naming_the_node(tmp_project: Path, name: str,
                                                                      message: str) -> None:
    import fnmatch

    with pytest.raises(WorkflowError) as info:
        batch(tmp_project, name, {})
    err = info.value
    assert err.path == "batches/b.json" and err.place == "parameters.workflow_file"
    assert fnmatch.fnmatchcase(err.message, message.replace("[", "[[]")), err.message
    assert err.hint


def test_a_link_the_file_does_not_hold_is_found_without_the_server(tmp_project: Path) -> None:
    workflow = load(HERE / "bad" / "link-origin.json")
    workflow["links"] = workflow["links"][1:]
    (tmp_project / "workflows" / "no-link.json").write_text(json.dumps(workflow))
    with pytest.raises(WorkflowError) as info:
        batch(tmp_project, "no-link.json", {})
    assert info.value.message == ("workflows/no-link.json: node 2 (ImageBlur): input 'image' is connected by "
                                  "link 1, which the file does not hold")


def test_what_needs_the_servers_classes_waits_for_the_run(tmp_project: Path) -> None:
    for name in ("widget-values.json", "unknown-type.json"):
        assert batch(tmp_project, name, {}).source is not None


# -- collection with an /object_info kept from an earlier run -----------------------------


def known_info() -> KnownInfo:
    store = Store()
    server = Server("url http://127.0.0.1:8188", "http://127.0.0.1:8188")
    keep(store, server, INFO, datetime(2026, 12, 1, 23, 40))
    found = known(store, server)
    assert found is not None
    return found


def test_a_kept_object_info_checks_input_names_and_titles_at_collection(tmp_project: Path) -> None:
    info = known_info()
    note = ("input names checked against /object_info of http://127.0.0.1:8188 cached 2026-12-01 23:40; "
            "pytest --cache-clear forgets it")
    assert problems(tmp_project, "tiny-sd15-txt2img-ui.json", {"steps": "3,inputs,stpes"}, info) == [
        f"parameters.workflow_items.steps: node 3 (KSampler) has no input 'stpes' | did you mean \"steps\"? ({note})"]
    assert problems(tmp_project, "tiny-sd15-txt2img-ui.json", {"w": {"node": "Empty Latnet Image", "input": "width"}},
                    info)[0].endswith(f'did you mean "Empty Latent Image"? ({note})')
    loaded = batch(tmp_project, "tiny-sd15-txt2img-ui.json", {"w": {"node": "Empty Latent Image", "input": "width"}},
                   known=info)
    assert loaded.prompts[0].error is None


def test_a_kept_object_info_the_file_does_not_fit_checks_nothing_more(tmp_project: Path) -> None:
    lacking = KnownInfo({k: v for k, v in INFO.items() if k != "KSampler"}, "/object_info of x cached y")
    assert batch(tmp_project, "tiny-sd15-txt2img-ui.json", {"steps": "3,inputs,stpes"}, known=lacking).prompts


def test_the_store_keeps_one_object_info_per_server() -> None:
    store = Store()
    a, b = Server("url http://a:1", "http://a:1"), Server("url http://b:2", "http://b:2")
    keep(store, a, {"X": {"input": {}}}, datetime(2026, 1, 2, 3, 4))
    assert known(store, a) == KnownInfo({"X": {"input": {}}}, "/object_info of http://a:1 cached 2026-01-02 03:04")
    assert known(store, b) is None
    store.data[a.key]["object_info"] = "damaged"
    assert known(store, a) is None


def settings(**changes: Any) -> Settings:
    base: dict[str, Any] = dict(urls=("http://h:1", "http://h:2"), launch=None, python=None, launch_args="",
                                seed=None, model_paths=None, timeout_s=60.0, missing="skip", prefetch=1,
                                batch_dirs=("batches",))
    return Settings(**{**base, **changes})


def test_a_server_is_known_by_url_a_launched_one_by_folder_version_and_arguments(tmp_path: Path) -> None:
    assert server_of(settings(), 1) == Server("url http://h:2", "http://h:2")
    (tmp_path / "comfyui_version.py").write_text('__version__ = "0.3.75"\n')
    launched = server_of(settings(launch=tmp_path, launch_args="--cpu"), 3)
    assert launched.identity == f"launch {tmp_path} 0.3.75 --cpu"
    assert launched.shown == f"the ComfyUI launched from {tmp_path} (0.3.75)"
    assert launched_version(tmp_path / "nowhere") == "unknown version"
    assert writes(settings(), 1) and not writes(settings(), 2)
    assert writes(settings(launch=tmp_path), 0) and not writes(settings(launch=tmp_path), 1)


# -- run time: converted with the server's /object_info ----------------------------------


def run(loaded, values: dict[str, Any] | None = None, seed: int | None = None) -> dict[str, Any]:
    done = converted(loaded.source, INFO, loaded.source_shown)
    spec = loaded.prompts[0]
    if values:
        spec = type(spec)(**{**spec.__dict__, "values": {**spec.values, **values}})
    return prepare(loaded, spec, INFO, seed, random.Random(1), converted=done).workflow


def test_values_land_where_the_editor_would_send_them(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "tiny-sd15-subgraph-ui.json", {
        "positive_prompt": "10:6,inputs,text",
        "negative_prompt": {"node": "CLIP Text Encode (Negative Prompt)", "input": "text"},
        "seed": "10,inputs,seed",  # a widget shown on the subgraph instance
        "width": {"node": "Empty Latent Image", "input": "width"},  # a display name
    }, [{"positive_prompt": "{a|b} %date% // as written", "negative_prompt": "ugly", "seed": 5, "width": 96}])
    prompt = run(loaded)
    assert prompt["10:6"]["inputs"]["text"] == "{a|b} %date% // as written"
    assert prompt["10:7"]["inputs"]["text"] == "ugly"
    assert prompt["10:3"]["inputs"]["seed"] == 5 and prompt["10:5"]["inputs"]["width"] == 96
    assert "10" not in prompt and prompt["10:3"]["inputs"]["model"] == ["4", 0]


def test_a_primitive_writes_to_every_input_it_feeds(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "primitives-notes.json", {"seed": {"node": "seed", "input": "value"},
                                                      "text": "9,inputs,value"},
                   [{"seed": "random", "text": "a dog"}])
    prompt = run(loaded, seed=31)
    assert prompt["3"]["inputs"]["seed"] == prompt["4"]["inputs"]["seed"] == 31
    assert prompt["10"]["inputs"]["string_a"] == prompt["11"]["inputs"]["find"] == "a dog"
    assert "1" not in prompt and "9" not in prompt


def test_a_wrong_input_or_title_fails_the_prompt_with_the_same_hints(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "tiny-sd15-subgraph-ui.json", {
        "steps": "10:3,inputs,stpes",
        "width": {"node": "Empty Latnet Image", "input": "width"},
        "text": "10,inputs,text",
    })
    with pytest.raises(BatchFileError) as info:
        run(loaded)
    assert str(info.value).splitlines() == [
        "batches/b.json: parameters.workflow_items.steps: node 10:3 (KSampler) has no input 'stpes'",
        '  hint: did you mean "steps"?',
        "batches/b.json: parameters.workflow_items.width: no node titled 'Empty Latnet Image' in the workflow",
        '  hint: did you mean "Empty Latent Image"?',
        "batches/b.json: parameters.workflow_items.text: node 10 (subgraph 'New Subgraph') has no input 'text'",
        "  hint: node 10 (subgraph 'New Subgraph') has: seed; the nodes inside are 10:3 (KSampler), 10:5 "
        "(EmptyLatentImage), 10:6 (CLIPTextEncode), 10:7 (CLIPTextEncode); 'text' is shown 2 times on it: "
        "address one of 10:6, 10:7",
    ]


def test_a_primitive_that_feeds_nothing_is_a_value_going_nowhere(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "primitives-notes.json", {"x": "8,inputs,value"})
    with pytest.raises(BatchFileError) as info:
        run(loaded)
    assert info.value.message == ("node 8 (PrimitiveNode) is a PrimitiveNode that feeds no input: the editor never "
                                  "sends it, so a value written there goes nowhere")


def test_a_ui_workflow_needs_its_conversion(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "tiny-sd15-txt2img-ui.json", {"text": "6,inputs,text"})
    with pytest.raises(WorkflowError) as info:
        prepare(loaded, loaded.prompts[0], INFO, None, random.Random(1))
    assert "workflows/tiny-sd15-txt2img-ui.json is a UI-format workflow" in info.value.message


def test_seed_limit_follows_forwards_to_the_servers_inputs(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "primitives-notes.json", {"seed": {"node": "seed", "input": "value"}})
    done = converted(loaded.source, INFO, loaded.source_shown)
    declared = INFO["ImageAddNoise"]["input"]["required"]["seed"][1]["max"]
    assert seed_limit(loaded, ["seed"], INFO, done.addresses) == min(declared, 2**53 - 1)


def test_each_file_is_converted_once_per_session_and_an_error_is_kept(tmp_project: Path) -> None:
    conversions = Conversions(INFO, "0.3.75")
    first = conversions.get("k", load(SUBGRAPH), "wf.json")
    assert conversions.get("k", {"nodes": "ignored: already converted"}, "wf.json") is first
    lacking = Conversions({k: v for k, v in INFO.items() if k != "KSampler"})
    for _ in range(2):
        with pytest.raises(UnknownNodeType) as info:
            lacking.get("k", load(SUBGRAPH), "wf.json")
        assert isinstance(info.value, ModelMissing) and info.value.types == ["KSampler"]


def test_a_promoted_input_of_a_nested_subgraph_instance(tmp_project: Path) -> None:
    loaded = batch(tmp_project, "nested-subgraphs.json", {"strength": "10,inputs,strength",
                                                      "radius": "10,inputs,blur_radius"},
                   [{"strength": 0.25, "radius": 9}])
    before = converted(loaded.source, INFO, loaded.source_shown).prompt
    prompt = run(loaded)
    assert prompt["10:5:1"]["inputs"]["strength"] == 0.25, "inside the subgraph inside instance 10"
    assert prompt["10:6"]["inputs"]["blur_radius"] == 9
    assert prompt["11:5:1"] == before["11:5:1"] and prompt["11:6"] == before["11:6"], "the other instance is untouched"
