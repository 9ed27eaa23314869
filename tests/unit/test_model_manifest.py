"""The model manifest (docs/own-comfyui.md) read and checked, every problem named at once; the
folders a launch is given for it. Fetching itself: tests/test_models_fetch.py (a real HTTP server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfy_plugin.errors import ModelManifestError
from comfy_plugin.server.models import ModelFile, default_cache, manifest_folders, read_manifest
from comfy_plugin.settings import Settings

GOOD = {"folder": "checkpoints", "file": "SD1.5/a.safetensors", "url": "https://example.org/a", "sha256": "A" * 64}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "models.json"
    path.write_text(json.dumps(data))
    return path


def test_a_good_manifest_is_read(tmp_path: Path) -> None:
    manifest = read_manifest(write(tmp_path, {"models": [GOOD, {**GOOD, "folder": "loras", "file": "b.pt"}]}))
    assert manifest.models[0] == ModelFile("checkpoints", "SD1.5/a.safetensors", "https://example.org/a", "a" * 64)
    assert manifest.folders == ["checkpoints", "loras"]
    assert manifest.lists("SD1.5\\a.safetensors") == manifest.models[0] and manifest.lists("a.safetensors") is None
    assert manifest.models[0].path_in(tmp_path) == tmp_path / "checkpoints" / "SD1.5" / "a.safetensors"


def test_every_problem_is_named_at_once(tmp_path: Path) -> None:
    bad = [{**GOOD, "folder": "../up"}, {**GOOD, "file": "../../etc/passwd"}, {**GOOD, "url": "file:///x"},
           {**GOOD, "sha256": "abc"}, {"folder": "checkpoints"}, {**GOOD, "file": "/abs.ckpt"}]
    with pytest.raises(ModelManifestError) as caught:
        read_manifest(write(tmp_path, {"models": bad}))
    assert str(caught.value).splitlines() == [
        f"model manifest {tmp_path / 'models.json'}:",
        "- models[0].folder: '../up' is not a folder name such as checkpoints",
        "- models[1].file: '../../etc/passwd' must stay inside its folder (subfolders with /)",
        "- models[2].url: 'file:///x' is not an http or https URL",
        "- models[3].sha256: not 64 hexadecimal digits",
        "- models[4]: needs the strings folder, file, url and sha256",
        "- models[5].file: '/abs.ckpt' must stay inside its folder (subfolders with /)",
    ]


@pytest.mark.parametrize(("text", "says"), [("[]", 'expected {"models": [...]}'), ("{", "not JSON")])
def test_a_manifest_of_another_shape_is_one_error(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "models.json").write_text(text)
    with pytest.raises(ModelManifestError) as caught:
        read_manifest(tmp_path / "models.json")
    assert str(caught.value).startswith(f"model manifest {tmp_path / 'models.json'}: {says}")


def test_a_launch_sees_the_caches_folders_without_fetching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    settings = Settings(urls=("http://x:1",), launch=tmp_path, python=None, launch_args="", seed=None,
                        model_paths=None, timeout_s=1.0, missing="skip", prefetch=0, batch_dirs=(),
                        models=write(tmp_path, {"models": [GOOD]}))
    assert default_cache() == tmp_path / "xdg" / "comfy-plugin" / "models"
    assert manifest_folders(settings) == {"checkpoints": default_cache() / "checkpoints"}
    assert not default_cache().exists()  # nothing fetched without --comfy-fetch-models


def test_fetching_without_a_manifest_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--comfy-fetch-models", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --comfy-fetch-models: no model manifest to fetch from: name one with "
                                 "--comfy-models PATH (ini comfy_models; docs/own-comfyui.md)"])
