"""The manifest's models fetched into the cache from a real HTTP server (tests/model_server.py)
serving the generated checkpoint: a fresh fetch, a cached rerun that downloads nothing, a wrong
digest that keeps nothing, a connection dropped mid-file (resumed, or fetched again where the
server ignores Range); and through the plugin, a failed fetch is one line and launches nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from model_server import serving

from comfy_plugin.errors import ModelFetchFailed
from comfy_plugin.server.models import ModelFile, fetch
from conftest import ROOT, Project, noise_batch

CHECKPOINT = ROOT / ".comfyui" / "models" / "checkpoints" / "tiny-sd15.safetensors"


@pytest.fixture(scope="module")
def checkpoint() -> tuple[Path, str]:
    if not CHECKPOINT.is_file():
        pytest.fail(f"no {CHECKPOINT}: run scripts/setup.sh first", pytrace=False)
    digest = (CHECKPOINT.parent / (CHECKPOINT.name + ".sha256")).read_text().split()[0]
    return CHECKPOINT, digest


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def everything_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_a_fresh_fetch_then_a_cached_rerun_downloads_once(checkpoint: tuple[Path, str], tmp_path: Path) -> None:
    path, digest = checkpoint
    said: list[str] = []
    with serving({"/m/tiny.safetensors": path}) as served:
        model = ModelFile("checkpoints", "SD1.5/tiny.safetensors", served.url + "/m/tiny.safetensors", digest)
        [fetched] = fetch([model], tmp_path / "cache", said.append)
        assert fetched == tmp_path / "cache" / "checkpoints" / "SD1.5" / "tiny.safetensors"
        assert sha256(fetched) == digest
        assert everything_in(tmp_path / "cache") == ["checkpoints", "checkpoints/SD1.5",
                                                     "checkpoints/SD1.5/tiny.safetensors"]
        assert said[0] == f"downloading model checkpoints/SD1.5/tiny.safetensors (465.1 MB) from {served.url[7:]}"
        inode = fetched.stat().st_ino
        said.clear()
        assert fetch([model], tmp_path / "cache", said.append) == [fetched]
        assert served.count("/m/tiny.safetensors") == 1, served.requests
        assert fetched.stat().st_ino == inode and said == []


def test_a_wrong_digest_is_one_line_and_keeps_nothing(checkpoint: tuple[Path, str], tmp_path: Path) -> None:
    path, digest = checkpoint
    wrong = "0" * 64
    with serving({"/tiny.safetensors": path}) as served:
        model = ModelFile("checkpoints", "tiny.safetensors", served.url + "/tiny.safetensors", wrong)
        with pytest.raises(ModelFetchFailed) as caught:
            fetch([model], tmp_path / "cache", lambda _: None)
    message = str(caught.value)
    assert message == (f"model checkpoints/tiny.safetensors from {served.url}/tiny.safetensors: its sha256 is "
                       f"{digest}, the manifest says {wrong}; not kept")
    assert everything_in(tmp_path / "cache") == ["checkpoints"]


@pytest.mark.parametrize("ranges", [True, False], ids=["resumed", "from-the-start"])
def test_a_connection_dropped_mid_file_ends_with_the_whole_file(checkpoint: tuple[Path, str], tmp_path: Path,
                                                                ranges: bool) -> None:
    path, digest = checkpoint
    said: list[str] = []
    with serving({"/tiny.safetensors": path}, ranges=ranges, drops=1, drop_at=100_000_000) as served:
        model = ModelFile("checkpoints", "tiny.safetensors", served.url + "/tiny.safetensors", digest)
        [fetched] = fetch([model], tmp_path / "cache", said.append)
    assert sha256(fetched) == digest
    first, second = (r["range"] for r in served.requests)  # two requests: the cut one, the one that finished
    resumed_at = int(second.removeprefix("bytes=").removesuffix("-"))
    assert first == "" and 90_000_000 < resumed_at <= 100_000_000  # from the last whole chunk written
    assert said[1].startswith("model checkpoints/tiny.safetensors: the connection broke (ChunkedEncodingError)")
    assert said[1].endswith(f"at {resumed_at / 1e6:.1f} MB; resuming"), said
    assert said.count(f"downloading model checkpoints/tiny.safetensors (465.1 MB) from {served.url[7:]}") \
        == (1 if ranges else 2), said
    assert everything_in(tmp_path / "cache") == ["checkpoints", "checkpoints/tiny.safetensors"]


def test_a_failed_fetch_fails_every_prompt_once_and_launches_nothing(offline_project: Project, tmp_path: Path) -> None:
    """Through the plugin: the manifest's model cannot be had (404), so no ComfyUI is started
    (the folder named has none: a launch would fail otherwise), the summary says why once."""
    p = offline_project
    p.batch("two.json", noise_batch([{"id": "a", "seed": 1}, {"id": "b", "seed": 2}]))
    with serving({}) as served:
        (p.path / "models.json").write_text(json.dumps({"models": [
            {"folder": "checkpoints", "file": "gone.safetensors", "url": served.url + "/gone.safetensors",
             "sha256": "1" * 64}]}))
        p.pytester.makeini(f"[pytest]\ncomfy_models = models.json\ncomfy_model_cache = {tmp_path / 'cache'}\n")
        result = p.pytester.runpytest("batches/", "-p", "no:cacheprovider", "--comfy-launch",
                                      str(tmp_path / "no-comfyui"), "--comfy-fetch-models")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert out.count(f"ComfyUI at {tmp_path / 'no-comfyui'}: not launched: model checkpoints/gone.safetensors "
                     f"from {served.url}/gone.safetensors: HTTP 404 Not Found") == 1, out
    assert "launching ComfyUI" not in out and "Traceback" not in out
    assert everything_in(tmp_path / "cache") == ["checkpoints"]


LOADER_WORKFLOW = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny-sd15.safetensors"}},
    "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
    "4": {"class_type": "OwnMarker", "inputs": {"image": ["3", 0], "ckpt_name": "tiny-sd15.safetensors",
                                                "corner": 0}},
    "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "lacks"}},
}


def test_check_lists_in_one_block_what_the_server_lacks(project: Project) -> None:
    """--comfy-check against the suite's server (custom nodes disabled): two prompts name two
    checkpoints it lacks, one listed in the manifest, and a node type it lacks; one block names
    each once, with the prompts that need it."""
    p = project
    (p.path / "workflows-files" / "lacks.json").write_text(json.dumps(LOADER_WORKFLOW))
    p.batch("lacks.json", {"parameters": {"workflow_file": "../workflows-files/lacks.json",
                                          "workflow_items": {"checkpoint": "1,inputs,ckpt_name"}},
                           "prompts": [{"id": "listed", "checkpoint": "SD1.5/in-manifest.safetensors"},
                                       {"id": "unlisted", "checkpoint": "nowhere.safetensors"},
                                       {"id": "again", "checkpoint": "nowhere.safetensors"}]})
    (p.path / "models.json").write_text(json.dumps({"models": [
        {"folder": "checkpoints", "file": "SD1.5/in-manifest.safetensors", "url": "https://example.org/m.safetensors",
         "sha256": "2" * 64}]}))
    p.pytester.makeini("[pytest]\ncomfy_models = models.json\n")
    result = p.run("batches/", "--comfy-check")
    result.assert_outcomes(skipped=3)
    out = result.stdout.str()
    block = out[out.index("what the server lacks (--comfy-check)"):].split("\n==")[0].splitlines()[1:]
    f = "batches/lacks.json::"
    assert block == [
        f"node type 'OwnMarker': needed by 3 prompt(s): {f}listed, {f}unlisted, {f}again",
        "  a custom node not installed on the server?",
        f"model 'SD1.5/in-manifest.safetensors': needed by 1 prompt(s): {f}listed",
        "  in the manifest (checkpoints/SD1.5/in-manifest.safetensors from https://example.org/m.safetensors): "
        "--comfy-fetch-models downloads it for a launched server",
        f"model 'nowhere.safetensors': needed by 2 prompt(s): {f}unlisted, {f}again",
        f"  not in the manifest {p.path / 'models.json'}",
    ], out
