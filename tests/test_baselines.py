"""Perceptual-hash baselines through the plugin, against the real server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from comfy_plugin.media.still.entries import observe
from comfy_plugin.baselines.store import BaselineStore
from conftest import Project, noise_batch, start_comfyui

FAIL = "--comfy-missing-baseline=fail"


def regression_batch(**prompt_changes) -> dict:
    return noise_batch([
        {"id": "fixed", "seed": 11, **prompt_changes},
        {"id": "pair", "seed": 12, "batch_size": 2},
        {"id": "drawn", "seed": "random"},
    ])


def stored(project: Project, name: str = "reg.json", env: str = "") -> dict:
    folder = project.path / "baselines" / env if env else project.path / "baselines"
    return json.loads((folder / name).read_text())["baselines"]


def test_missing_baseline_fails_with_a_hint_and_random_prompts_are_not_compared(project: Project) -> None:
    project.batch("reg.json", regression_batch())
    result = project.run("batches/", FAIL, "-rA")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*no baseline for this prompt (1 image(s))*",
        "*record one with --comfy-update-baselines (or --comfy-missing-baseline=write)*",
    ])
    result.stdout.fnmatch_lines(['*baseline: not-compared: not compared with a baseline: seed is "random"*'])
    assert not (project.path / "baselines").exists()
    project.run("batches/", "--comfy-missing-baseline=skip").assert_outcomes(passed=1, skipped=2)


def test_update_then_compare_then_a_changed_test_is_named(project: Project) -> None:
    project.batch("reg.json", regression_batch())
    result = project.run("batches/", "--comfy-update-baselines")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*wrote */baselines/reg.json*"])
    entries = stored(project)
    assert sorted(entries) == ["fixed", "pair"], "random prompts get no baseline"
    assert len(entries["pair"]) == 2
    assert entries["fixed"][0]["seed"] == 11 and entries["fixed"][0]["width"] == 32
    thumbs = sorted(p.name for p in (project.path / "baselines" / "reg.thumbs").iterdir())
    assert thumbs == ["fixed_0.png", "pair_0.png", "pair_1.png"]
    refs = {p.name for p in (project.path / "baselines" / "reg.refs").iterdir()}
    assert {Path(e["reference"]).name for es in entries.values() for e in es} == refs and len(refs) == 3

    result = project.run("batches/", FAIL, "-m", "comfy_regression")
    result.assert_outcomes(passed=2, deselected=1)

    project.batch("reg.json", regression_batch(seed=99))
    result = project.run("batches/", FAIL)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "image 0 differs from its baseline: *",
        "  but the prompt's parameters changed since the baseline was recorded (seed: 11 -> 99)*",
        "*baseline: */baselines/reg.thumbs/fixed_0.png*",
        "*new: */images/T_fixed_*.png*",
    ])


def test_a_regression_fails_with_distance_threshold_and_both_images(project: Project) -> None:
    project.batch("reg.json", regression_batch())
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=3)
    path = project.path / "baselines" / "reg.json"
    document = json.loads(path.read_text())
    entry = document["baselines"]["fixed"][0]
    entry["hash"] = format(int(entry["hash"], 16) ^ 0xFFFF, "016x")  # 16 bits off: a changed picture
    entry.pop("sha256", None)  # of another picture: its bytes are not the output's
    path.write_text(json.dumps(document))
    result = project.run("batches/", FAIL, "-k", "fixed", "--junitxml=r.xml")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(["image 0 differs from its baseline: phash-8 distance 16 > 6*"])
    assert "a changed test" not in result.stdout.str()
    assert 'name="hash_distance" value="16"' in (project.path / "r.xml").read_text()
    assert 'name="hash_threshold" value="6"' in (project.path / "r.xml").read_text()
    project.run("batches/", FAIL, "-k", "fixed", "--comfy-threshold", "16").assert_outcomes(passed=1, deselected=2)


def test_image_count_change_and_update_of_a_selection(project: Project) -> None:
    project.batch("reg.json", regression_batch())
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=3)
    before = stored(project)
    project.batch("reg.json", noise_batch([{"id": "fixed", "seed": 11}, {"id": "pair", "seed": 12, "batch_size": 3},
                                           {"id": "drawn", "seed": "random"}]))
    result = project.run("batches/", FAIL)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["the prompt produced 3 image(s), its baseline holds 2",
                                 "  but the prompt's parameters changed since the baseline was recorded*"])
    result = project.run("batches/", "--comfy-update-baselines", "-k", "pair")
    result.assert_outcomes(passed=1, deselected=2)
    after = stored(project)
    assert len(after["pair"]) == 3
    assert after["fixed"] == before["fixed"], "prompts outside the selection are untouched"


def test_stale_baselines_are_listed_and_pruned(project: Project) -> None:
    project.batch("reg.json", regression_batch())
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=3)
    project.batch("reg.json", noise_batch([{"id": "fixed", "seed": 11}]))
    result = project.run("batches/", FAIL)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["stale baselines in batches/reg.json (no such prompt any more): pair",
                                 "*--comfy-update-baselines --comfy-prune-baselines*"])
    project.run("batches/", "--comfy-update-baselines", "--comfy-prune-baselines").assert_outcomes(passed=1)
    assert sorted(stored(project)) == ["fixed"]
    assert sorted(p.name for p in (project.path / "baselines" / "reg.thumbs").iterdir()) == ["fixed_0.png"]


def test_environment_label_and_folder_keep_separate_sets(project: Project) -> None:
    project.batch("reg.json", regression_batch())
    project.run("batches/", "--comfy-update-baselines", "--comfy-baseline-env", "cpu").assert_outcomes(passed=3)
    assert sorted(stored(project, env="cpu")) == ["fixed", "pair"]
    assert not (project.path / "baselines" / "reg.json").exists()
    project.run("batches/", FAIL, "--comfy-baseline-env", "cpu").assert_outcomes(passed=3)
    project.run("batches/", FAIL, "--comfy-baselines", "elsewhere").assert_outcomes(passed=1, failed=2)


def test_per_batch_and_per_prompt_hash_settings(project: Project) -> None:
    batch = regression_batch()
    batch["parameters"]["baseline"] = {"hash": "dhash-16"}
    batch["prompts"][0]["baseline"] = {"hash": "ahash-8", "threshold": 3}
    project.batch("reg.json", batch)
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=3)
    entries = stored(project)
    assert (entries["fixed"][0]["algorithm"], entries["fixed"][0]["hash_size"]) == ("ahash", 8)
    assert (entries["pair"][0]["algorithm"], entries["pair"][0]["hash_size"]) == ("dhash", 16)


def test_served_from_cache_is_marked_and_fresh_clears_it(project: Project) -> None:
    project.batch("once.json", noise_batch([{"id": "cached", "seed": 77, "width": 40}]))
    project.run("batches/").assert_outcomes(passed=1)
    result = project.run("batches/", "-rA")
    result.stdout.fnmatch_lines(["*served wholly from ComfyUI's cache (--comfy-fresh clears it)*"])
    result = project.run("batches/", "-rA", "--comfy-fresh")
    result.assert_outcomes(passed=1)
    assert "served wholly from ComfyUI's cache" not in result.stdout.str()


def test_project_hook_adds_its_own_image_check(project: Project) -> None:
    project.pytester.makeconftest("""
from PIL import Image
import io
def pytest_comfy_check_images(item, images):
    for image in images:
        grey = Image.open(io.BytesIO(image.data)).convert("L")
        mean = sum(grey.getdata()) / (grey.width * grey.height)
        assert mean > 200, f"{item.spec.id}: too dark (mean brightness {mean:.0f})"
""")
    project.batch("dark.json", noise_batch([{"id": "dark", "seed": 1}]))
    result = project.run("batches/")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: dark: too dark (mean brightness *)*"])


def test_comfy_fixture_runs_a_workflow_from_a_python_test(project: Project) -> None:
    workflow = json.loads((project.path / "workflows-files" / "noise-image-api.json").read_text())
    project.pytester.makepyfile(test_direct=f"""
import io, json
from PIL import Image
def test_noise(comfy):
    workflow = json.loads({json.dumps(json.dumps(workflow))})
    workflow["1"]["inputs"].update(width=24, height=16)
    run = comfy.run(workflow)
    [image] = run.images
    assert Image.open(io.BytesIO(image)).size == (24, 16)
    assert comfy.client.history(run.prompt_id)["status"]["status_str"] == "success"
""")
    project.run("test_direct.py").assert_outcomes(passed=1)


def test_a_missing_baseline_passes_by_default_and_the_summary_says_how_to_record_it(project: Project) -> None:
    project.batch("reg.json", regression_batch())
    result = project.run("batches/", "--comfy-missing-baseline=pass", "-rA")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*no baseline yet for this prompt (1 image(s)); record one with: "
        "pytest batches/reg.json::fixed --comfy-update-baselines*",
        "prompts: 2 missing, 1 not-compared",
        "2 prompt(s) have no baseline yet: record them with: pytest batches/reg.json --comfy-update-baselines",
    ])
    assert not (project.path / "baselines").exists()


def test_a_text_that_says_random_is_compared(project: Project) -> None:
    """Only a seed key's "random" draws a seed; this prompt's text is the word, its seed fixed."""
    project.batch("reg.json", noise_batch([{"id": "word", "seed": 5, "positive_prompt": "random"}]))
    result = project.run("batches/", FAIL, "-m", "comfy_regression")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no baseline for this prompt (1 image(s))*"])


def test_xdist_workers_verdicts_and_results_reach_the_controller(project: Project) -> None:
    """One file's prompts spread over two workers (--dist load): the controller counts every
    prompt and writes the file once, with every worker's entries."""
    project.batch("spread.json", noise_batch([{"id": f"p{i}", "seed": i} for i in range(4)]))
    result = project.run("batches/", "-n", "2", "--dist", "load", "--comfy-update-baselines", "-v")
    result.assert_outcomes(passed=4)
    workers = {line.split("]")[0] for line in result.stdout.lines if "PASSED" in line and line.startswith("[gw")}
    assert workers == {"[gw0", "[gw1"}, "the prompts ran on both workers"
    result.stdout.fnmatch_lines(["prompts: 4 recorded", "wrote */baselines/spread.json"])
    assert sorted(stored(project, "spread.json")) == ["p0", "p1", "p2", "p3"]
    document = json.loads((project.path / "baselines" / "spread.json").read_text())
    document["baselines"]["p3"][0]["hash"] = format(int(document["baselines"]["p3"][0]["hash"], 16) ^ 0xFF, "016x")
    document["baselines"]["p3"][0].pop("sha256", None)  # of another picture: its bytes are not the output's
    (project.path / "baselines" / "spread.json").write_text(json.dumps(document))
    result = project.run("batches/", "-n", "2", "--dist", "load", FAIL)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["prompts: 1 diff, 3 match", "  hash distance 8 (threshold 6)  *spread.json::p3*"])


# -- the generated SD1.5-shaped checkpoint: what the default metrics pass and fail ---------------------


def sd_batch(prompts: list[dict]) -> dict:
    return {"parameters": {
        "workflow_file": "../workflows-files/tiny-sd15-txt2img-api.json",
        "workflow_items": {"positive_prompt": "6,inputs,text", "seed": "3,inputs,seed"},
        "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "SD"},
    }, "prompts": prompts}


SD_PROMPTS = [{"id": "cat", "positive_prompt": "a cat wearing a hat", "seed": 42},
              {"id": "lighthouse", "positive_prompt": "a lighthouse at night", "seed": 43}]


def saved(project: Project, prompt_id: str) -> list[Path]:
    return [p for p in project.images() if f"_{prompt_id}_" in p.name]


def test_the_checkpoint_on_a_server_that_computes_another_way_matches(project: Project, monkeypatch) -> None:
    """Harmless variants change the arithmetic, not the picture: one thread instead of two,
    split attention instead of sub-quadratic, bf16 VAE and UNet instead of fp32 (all at once, the
    largest difference of bench/baseline_study.py's), on a server of its own."""
    project.batch("sd.json", sd_batch(SD_PROMPTS))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    other = start_comfyui(("--use-split-cross-attention", "--bf16-vae", "--bf16-unet"))
    try:
        result = project.run("batches/", "--comfy-missing-baseline=fail", "-rA", url=other.url)
    finally:
        other.stop()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*baseline: match: image 0 matches its baseline: phash-8 distance*",
                                 "*ssim * (SSIM *; threshold 0.12), ssim_tile * ciede2000 * ciede2000_tile *"])
    for prompt in ("cat", "lighthouse"):
        first, second = (np.asarray(Image.open(p).convert("RGB"), dtype=np.int16) for p in saved(project, prompt))
        assert np.abs(first - second).max() > 0, "the servers' images differ: a real numeric difference"


def patched(pixels: np.ndarray) -> np.ndarray:
    """3 % of the area (11x11 of 64x64) replaced by a smooth blob of its own mean colour."""
    out = pixels.astype(np.float64)
    out[30:41, 20:31] = out[30:41, 20:31].mean(axis=(0, 1))
    return out


def hue_rotated(pixels: np.ndarray) -> np.ndarray:
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(pixels)
    hsv[..., 0] = (hsv[..., 0] + 15 / 360) % 1.0
    return np.rint(hsv2rgb(hsv) * 255)


def brighter(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(ImageEnhance.Brightness(Image.fromarray(pixels)).enhance(1.05), dtype=np.float64)


@pytest.mark.parametrize("change, expected", [
    (patched, "*ssim_tile distance * > 0.15 (worst tile: SSIM *)*"),
    (hue_rotated, "*ciede2000 mean * > 1*"),
    (brighter, "*ciede2000 mean * > 1*"),
], ids=["patch-3-percent", "hue-15-degrees", "brightness-5-percent"])
def test_a_local_patch_a_hue_rotation_and_a_brightness_change_fail(project: Project, change, expected) -> None:
    """The baseline is the checkpoint's real output changed on the client; the rerun is the real
    output: the comparison is the one a regression would meet, seen from the other side."""
    project.batch("sd.json", sd_batch(SD_PROMPTS[:1]))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)
    store = BaselineStore(project.path / "baselines", project.path)
    batch_file = project.path / "batches" / "sd.json"
    [entry] = store.load(batch_file)["cat"]
    [image] = saved(project, "cat")
    out = io.BytesIO()
    Image.fromarray(np.clip(change(np.asarray(Image.open(image).convert("RGB"))), 0, 255).astype(np.uint8)).save(
        out, format="PNG")
    store.write(batch_file, {"cat": [observe(out.getvalue(), seed=entry.seed, workflow_digest=entry.workflow_digest,
                                             params=entry.params)]})
    result = project.run("batches/", "--comfy-missing-baseline=fail")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["image 0 differs from its baseline: " + expected,
                                 "  phash-8 distance * (threshold 6), colour * (threshold 2), sharpness * (threshold 3)",
                                 "  ssim * (SSIM *; threshold 0.12), ssim_tile * (*threshold 0.15), "
                                 "ciede2000 * (mean dE2000; threshold 1), ciede2000_tile * (*threshold 1.5)"])
    assert "a changed test" not in result.stdout.str()
