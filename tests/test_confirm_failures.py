"""--comfy-confirm-failures on the real server: a failing comparison is rerun uncached. A node
that draws its own noise (tests/custom_nodes/unseeded_noise: os.urandom, no IS_CHANGED, so an
identical prompt is served from ComfyUI's cache) is told apart as nondeterministic; a seeded
noise graph whose baseline holds another seed's picture is a regression confirmed. Each rerun
really ran: the server's ``execution_cached`` message of it lists no node, and the custom
node's execution counter grows."""

from __future__ import annotations

import json
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from comfy_plugin.server.launcher import LaunchedServer
from conftest import Project, noise_batch, start_with_custom_node

FAIL = "--comfy-missing-baseline=fail"
UNSEEDED = {"1": {"class_type": "TestUnseededNoise", "inputs": {"width": 64, "height": 64}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "unseeded"}}}


@pytest.fixture(scope="module")
def noise_server(tmp_path_factory: pytest.TempPathFactory) -> LaunchedServer:
    """A ComfyUI whose one custom node draws unseeded noise (its cache is this module's alone)."""
    server = start_with_custom_node(tmp_path_factory.mktemp("noise-server"), "unseeded_noise")
    yield server
    server.stop()


def executions(server: LaunchedServer) -> int:
    counter = server.workdir / "base" / "output" / "executions.txt"
    return int(counter.read_text()) if counter.is_file() else 0


def cached_nodes(server: LaunchedServer, prompt_id: str) -> list[str]:
    """The nodes the server did not run again for this prompt (its execution_cached message)."""
    with urllib.request.urlopen(f"{server.url}/history/{prompt_id}", timeout=10) as answer:
        history = json.loads(answer.read())[prompt_id]
    assert history["status"]["completed"], history["status"]
    [cached] = [data["nodes"] for name, data in history["status"]["messages"] if name == "execution_cached"]
    return list(cached)


def properties(junit: Path, test: str) -> dict[str, str]:
    case = next(c for c in ET.parse(junit).iter("testcase") if c.get("name") == test)
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def project_on(pytester: pytest.Pytester, server: LaunchedServer) -> Project:
    project = Project(pytester, server.url)
    (project.path / "workflows-files" / "unseeded-api.json").write_text(json.dumps(UNSEEDED))
    project.batch("u.json", {"parameters": {"workflow_file": "../workflows-files/unseeded-api.json",
                                            "save_images": {"enabled": True, "output_directory": "./images/"}},
                             "prompts": [{"id": "unseeded"}]})
    return project


def test_a_node_drawing_its_own_noise_is_nondeterministic(pytester: pytest.Pytester,
                                                           noise_server: LaunchedServer) -> None:
    project = project_on(pytester, noise_server)
    project.batch("s.json", noise_batch([{"id": "seeded", "seed": 1}]))
    # the seeded prompt runs last, so the unseeded one's outputs leave the server's cache
    project.run("batches/u.json", "batches/s.json", "--comfy-update-baselines").assert_outcomes(passed=2)

    before = executions(noise_server)
    junit = project.path / "junit.xml"
    result = project.run("batches/u.json", FAIL, "--comfy-confirm-failures=3", f"--junitxml={junit}")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "nondeterministic: the prompt's outputs change from run to run, so no baseline can hold them" in out
    assert "rerun 1 (uncached) differs from the first run: " in out
    assert "the first run against its baseline: image 0 differs from its baseline" in out
    assert "nondeterministic (its outputs change from run to run): batches/u.json::unseeded" in out
    assert "prompts: 1 nondeterministic" in out
    props = properties(junit, "unseeded")
    assert props["confirm"] == "nondeterministic"
    [rerun] = props["confirm_prompt_ids"].split()  # the first rerun differs: no second one
    assert cached_nodes(noise_server, rerun) == []
    assert executions(noise_server) == before + 2, "the first run and the rerun each drew their noise"
    assert not list((project.path / "images" / "comfy-pending").rglob("*.json")), "nothing to accept"

    # without the rerun input, the same prompt queued twice runs once: the second comes from the cache
    project.run("batches/u.json", FAIL).assert_outcomes(failed=1)
    assert executions(noise_server) == before + 3
    again = project.run("batches/u.json", FAIL, "-rA")
    again.assert_outcomes(failed=1)
    assert executions(noise_server) == before + 3, "the prompt as it was is served from the cache"
    assert "served wholly from ComfyUI's cache" in again.stdout.str()

    # --comfy-nondeterministic=skip: the verdict skips the prompt, with its message
    skipped = project.run("batches/u.json", FAIL, "--comfy-confirm-failures=1", "--comfy-nondeterministic=skip",
                          "-rs")
    skipped.assert_outcomes(skipped=1)
    assert "nondeterministic: the prompt's outputs change" in skipped.stdout.str()


def test_a_seeded_graph_whose_baseline_holds_another_seed_is_a_confirmed_regression(
        pytester: pytest.Pytester, noise_server: LaunchedServer) -> None:
    project = project_on(pytester, noise_server)
    project.batch("s.json", noise_batch([{"id": "seeded", "seed": 1}]))
    project.run("batches/s.json", "--comfy-update-baselines").assert_outcomes(passed=1)
    baseline = project.path / "baselines" / "s.json"
    [seed_one] = json.loads(baseline.read_text())["baselines"]["seeded"]
    project.batch("s.json", noise_batch([{"id": "seeded", "seed": 2}]))
    project.run("batches/s.json", "--comfy-update-baselines").assert_outcomes(passed=1)
    # the baseline holds seed 2's picture, labelled as the test with seed 1 records it
    data: dict[str, Any] = json.loads(baseline.read_text())
    [entry] = data["baselines"]["seeded"]
    entry.update(seed=seed_one["seed"], params=seed_one["params"], workflow_digest=seed_one["workflow_digest"])
    baseline.write_text(json.dumps(data))
    project.batch("s.json", noise_batch([{"id": "seeded", "seed": 1}]))

    junit = project.path / "junit.xml"
    result = project.run("batches/s.json", FAIL, "--comfy-confirm-failures=2", f"--junitxml={junit}")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "image 0 differs from its baseline" in out
    assert "regression confirmed: 2 uncached rerun(s) gave the first run's outputs again" in out
    assert "1 regression(s) confirmed by uncached reruns: batches/s.json::seeded" in out
    assert "prompts: 1 diff" in out
    props = properties(junit, "seeded")
    assert props["confirm"] == "regression confirmed"
    reruns = props["confirm_prompt_ids"].split()
    assert len(reruns) == 2 and props["prompt_id"] not in reruns
    assert all(cached_nodes(noise_server, rerun) == [] for rerun in reruns), "every node ran again"

    # without the option a failure is not rerun
    plain = project.run("batches/s.json", FAIL, f"--junitxml={junit}")
    plain.assert_outcomes(failed=1)
    assert "confirm" not in properties(junit, "seeded")
