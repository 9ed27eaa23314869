"""Batch files driven through the plugin against the real ComfyUI."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image

from conftest import Project, noise_batch

NAME = re.compile(r"^(?P<prefix>[A-Za-z0-9.-]+)_(?P<id>[a-z0-9-]+)_\d{8}-\d{6}_(?P<index>\d\d)(-\d+)?\.png$")


def junit_properties(path: Path) -> dict[str, dict[str, str]]:
    """{test name: {property: value}} from a junit XML file."""
    tree = ET.parse(path)
    return {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in tree.iter("testcase")
    }


def test_example_batch_with_overrides_and_batch_size(project: Project) -> None:
    project.copy_batch("blend-fixed-seeds.json")
    result = project.run("batches/", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "batches/blend-fixed-seeds.json::orange-dusk PASSED*",
        "batches/blend-fixed-seeds.json::blue-hour PASSED*",
        "batches/blend-fixed-seeds.json::sharp-square PASSED*",
    ])
    files = project.images()
    by_id: dict[str, list[Path]] = {}
    for f in files:
        match = NAME.match(f.name)
        assert match, f.name
        assert match["prefix"] == "BLEND"
        by_id.setdefault(match["id"], []).append(f)
    assert {k: len(v) for k, v in by_id.items()} == {"orange-dusk": 1, "blue-hour": 2, "sharp-square": 1}
    assert all(f.parent == project.path / "images" / "blend-fixed-seeds" for f in files)
    sizes = {f.name.split("_")[1]: Image.open(f).size for f in files}
    assert sizes == {"orange-dusk": (80, 48), "blue-hour": (80, 48), "sharp-square": (64, 64)}


def test_random_seeds_are_reported_and_replaced_by_comfy_seed(project: Project) -> None:
    project.batch("rnd.json", noise_batch([
        {"positive_prompt": "a cat in a hat", "seed": "random"},
        {"positive_prompt": "a fixed one", "seed": 99},
    ]))
    result = project.run("batches/", "--junitxml=first.xml")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*random seeds drawn:*", "*batches/rnd.json::a-cat-in-a-hat  seed *"])
    props = junit_properties(project.path / "first.xml")
    drawn = int(props["a-cat-in-a-hat"]["seed"])
    assert 0 <= drawn <= 2**53 - 1
    assert props["a-fixed-one"]["seed"] == "99"
    assert props["a-cat-in-a-hat"]["prompt_id"]

    for seed in ("5", "6"):
        result = project.run("batches/rnd.json::a-cat-in-a-hat", "--comfy-seed", seed, f"--junitxml={seed}.xml")
        result.assert_outcomes(passed=1)
        assert junit_properties(project.path / f"{seed}.xml")["a-cat-in-a-hat"]["seed"] == seed
    five, six = (project.path / junit_properties(project.path / f"{s}.xml")["a-cat-in-a-hat"]["images"]
                 for s in ("5", "6"))
    assert five.read_bytes() != six.read_bytes(), "the seed must reach the workflow"


def test_keyword_selection_runs_only_matching_prompts(project: Project) -> None:
    project.copy_batch("noise-random-seeds.json")
    result = project.run("batches/", "-k", "hat or sea")
    result.assert_outcomes(passed=2, deselected=1)
    ids = sorted(f.name.split("_")[1] for f in project.images())
    assert ids == ["a-cat-in-a-hat", "sunset-over-the-sea"]


def test_save_disabled_still_runs_the_prompt(project: Project) -> None:
    project.batch("nosave.json", noise_batch(
        [{"positive_prompt": "kept nowhere", "seed": 1}],
        save_images={"enabled": False, "output_directory": "./images/", "filename_prefix": "T"},
    ))
    result = project.run("batches/", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*images: *.png (32x24)*"])
    assert project.images() == []


def test_existing_files_are_never_overwritten(project: Project) -> None:
    project.batch("twice.json", noise_batch([{"positive_prompt": "same name", "seed": 3}]))
    for _ in range(3):
        project.run("batches/").assert_outcomes(passed=1)
    files = project.images()
    assert len(files) == 3
    assert len({f.name for f in files}) == 3


def test_prompt_text_flows_into_the_workflow(project: Project, comfy_server) -> None:
    """positive_prompt reaches SaveImage's filename_prefix through StringConcatenate."""
    project.batch("text.json", noise_batch([{"positive_prompt": "violet-owl", "seed": 8}]))
    result = project.run("batches/", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*prompt_id: *"])
    server_outputs = list((comfy_server.workdir / "base" / "output").glob("noise_violet-owl_*.png"))
    assert server_outputs, "the server saved no file named after the prompt text"


def test_animated_outputs_are_saved_as_they_come(project: Project) -> None:
    workflow = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 3, "color": 255}},
        "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 1, "strength": 0.5}},
        "3": {"class_type": "SaveAnimatedWEBP", "inputs": {
            "images": ["2", 0], "filename_prefix": "anim", "fps": 6.0, "lossless": False,
            "quality": 80, "method": "default"}},
    }
    project.batch("anim-api.json", workflow, folder="workflows-files")
    project.batch("anim.json", {
        "parameters": {"workflow_file": "../workflows-files/anim-api.json",
                       "workflow_items": {"seed": "2,inputs,seed"}},
        "prompts": [{"id": "spin", "seed": 4}],
    })
    result = project.run("batches/")
    result.assert_outcomes(passed=1)
    [webp] = project.images()
    assert webp.suffix == ".webp"
    with Image.open(webp) as img:
        assert img.n_frames == 3


def test_missing_model_skips_with_its_name(project: Project) -> None:
    project.copy_batch("sd15-txt2img.json")
    result = project.run("batches/", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([
        "*server lacks model 'v1-5-pruned-emaonly.safetensors' (CheckpointLoaderSimple node 4, input ckpt_name)*"
    ])
    # -rs points at the prompt in the batch file, not at the plugin's own line (before the fix: item.py:NN).
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert skips and all(re.match(r"SKIPPED \[1\] batches/sd15-txt2img\.json:\d+: ", line) for line in skips), skips


def test_relative_output_folders_have_one_root_the_invocation_directory(project: Project) -> None:
    """Before the fix the writability check used the working directory when the plugin was
    configured and the saving the invocation directory: a conftest that changes directory when
    it is loaded split one folder in two."""
    project.pytester.makeconftest("import os\nos.makedirs('elsewhere', exist_ok=True)\nos.chdir('elsewhere')\n")
    project.batch("one.json", noise_batch([{"id": "a", "seed": 1}, {"id": "b", "seed": 2}]))
    result = project.run(str(project.path / "batches"))
    result.assert_outcomes(passed=2)
    assert len(project.images()) == 2
    assert not (project.path / "elsewhere" / "images").exists()


def test_rejected_prompt_shows_node_input_and_message(project: Project) -> None:
    """A link of the wrong type passes every offline check; ComfyUI's 400 is shown in full."""
    batch = noise_batch([
        {"id": "wrong-link", "seed": 1, "image_source": ["3", 0]},
        {"id": "fine", "seed": 1},
    ])
    batch["parameters"]["workflow_items"]["image_source"] = "2,inputs,image"
    project.batch("bad.json", batch)
    result = project.run("batches/")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "ComfyUI rejected the prompt: Prompt outputs failed validation*",
        "  - node 2 (ImageAddNoise 'Noise') input 'image': Return type mismatch between linked nodes*",
    ])
    assert "Traceback" not in result.stdout.str()
    assert "def runtest" not in result.stdout.str()


def test_values_the_server_forbids_fail_before_queueing(project: Project) -> None:
    batch = noise_batch([
        {"id": "zero-width", "seed": 1, "width": 0},
        {"id": "too-bright", "seed": 1, "color": 99999999},
        {"id": "fine", "seed": 1},
    ])
    batch["parameters"]["workflow_items"]["color"] = "1,inputs,color"
    project.batch("range.json", batch)
    result = project.run("batches/", "--junitxml=r.xml")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "batches/range.json: prompts[0].width: 0 is less than the minimum of 1 (rule: minimum)",
        "batches/range.json: prompts[1]: the server's /object_info forbids:",
        "- node 1 (EmptyImage) input 'color': 99999999 is above the maximum 16777215",
    ])
    props = junit_properties(project.path / "r.xml")
    assert "prompt_id" not in props["zero-width"] and "prompt_id" not in props["too-bright"], "nothing was queued"


def test_execution_error_names_node_and_exception(project: Project) -> None:
    project.copy_batch("blend-fixed-seeds.json")
    project.batch("boom.json", {
        "parameters": {
            "workflow_file": "./workflows-files/blend-subgraph-api.json",
            "workflow_items": {"size": ["21:10,inputs,width", "21:10,inputs,height"],
                               "blur": "21:12,inputs,blur_radius"},
        },
        "prompts": [{"id": "too-much-blur", "size": 8, "blur": 31}],
    })
    result = project.run("batches/boom.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*node 21:12 (ImageBlur) failed: RuntimeError: *Padding size should be less than*",
    ])
    assert "Traceback" not in result.stdout.str()

