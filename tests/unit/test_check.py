"""--comfy-check and --collect-only without a server: what the file tells is checked, prompts that
cannot run as written are listed, and nothing is contacted. Against the real server: tests/test_check.py."""

from __future__ import annotations

import pytest

from conftest import Project, noise_batch


def typo_batch() -> dict:
    return noise_batch([
        {"id": "first", "seed": 1},
        {"id": "too-wide", "seed": 2, "width": 1 << 20},  # only the server's /object_info forbids it
        {"id": "third", "positve_prompt": "a misspelt key", "seed": 3},
    ])


def test_check_mode_without_a_server_checks_what_the_file_tells(offline_project: Project) -> None:
    offline_project.batch("typo.json", typo_batch())
    result = offline_project.pytester.runpytest("batches/", "--comfy-check", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    assert "cannot connect" not in result.stdout.str()

def test_collect_only_lists_prompts_that_cannot_run_and_exits_non_zero(offline_project: Project) -> None:
    offline_project.batch("typo.json", typo_batch())
    result = offline_project.run("batches/", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["batches/typo.json::third", "*1 prompt(s) cannot run as written*",
                                 "batches/typo.json::third",
                                 "  batches/typo.json: prompts[[]2].positve_prompt: 'positve_prompt' is not declared*",
                                 "    hint: did you mean \"positive_prompt\"?*", "3 tests collected*"])

def test_collect_only_of_valid_prompts_exits_zero(offline_project: Project) -> None:
    offline_project.batch("fine.json", noise_batch([{"id": "fine", "seed": 1}]))
    result = offline_project.run("batches/", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert "cannot run as written" not in result.stdout.str()

def test_check_mode_without_a_server_says_it_contacted_none(offline_project: Project) -> None:
    offline_project.batch("fine.json", noise_batch([{"id": "fine", "seed": 1}]))
    result = offline_project.pytester.runpytest("batches/", "--comfy-check", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["server: http://127.0.0.1:8188 (not contacted: no prompt needed it)",
                                 "prompts checked, none queued: 1 passed, 0 failed, 0 skipped"])
