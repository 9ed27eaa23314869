"""Batch files whose workflow is in the editor's UI format, run through the plugin against the
real ComfyUI: converted with the server's /object_info, values sent as written, bad files
reported in one clear message, and the last /object_info kept for checks at collection."""

from __future__ import annotations

import json
import shutil
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import HERE

from conftest import Project

AS_WRITTEN = "a {cat|dog} // not a comment, %date% and %date:yyyy% as they are"


def ui_batch(workflow: str, items: dict[str, Any], prompts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"parameters": {"workflow_file": f"../workflows-files/{workflow}", "workflow_items": items,
                           "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "UI"}},
            "prompts": prompts}


def sent_prompt(url: str, junit: Path, test_name: str) -> dict[str, Any]:
    """The prompt the server ran, from its /history (found by the prompt id junit records)."""
    tree = ET.parse(junit)
    case = next(c for c in tree.iter("testcase") if c.get("name") == test_name)
    prompt_id = next(p.get("value") for p in case.iter("property") if p.get("name") == "prompt_id")
    with urllib.request.urlopen(f"{url}/history/{prompt_id}", timeout=30) as answer:
        return json.loads(answer.read())[prompt_id]["prompt"][2]


def add_fixtures(project: Project) -> None:
    """The UI-format fixtures, good and bad, beside the repository's workflows."""
    for path in [*HERE.glob("*.json"), *(HERE / "bad").glob("*.json")]:
        if path.name not in ("object_info.json", "editor_outputs.json"):
            shutil.copy(path, project.path / "workflows-files" / path.name)


def test_the_ui_examples_run_with_editor_ids_and_send_prompts_as_written(project: Project) -> None:
    project.copy_batch("ui-tiny-sd15-txt2img.json")
    project.copy_batch("ui-tiny-sd15-subgraph.json")
    result = project.run("batches/", "-k", "cat or fruit", "--junitxml=r.xml", "-v")
    result.assert_outcomes(passed=2)
    cat = sent_prompt(project.url, project.path / "r.xml", "a-cat-wearing-a-hat-studio-outdoor-photo-sent")
    assert cat["6"]["inputs"]["text"] == "a cat wearing a hat, {studio|outdoor} photo // sent as written, %date% too"
    assert cat["3"]["inputs"]["seed"] == 7 and cat["5"]["inputs"]["width"] == 64, "width set by the display title"
    fruit = sent_prompt(project.url, project.path / "r.xml", "a-bowl-of-fruit-on-a-wooden-table")
    assert fruit["10:6"]["inputs"]["text"] == "a bowl of fruit on a wooden table"
    assert fruit["10:3"]["inputs"]["seed"] == 11, "written through the widget shown on subgraph instance 10"
    assert "10" not in fruit and fruit["10:3"]["inputs"]["positive"] == ["10:6", 0]
    assert len(project.images()) == 2


def test_primitives_send_the_batch_value_as_written_and_seeds_as_stored(project: Project) -> None:
    add_fixtures(project)
    project.batch("prims.json", ui_batch("primitives-notes.json", {
        "text": {"node": "text", "input": "value"},  # a PrimitiveNode by title: every input it feeds
        "seed": "1,inputs,value",
    }, [{"id": "written", "text": AS_WRITTEN, "seed": 4242}, {"id": "stored", "text": "x"}]))
    result = project.run("batches/", "--junitxml=r.xml")
    result.assert_outcomes(passed=2)
    written = sent_prompt(project.url, project.path / "r.xml", "written")
    assert written["10"]["inputs"]["string_a"] == written["11"]["inputs"]["find"] == AS_WRITTEN
    assert written["3"]["inputs"]["seed"] == written["4"]["inputs"]["seed"] == 4242
    stored = sent_prompt(project.url, project.path / "r.xml", "stored")
    assert stored["3"]["inputs"]["seed"] == stored["4"]["inputs"]["seed"] == 123, "the primitive's stored value"


BAD_FILES = {
    "group-node": ("group-node.json", [
        "batches/group-node.json: parameters.workflow_file: workflows-files/group-node.json: node 4 (workflow>Blur "
        "twice): 'workflow>Blur twice' is a legacy group node, which current editors replaced with subgraphs",
        "  hint: open the file in the ComfyUI editor, right-click the group node and choose 'Convert to subgraph'*"]),
    "missing-definition": ("missing-definition.json", [
        "batches/missing-definition.json: parameters.workflow_file: workflows-files/missing-definition.json: node 4 "
        "(subgraph instance 'Never saved'): the definition of subgraph * is not in the file (definitions.subgraphs)",
        "  hint: save the workflow again with the editor, or copy the subgraph's definition in"]),
    "recursive-subgraph": ("recursive-subgraph.json", [
        "batches/recursive-subgraph.json: parameters.workflow_file: workflows-files/recursive-subgraph.json: node 1 "
        "(subgraph instance 'Russian doll') in subgraph 'Russian doll': subgraph 'Russian doll' contains an instance "
        "of itself ('Russian doll' > 'Russian doll')",
        "  hint: a subgraph cannot hold itself: remove that instance"]),
    "link-origin": ("link-origin.json", [
        "batches/link-origin.json: parameters.workflow_file: workflows-files/link-origin.json: node 2 (ImageBlur): "
        "input 'image' is linked (link 1) to node 99, which does not exist",
        "  hint: the file is damaged: open it in the editor, reconnect the input and save it again"]),
    "widget-values": ("widget-values.json", [
        "workflows-files/widget-values.json: node 2 (ImageBlur): widgets_values[0] = 'gaussian' cannot be the INT "
        "widget 'blur_radius'; the server's widgets for ImageBlur are: blur_radius, sigma; the file was saved with "
        "editor (frontend) 1.99.0 and node version 0.9.1; the server runs ComfyUI 0.3.75, older than the node's "
        "version",
        "  hint: the file was probably saved by a newer ComfyUI or node version than the server's*"]),
}


def test_bad_ui_files_each_say_what_and_where_without_a_traceback(project: Project) -> None:
    add_fixtures(project)
    for name, (workflow, _) in BAD_FILES.items():
        project.batch(f"{name}.json", ui_batch(workflow, {}, [{"id": "one"}]))
    result = project.run("batches/", "-rA")
    result.assert_outcomes(failed=len(BAD_FILES))
    output = result.stdout.str()
    assert "Traceback" not in output and "comfy_plugin/" not in output
    for name, (_, lines) in BAD_FILES.items():
        result.stdout.fnmatch_lines([line.replace("[", "[[]") for line in lines])
        assert f"FAILED batches/{name}.json::" in output
    for name in ("group-node", "missing-definition", "recursive-subgraph", "link-origin"):
        assert f"FAILED batches/{name}.json::batch" in output, "found from the file alone: the whole file fails"


def test_what_the_server_lacks_skips_the_prompt_naming_it(project: Project) -> None:
    add_fixtures(project)
    project.batch("unknown-type.json", ui_batch("unknown-type.json", {}, [{"id": "one"}]))
    project.batch("no-model.json", ui_batch("tiny-sd15-txt2img-ui.json", {"ckpt": "4,inputs,ckpt_name"},
                                            [{"id": "one", "ckpt": "never-downloaded.safetensors"}]))
    result = project.run("batches/", "-rs", "--junitxml=r.xml")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([
        "SKIPPED * batches/no-model.json:*: server lacks model 'never-downloaded.safetensors' "
        "(CheckpointLoaderSimple node 4, input ckpt_name)",
        "SKIPPED * batches/unknown-type.json:*: workflows-files/unknown-type.json: node 4 (FancyUpscaler): the server "
        "has no node type 'FancyUpscaler'",
        "  hint: install the custom nodes that provide it on the server",
    ])
    assert "prompt_id" not in (project.path / "r.xml").read_text(), "nothing was queued"


def test_input_names_and_display_titles_are_checked_before_queueing(project: Project) -> None:
    project.batch("typos.json", ui_batch("tiny-sd15-subgraph-ui.json", {
        "steps": "10:3,inputs,stpes",
        "width": {"node": "Empty Latnet Image", "input": "width"},
        "text": "10,inputs,text",
    }, [{"id": "one"}]))
    result = project.run("batches/", "--junitxml=r.xml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "batches/typos.json: parameters.workflow_items.steps: node 10:3 (KSampler) has no input 'stpes'",
        '  hint: did you mean "steps"?',
        "batches/typos.json: parameters.workflow_items.width: no node titled 'Empty Latnet Image' in the workflow",
        '  hint: did you mean "Empty Latent Image"?',
        "batches/typos.json: parameters.workflow_items.text: node 10 (subgraph 'New Subgraph') has no input 'text'",
        "  hint: node 10 (subgraph 'New Subgraph') has: seed; the nodes inside are 10:3 (KSampler)*'text' is shown "
        "2 times on it: address one of 10:6, 10:7",
    ])
    assert "prompt_id" not in (project.path / "r.xml").read_text(), "nothing was queued"


def test_the_last_object_info_checks_input_names_at_collection(pytester: pytest.Pytester, comfy_server) -> None:
    project = Project(pytester, comfy_server.url)
    args = ("--comfy-url", comfy_server.url, "-W", "ignore::pytest.PytestAssertRewriteWarning")
    project.batch("good.json", ui_batch("tiny-sd15-txt2img-ui.json", {"steps": "3,inputs,steps"}, [{"id": "one"}]))
    pytester.runpytest(*args, "--comfy-check").assert_outcomes(passed=1)  # reads /object_info: kept in the cache

    project.batch("typo.json", ui_batch("tiny-sd15-txt2img-ui.json", {"steps": "3,inputs,stpes"}, [{"id": "one"}]))
    result = pytester.runpytest(*args, "batches/typo.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "batches/typo.json: parameters.workflow_items.steps: node 3 (KSampler) has no input 'stpes'",
        f'  hint: did you mean "steps"? (input names checked against /object_info of {comfy_server.url} cached '
        "????-??-?? ??:??; pytest --cache-clear forgets it)",
    ])
    assert "FAILED batches/typo.json::batch" in result.stdout.str(), "found at collection"
    result = pytester.runpytest(*args, "batches/typo.json", "--cache-clear")
    result.stdout.fnmatch_lines(["*node 3 (KSampler) has no input 'stpes'", '  hint: did you mean "steps"?'])
    assert "FAILED batches/typo.json::one" in result.stdout.str(), "without the cache: found before queueing"
