"""--comfy-check validates every prompt against the real server and queues nothing. Without a server
(--comfy-check, --collect-only): tests/unit/test_check.py."""

from __future__ import annotations

import json
import urllib.request

from unit.test_check import typo_batch

from conftest import Project


def server_state(url: str) -> tuple[list, list, set]:
    with urllib.request.urlopen(url + "/queue") as r:
        queue = json.loads(r.read())
    with urllib.request.urlopen(url + "/history") as r:
        history = set(json.loads(r.read()))
    return queue["queue_running"], queue["queue_pending"], history

def test_check_mode_validates_against_the_server_and_queues_nothing(project: Project) -> None:
    project.batch("typo.json", typo_batch())
    before = server_state(project.url)
    result = project.run("batches/", "--comfy-check", "-rA")
    after = server_state(project.url)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["batches/typo.json: prompts[[]1]: the server's /object_info forbids:",
                                 "- node 1 (EmptyImage) input 'width': 1048576 is above the maximum *",
                                 "batches/typo.json: prompts[[]2].positve_prompt: 'positve_prompt' is not declared*",
                                 "prompts checked, none queued: 1 passed, 2 failed, 0 skipped"])
    assert after == before, "nothing queued, nothing in /history"
    assert project.images() == []

