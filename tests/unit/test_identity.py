"""The device identity, launch flags, model-file fingerprints and what a baseline's provenance
says (server/identity.py, baselines/provenance.py), per-device sets in the store, and cold time
figures kept apart from warm ones."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from comfy_plugin.baselines.perf import PerfBaselines
from comfy_plugin.baselines.provenance import judged, provenance_line
from comfy_plugin.baselines.store import BaselineStore
from comfy_plugin.baselines.verdict import Verdict
from comfy_plugin.server import identity
from comfy_plugin.server.identity import (
    ModelFiles,
    Provenance,
    cpu_model,
    device_identity,
    fingerprint,
    folder_label,
    launch_flags,
    model_folders,
    model_loads,
    server_provenance,
)
from comfy_plugin.server.measure import cold_reason
from comfy_plugin.settings import BaselineSettings

GPU = {"devices": [{"name": "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync", "type": "cuda", "index": 0}]}
CPU = {"devices": [{"name": "cpu", "type": "cpu", "index": None}]}
MB = 1 << 20
WORKFLOW = {"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd/tiny.safetensors"}},
            "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "text": "a.safetensors lookalike"}},
            "6": {"class_type": "VAELoader", "inputs": {"vae_name": "vae.pt"}}}


def test_a_gpu_is_named_without_its_index_and_allocator_and_a_cpu_by_its_model_where_launched_here() -> None:
    assert device_identity(GPU, here=True) == device_identity(GPU, here=False) == "NVIDIA H100 80GB HBM3"
    assert device_identity(CPU, here=True) == f"cpu: {cpu_model()} ({os.cpu_count()} cores)"
    assert device_identity(CPU, here=False) == "cpu (remote server)"
    assert device_identity({}, here=True) == "unknown device"
    label = folder_label(device_identity(CPU, here=True))
    assert label.startswith("cpu-") and label.endswith("-cores") and set(label) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def test_launch_flags_keep_what_changes_the_computation_and_drop_places() -> None:
    argv = ["main.py", "--listen", "127.0.0.1", "--port", "8188", "--cpu", "--base-directory", "/tmp/x",
            "--fp16-vae", "--extra-model-paths-config=/a.yaml", "--listen", "--preview-method", "auto",
            "--reserve-vram", "2"]
    assert launch_flags(argv) == ("--cpu", "--fp16-vae", "--reserve-vram", "2")


def test_server_provenance_reads_system_stats() -> None:
    stats = {**CPU, "system": {"comfyui_version": "0.3.75", "pytorch_version": "2.5.1+cpu",
                               "argv": ["main.py", "--port", "1", "--cpu"]}}
    prov = server_provenance(stats, here=False, plugin="0.1.0")
    assert prov == Provenance("0.3.75", "2.5.1+cpu", "cpu (remote server)", ("cpu",), ("--cpu",), "0.1.0")
    assert prov.to_json()["models"].startswith("unknown") and Provenance.from_json(prov.to_json()) == prov
    here = server_provenance(stats, here=True, plugin="0.1.0").with_models({"a.safetensors": "3:ab"})
    assert here.cpu == cpu_model() and Provenance.from_json(json.loads(json.dumps(here.to_json()))) == here
    assert Provenance.from_json(None) is None and Provenance.from_json("x") is None


def test_a_fingerprint_digests_the_size_and_the_first_and_last_megabyte(tmp_path: Path) -> None:
    small = tmp_path / "small.safetensors"
    small.write_bytes(b"abc")
    assert fingerprint(small) == "3:" + hashlib.sha256(b"abc").hexdigest()[:16]
    big = tmp_path / "big.safetensors"
    data = bytearray(os.urandom(3 * MB))
    big.write_bytes(data)
    first = fingerprint(big)
    assert first.startswith(f"{3 * MB}:")
    data[int(1.5 * MB)] ^= 0xFF  # the middle is not read: cheap for a 5 GB file
    big.write_bytes(data)
    assert fingerprint(big) == first
    data[-1] ^= 0xFF
    big.write_bytes(data)
    assert fingerprint(big) != first
    data[-1] ^= 0xFF
    data[0] ^= 0xFF
    big.write_bytes(data)
    assert fingerprint(big) != first


def test_model_files_are_found_in_the_folders_and_fingerprinted_once(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folders = model_folders([{"name": "checkpoints", "folders": [str(tmp_path / "ckpt")]},
                             {"name": "vae", "folders": [str(tmp_path / "vae"), str(tmp_path / "ckpt")]}])
    assert folders == [tmp_path / "ckpt", tmp_path / "vae"]
    (tmp_path / "ckpt" / "sd").mkdir(parents=True)
    (tmp_path / "ckpt" / "sd" / "tiny.safetensors").write_bytes(b"weights")
    (tmp_path / "vae").mkdir()
    (tmp_path / "kept-elsewhere.pt").write_bytes(b"vae")
    (tmp_path / "vae" / "vae.pt").symlink_to(tmp_path / "kept-elsewhere.pt")  # a link is followed, as ComfyUI does
    (tmp_path / "secret.pt").write_bytes(b"outside")
    calls: list[Path] = []
    real = identity.fingerprint
    monkeypatch.setattr(identity, "fingerprint", lambda path: calls.append(path) or real(path))
    files = ModelFiles(folders)
    expected = {"sd/tiny.safetensors": real(tmp_path / "ckpt" / "sd" / "tiny.safetensors"),
                "vae.pt": real(tmp_path / "vae" / "vae.pt")}
    assert files.fingerprints(WORKFLOW) == expected
    assert files.fingerprints(WORKFLOW) == expected and len(calls) == 2
    outside = {"1": {"class_type": "X", "inputs": {"ckpt_name": "../secret.pt"}}}
    assert files.fingerprints(outside) == {}  # a name that leaves the folders is not read


def test_a_prompt_is_cold_when_a_loader_node_ran() -> None:
    assert model_loads(WORKFLOW, []) == ["4", "6"]
    assert cold_reason(WORKFLOW, ["4"]) == "it loaded a model (node 6)"
    assert cold_reason(WORKFLOW, ["4", "6"]) == ""


RECORDED = Provenance("0.3.70", "2.4.1", "NVIDIA H100", ("cuda:0 NVIDIA H100",), ("--fp16-vae",), "0.1.0",
                      "", {"tiny.safetensors": "10:aa"})


def test_the_provenance_line_names_what_differs_and_a_changed_model_makes_a_changed_test() -> None:
    now = replace(RECORDED, comfyui="0.3.75", torch="2.5.1")
    assert provenance_line(RECORDED, RECORDED) == ""
    assert provenance_line(RECORDED, now) == ("recorded on ComfyUI 0.3.70, torch 2.4.1; "
                                              "this run on ComfyUI 0.3.75, torch 2.5.1")
    diff = Verdict("diff", "image 0 differs")
    first = judged(diff, RECORDED.to_json(), now)
    assert first.status == "diff"
    assert first.message.splitlines()[0] == first.provenance == provenance_line(RECORDED, now)
    assert judged(Verdict("match", "ok"), RECORDED.to_json(), now).provenance == ""  # only failures say it
    other_model = RECORDED.with_models({"tiny.safetensors": "10:bb"})
    changed = judged(diff, RECORDED.to_json(), other_model)
    assert changed.status == "changed-test" and "model tiny.safetensors 10:aa" in changed.provenance
    assert "a changed test" in changed.message
    unknown = RECORDED.with_models(None)  # a server given by URL: model files unknown, not compared
    assert judged(diff, RECORDED.to_json(), unknown) == diff
    assert judged(diff, None, now) == diff  # a baseline recorded before provenance was kept


SETTINGS = BaselineSettings(update=True, prune=False, root=Path("baselines"), env=None, missing="pass",
                            hash="phash-8", threshold=None, fresh=False)


def test_cold_figures_are_kept_and_compared_apart_from_warm_ones(tmp_path: Path) -> None:
    (tmp_path / "batches").mkdir()
    batch = tmp_path / "batches" / "b.json"
    batch.write_text("{}")
    (tmp_path / "baselines").mkdir()
    # a version 1 file: its figures are read as warm ones
    (tmp_path / "baselines" / "b.perf.json").write_text(json.dumps(
        {"version": 1, "devices": {"gpu": {"p": {"execution_s": 1.0}}}}))
    settings = replace(SETTINGS, root=tmp_path / "baselines")
    store = BaselineStore(settings.root, tmp_path)
    perf = PerfBaselines(settings, store)
    assert perf.check("n1", batch, "p", "gpu", {"execution_s": 9.0}, cold="it loaded a model (node 4)",
                      provenance={"device": "gpu"}).status == "recorded"
    assert perf.check("n2", batch, "p", "gpu", {"execution_s": 1.1}).status == "ok"  # warm: within tolerance
    perf.finish()
    document = json.loads((tmp_path / "baselines" / "b.perf.json").read_text())
    assert document == {"version": 2, "devices": {"gpu": {"warm": {"p": {"execution_s": 1.0}},
                                                          "cold": {"p": {"execution_s": 9.0}},
                                                          "provenance": {"device": "gpu"}}}}
    compare = PerfBaselines(replace(settings, update=False), store)
    assert compare.check("n1", batch, "p", "gpu", {"execution_s": 9.5}, cold="loaded").status == "ok"
    slower = compare.check("n2", batch, "p", "gpu", {"execution_s": 9.5})
    assert slower.status == "slower" and "against 1.00 s" in slower.message


def test_a_device_set_holds_its_own_entries_over_the_shared_ones(tmp_path: Path) -> None:
    (tmp_path / "batches").mkdir()
    batch = tmp_path / "batches" / "b.json"
    batch.write_text("{}")
    store = BaselineStore(tmp_path / "baselines", tmp_path, env="auto")
    shared = store.shared_path(batch)
    assert store.baseline_path(batch) == shared == tmp_path / "baselines" / "b.json"  # no device known yet
    shared.parent.mkdir()
    entry = {"algorithm": "phash", "hash": "0" * 16, "hash_size": 8, "width": 8, "height": 8, "contrast": 1.0,
             "workflow_digest": ""}
    shared.write_text(json.dumps({"format": 1, "baselines": {"a": [entry], "b": [entry]},
                                  "provenance": {"a": {"device": "cpu"}, "b": {"device": "cpu"}}}))
    store.use_device("NVIDIA H100")
    own = store.baseline_path(batch)
    assert own == tmp_path / "baselines" / "NVIDIA-H100" / "b.json"
    own.parent.mkdir()
    own.write_text(json.dumps({"format": 1, "baselines": {"b": [{**entry, "hash": "f" * 16}]}}))
    entries, provenance = store.load_all(batch)
    assert sorted(entries) == ["a", "b"] and provenance == {"a": {"device": "cpu"}}  # b: the device's, none kept
    assert store.sets_of({"x": [], "y": []}, {"x": {"device": "Other GPU"}}) == {"Other-GPU": {"x": []},
                                                                                 "NVIDIA-H100": {"y": []}}
    assert BaselineStore(tmp_path / "baselines", tmp_path, env="cuda").sets_of({"x": []}, {}) == {"cuda": {"x": []}}
