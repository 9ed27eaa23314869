"""What the plugin does where no ComfyUI answers and none can be launched: each prompt fails once
with the URL, --collect-only and --comfy-accept need none, a folder without main.py is one clear
error, and old logs of failed launches are swept. Plugin runs (pytester) against a closed port."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from comfy_plugin.server.launcher import KEEP_FAILED_LOG_S, WORKDIR_PREFIX, sweep_old_logs
from conftest import COMFY_DIR, Project, noise_batch


def test_unreachable_server_fails_each_prompt_once_with_the_url(offline_project: Project) -> None:
    offline_project.copy_batch("noise-random-seeds.json")
    result = offline_project.run("batches/")
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    short = f"ComfyUI at {offline_project.url} is not available (details in the session summary)"
    assert result.stdout.lines.count(short) == 3, "one short line per prompt"
    assert out.count("start ComfyUI") == 1, "the full message (how to start ComfyUI) appears once"
    assert f"ComfyUI at {offline_project.url}: cannot connect" in out

def test_collect_only_never_touches_the_server(offline_project: Project) -> None:
    offline_project.copy_batch("noise-random-seeds.json")
    offline_project.copy_batch("sd15-txt2img.json")
    result = offline_project.run("batches/", "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "batches/noise-random-seeds.json::a-cat-in-a-hat",
        "batches/noise-random-seeds.json::a-dog-on-a-skateboard",
        "batches/noise-random-seeds.json::sunset-over-the-sea",
        "batches/sd15-txt2img.json::a-cat-wearing-a-hat-studio-photo",
        "batches/sd15-txt2img.json::a-lighthouse-at-night",
        "5 tests collected*",
    ])

def test_comfy_url_on_the_command_line_launches_nothing(offline_project: Project) -> None:
    offline_project.pytester.makeini(f"[pytest]\ncomfy_launch = {COMFY_DIR}\n")
    offline_project.batch("one.json", noise_batch([{"positive_prompt": "x", "seed": 2}]))
    result = offline_project.run("batches/")
    result.assert_outcomes(failed=1)
    assert "launching" not in result.stdout.str()
    result.stdout.fnmatch_lines([f"*ComfyUI at {offline_project.url}: cannot connect*"])

def test_launch_of_a_folder_without_main_py_is_one_clear_error(offline_project: Project, tmp_path) -> None:
    offline_project.batch("one.json", noise_batch([{"positive_prompt": "x", "seed": 2}, {"seed": 3}]))
    result = offline_project.pytester.runpytest("batches/", "--comfy-launch", str(tmp_path), "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert out.count("no main.py in the folder given to --comfy-launch") == 1
    assert "Traceback" not in out

@pytest.mark.parametrize("text, message", [
    ("{}", "expected a JSON array of test ids"),
    ("not json", "not JSON"),
])
def test_a_bad_accepted_file_is_one_line_and_exit_2(offline_project: Project, text: str, message: str) -> None:
    (offline_project.path / "accepted.json").write_text(text)
    # in a process of its own: --comfy-accept stops before pytest configures a session
    result = offline_project.pytester.runpytest_subprocess("--comfy-accept=accepted.json", "--comfy-url",
                                                           offline_project.url, "-p", "no:cacheprovider")
    assert result.ret == 2
    result.stdout.fnmatch_lines([f"*accepted.json: {message}*"])

def test_the_next_launch_removes_failed_logs_older_than_a_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    old, recent = tmp_path / f"{WORKDIR_PREFIX}old", tmp_path / f"{WORKDIR_PREFIX}recent"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "comfyui.log").write_text("Traceback: it crashed\n")
    day_and_more = time.time() - KEEP_FAILED_LOG_S - 60
    os.utime(old, (day_and_more, day_and_more))
    sweep_old_logs()
    assert not old.exists() and (recent / "comfyui.log").is_file()
