"""Time baselines: recorded per device beside the image baselines, compared on later runs; the
first prompt after a model load (cold) compared with cold figures only. The suite's server is
given by URL: its device is named ``cpu (remote server)``."""

from __future__ import annotations

import json

from conftest import Project, noise_batch

FAIL = "--comfy-missing-baseline=fail"
DEVICE = "cpu (remote server)"


def test_time_baselines_record_compare_warn_and_fail(project: Project) -> None:
    project.batch("perf.json", noise_batch([{"id": "fast", "seed": 1, "width": 512, "height": 512},
                                            {"id": "also", "seed": 2, "width": 512, "height": 512}]))
    project.run("batches/", "--comfy-update-baselines", "--comfy-fresh").assert_outcomes(passed=2)
    path = project.path / "baselines" / "perf.perf.json"
    document = json.loads(path.read_text())
    [device] = document["devices"]
    assert device == DEVICE and document["version"] == 2, document
    assert sorted(document["devices"][DEVICE]) == ["provenance", "warm"]  # no loader: warm prompts only
    assert document["devices"][DEVICE]["provenance"]["comfyui"] == "0.3.75"
    figures = document["devices"][DEVICE]["warm"]["fast"]
    assert figures["execution_s"] > 0 and figures["peak_mem_mb"] > 0
    unchanged = path.read_text()

    again = project.run("batches/", "--comfy-update-baselines", "--comfy-fresh")
    again.assert_outcomes(passed=2)
    assert path.read_text() == unchanged, "figures within their tolerance are not rewritten"

    # A tenth of the stored memory; the stored time divided by ten is not "slower" here: these
    # prompts take well under the second a slowdown must also amount to.
    document["devices"][DEVICE]["warm"]["fast"]["execution_s"] = figures["execution_s"] / 10
    document["devices"][DEVICE]["warm"]["fast"]["peak_mem_mb"] = figures["peak_mem_mb"] / 10
    path.write_text(json.dumps(document))

    warned = project.run("batches/", FAIL, "--comfy-fresh")
    warned.assert_outcomes(passed=2)
    warned.stdout.fnmatch_lines(["*- time baselines -*", "hungrier: batches/perf.json::fast: *"])

    failed = project.run("batches/", FAIL, "--comfy-fresh", "--comfy-perf=fail")
    failed.assert_outcomes(passed=1, failed=1)
    failed.stdout.fnmatch_lines([f"time baseline: hungrier: * MB against * MB (limit x1.25) (on {DEVICE})"])


def test_the_first_prompt_after_a_model_load_is_compared_with_cold_figures_only(project: Project) -> None:
    project.copy_batch("tiny-sd15-txt2img.json")
    first, second = "a-lighthouse-at-night", "a-red-sports-car-side-view"  # one checkpoint, in this order
    args = ("batches/", "-k", "lighthouse or sports", "--comfy-fresh")  # fresh: the first loads the model
    project.run(*args, "--comfy-update-baselines").assert_outcomes(passed=2, deselected=2)
    path = project.path / "baselines" / "tiny-sd15-txt2img.perf.json"
    document = json.loads(path.read_text())
    device = document["devices"][DEVICE]
    assert list(device["cold"]) == [first] and list(device["warm"]) == [second], device

    device["warm"][first] = {"execution_s": 0.001, "peak_mem_mb": 1.0}  # warm figures it must not be held to
    device["cold"][first]["peak_mem_mb"] /= 10  # its cold ones: now it uses ten times as much
    path.write_text(json.dumps(document))
    result = project.run(*args, FAIL)
    result.assert_outcomes(passed=2, deselected=2)
    hungrier = f"hungrier: batches/tiny-sd15-txt2img.json::{first}: hungrier: * MB against * MB (limit x1.25)" \
        f" (on {DEVICE}, cold: it loaded a model (node *))"
    result.stdout.fnmatch_lines(["*- time baselines -*", hungrier])
    about_first = [line for line in result.stdout.lines if first in line and "against" in line]
    assert len(about_first) == 1 and "slower" not in about_first[0], about_first
