"""Animations and videos on the real server: the example workflow's animated WEBP, animated PNG
and mp4 (model-free nodes, one seed per frame) are recorded and rerun green; one frame's seed
or the frame rate changed fails naming the kind and what changed; the report offers the
change for acceptance, ``--comfy-accept`` records it and the rerun is green. A node that
reports its video under ``gifs`` as VideoHelperSuite does (a stand-in in tests/custom_nodes/)
is recorded and compared as a video."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from comfy_plugin.server.launcher import LaunchedServer
from conftest import ROOT, Project, start_with_custom_node

FAIL = "--comfy-missing-baseline=fail"
NODE = "batches/m.json::p"


def media_batch(frame_2_seed: int = 2, fps: int = 4) -> dict[str, Any]:
    """The example batch file's workflow with one prompt: four frames, the third of its own seed."""
    example = json.loads((ROOT / "batches" / "media-kinds.json").read_text())
    example.pop("$schema")
    example["parameters"]["save_images"]["output_directory"] = "./images/"
    example["prompts"] = [{"id": "p", "seed": 1, "seed_frame_2": frame_2_seed, "fps": fps, "caption": "words"}]
    return example


def junit_properties(path: Path) -> dict[str, str]:
    case = ET.parse(path).getroot().find(".//testcase")
    assert case is not None
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def stored(project: Project, name: str = "m.json") -> list[dict[str, Any]]:
    return json.loads((project.path / "baselines" / name).read_text())["baselines"]["p"]


def accept(project: Project) -> None:
    """What the report's checkbox downloads, given to --comfy-accept."""
    (project.path / "accepted.json").write_text(json.dumps([NODE]))
    accepted = project.run(f"--comfy-accept={project.path / 'accepted.json'}")
    assert accepted.ret == 0, accepted.stdout.str()
    accepted.stdout.fnmatch_lines([f"accepted {NODE}: 3 video(s)*as its baseline*"])


def recorded(project: Project, **changes: Any) -> None:
    project.batch("m.json", media_batch(**changes))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)
    entries = stored(project)
    assert [(e.get("kind"), e.get("format"), e.get("frames")) for e in entries] == [
        ("video", "webp", 4), ("video", "png", 4), ("video", "mp4", 4), ("text", None, None)]
    assert all((project.path / "baselines" / e["video"]).is_file() for e in entries[:3])
    project.run("batches/", FAIL).assert_outcomes(passed=1)


def test_one_frame_changed_fails_naming_it_in_each_video_and_is_accepted(project: Project) -> None:
    recorded(project)
    project.batch("m.json", media_batch(frame_2_seed=9))
    report, junit = project.path / "report.html", project.path / "j.xml"
    changed = project.run("batches/", FAIL, f"--comfy-report={report}", f"--junitxml={junit}")
    changed.assert_outcomes(failed=1)
    out = changed.stdout.str()
    for video in (0, 1, 2):  # the WEBP, the PNG and the mp4: frame 2, at 2 x 0.25 s
        assert f"video {video}: frame 2 (0.50 s) differs: phash-8 distance" in out
    for video in (0, 1):  # lossless: frame 2 alone (the mp4's neighbours are coded from it and move too)
        assert f"video {video}: frame 1 " not in out and f"video {video}: frame 3 " not in out
    assert "frame rate" not in out
    changed.stdout.fnmatch_lines(["prompts: 1 changed-test",  # the terminal summary: the worst reading
                                  f"  video_ciede2000 distance * (threshold 1)  {NODE}"])
    properties = junit_properties(junit)
    assert all(float(v) > 6 for v in properties["video_hash_distance"].split()), properties
    assert properties["video_hash_threshold"] == "6"
    page = report.read_text()
    assert page.count("<video muted controls") == 2 and page.count('class="animation"') == 4
    assert f'data-nodeid="{NODE}"' in page and "accept-box" in page and "frame 2 (0.50 s)" in page

    before = stored(project)[0]["samples"]
    accept(project)
    after = stored(project)[0]["samples"]
    assert after[2]["hash"] != before[2]["hash"] and after[1] == before[1], "frame 2 recorded anew, alone"
    project.run("batches/", FAIL).assert_outcomes(passed=1)


def test_a_changed_frame_rate_fails_naming_it_and_is_accepted(project: Project) -> None:
    recorded(project)
    project.batch("m.json", media_batch(fps=8))
    report = project.path / "report.html"
    changed = project.run("batches/", FAIL, f"--comfy-report={report}")
    changed.assert_outcomes(failed=1)
    out = changed.stdout.str()
    for video in (0, 1, 2):
        assert f"video {video}: the frame rate changed: 8 fps, the baseline 4 fps" in out
        assert f"video {video}: the duration changed: 0.500 s, the baseline 1.000 s" in out
    assert "differs: phash" not in out, "the frames themselves are the same"
    assert "the prompt's parameters changed since the baseline was recorded (fps: 4 -> 8)" in out
    assert "accept-box" in report.read_text()

    accept(project)
    assert [e.get("fps") for e in stored(project)] == [8.0, 8.0, 8.0, None]
    project.run("batches/", FAIL).assert_outcomes(passed=1)


# -- VideoHelperSuite's gifs -------------------------------------------------------------------

@pytest.fixture(scope="module")
def vhs_server(tmp_path_factory: pytest.TempPathFactory) -> LaunchedServer:
    """A ComfyUI whose custom nodes are the stand-in alone (every other one stays disabled)."""
    server = start_with_custom_node(tmp_path_factory.mktemp("vhs-server"), "vhs_like")
    yield server
    server.stop()


VHS_WORKFLOW = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": 0}},
    "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 1, "strength": 0.8}},
    "3": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 2, "strength": 0.8}},
    "4": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 3, "strength": 0.8}},
    "5": {"class_type": "ImageBatch", "inputs": {"image1": ["2", 0], "image2": ["3", 0]}},
    "6": {"class_type": "ImageBatch", "inputs": {"image1": ["5", 0], "image2": ["4", 0]}},
    "7": {"class_type": "VHSLikeVideoCombine", "inputs": {"images": ["6", 0], "frame_rate": 6.0,
                                                          "filename_prefix": "vhs"}},
}


def test_a_video_reported_under_gifs_is_recorded_and_compared_as_a_video(pytester: pytest.Pytester,
                                                                          vhs_server: LaunchedServer) -> None:
    project = Project(pytester, vhs_server.url)
    (project.path / "workflows-files" / "vhs-api.json").write_text(json.dumps(VHS_WORKFLOW))

    def batch(fps: float) -> dict[str, Any]:
        return {"parameters": {"workflow_file": "../workflows-files/vhs-api.json",
                               "workflow_items": {"seed": "2,inputs,seed", "fps": "7,inputs,frame_rate"},
                               "save_images": {"enabled": True, "output_directory": "./images/"}},
                "prompts": [{"id": "p", "seed": 1, "fps": fps}]}

    project.batch("v.json", batch(6.0))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)
    [entry] = stored(project, "v.json")
    assert (entry["kind"], entry["format"], entry["frames"], entry["fps"]) == ("video", "mp4", 3, 6.0)
    assert [p.suffix for p in project.images()] == [".mp4"]
    project.run("batches/", FAIL).assert_outcomes(passed=1)

    project.batch("v.json", batch(12.0))
    changed = project.run("batches/", FAIL)
    changed.assert_outcomes(failed=1)
    assert "video 0: the frame rate changed: 12 fps, the baseline 6 fps" in changed.stdout.str()


def test_the_example_batch_is_recorded_through_two_xdist_workers(project: Project) -> None:
    """Each worker's observations (frames' references and the files kept) travel to the
    controller as JSON, which writes them: both prompts recorded, every side file present."""
    project.copy_batch("media-kinds.json")
    project.run("batches/", "-n", "2", "--comfy-update-baselines").assert_outcomes(passed=2)
    baselines = json.loads((project.path / "baselines" / "media-kinds.json").read_text())["baselines"]
    assert sorted(baselines) == ["eight-fps", "four-frames"]
    for entries in baselines.values():
        assert [e["kind"] for e in entries] == ["video", "video", "video", "text"]
        names = [e["video"] for e in entries[:3]] + [s["reference"] for e in entries[:3] for s in e["samples"]]
        assert all((project.path / "baselines" / name).is_file() for name in names)
    project.run("batches/", "-n", "2", FAIL).assert_outcomes(passed=2)
