"""Which files become batch files, how prompts are named, and what a broken file says: plugin runs
(pytester) whose server URL points at a closed port, for nothing here needs a server. A broken file
among good ones on the real server: tests/test_collection.py."""

from __future__ import annotations

import json

from conftest import Project, noise_batch

UI_WORKFLOW = {"nodes": [{"id": 1, "type": "EmptyImage"}], "links": [], "version": 0.4}


def test_workflows_and_unrelated_json_are_ignored_quietly(offline_project: Project) -> None:
    p = offline_project
    p.batch("good.json", noise_batch([{"positive_prompt": "one", "seed": 1}]))
    p.batch("api-workflow.json", (p.path / "workflows-files" / "noise-image-api.json").read_text())
    p.batch("ui-workflow.json", UI_WORKFLOW)
    p.batch("package.json", {"name": "not a batch"}, folder="web")
    p.batch("elsewhere.json", noise_batch([{"positive_prompt": "found by its keys", "seed": 2}],
                                          workflow_file="../workflows-files/noise-image-api.json"), folder="more")
    result = p.run("--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["batches/good.json::one", "more/elsewhere.json::found-by-its-keys",
                                 "2 tests collected*"])
    assert "workflow.json" not in result.stdout.str()
    assert "package.json" not in result.stdout.str()

def test_other_json_under_a_batch_folder_is_reported_not_skipped(offline_project: Project) -> None:
    offline_project.batch("settings.json", {"theme": "dark"})
    result = offline_project.run("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*batches/settings.json: missing required key 'parameters'*",
                                 "*batches/settings.json: theme: unknown key 'theme'*"])

def test_json_named_on_the_command_line_is_a_batch_file(offline_project: Project) -> None:
    offline_project.batch("odd.json", "[1, 2]", folder="misc")
    result = offline_project.run("misc/odd.json", "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*misc/odd.json: the top level must be an object*found list*"])

def test_comfy_batch_dirs_ini_option(offline_project: Project) -> None:
    p = offline_project
    p.pytester.makeini("[pytest]\ncomfy_batch_dirs = suites\n")
    p.batch("x.json", {"not": "a batch"}, folder="suites")
    p.batch("y.json", {"not": "a batch"}, folder="batches")
    result = p.run("--collect-only", "-q")
    result.stdout.fnmatch_lines(["suites/x.json::batch", "1 test collected*"])

def test_prompt_ids_are_stable_and_readable(offline_project: Project) -> None:
    offline_project.batch("ids.json", noise_batch([
        {"positive_prompt": "A Cat, in a HAT!", "seed": 1},
        {"positive_prompt": "a cat in a hat", "seed": 2},
        {"id": "chosen", "positive_prompt": "whatever", "seed": 3},
        {"name": "named", "seed": 4},
        {"seed": 5},
    ]))
    result = offline_project.run("--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "batches/ids.json::a-cat-in-a-hat",
        "batches/ids.json::a-cat-in-a-hat-2",
        "batches/ids.json::chosen",
        "batches/ids.json::named",
        "batches/ids.json::prompt-5",
    ])

def test_tags_become_markers_and_skip_xfail_apply(offline_project: Project) -> None:
    offline_project.batch("marks.json", noise_batch([
        {"id": "fast-one", "seed": 1, "tags": ["smoke"]},
        {"id": "slow-one", "seed": 1, "tags": ["nightly"]},
        {"id": "skipped", "seed": 1, "tags": ["smoke"], "skip": "not today"},
    ]))
    result = offline_project.run("-m", "smoke", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["batches/marks.json::fast-one", "batches/marks.json::skipped",
                                 "2/3 tests collected (1 deselected)*"])
    result = offline_project.run("-k", "skipped", "-rs")
    result.assert_outcomes(skipped=1, deselected=2)
    result.stdout.fnmatch_lines(["*not today*"])

def test_non_utf8_and_empty_prompts_are_reported(offline_project: Project) -> None:
    (offline_project.path / "batches" / "latin1.json").write_bytes(
        json.dumps(noise_batch([{"positive_prompt": "x"}])).replace("x", "caf\u00e9").encode("latin-1"))
    offline_project.batch("empty.json", noise_batch([]))
    result = offline_project.run("-q")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*batches/latin1.json: not UTF-8 text (byte *", "*hint: save the file as UTF-8"])
    result.stdout.fnmatch_lines(["*batches/empty.json: prompts: the list is empty: nothing to run*"])
