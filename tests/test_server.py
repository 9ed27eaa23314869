"""Server selection, launching, and a server that goes away in the middle of a run. Option precedence
and a run where no server answers: tests/unit/test_options.py, tests/unit/test_without_a_server.py."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from comfy_plugin.server.launcher import default_python
from conftest import (
    COMFY_DIR,
    CPU_ARGS,
    ROOT,
    Project,
    noise_batch,
    signal_during,
    start_comfyui,
)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/system_stats", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def test_ini_comfy_launch_starts_and_stops_a_server(offline_project: Project) -> None:
    """What `pytest batches/` does in this repository: the ini names ComfyUI's folder."""
    p = offline_project
    p.pytester.makeini(
        f"[pytest]\ncomfy_launch = {COMFY_DIR}\ncomfy_python = {default_python(ROOT)}\n"
        f"comfy_launch_args = {' '.join(CPU_ARGS)}\n"
    )
    p.batch("one.json", noise_batch([{"positive_prompt": "launched", "seed": 2, "width": 40}]))
    result = p.pytester.runpytest("batches/", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    match = re.search(r"ComfyUI launched at (http://127\.0\.0\.1:\d+) \(log: (\S+comfyui\.log)\)", out)
    assert match, out
    url, log = match.groups()
    assert not answers(url), "the launched server must be stopped at the end of the session"
    assert not Path(log).parent.exists(), "a server that did not fail leaves no folder, not even its log"
    assert [f.name.split("_")[1] for f in p.images()] == ["launched"]


def test_server_stopped_mid_run_fails_the_rest_at_once(pytester: pytest.Pytester) -> None:
    """The second prompt is in flight (a large image) when the server is killed."""
    server = start_comfyui()
    try:
        project = Project(pytester, server.url)
        signal_during(pytester, "big", "SIGKILL", server.process.pid)
        project.batch("run.json", noise_batch([
            {"id": "small", "seed": 1},
            {"id": "big", "seed": 2, "width": 4096, "height": 4096, "batch_size": 4},
            {"id": "after-1", "seed": 3},
            {"id": "after-2", "seed": 4},
        ]))
        result = project.run("batches/", "--junitxml=r.xml")
        server.process.wait(10)
    finally:
        server.stop()
    result.assert_outcomes(passed=1, failed=3)
    out = result.stdout.str()
    assert result.stdout.lines.count(f"ComfyUI at {server.url} is not available (details in the session summary)") == 3
    assert out.count("start ComfyUI") == 1
    assert f"ComfyUI at {server.url}: the server went away during the run" in out
    times = {m[0]: float(m[1]) for m in re.findall(r'name="([\w-]+)" time="([\d.]+)"', (pytester.path / "r.xml").read_text())}
    assert times["after-1"] < 1 and times["after-2"] < 1, times


def test_several_urls_are_shared_out_to_xdist_workers(pytester: pytest.Pytester) -> None:
    servers = [start_comfyui(), start_comfyui()]
    try:
        project = Project(pytester, servers[0].url)
        for name in ("left", "right"):
            project.batch(f"{name}.json", noise_batch([{"id": f"{name}-{i}", "seed": i} for i in range(3)]))
        result = pytester.runpytest("batches/", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
                                    "--comfy-url", servers[0].url, "--comfy-url", servers[1].url)
        histories = []
        for server in servers:
            with urllib.request.urlopen(server.url + "/history") as r:
                histories.append(json.loads(r.read()))
    finally:
        for server in servers:
            server.stop()
    result.assert_outcomes(passed=6)
    assert [len(h) for h in histories] == [3, 3], "each worker used its own server"
    assert len(project.images()) == 6


def test_each_xdist_worker_launches_its_own_server(offline_project: Project) -> None:
    p = offline_project
    p.pytester.makeini(
        f"[pytest]\ncomfy_launch = {COMFY_DIR}\ncomfy_python = {default_python(ROOT)}\n"
        f"comfy_launch_args = {' '.join(CPU_ARGS)}\n"
    )
    p.pytester.makeconftest(
        "import os\n"
        "from comfy_plugin.plugin.registry import comfy_state\n"
        "def pytest_sessionfinish(session):\n"
        "    worker = os.environ.get('PYTEST_XDIST_WORKER')\n"
        "    server = comfy_state(session.config).activate().session.server\n"
        "    if worker and server is not None:\n"
        "        open(f'launched-{worker}.txt', 'w').write(server.url)\n"
    )
    for name in ("left", "right"):
        p.batch(f"{name}.json", noise_batch([{"id": f"{name}-{i}", "seed": i} for i in range(2)]))
    result = p.pytester.runpytest("batches/", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=4)
    urls = sorted(f.read_text() for f in p.path.glob("launched-gw*.txt"))
    assert len(urls) == 2 and urls[0] != urls[1], urls
    assert not any(answers(url) for url in urls), "each worker stops its server"

