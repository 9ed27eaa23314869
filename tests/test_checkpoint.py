"""Text-to-image for real on the generated SD1.5-shaped checkpoint (scripts/make_checkpoint.py).

CheckpointLoaderSimple -> CLIPTextEncode -> KSampler -> VAEDecode -> SaveImage at 64x64
and 4 steps: model loading, sampler steps and progress messages on a CPU in seconds.
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
import pytest
from PIL import Image

from comfy_plugin.client import ComfyClient
from comfy_plugin.plugin.options import resolve
from comfy_plugin.server.launcher import LaunchedServer, default_python
from conftest import COMFY_DIR, CPU_ARGS, ROOT, Project, start_comfyui

CHECKPOINT = ROOT / ".comfyui" / "models" / "checkpoints" / "tiny-sd15.safetensors"
WORKFLOW = ROOT / "workflows-files" / "tiny-sd15-txt2img-api.json"


def tiny_batch(prompts: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    """A batch on workflows-files/tiny-sd15-txt2img-api.json (64x64, 4 steps)."""
    parameters = {
        "workflow_file": "../workflows-files/tiny-sd15-txt2img-api.json",
        "workflow_items": {
            "positive_prompt": "6,inputs,text",
            "negative_prompt": "7,inputs,text",
            "seed": "3,inputs,seed",
            "batch_size": "5,inputs,batch_size",
        },
        "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "T"},
        "generic_prompts": {"negative_prompt": "blurry, ugly"},
    }
    parameters.update(params)
    return {"parameters": parameters, "prompts": prompts}


def by_id(files: list[Path]) -> dict[str, list[Path]]:
    """{prompt id: [files in index order]} from names such as T_<id>_<stamp>_<index>.png."""
    out: dict[str, list[Path]] = {}
    for f in sorted(files, key=lambda p: p.name):
        out.setdefault(f.name.split("_")[1], []).append(f)
    return out


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def test_checkpoint_exists_with_its_digest() -> None:
    digest = CHECKPOINT.with_name(CHECKPOINT.name + ".sha256")
    assert CHECKPOINT.is_file() and digest.is_file(), "run scripts/setup.sh (scripts/make_checkpoint.py)"
    assert digest.read_text().split()[1] == CHECKPOINT.name
    assert 400e6 < CHECKPOINT.stat().st_size < 500e6  # 233 M parameters in fp16


def test_example_batch_runs_on_the_generated_checkpoint(project: Project, comfy_server: LaunchedServer) -> None:
    project.copy_batch("tiny-sd15-txt2img.json")
    result = project.run("batches/", "-v")
    result.assert_outcomes(passed=4)
    files = by_id(project.images())
    assert {k: len(v) for k, v in files.items()} == {
        "a-cat-wearing-a-hat-studio-photo": 1, "a-lighthouse-at-night": 2,
        "a-bowl-of-fruit-on-a-wooden-table": 1, "a-red-sports-car-side-view": 1}
    sizes = {k: [Image.open(f).size for f in v] for k, v in files.items()}
    assert sizes["a-lighthouse-at-night"] == [(64, 64), (64, 64)], "batch_size 2: two 64x64 images"
    assert sizes["a-red-sports-car-side-view"] == [(96, 64)]
    first, second = (pixels(f) for f in files["a-lighthouse-at-night"])
    assert np.abs(first - second).mean() > 10, "the two images of a batch have their own noise"
    for f in (f for v in files.values() for f in v):
        assert pixels(f).std() > 10, f"{f.name} is flat: the networks produced no picture"
    log = comfy_server.log_path.read_text(errors="replace")
    # ComfyUI chose the SD1.5 model config: EPS prediction, the SD1 (CLIP-L) text encoder.
    assert "model_type EPS" in log and "Requested to load SD1ClipModel" in log, log[-2000:]


def free_and_settle(client: ComfyClient, timeout_s: float = 60.0) -> None:
    """POST /free, then wait until the server is between prompts, where it applies it.

    /free only sets flags; ComfyUI's worker applies them when it wakes between prompts: at
    once when its queue is empty (setting a flag wakes it), else after the prompt it runs.
    (A probe prompt cannot mark the moment: running any prompt evicts the previous prompt's
    results from ComfyUI's default cache, so it would hide a /free that did nothing.)"""
    client.free()
    deadline = time.monotonic() + timeout_s
    while client.queued_ids():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server at {client.url} still runs {client.queued_ids()} after {timeout_s} s")
        threading.Event().wait(0.05)


def test_same_seed_same_pixels_after_the_cache_is_cleared(project: Project) -> None:
    project.batch("repro.json", tiny_batch([{"id": "repro", "positive_prompt": "a quiet harbour", "seed": 31}]))
    client = ComfyClient(project.url)
    try:
        free_and_settle(client)  # no cached result of an earlier test may serve the first run
        runs = []
        for n in range(3):
            result = project.run("batches/", "-rA")
            result.assert_outcomes(passed=1)
            runs.append(result.stdout.str())
            if n == 0:
                free_and_settle(client)
    finally:
        client.close()
    assert "served wholly from" not in runs[0] and "served from cache" not in runs[0]
    assert "served wholly from" not in runs[1] and "served from cache" not in runs[1], "after /free the prompt must be computed again"
    assert "served wholly from ComfyUI's cache" in runs[2], \
        "without /free ComfyUI serves the cached image (so the comparison above would prove nothing)"
    images = by_id(project.images())["repro"]
    assert len(images) == 3
    assert np.array_equal(pixels(images[0]), pixels(images[1])), "same seed, same pixels"
    assert images[0].read_bytes() == images[1].read_bytes()


def test_seed_and_prompt_change_the_image(project: Project) -> None:
    project.batch("vary.json", tiny_batch([
        {"id": "cat-1", "positive_prompt": "a cat on a sofa", "seed": 1},
        {"id": "cat-2", "positive_prompt": "a cat on a sofa", "seed": 2},
        {"id": "dog-1", "positive_prompt": "a dog in the snow", "seed": 1},
    ]))
    project.run("batches/").assert_outcomes(passed=3)
    files = {k: v[0] for k, v in by_id(project.images()).items()}
    cat1, cat2, dog1 = (pixels(files[k]) for k in ("cat-1", "cat-2", "dog-1"))
    hashes = {k: imagehash.phash(Image.open(f)) for k, f in files.items()}
    assert hashes["cat-1"] - hashes["cat-2"] >= 12, "another seed gives another picture"
    assert np.abs(cat1 - cat2).mean() > 20
    # Same seed (same starting noise), another prompt: the text conditioning moves the image.
    assert np.abs(cat1 - dog1).mean() > 10


@pytest.fixture(scope="module")
def uncached_server() -> LaunchedServer:
    """A server that caches no node output: every prompt runs every node."""
    server = start_comfyui(("--cache-none",))
    yield server
    server.stop()


def test_sampler_progress_reaches_the_client_and_reruns_match(uncached_server: LaunchedServer) -> None:
    workflow = json.loads(WORKFLOW.read_text())
    workflow["3"]["inputs"]["seed"] = 8
    client = ComfyClient(uncached_server.url)
    progress: dict[str, list[tuple[Any, Any, Any]]] = {}
    client.listeners.append(lambda prompt_id, kind, data: progress.setdefault(prompt_id, []).append(
        (data.get("node"), data.get("value"), data.get("max"))) if kind == "progress" else None)
    try:
        ids, images = [], []
        for _ in range(2):
            prompt_id = client.submit(workflow)
            result = client.wait(prompt_id, 120)
            assert result.cached_nodes == []
            [file] = result.files
            ids.append(prompt_id)
            images.append(client.download(file))
    finally:
        client.close()
    for prompt_id in ids:
        assert progress.get(prompt_id) == [("3", k, 4) for k in (1, 2, 3, 4)], progress
    assert images[0] == images[1], "same seed on a server without a cache: byte-identical PNGs"


def test_ini_model_paths_reach_the_launched_server(offline_project: Project) -> None:
    """What `pytest batches/` does here: the ini's comfy_model_paths (relative to the ini's
    folder) becomes --extra-model-paths-config, so the launched server has the checkpoint."""
    p = offline_project
    (p.path / "paths.yaml").write_text(f"dev:\n    base_path: {ROOT / '.comfyui' / 'models'}\n    checkpoints: checkpoints\n")
    p.pytester.makeini(
        f"[pytest]\ncomfy_launch = {COMFY_DIR}\ncomfy_python = {default_python(ROOT)}\n"
        f"comfy_launch_args = {' '.join(CPU_ARGS)}\ncomfy_model_paths = paths.yaml\n"
    )
    assert resolve(p.pytester.parseconfig()).model_paths == p.path / "paths.yaml"
    p.batch("one.json", tiny_batch([{"id": "launched", "positive_prompt": "a red barn", "seed": 5}]))
    result = p.pytester.runpytest("batches/", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    [image] = p.images()
    assert Image.open(image).size == (64, 64)


def test_missing_model_paths_file_is_one_clear_error(offline_project: Project) -> None:
    offline_project.batch("one.json", tiny_batch([{"id": "a", "seed": 1}, {"id": "b", "seed": 2}]))
    result = offline_project.pytester.runpytest("batches/", f"--comfy-launch={COMFY_DIR}",
                                                "--comfy-model-paths", "nowhere.yaml", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert out.count(f"the model paths file '{offline_project.path / 'nowhere.yaml'}' does not exist") == 1
    assert "launching" in out and "ComfyUI launched" not in out


def test_missing_model_fails_with_comfy_missing_fail(project: Project) -> None:
    """--comfy-missing=fail: a prompt naming a checkpoint the server lacks fails (it would be
    skipped by default), before anything is queued; a prompt on the checkpoint it has runs."""
    project.copy_batch("sd15-txt2img.json")  # the README's example: v1-5-pruned-emaonly.safetensors
    batch = tiny_batch([{"id": "present", "positive_prompt": "a red barn", "seed": 5},
                        {"id": "absent", "positive_prompt": "a red barn", "seed": 5,
                         "model": "v1-5-pruned-emaonly.safetensors"}])
    batch["parameters"]["workflow_items"]["model"] = "4,inputs,ckpt_name"
    project.batch("tiny.json", batch)
    result = project.run("batches/", "--comfy-missing=fail", "--junitxml=r.xml")
    result.assert_outcomes(passed=1, failed=3)
    lacks = "server lacks model 'v1-5-pruned-emaonly.safetensors' (CheckpointLoaderSimple node 4, input ckpt_name)"
    cases = {case.get("name"): case for case in ET.parse(project.path / "r.xml").iter("testcase")}
    failed = {name: case.find("failure") for name, case in cases.items() if case.find("failure") is not None}
    assert sorted(failed) == ["a-cat-wearing-a-hat-studio-photo", "a-lighthouse-at-night", "absent"], sorted(cases)
    for name, failure in failed.items():
        assert lacks in (failure.get("message") or "") + "\n" + (failure.text or ""), name
        assert not [p for p in cases[name].iter("property") if p.get("name") == "prompt_id"], f"{name} was queued"
    assert not any(case.find("skipped") is not None for case in cases.values())
    assert [p.name.split("_")[1] for p in project.images()] == ["present"]
