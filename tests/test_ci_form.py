"""``--comfy-ci``, the CI form: a run cannot pass without comparing something. A missing
baseline, model or node type fails its prompt and is named in the summary; a run that compared
no prompt fails the session. Real server (the session's), noise prompts of a fraction of a second."""

from __future__ import annotations

import json

from conftest import ROOT, Project, noise_batch

CI = "--comfy-ci"


def workflow_with(project: Project, name: str, extra_node: dict[str, object]) -> str:
    """The noise workflow with one more node (unconnected): what the server lacks."""
    workflow = json.loads((ROOT / "workflows-files" / "noise-image-api.json").read_text())
    workflow["9"] = extra_node
    (project.path / "workflows-files" / name).write_text(json.dumps(workflow))
    return f"../workflows-files/{name}"


def test_missing_model_and_node_type_fail_and_nothing_compared_fails_the_session(project: Project) -> None:
    model = workflow_with(project, "lacks-model.json", {"class_type": "CheckpointLoaderSimple",
                                                        "inputs": {"ckpt_name": "nowhere-xyz.safetensors"}})
    node = workflow_with(project, "lacks-node.json", {"class_type": "NoSuchNodeForCi", "inputs": {}})
    project.batch("model.json", noise_batch([{"id": "m1", "seed": 1}, {"id": "m2", "seed": 2}], workflow_file=model))
    project.batch("node.json", noise_batch([{"id": "n1", "seed": 3}], workflow_file=node))

    # without the CI form: skipped, and the run passes having compared nothing (the issue)
    project.run("batches/").assert_outcomes(skipped=3)

    result = project.run("batches/", CI)
    result.assert_outcomes(failed=3)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*- CI (--comfy-ci) -*",
        "CI failed: no prompt was compared with a baseline, so this run proves nothing (exit status 1)",
        "missing model 'nowhere-xyz.safetensors': 2 prompt(s) failed: batches/model.json::m1, "
        "batches/model.json::m2",
        "missing node type 'NoSuchNodeForCi': 1 prompt(s) failed: batches/node.json::n1",
    ])


def test_missing_baseline_fails_and_the_summary_names_it(project: Project) -> None:
    project.batch("base.json", noise_batch([{"id": "p0", "seed": 5}]))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)
    project.batch("base.json", noise_batch([{"id": "p0", "seed": 5}, {"id": "p1", "seed": 6}]))

    # COMFY_MISSING_BASELINE=write (the suite's) and an explicit pass: the CI form wins
    result = project.run("batches/", CI, "--comfy-missing-baseline=pass")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*- CI (--comfy-ci) -*",
        "1 prompt(s) compared with their baselines",
        "missing baseline: 1 prompt(s) failed: batches/base.json::p1",
        "  record them with: pytest batches/base.json --comfy-update-baselines (and commit baselines/)",
    ])
    assert not (project.path / "baselines" / "base.json").read_text().count('"p1"'), "nothing recorded"

    project.batch("base.json", noise_batch([{"id": "p0", "seed": 5}]))
    green = project.run("batches/", CI)
    green.assert_outcomes(passed=1)
    assert green.ret == 0
    assert "CI (--comfy-ci)" not in green.stdout.str()


def test_a_run_that_compares_nothing_fails_with_one_line(project: Project) -> None:
    project.batch("skipped.json", noise_batch([{"id": "s1", "seed": 1, "skip": "not today"},
                                               {"id": "r1", "seed": "random"}]))
    result = project.run("batches/", CI)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["CI failed: no prompt was compared with a baseline, so this run proves nothing "
                                 "(exit status 1)"])
