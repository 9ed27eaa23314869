"""Time baselines: recorded per device beside the image baselines, compared on later runs."""

from __future__ import annotations

import json

from conftest import Project, noise_batch

FAIL = "--comfy-missing-baseline=fail"


def test_time_baselines_record_compare_warn_and_fail(project: Project) -> None:
    project.batch("perf.json", noise_batch([{"id": "fast", "seed": 1, "width": 512, "height": 512},
                                            {"id": "also", "seed": 2, "width": 512, "height": 512}]))
    project.run("batches/", "--comfy-update-baselines", "--comfy-fresh").assert_outcomes(passed=2)
    path = project.path / "baselines" / "perf.perf.json"
    document = json.loads(path.read_text())
    [device] = document["devices"]
    assert device == "cpu", document
    figures = document["devices"]["cpu"]["fast"]
    assert figures["execution_s"] > 0 and figures["peak_mem_mb"] > 0
    unchanged = path.read_text()

    again = project.run("batches/", "--comfy-update-baselines", "--comfy-fresh")
    again.assert_outcomes(passed=2)
    assert path.read_text() == unchanged, "figures within their tolerance are not rewritten"

    # A tenth of the stored memory; the stored time divided by ten is not "slower" here: these
    # prompts take well under the second a slowdown must also amount to.
    document["devices"]["cpu"]["fast"]["execution_s"] = figures["execution_s"] / 10
    document["devices"]["cpu"]["fast"]["peak_mem_mb"] = figures["peak_mem_mb"] / 10
    path.write_text(json.dumps(document))

    warned = project.run("batches/", FAIL, "--comfy-fresh")
    warned.assert_outcomes(passed=2)
    warned.stdout.fnmatch_lines(["*- time baselines -*", "hungrier: batches/perf.json::fast: *"])

    failed = project.run("batches/", FAIL, "--comfy-fresh", "--comfy-perf=fail")
    failed.assert_outcomes(passed=1, failed=1)
    failed.stdout.fnmatch_lines(["time baseline: hungrier: * MB against * MB (limit x1.25) (on cpu)"])
