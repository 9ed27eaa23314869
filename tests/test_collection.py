"""A broken batch file fails alone and the others run, on the real server. Which files become batch
files and how prompts are named, which need no server: tests/unit/test_collection.py."""

from __future__ import annotations

from conftest import Project, noise_batch

UI_WORKFLOW = {"nodes": [{"id": 1, "type": "EmptyImage"}], "links": [], "version": 0.4}


def test_broken_batch_fails_alone_and_the_others_run(project: Project) -> None:
    project.batch("good.json", noise_batch([{"positive_prompt": "still runs", "seed": 1}]))
    project.batch("broken.json", '{\n  "parameters": {\n    "workflow_file": "x.json",\n  }\n}\n')
    project.batch("no-workflow.json", noise_batch([{"seed": 1}], workflow_file="nowhere/missing-api.json"))
    project.batch("ui.json", noise_batch([{"seed": 1}], workflow_file="../workflows-files/ui-api.json"))
    project.batch("ui-api.json", UI_WORKFLOW, folder="workflows-files")
    result = project.run("batches/")
    result.assert_outcomes(passed=1, failed=3)
    assert result.ret == 1
    out = result.stdout.str()
    assert "batches/broken.json: line 4, column 3: invalid JSON: Expecting property name" in out
    assert "workflow file 'nowhere/missing-api.json' not found; looked at" in out
    assert str(project.path / "batches" / "nowhere" / "missing-api.json") in out
    assert str(project.path / "nowhere" / "missing-api.json") in out
    assert "batches/ui.json: parameters.workflow_items.seed: no node with id '2' in the workflow" in out
    assert "Traceback" not in out
    assert len(project.images()) == 1

