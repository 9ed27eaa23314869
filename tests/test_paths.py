"""Files found the same way from any working directory in the project: with a pytest
configuration file, a run started in a subfolder compares with the baselines recorded from the
root and saves its images beside them; without one, the summary says once what to add."""

from __future__ import annotations

import pytest

from conftest import Project, noise_batch

WARNING = "no pytest configuration file: *"
ADVICE = "  add one at the project's root so that every run finds them: a pyproject.toml with a " \
         "[tool.pytest.ini_options] table (or a pytest.ini with a [pytest] section)"


def test_a_run_from_a_subfolder_finds_the_baselines_and_without_config_is_told_once(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.batch("garden.json", noise_batch([{"id": "rose", "seed": 1}, {"id": "tulip", "seed": 2}]))
    recorded = project.run("batches/", "--comfy-update-baselines")
    recorded.assert_outcomes(passed=2)
    assert (project.path / "baselines" / "garden.json").is_file()
    assert recorded.stdout.str().count("no pytest configuration file") == 1
    recorded.stdout.fnmatch_lines(["*- where the files are -*", WARNING, ADVICE])

    monkeypatch.chdir(project.path / "batches")
    # no configuration file: pytest's rootdir is batches/, which has no baselines (issue 23, point 4)
    lost = project.run("garden.json", "--comfy-ci")
    lost.assert_outcomes(failed=2)
    lost.stdout.fnmatch_lines([f"no pytest configuration file: baselines and pending results are under "
                               f"{project.path / 'batches'}, *", ADVICE])

    assert len(project.images("batches/images")) == 2 + 2, "its images and pending results: cwd, rootdir"

    (project.path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    found = project.run("garden.json", "--comfy-ci")
    found.assert_outcomes(passed=2)
    assert found.ret == 0
    assert "no pytest configuration file" not in found.stdout.str()
    assert not (project.path / "batches" / "baselines").exists(), "no second baseline tree"
    assert len(project.images("batches/images")) == 4, "nothing more saved under the working directory"
    assert len(project.images()) == 2 + 2, "images saved under the configuration file's folder"
