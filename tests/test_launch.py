"""A launch that fails is reported once and leaves nothing behind; a launched session cleans up.
The sweep of old logs, which launches nothing: tests/unit/test_without_a_server.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfy_plugin.server.launcher import default_python
from conftest import COMFY_DIR, CPU_ARGS, MODEL_PATHS, ROOT, Project, noise_batch

#: What torch may leave in TMPDIR on its own (its compile caches): not the plugin's to remove.
TORCH_LEFTOVERS = ("torchinductor_", "tmp")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(TORCH_LEFTOVERS))


def test_an_interpreter_that_cannot_run_fails_once_with_one_line(offline_project: Project, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the fix: a raw PermissionError on every prompt, a launch per prompt, and a
    temporary folder left behind each time."""
    not_executable = tmp_path / "python"
    not_executable.write_text("#!/bin/sh\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    p = offline_project
    p.batch("three.json", noise_batch([{"id": f"p{i}", "seed": i} for i in range(3)]))
    result = p.pytester.runpytest_subprocess("batches/", "-p", "no:cacheprovider", f"--comfy-launch={COMFY_DIR}",
                                             "--comfy-python", str(not_executable))
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert out.count("launching ComfyUI from") == 1, out
    assert out.count(f"cannot run '{not_executable}'") == 1, out
    assert out.count("is not available (details in the session summary)") == 3, out
    assert "Traceback" not in out and "PermissionError" not in out
    assert leftovers(temp) == []


def test_a_launched_session_leaves_its_temporary_folder_empty(offline_project: Project, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    p = offline_project
    p.batch("one.json", noise_batch([{"id": "only", "seed": 1}]))
    result = p.pytester.runpytest_subprocess(
        "batches/", "-p", "no:cacheprovider", f"--comfy-launch={COMFY_DIR}", f"--comfy-python={default_python(ROOT)}",
        "--comfy-launch-args", " ".join(CPU_ARGS), f"--comfy-model-paths={MODEL_PATHS}")
    result.assert_outcomes(passed=1)
    assert "log kept" not in result.stdout.str()
    assert leftovers(temp) == []

