"""The server's own validation accepts every converted local template (image, video, other:
111) whose node types it has: all but those needing custom node packs.

A ComfyUI with its API nodes (tests/ui_fixtures/template_server.py) whose base
directory holds an empty placeholder for every model file the templates name, a small image
for every input image and an empty file for every input video or audio, receives each
converted template on ``POST /prompt``; each must come back 200 with no node errors. Each
prompt is then deleted from the queue (one that already started fails at its first model
load, on an empty file, within a moment).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from PIL import Image
from ui_fixtures import NEEDS_CUSTOM_NODES, TEMPLATES_COUNT, load, templates
from ui_fixtures.template_server import require_audio_nodes, start_template_server

from comfy_plugin.errors import UnknownNodeType
from comfy_plugin.uiformat import Catalog, convert
from comfy_plugin.uiformat.catalog import UPLOAD_FLAGS, spec_options, spec_type

#: Folders of /models that hold no model files.
NOT_MODELS = {"custom_nodes", "configs"}
#: Combo options whose values are files of the input folder (images, videos, audio).
INPUT_FLAGS = (*UPLOAD_FLAGS, "audio_upload")


def _call(url: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def _missing_files(prompt: dict[str, Any], info: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(model names, input file names) that the prompt's combos name and the server lacks."""
    models: set[str] = set()
    images: set[str] = set()
    for node in prompt.values():
        specs = {**(info[node["class_type"]]["input"].get("required") or {}),
                 **(info[node["class_type"]]["input"].get("optional") or {})}
        for name, value in node["inputs"].items():
            spec = specs.get(name)
            if not isinstance(value, str) or spec is None or spec_type(spec) != "COMBO":
                continue
            options = spec[0] if isinstance(spec[0], list) else spec_options(spec).get("options") or []
            if value in options:
                continue
            if any(spec_options(spec).get(flag) for flag in INPUT_FLAGS):
                images.add(value)
            else:
                models.add(value)
    return models, images


def _place_files(base: Path, folders: list[str], models: set[str], images: set[str]) -> None:
    for folder in folders:
        if folder in NOT_MODELS:
            continue
        for name in models:
            path = base / "models" / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    for name in images:
        folder = "output" if name.endswith(" [output]") else "input"
        path = base / folder / name.removesuffix(f" [{folder}]")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in Image.registered_extensions():
            Image.new("RGB", (16, 16), (120, 80, 40)).save(path)
        else:  # a video or a sound: validation asks only that the file exists
            path.touch()


def test_every_converted_template_passes_the_servers_validation() -> None:
    paths = templates()
    assert len(paths) == TEMPLATES_COUNT, "the local templates are not installed: run scripts/setup.sh"
    server = start_template_server()
    try:
        base = server.workdir / "base"
        status, first = _call(server.url, "/object_info")
        assert status == 200
        require_audio_nodes(first)
        runnable: dict[str, dict[str, Any]] = {}
        lacking: dict[str, list[str]] = {}
        models: set[str] = set()
        images: set[str] = set()
        for path in paths:
            try:
                prompt = convert(load(path), Catalog(first), path.name)
            except UnknownNodeType as exc:
                lacking[path.name] = exc.types
                continue
            runnable[path.name] = prompt
            more_models, more_images = _missing_files(prompt, first)
            models |= more_models
            images |= more_images
        _place_files(base, _call(server.url, "/models")[1], models, images)
        info = _call(server.url, "/object_info")[1]
        catalog = Catalog(info)
        rejected: dict[str, Any] = {}
        for name in runnable:
            prompt = convert(load(next(p for p in paths if p.name == name)), catalog, name)
            prompt_id = str(uuid.uuid4())
            status, answer = _call(server.url, "/prompt", {"prompt": prompt, "client_id": "ui-accepts",
                                                           "prompt_id": prompt_id})
            _call(server.url, "/queue", {"delete": [prompt_id]})
            if status != 200 or answer.get("node_errors"):
                rejected[name] = answer
        # The control: the same server rejects a converted template naming a model it lacks.
        name, prompt = next(iter(runnable.items()))
        node, key = next((n, k) for n in prompt.values() for k, v in n["inputs"].items()
                         if isinstance(v, str) and v in models)
        node["inputs"][key] = "no-such-model.safetensors"
        status, answer = _call(server.url, "/prompt", {"prompt": prompt, "client_id": "ui-accepts"})
        assert status == 400 and "value_not_in_list" in json.dumps(answer), (name, answer)
        _call(server.url, "/queue", {"clear": True})
        _call(server.url, "/interrupt", {})
        # The command reads the same server's /object_info when given --url.
        done = subprocess.run([sys.executable, "-m", "comfy_plugin", "convert", str(paths[0]), "--url", server.url],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == convert(load(paths[0]), catalog, paths[0].name)
        accepted = len(runnable) - len(rejected)
        print(f"\naccepted by the server: {accepted} of {len(runnable)} converted templates "
              f"({len(lacking)} need node types the server lacks: {lacking})")
        assert rejected == {}, json.dumps(rejected, indent=1)[:4000]
        assert {name: set(types) for name, types in lacking.items()} == {
            name: types for name, (_reason, types) in NEEDS_CUSTOM_NODES.items()}
        assert accepted == TEMPLATES_COUNT - len(NEEDS_CUSTOM_NODES) == 110
    finally:
        server.stop()
