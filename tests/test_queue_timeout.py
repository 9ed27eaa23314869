"""--comfy-queue-timeout through the plugin: someone else's long prompt ahead times a prompt out;
this run's own prompts ahead (from every pytest-xdist worker) never do."""

from __future__ import annotations

import json
import urllib.request

import pytest
from test_client import run_long
from test_pipeline import heavy_batch

from comfy_plugin.client import ComfyClient
from conftest import Project, start_comfyui


def queue_of(url: str) -> dict:
    with urllib.request.urlopen(url + "/queue") as r:
        return json.loads(r.read())


def test_a_prompt_stuck_behind_someone_elses_is_removed_and_fails(pytester: pytest.Pytester) -> None:
    """Before the fix it waited forever: the timeout only started at execution start."""
    server = start_comfyui()
    foreign = ComfyClient(server.url)  # another user of the server: no run mark
    try:
        long_id = run_long(foreign, size=3072)
        project = Project(pytester, server.url)
        project.batch("stuck.json", heavy_batch([{"id": "stuck", "seed": 5}]))
        result = project.run("batches/", "--comfy-queue-timeout", "1")
        queue = queue_of(server.url)
        foreign.cancel([long_id], wait_s=60)
    finally:
        foreign.close()
        server.stop()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["queue timeout: prompt * waited * behind 1 prompt(s) that are not this run's*"])
    pending = [entry[1] for entry in queue["queue_pending"]]
    assert pending == [], f"the stuck prompt left the queue: {queue}"
    assert project.images() == []


def test_prompts_of_the_runs_own_workers_never_time_it_out(pytester: pytest.Pytester) -> None:
    """Two pytest-xdist workers share one server: each waits behind the other's slow prompts
    far longer than the bound, and all pass (the workers share one run mark)."""
    server = start_comfyui()
    try:
        project = Project(pytester, server.url)
        project.batch("slow.json", heavy_batch([
            {"id": f"slow-{i}", "seed": i, "width": 1536, "height": 1536, "blur": 31} for i in range(4)]))
        result = project.run("batches/", "-n", "2", "--comfy-queue-timeout", "0.5")
        with urllib.request.urlopen(server.url + "/history") as r:
            history = json.loads(r.read())
    finally:
        server.stop()
    result.assert_outcomes(passed=4)
    starts = sorted(dict(e["status"]["messages"])["execution_start"]["timestamp"] for e in history.values())
    assert starts[-1] - starts[0] > 2000, "prompts really waited behind each other for seconds"
