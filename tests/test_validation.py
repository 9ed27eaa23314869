"""A catalogue of broken batch files: each is reported once, with the file, the place, the
value or rule and a hint, while a good file in the same run still passes.

All cases run in one real pytest session (a subprocess against the suite's ComfyUI); each
case is then one assertion on that session's output.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, noise_batch

GOOD = noise_batch([{"positive_prompt": "the good one", "seed": 5}])


def with_params(**params: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data["parameters"].update(params)
    return data


def with_prompt(**values: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data["prompts"] = [{"id": "bad", "seed": 1, **values}, {"id": "fine", "seed": 2}]
    return data


def with_items(prompt: dict[str, Any], **items: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data["parameters"]["workflow_items"].update(items)
    data["prompts"] = [{"id": "bad", "seed": 1, **prompt}, {"id": "fine", "seed": 2}]
    return data


def top(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data.update(changes)
    return data


NOT_A_WORKFLOW = {"name": "a workflow?", "steps": []}
#: A UI-format workflow (as the editor saves it) whose input names only the server knows.
UI_TYPO = {"parameters": {"workflow_file": "../workflows-files/tiny-sd15-txt2img-ui.json",
                          "workflow_items": {"steps": "3,inputs,stpes",
                                             "width": {"node": "Empty Latnet Image", "input": "width"}}},
           "prompts": [{"id": "one", "steps": 4, "width": 64}]}
MALFORMED = '{\n  "parameters": {\n    "workflow_file": "../workflows-files/noise-image-api.json",\n  }\n}\n'

# name: (content, lines expected in the output (fnmatch patterns, in order))
CATALOGUE: dict[str, tuple[Any, list[str]]] = {
    "malformed-json": (MALFORMED, ["batches/malformed-json.json: line 4, column 3: invalid JSON: Expecting property name*"]),
    "not-utf8": (json.dumps(with_prompt(positive_prompt="caf\u00e9"), ensure_ascii=False).encode("latin-1"),
                 ["batches/not-utf8.json: not UTF-8 text (byte *", "  hint: save the file as UTF-8"]),
    "top-level-list": ("[1, 2, 3]", ["batches/top-level-list.json: the top level must be an object*found list"]),
    "no-parameters": ({"prompts": [{"seed": 1}]},
                      ["batches/no-parameters.json: missing required key 'parameters'", "  hint: see the batch format*"]),
    "misspelt-top-key": (top(prompt=[]),
                         ["batches/misspelt-top-key.json: prompt: unknown key 'prompt'", '  hint: did you mean "prompts"?']),
    "misspelt-parameter": (with_params(workflow_item={}),
                           ["batches/misspelt-parameter.json: parameters.workflow_item: unknown key 'workflow_item'",
                            '  hint: did you mean "workflow_items"?']),
    "empty-prompts": (top(prompts=[]), ["batches/empty-prompts.json: prompts: the list is empty: nothing to run"]),
    "workflow-missing": (with_params(workflow_file="nowhere/wf-api.json"),
                         ["batches/workflow-missing.json: parameters.workflow_file: workflow file 'nowhere/wf-api.json' "
                          "not found; looked at */batches/nowhere/wf-api.json and */nowhere/wf-api.json"]),
    "not-a-workflow": (with_params(workflow_file="../workflows-files/not-a-workflow.json"),
                       ["batches/not-a-workflow.json: parameters.workflow_file: workflow */not-a-workflow.json is not a "
                        "ComfyUI workflow: neither the editor's format ('nodes' and 'links') nor the API format*",
                        "  hint: save the workflow from the ComfyUI editor (Workflow > Save)*"]),
    "ui-input-typo": (UI_TYPO, ["batches/ui-input-typo.json: parameters.workflow_items.steps: node 3 (KSampler) has no "
                                "input 'stpes'", '  hint: did you mean "steps"?',
                                "batches/ui-input-typo.json: parameters.workflow_items.width: no node titled 'Empty "
                                "Latnet Image' in the workflow", '  hint: did you mean "Empty Latent Image"?']),
    "malformed-mapping": (with_items({}, seed="2,inputs"),
                          ['batches/malformed-mapping.json: parameters.workflow_items.seed: "2,inputs" is not valid: '
                           'expected a "node_id,inputs,field_name" string*']),
    "mapping-unknown-node": (with_items({}, seed="99,inputs,seed"),
                             ["batches/mapping-unknown-node.json: parameters.workflow_items.seed: no node with id '99' in the workflow",
                              "  hint: the workflow's node ids: 1, 2, 3, 4, 5"]),
    "mapping-title-ambiguous": (with_params(workflow_file="../workflows-files/twin-titles-api.json",
                                            workflow_items={**GOOD["parameters"]["workflow_items"],
                                                            "seed": {"node": "Noise", "input": "seed"}}),
                                ["batches/mapping-title-ambiguous.json: parameters.workflow_items.seed: 2 nodes are titled "
                                 "'Noise': 2 (ImageAddNoise) and 6 (ImageAddNoise)",
                                 '  hint: address one by its id: "2,inputs,seed" or {"node": "2", "input": "seed"}*']),
    "workflow-near-miss": (with_params(workflow_file="../workflows-files/noise-image.json"),
                           ["batches/workflow-near-miss.json: parameters.workflow_file: workflow file "
                            "'../workflows-files/noise-image.json' not found; looked at *",
                            '  hint: did you mean "../workflows-files/noise-image-api.json"?']),
    "mapping-title-typo": (with_items({}, seed={"node": "Nosie", "input": "seed"}),
                           ["batches/mapping-title-typo.json: parameters.workflow_items.seed: no node titled 'Nosie' in the workflow",
                            '  hint: did you mean "Noise"?']),
    "mapping-input-typo": (with_items({}, seed="2,inputs,sed"),
                           ["batches/mapping-input-typo.json: parameters.workflow_items.seed: node 2 (ImageAddNoise) has no input 'sed'",
                            '  hint: did you mean "seed"?']),
    "prompt-key-typo": (with_prompt(positve_prompt="a cat"),
                        ["batches/prompt-key-typo.json: prompts[0].positve_prompt: 'positve_prompt' is not declared in "
                         "parameters.workflow_items", '  hint: did you mean "positive_prompt"?']),
    "generic-key-undeclared": (with_params(generic_prompts={"width": 32, "heigth": 24}),
                               ["batches/generic-key-undeclared.json: parameters.generic_prompts.heigth: 'heigth' is not "
                                "declared*", '  hint: did you mean "height"?']),
    "seed-negative": (with_prompt(seed=-1),
                      ['batches/seed-negative.json: prompts[0].seed: -1 is not valid: expected an integer in '
                       '0..18446744073709551615, or "random"']),
    "seed-typo": (with_prompt(seed="randm"),
                  ['batches/seed-typo.json: prompts[0].seed: "randm" is not valid: expected an integer in 0..*, or "random"']),
    "seed-too-large": (with_prompt(seed=2**64),
                       ["batches/seed-too-large.json: prompts[0].seed: 18446744073709551616 is not valid*"]),
    "batch-size-zero": (with_prompt(batch_size=0),
                        ["batches/batch-size-zero.json: prompts[0].batch_size: 0 is less than the minimum of 1 (rule: minimum)"]),
    "width-not-integer": (with_prompt(width="wide"),
                          ['batches/width-not-integer.json: prompts[0].width: must be an integer, found a string ("wide")']),
    "float-into-int-input": (with_items({"radius": 2.5}, radius="2,inputs,seed"),
                             ["batches/float-into-int-input.json: prompts[0]: the server's /object_info forbids:",
                              "- node 2 (ImageAddNoise) input 'seed': 2.5 is not an integer"]),
    "text-into-number-input": (with_items({"strength": "strong"}, strength="2,inputs,strength"),
                               ["batches/text-into-number-input.json: prompts[0].strength: 'strong' does not fit node 2 "
                                "(ImageAddNoise) input 'strength', which takes a number (the workflow holds 0.6)"]),
    "duplicate-ids": (top(prompts=[{"id": "twin", "seed": 1}, {"id": "twin", "seed": 2}]),
                      ["batches/duplicate-ids.json: prompts[1]: duplicate prompt id 'twin' (also prompts[0])",
                       "  hint: give each prompt a unique 'id'"]),
    "bad-tag": (with_prompt(tags=["not a marker!"]),
                ['batches/bad-tag.json: prompts[0].tags: ["not a marker!"] is not valid: expected a marker name*']),
    "skip-not-reason": (with_prompt(skip=3),
                        ["batches/skip-not-reason.json: prompts[0].skip: 3 is not valid: expected true, or a string giving the reason"]),
    "timeout-negative": (with_prompt(timeout=-5),
                         ["batches/timeout-negative.json: prompts[0].timeout: -5 is less than or equal to the minimum of 0*"]),
    "save-images-typo": (with_params(save_images={"enabled": True, "output_dir": "x"}),
                         ["batches/save-images-typo.json: parameters.save_images.output_dir: unknown key 'output_dir'",
                          '  hint: did you mean "output_directory"?']),
    "variable-file-missing": (top(variables={"poses": "./files/none.txt"}),
                              ["batches/variable-file-missing.json: variables.poses: variable file './files/none.txt' not found*"]),
    "variable-file-empty": (top(variables={"poses": "./empty.txt"}),
                            ["batches/variable-file-empty.json: variables.poses: variable file */empty.txt has no values",
                             "  hint: write one value per line"]),
    "load-image-missing": (None, ["batches/load-image-missing.json: prompts[0].image: image file './inputs/missing.png' not found*"]),
    "value-out-of-range": (with_items({"color": 99999999}, color="1,inputs,color"),
                           ["batches/value-out-of-range.json: prompts[0]: the server's /object_info forbids:",
                            "- node 1 (EmptyImage) input 'color': 99999999 is above the maximum 16777215"]),
}

LOAD_IMAGE_WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}},
}
#: The noise workflow with a second noise node under the same title.
TWIN_TITLES_WORKFLOW = json.loads((ROOT / "workflows-files" / "noise-image-api.json").read_text())
TWIN_TITLES_WORKFLOW["6"] = {**TWIN_TITLES_WORKFLOW["2"], "inputs": {**TWIN_TITLES_WORKFLOW["2"]["inputs"], "image": ["2", 0]}}
CATALOGUE["load-image-missing"] = ({
    "parameters": {"workflow_file": "../workflows-files/load-image-api.json", "workflow_items": {"image": "1,inputs,image"}},
    "prompts": [{"id": "bad", "image": "./inputs/missing.png"}],
}, CATALOGUE["load-image-missing"][1])


@pytest.fixture(scope="module")
def catalogue_run(tmp_path_factory: pytest.TempPathFactory, comfy_server) -> tuple[str, int, Path]:
    root = tmp_path_factory.mktemp("catalogue")
    shutil.copytree(ROOT / "workflows-files", root / "workflows-files")
    (root / "workflows-files" / "not-a-workflow.json").write_text(json.dumps(NOT_A_WORKFLOW))
    (root / "workflows-files" / "load-image-api.json").write_text(json.dumps(LOAD_IMAGE_WORKFLOW))
    (root / "workflows-files" / "twin-titles-api.json").write_text(json.dumps(TWIN_TITLES_WORKFLOW))
    batches = root / "batches"
    batches.mkdir()
    (batches / "empty.txt").write_text("\n   \n")
    (batches / "good.json").write_text(json.dumps(GOOD))
    for name, (content, _) in CATALOGUE.items():
        path = batches / f"{name}.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "batches/", "--comfy-url", comfy_server.url, "-p", "no:cacheprovider",
         "-rA", "--junitxml=report.xml", "--comfy-missing-baseline=write"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )
    return proc.stdout + proc.stderr, proc.returncode, root


def matches(line: str, pattern: str) -> bool:
    """fnmatch with ``*`` as the only wildcard (the patterns hold ``prompts[0]``)."""
    return fnmatch.fnmatchcase(line, pattern.replace("[", "[[]"))


def test_catalogue_has_enough_cases() -> None:
    assert len(CATALOGUE) >= 25


def test_good_file_passes_and_run_fails(catalogue_run) -> None:
    output, code, root = catalogue_run
    assert code == 1, output
    assert "PASSED batches/good.json::the-good-one" in output
    assert "Traceback" not in output
    assert "the-good-one" in {p.name.split("_")[1] for p in (root / "images").iterdir()}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_bad_input_is_reported(catalogue_run, name: str) -> None:
    output, _, _ = catalogue_run
    expected = CATALOGUE[name][1]
    lines = output.splitlines()
    for start, line in enumerate(lines):
        if matches(line, expected[0]):
            for offset, pattern in enumerate(expected[1:], 1):
                assert matches(lines[start + offset], pattern), (lines[start + offset], pattern)
            break
    else:
        raise AssertionError(f"no line matches {expected[0]!r}\n{output}")
    assert f"FAILED batches/{name}.json::" in output, "the bad file (or prompt) fails"


def test_a_prompt_error_fails_only_that_prompt(catalogue_run) -> None:
    output, _, _ = catalogue_run
    for name in ("seed-negative", "prompt-key-typo", "batch-size-zero", "value-out-of-range"):
        assert f"FAILED batches/{name}.json::bad" in output
        assert f"PASSED batches/{name}.json::fine" in output
    for name in ("malformed-json", "mapping-unknown-node", "misspelt-parameter"):
        assert f"FAILED batches/{name}.json::batch" in output
