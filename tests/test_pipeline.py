"""Prompts are queued ahead of the test that waits for them, and removed when it won't run."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from conftest import Project, noise_batch, signal_during, start_comfyui

# After each test, record how many prompts the server knows (finished or queued).
COUNTING_CONFTEST = """
import json, urllib.request
def _get(url, path):
    with urllib.request.urlopen(url + path) as r:
        return json.loads(r.read())
def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    url = "{url}"
    queue = _get(url, "/queue")
    known = len(_get(url, "/history")) + len(queue["queue_running"]) + len(queue["queue_pending"])
    with open("known.txt", "a") as f:
        f.write(f"{{report.nodeid}} {{known}}\\n")
"""


def known_after_each_test(project: Project) -> list[int]:
    return [int(line.split()[-1]) for line in (project.path / "known.txt").read_text().splitlines()]


@pytest.mark.parametrize("prefetch, expected", [
    ("2", [3, 4, 5, 5, 5]),
    ("0", [1, 2, 3, 4, 5]),
    # auto: two ahead until a prompt's execution time is known; these take milliseconds, so the
    # second test queues every prompt left (as many as run in 0.1 s, up to 16)
    ("auto", [3, 5, 5, 5, 5]),
])
def test_prompts_are_queued_ahead(pytester: pytest.Pytester, prefetch: str, expected: list[int]) -> None:
    server = start_comfyui()  # a server of its own: its history counts only these prompts
    try:
        project = Project(pytester, server.url)
        pytester.makeconftest(COUNTING_CONFTEST.format(url=server.url))
        project.batch("five.json", noise_batch([{"id": f"p{i}", "seed": i} for i in range(5)]))
        result = project.run("batches/", "--comfy-prefetch", prefetch)
    finally:
        server.stop()
    result.assert_outcomes(passed=5)
    assert known_after_each_test(project) == expected
    assert len(project.images()) == 5, "each result stays with its own test"


def test_prompts_queued_for_tests_that_do_not_run_are_removed(pytester: pytest.Pytester) -> None:
    server = start_comfyui()
    try:
        project = Project(pytester, server.url)
        batch = noise_batch([
            {"id": "fails", "seed": 1, "blur": 31, "width": 8, "height": 8},
            {"id": "big-1", "seed": 2, "width": 3072, "height": 3072, "batch_size": 2},
            {"id": "big-2", "seed": 3, "width": 3072, "height": 3072, "batch_size": 2},
            {"id": "never", "seed": 4},
        ])
        batch["parameters"]["workflow_file"] = "../workflows-files/blend-subgraph-api.json"
        batch["parameters"]["workflow_items"] = {
            "seed": "21:11,inputs,seed", "width": "21:10,inputs,width", "height": "21:10,inputs,height",
            "batch_size": "21:10,inputs,batch_size", "blur": "21:12,inputs,blur_radius",
        }
        project.batch("stop.json", batch)
        result = project.run("batches/", "-x")
        with urllib.request.urlopen(server.url + "/queue") as r:
            queue = json.loads(r.read())
        with urllib.request.urlopen(server.url + "/history") as r:
            history = json.loads(r.read())
    finally:
        server.stop()
    result.assert_outcomes(failed=1)
    match = re.search(r"removed 2 prompt\(s\) of tests that did not run or were interrupted: (\S+), (\S+)", result.stdout.str())
    assert match, result.stdout.str()
    assert queue["queue_running"] == [] and queue["queue_pending"] == []
    statuses = {pid: history.get(pid, {}).get("status", {}).get("status_str") for pid in match.groups()}
    assert all(status in (None, "error") for status in statuses.values()), statuses
    assert None in statuses.values(), "the pending one was deleted before it ran"
    assert project.images() == []


def heavy_batch(prompts: list[dict]) -> dict:
    """Blend workflow: a large blur keeps the server busy for seconds."""
    batch = noise_batch(prompts)
    batch["parameters"]["workflow_file"] = "../workflows-files/blend-subgraph-api.json"
    batch["parameters"]["workflow_items"] = {
        "seed": "21:11,inputs,seed", "width": "21:10,inputs,width", "height": "21:10,inputs,height",
        "batch_size": "21:10,inputs,batch_size", "blur": "21:12,inputs,blur_radius",
    }
    return batch


def test_timeout_counts_from_execution_start_and_interrupts(pytester: pytest.Pytester) -> None:
    server = start_comfyui()
    try:
        project = Project(pytester, server.url)
        project.batch("slow.json", heavy_batch([
            {"id": "slow", "seed": 1, "width": 2048, "height": 2048, "blur": 31, "timeout": 0.5},
            {"id": "queued-behind", "seed": 2, "width": 1536, "height": 1536, "blur": 31, "timeout": 30},
            {"id": "quick", "seed": 3, "timeout": 2},
        ]))
        result = project.run("batches/")
        with urllib.request.urlopen(server.url + "/queue") as r:
            queue = json.loads(r.read())
    finally:
        server.stop()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "timed out: no result within 0.5 s of the prompt's execution start; the prompt was interrupted*",
        "*FAILED batches/slow.json::slow*",
    ])
    assert queue["queue_running"] == [] and queue["queue_pending"] == []
    assert sorted(f.name.split("_")[1] for f in project.images()) == ["queued-behind", "quick"]


def test_ctrl_c_removes_the_running_and_the_queued_prompts(pytester: pytest.Pytester) -> None:
    server = start_comfyui()
    try:
        project = Project(pytester, server.url)
        signal_during(pytester, "slow", "SIGINT")
        project.batch("slow.json", heavy_batch([
            {"id": "slow", "seed": 1, "width": 2048, "height": 2048, "blur": 31},
            {"id": "queued-1", "seed": 2, "width": 2048, "height": 2048, "blur": 31},
            {"id": "queued-2", "seed": 3},
        ]))
        # A process of its own: the interrupt must not reach this test session.
        result = pytester.runpytest_subprocess("batches/", "--comfy-url", server.url, "-p", "no:cacheprovider")
        with urllib.request.urlopen(server.url + "/queue") as r:
            queue = json.loads(r.read())
    finally:
        server.stop()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["removed 3 prompt(s) of tests that did not run or were interrupted: *",
                                 "*KeyboardInterrupt*"])
    assert queue["queue_running"] == [] and queue["queue_pending"] == []
    assert project.images() == []


KILL_ON_FAILURE_CONFTEST = """
import os, signal
def pytest_runtest_logreport(report):
    if report.when == "call" and report.failed:
        os.kill({pid}, signal.SIGKILL)
"""


def test_prompts_that_cannot_be_removed_are_not_reported_as_removed(pytester: pytest.Pytester) -> None:
    """Before the fix: the cancel swallowed the error and still said "removed 2 prompt(s)"."""
    server = start_comfyui()
    try:
        project = Project(pytester, server.url)
        pytester.makeconftest(KILL_ON_FAILURE_CONFTEST.format(pid=server.process.pid))
        project.batch("stop.json", heavy_batch([
            {"id": "fails", "seed": 1, "blur": 31, "width": 8, "height": 8},
            {"id": "big-1", "seed": 2, "width": 3072, "height": 3072, "batch_size": 2},
            {"id": "big-2", "seed": 3, "width": 3072, "height": 3072, "batch_size": 2},
        ]))
        result = project.run("batches/", "-x")
        server.process.wait(30)  # the conftest killed it when the first test failed
    finally:
        server.stop()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "removed 2 prompt(s)" not in out, out
    result.stdout.fnmatch_lines(["could not remove 2 prompt(s) of tests that did not run: * (*ComfyUI at *)"])
