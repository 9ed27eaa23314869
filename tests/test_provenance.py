"""Provenance in baselines, on the real server: each entry keeps where it was recorded; a failing
comparison recorded elsewhere says so first (terminal and HTML report); a model file replaced
under the same name makes a difference a changed test; a plain rerun rewrites nothing. One test
uses the suite's server (a server given by URL), one launches its own with a model folder it
controls (about 40 s: two launches, each loading the generated checkpoint)."""

from __future__ import annotations

import json
import shutil

from comfy_plugin.server.identity import fingerprint
from comfy_plugin.server.launcher import default_python
from conftest import COMFY_DIR, CPU_ARGS, ROOT, Project, noise_batch

FAIL = "--comfy-missing-baseline=fail"
CHECKPOINT = ROOT / ".comfyui" / "models" / "checkpoints" / "tiny-sd15.safetensors"
MB = 1 << 20


def test_a_failure_recorded_on_another_comfyui_says_so_first(project: Project) -> None:
    project.batch("prov.json", noise_batch([{"id": "fixed", "seed": 3}]))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)
    path = project.path / "baselines" / "prov.json"
    document = json.loads(path.read_text())
    recorded = document["provenance"]["fixed"]
    assert recorded["device"] == "cpu (remote server)" and recorded["comfyui"] == "0.3.75"
    assert recorded["models"].startswith("unknown") and "--cpu" in recorded["flags"]
    assert not any(flag.startswith("--port") for flag in recorded["flags"]), recorded
    recorded.update(comfyui="0.3.70", torch="2.14.1")
    entry = document["baselines"]["fixed"][0]
    entry["hash"] = format(int(entry["hash"], 16) ^ 0xFFFF, "016x")  # a changed picture
    entry.pop("sha256", None)
    path.write_text(json.dumps(document))

    result = project.run("batches/", FAIL, "--comfy-report", "report.html")
    result.assert_outcomes(failed=1)
    line = f"recorded on ComfyUI 0.3.70, torch 2.14.1; this run on ComfyUI 0.3.75, torch {'*'}"
    result.stdout.fnmatch_lines([f"*{line}", "image 0 differs from its baseline: *"])
    assert "a changed test" not in result.stdout.str()  # only a model file changes the verdict
    assert "recorded on ComfyUI 0.3.70, torch 2.14.1; this run on ComfyUI 0.3.75" in \
        (project.path / "report.html").read_text()


def test_a_replaced_model_file_is_a_changed_test_and_a_plain_rerun_writes_nothing(offline_project: Project) -> None:
    p = offline_project
    folder = p.path / "models" / "checkpoints"
    folder.mkdir(parents=True)
    model = folder / CHECKPOINT.name
    model.symlink_to(CHECKPOINT)
    paths = p.path / "model_paths.yaml"
    paths.write_text(f"test:\n    base_path: {p.path / 'models'}\n    checkpoints: checkpoints\n")
    p.copy_batch("tiny-sd15-txt2img.json")
    args = ("batches/", "-p", "no:cacheprovider", "-k", "lighthouse", FAIL, f"--comfy-launch={COMFY_DIR}",
            f"--comfy-python={default_python(ROOT)}", f"--comfy-launch-args={' '.join(CPU_ARGS)}",
            f"--comfy-model-paths={paths}")
    p.pytester.runpytest(*args, "--comfy-update-baselines").assert_outcomes(passed=1, deselected=3)
    baseline = p.path / "baselines" / "tiny-sd15-txt2img.json"
    recorded = json.loads(baseline.read_text())["provenance"]["a-lighthouse-at-night"]
    assert recorded["models"] == {CHECKPOINT.name: fingerprint(CHECKPOINT)}
    assert recorded["device"].startswith("cpu: ") and recorded["cpu"]
    written = (baseline.read_bytes(), baseline.stat().st_mtime_ns)

    # Another file under the same name: its last megabyte (the UNet's time embedding) negated.
    model.unlink()
    shutil.copyfile(CHECKPOINT, model)
    with open(model, "r+b") as handle:
        handle.seek(-MB, 2)
        tail = bytearray(handle.read())
        tail[1::2] = bytes(b ^ 0x80 for b in tail[1::2])  # each float16's sign bit
        handle.seek(-MB, 2)
        handle.write(tail)
    result = p.pytester.runpytest(*args)
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines([f"*recorded on model {CHECKPOINT.name} {fingerprint(CHECKPOINT)}; "
                                 f"this run on model {CHECKPOINT.name} {fingerprint(model)}",
                                 "image 0 differs from its baseline: *",
                                 "*a model file changed: a changed test, not necessarily a regression*",
                                 "baseline: changed-test: *", "prompts: 1 changed-test*"])
    assert (baseline.read_bytes(), baseline.stat().st_mtime_ns) == written, "a plain run writes no baseline"
