"""Perceptual-hash baselines through the plugin, against the real server."""

from __future__ import annotations

import json

import pytest

from conftest import Project, noise_batch

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
    result.stdout.fnmatch_lines(['*baseline: not-compared: not compared with a baseline: a value is "random"*'])
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


@pytest.mark.parametrize("workers", ["2"])
def test_xdist_workers_results_are_written_once_by_the_controller(project: Project, workers: str) -> None:
    for name in ("left", "right"):
        project.batch(f"{name}.json", noise_batch([{"id": f"{name}-{i}", "seed": i} for i in range(2)]))
    result = project.run("batches/", "-n", workers, "--dist", "loadfile", "--comfy-update-baselines")
    result.assert_outcomes(passed=4)
    assert sorted(stored(project, "left.json")) == ["left-0", "left-1"]
    assert sorted(stored(project, "right.json")) == ["right-0", "right-1"]
    result.stdout.fnmatch_lines(["*wrote */baselines/left.json*", "*wrote */baselines/right.json*"])
    project.run("batches/", "-n", workers, FAIL).assert_outcomes(passed=4)
