"""Audio outputs on the real server: the example's uploaded tone (LoadAudio), saved as FLAC and
as the sound of an mp4, is recorded and rerun green; its volume raised by 3 dB, or the tone
delayed by 50 ms, fails naming the kind and what changed (in the FLAC and in the mp4's sound);
the report offers the change with both players, ``--comfy-accept`` records it and the rerun is
green."""

from __future__ import annotations

import json
import shutil
from typing import Any

from conftest import ROOT, Project

FAIL = "--comfy-missing-baseline=fail"
NODE = "batches/a.json::p"


def audio_batch(volume: int = 0, delay: float = 0.0) -> dict[str, Any]:
    """The example batch file's workflow with one prompt."""
    example = json.loads((ROOT / "batches" / "media-audio.json").read_text())
    example.pop("$schema")
    example["parameters"]["save_images"]["output_directory"] = "./images/"
    example["prompts"] = [{"id": "p", "seed": 1, "tone": "./files/tone.flac", "delay": delay, "volume": volume}]
    return example


def stored(project: Project) -> list[dict[str, Any]]:
    return json.loads((project.path / "baselines" / "a.json").read_text())["baselines"]["p"]


def recorded(project: Project) -> None:
    (project.path / "batches" / "files").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "batches" / "files" / "tone.flac", project.path / "batches" / "files" / "tone.flac")
    project.batch("a.json", audio_batch())
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)
    entries = stored(project)
    assert [(e["kind"], e["format"]) for e in entries] == [("video", "mp4"), ("audio", "flac")]
    audio = entries[1]
    assert (audio["rate"], audio["channels"], audio["duration"]) == (22050, 2, 1.0)
    assert (project.path / "baselines" / audio["audio"]).is_file()
    project.run("batches/", FAIL).assert_outcomes(passed=1)


def accept(project: Project) -> None:
    """What the report's checkbox downloads, given to --comfy-accept; then the rerun is green."""
    (project.path / "accepted.json").write_text(json.dumps([NODE]))
    accepted = project.run(f"--comfy-accept={project.path / 'accepted.json'}")
    assert accepted.ret == 0, accepted.stdout.str()
    accepted.stdout.fnmatch_lines([f"accepted {NODE}: 1 video(s), 1 audio(s) as its baseline*"])
    project.run("batches/", FAIL).assert_outcomes(passed=1)


def test_the_volume_raised_by_3_db_fails_naming_it_and_is_accepted(project: Project) -> None:
    recorded(project)
    before = stored(project)[1]["loudness_db"]
    project.batch("a.json", audio_batch(volume=3))
    report = project.path / "report.html"
    changed = project.run("batches/", FAIL, f"--comfy-report={report}")
    changed.assert_outcomes(failed=1)
    out = changed.stdout.str()
    assert "audio 0: louder by 3.0 dB" in out
    assert "the prompt's parameters changed since the baseline was recorded (volume: 0 -> 3)" in out
    assert "video 0: its sound: louder by 3.0 dB" in out and "video 0: frame" not in out, "the frames are the same"
    page = report.read_text()
    assert page.count("<audio controls") == 2 and f'data-nodeid="{NODE}"' in page and "accept-box" in page
    accept(project)
    assert abs(stored(project)[1]["loudness_db"] - before - 3.0) < 0.01


def test_the_tone_delayed_by_50_ms_fails_naming_its_spectrum_and_is_accepted(project: Project) -> None:
    recorded(project)
    project.batch("a.json", audio_batch(delay=0.05))
    changed = project.run("batches/", FAIL)
    changed.assert_outcomes(failed=1)
    out = changed.stdout.str()
    assert "audio 0: spectrum distance " in out and "louder" not in out and "shorter" not in out, out
    assert "video 0: its sound: spectrum distance " in out
    changed.stdout.fnmatch_lines([f"*audio_spectrum distance * (threshold 0.0052)*{NODE}*"])
    accept(project)
