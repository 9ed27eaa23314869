"""Ignore regions on the real server: ``"baseline": {"ignore": [[x0, y0, x1, y1]]}`` hides a
change inside the rectangle and not one outside it. The image is noise with two solid patches
pasted by core nodes (EmptyImage -> ImageCompositeMasked), one inside the region, one outside,
so each run changes exactly one known rectangle."""

from __future__ import annotations

import json
from typing import Any

from conftest import Project

FAIL = "--comfy-missing-baseline=fail"
RED, BLUE = 0xCC2020, 0x2040CC
REGION = [88, 88, 128, 128]  # holds the patch at (96, 96)

WORKFLOW: dict[str, Any] = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 128, "height": 128, "batch_size": 1, "color": 0x404040}},
    "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 7, "strength": 0.6}},
    "3": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": RED}},
    "4": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": RED}},
    "5": {"class_type": "ImageCompositeMasked",
          "inputs": {"destination": ["2", 0], "source": ["3", 0], "x": 96, "y": 96, "resize_source": False}},
    "6": {"class_type": "ImageCompositeMasked",
          "inputs": {"destination": ["5", 0], "source": ["4", 0], "x": 16, "y": 16, "resize_source": False}},
    "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "regions"}},
}


def batch(inside: int, outside: int, ignore: list[list[float]] | None) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "workflow_file": "../workflows-files/regions-api.json",
        "workflow_items": {"inside": "3,inputs,color", "outside": "4,inputs,color"},
        "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "R"},
    }
    if ignore is not None:
        parameters["baseline"] = {"ignore": ignore}
    return {"parameters": parameters, "prompts": [{"id": "patches", "inside": inside, "outside": outside}]}


def test_a_change_inside_an_ignored_region_passes_and_one_outside_fails(project: Project) -> None:
    (project.path / "workflows-files" / "regions-api.json").write_text(json.dumps(WORKFLOW))
    project.batch("r.json", batch(RED, RED, [REGION]))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)

    # the patch inside the region turns blue: without the region that fails ...
    project.batch("r.json", batch(BLUE, RED, None))
    unmasked = project.run("batches/", FAIL)
    unmasked.assert_outcomes(failed=1)
    assert "image 0 differs from its baseline" in unmasked.stdout.str()

    # ... with it, it passes, and says why
    project.batch("r.json", batch(BLUE, RED, [REGION]))
    inside = project.run("batches/", FAIL, "-rA")
    inside.assert_outcomes(passed=1)
    assert "1 region(s) ignored (baseline.ignore)" in inside.stdout.str()

    # the same region in fractions of the image (88/128 = 0.6875)
    project.batch("r.json", batch(BLUE, RED, [[0.6875, 0.6875, 1.0, 1.0]]))
    project.run("batches/", FAIL).assert_outcomes(passed=1)

    # the patch outside the region turns blue: that fails, by a local metric
    project.batch("r.json", batch(RED, BLUE, [REGION]))
    outside = project.run("batches/", FAIL)
    outside.assert_outcomes(failed=1)
    out = outside.stdout.str()
    assert "image 0 differs from its baseline" in out and "region(s) ignored" in out
    assert "ssim_tile" in out or "ciede2000_tile" in out


def test_a_rectangle_written_wrongly_fails_the_prompt_naming_it(project: Project) -> None:
    (project.path / "workflows-files" / "regions-api.json").write_text(json.dumps(WORKFLOW))
    project.batch("r.json", batch(RED, RED, [[40, 10, 20, 30]]))
    result = project.run("batches/", "--comfy-update-baselines")
    result.assert_outcomes(failed=1)
    assert "baseline.ignore[0]: [40, 10, 20, 30]: x0 must be less than x1" in result.stdout.str()
