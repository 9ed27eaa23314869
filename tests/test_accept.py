"""Review and accept without a rerun: pending results, the report's review controls in
headless Chromium, and ``pytest --comfy-accept accepted.json`` with no server reachable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import Browser, wait_for
from PIL import Image

from comfy_plugin.server.launcher import free_port
from conftest import Project, noise_batch

FAIL = "--comfy-missing-baseline=fail"
PROMPTS = [{"id": f"p{i}", "seed": 10 + i} for i in range(4)]


def break_baselines(project: Project, *ids: str) -> None:
    """Flip bits of stored hashes: as if the baselines were of other images."""
    path = project.path / "baselines" / "rev.json"
    document = json.loads(path.read_text())
    for prompt_id in ids:
        entry = document["baselines"][prompt_id][0]
        entry["hash"] = format(int(entry["hash"], 16) ^ 0xFFFF, "016x")
        entry.pop("sha256", None)  # of another image: its bytes are not the output's
        thumbnail = path.parent / entry["thumbnail"]
        Image.new("RGB", Image.open(thumbnail).size, (200, 40, 40)).save(thumbnail)
        # the reference (what the report shows and the metrics compare) of another image: a new
        # file, since a reference's name is its content's digest and is never rewritten
        reference = path.parent / entry["reference"]
        entry["reference"] = str(Path(entry["reference"]).with_name(f"other-{prompt_id}.png"))
        Image.new("RGB", Image.open(reference).size, (200, 40, 40)).save(path.parent / entry["reference"])
    path.write_text(json.dumps(document))


def accept(project: Project, listed: str | Path, url: str | None = None):
    """``pytest --comfy-accept`` in a process of its own (it stops before pytest configures a
    session, which pytester's in-process runs expect)."""
    return project.pytester.runpytest_subprocess(f"--comfy-accept={listed}", "--comfy-url", url or project.url,
                                                 "-p", "no:cacheprovider")


def recorded_project(project: Project) -> Project:
    project.batch("rev.json", noise_batch(PROMPTS))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=4)
    return project


def test_accept_writes_the_new_baselines_with_no_server_and_the_rerun_is_green(project: Project) -> None:
    recorded_project(project)
    break_baselines(project, "p1", "p3")
    failed = project.run("batches/", FAIL)
    failed.assert_outcomes(passed=2, failed=2)
    pending = sorted(p.name for p in (project.path / "images" / "comfy-pending").rglob("*.json") if p.is_file())
    assert pending == ["p1.json", "p3.json"]

    (project.path / "accepted.json").write_text(json.dumps(["batches/rev.json::p1", "batches/rev.json::p3"]))
    closed = f"http://127.0.0.1:{free_port()}"
    accepted = accept(project, "accepted.json", url=closed)
    assert accepted.ret == 0, accepted.stdout.str()
    accepted.stdout.fnmatch_lines(["accepted batches/rev.json::p1: 1 image(s) as its baseline (was diff: *",
                                   "accepted batches/rev.json::p3: 1 image(s) as its baseline (was diff: *",
                                   "wrote */baselines/rev.json"])
    assert "collected" not in accepted.stdout.str(), "nothing is collected or run"
    left = [p for p in (project.path / "images" / "comfy-pending").rglob("*.json") if p.is_file()]
    assert left == [], "accepted: no longer pending"

    project.run("batches/", FAIL).assert_outcomes(passed=4)


def test_accept_of_an_id_without_a_pending_result_writes_nothing_and_exits_2(project: Project) -> None:
    recorded_project(project)
    break_baselines(project, "p1")
    project.run("batches/", FAIL).assert_outcomes(passed=3, failed=1)
    before = (project.path / "baselines" / "rev.json").read_text()
    (project.path / "accepted.json").write_text(json.dumps(["batches/rev.json::p1", "batches/rev.json::p2"]))
    result = accept(project, "accepted.json")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["no pending result for batches/rev.json::p2 in *",
                                 "nothing accepted: fix the list and run again"])
    assert (project.path / "baselines" / "rev.json").read_text() == before


def test_accept_of_a_file_in_another_folder_from_the_root_and_from_a_subfolder(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest takes its rootdir from the test paths on the command line before it knows that
    --comfy-accept takes a value: the file, two words after it, must not move the project."""
    (project.path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    recorded_project(project)
    break_baselines(project, "p1", "p3")
    project.run("batches/", FAIL).assert_outcomes(passed=2, failed=2)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    (downloads / "accepted.json").write_text(json.dumps(["batches/rev.json::p1"]))
    (downloads / "more.json").write_text(json.dumps(["batches/rev.json::p3"]))
    closed = f"http://127.0.0.1:{free_port()}"

    for listed, folder in (("accepted.json", project.path), ("more.json", project.path / "batches")):
        monkeypatch.chdir(folder)
        result = project.pytester.runpytest_subprocess("--comfy-accept", str(downloads / listed),
                                                       "--comfy-url", closed, "-p", "no:cacheprovider")
        assert result.ret == 0, result.stdout.str()
        result.stdout.fnmatch_lines(["accepted batches/rev.json::p*: 1 image(s) as its baseline (was diff: *",
                                     f"wrote {project.path / 'baselines' / 'rev.json'}"])
    monkeypatch.chdir(project.path)
    assert not [p for p in (project.path / "images" / "comfy-pending").rglob("*.json") if p.is_file()]
    provenance = json.loads((project.path / "baselines" / "rev.json").read_text())["provenance"]
    assert provenance["p3"]["workflow"]["1"]["class"] == "EmptyImage", "an accepted baseline keeps its workflow's map"
    project.run("batches/", FAIL).assert_outcomes(passed=4)


def test_accept_with_no_pending_results_at_all_names_the_folder_not_the_runs(offline_project: Project) -> None:
    (offline_project.path / "accepted.json").write_text(json.dumps(["batches/rev.json::p1"]))
    result = accept(offline_project, "accepted.json")
    assert result.ret == 2
    result.stdout.fnmatch_lines([
        f"no pending results at all: {offline_project.path / 'images' / 'comfy-pending'} does not exist, so none "
        "of the 1 listed prompt(s) can be accepted",
        "  a run leaves them there (--comfy-pending, *); run from inside the project, or point --comfy-pending *"])


def test_the_reports_review_controls_switch_the_view_and_download_accepted_json(project: Project,
                                                                                tmp_path: Path) -> None:
    recorded_project(project)
    break_baselines(project, "p2")
    project.run("batches/", FAIL, "--comfy-report", "out/report.html").assert_outcomes(passed=3, failed=1)
    report = project.path / "out" / "report.html"
    downloads = tmp_path / "downloads"
    browser = Browser(report.as_uri(), tmp_path / "profile")
    try:
        browser.allow_downloads(downloads)
        browser.wait_loaded()
        boxes = browser.evaluate("Array.from(document.querySelectorAll('.accept-box')).map(b => b.dataset.nodeid)")
        assert boxes == ["batches/rev.json::p2"], "only the changed prompt can be accepted"
        switched = browser.evaluate("""(() => {
            document.querySelector('.compare.view button[data-view=overlay]').click();
            const view = document.querySelector('.compare.view');
            return [view.dataset.view, getComputedStyle(view.querySelector('.side.new')).opacity];
        })()""")
        assert switched == ["overlay", "0.5"], "the new image over the baseline, half opaque"
        assert browser.evaluate("document.getElementById('accept-download').disabled") is True
        browser.evaluate("document.querySelector('.accept-box').click()")
        assert browser.evaluate("document.getElementById('accept-count').textContent") == "1"
        browser.evaluate("document.getElementById('accept-download').click()")
        saved = wait_for("accepted.json", lambda: (downloads / "accepted.json").is_file()
                         and (downloads / "accepted.json").read_text().strip(), 30)
    finally:
        browser.close()
    assert json.loads(saved) == ["batches/rev.json::p2"]
    accepted = accept(project, downloads / "accepted.json")
    assert accepted.ret == 0, accepted.stdout.str()
    project.run("batches/", FAIL).assert_outcomes(passed=4)

