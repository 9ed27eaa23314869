"""The limit on --comfy-restart-on-crash: a launched ComfyUI is launched again at most three
times in a session (comfy_plugin/session.py MAX_RESTARTS); at the fourth death the prompt and
the ones after it fail with one line naming the server, and no fifth server is launched.

A conftest kills the server (SIGKILL) in each test named ``kill-N`` once the server's /queue
shows that test's prompt running.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_faults import blur_batch

from comfy_plugin.server.launcher import default_python
from conftest import COMFY_DIR, CPU_ARGS, ROOT, Project

KILL_EACH_CONFTEST = """
import json, signal, threading, time, urllib.request
from comfy_plugin.plugin.registry import comfy_state

def _running(url):
    with urllib.request.urlopen(url + "/queue", timeout=5) as r:
        return [entry[2]["21:20"]["inputs"]["value"] for entry in json.loads(r.read())["queue_running"]]

def _kill(server, name):
    deadline = time.monotonic() + 120
    while name not in _running(server.url):  # this test's prompt, not the one before it
        if time.monotonic() > deadline:
            raise TimeoutError(name + " never ran on " + server.url)
        threading.Event().wait(0.02)
    with open("killed.txt", "a") as f:
        f.write(name + " " + server.url + "\\n")
    server.process.send_signal(signal.SIGKILL)

def pytest_runtest_call(item):
    if item.name.startswith("kill-"):
        server = comfy_state(item.config).activate().session.server
        threading.Thread(target=_kill, args=(server, item.name), daemon=True).start()
"""


def run_with_deaths(pytester: pytest.Pytester, names: list[str], *args: str) -> tuple[pytest.RunResult, Project]:
    """One prompt a name on a launched server; those named ``kill-N`` run about 3 s (1536x1536,
    blur 31: still running when their test starts, though queued ahead) and are killed mid-way;
    the others are small."""
    project = Project(pytester, "")
    pytester.makeconftest(KILL_EACH_CONFTEST)
    batch = blur_batch([{"id": name, "text": name, "seed": "random", "blur": 31, "width": 1536, "height": 1536}
                        if name.startswith("kill-") else {"id": name, "text": name, "seed": "random"}
                        for name in names])
    batch["parameters"]["workflow_items"]["text"] = "21:20,inputs,value"  # tells the conftest which prompt runs
    project.batch("deaths.json", batch)
    result = pytester.runpytest(
        "batches/", "-p", "no:cacheprovider", "--junitxml=r.xml", "--comfy-restart-on-crash",
        f"--comfy-launch={COMFY_DIR}", f"--comfy-python={default_python(ROOT)}",
        f"--comfy-launch-args={' '.join(CPU_ARGS)}", *args)
    return result, project


def killed_urls(project: Project) -> dict[str, str]:
    return dict(line.split() for line in (project.path / "killed.txt").read_text().splitlines())


def junit_cases(junit: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """({test name: [prompt ids]}, {failed test name: failure message and text})."""
    cases = list(ET.parse(junit).iter("testcase"))
    ids = {c.get("name"): [p.get("value") for p in c.iter("property") if p.get("name") == "prompt_id"]
           for c in cases}
    failed = {c.get("name"): (f.get("message") or "") + "\n" + (f.text or "")
              for c in cases if (f := c.find("failure")) is not None}
    return ids, failed


def url_log(out: str, url: str) -> str:
    """The log path printed with the launch of ``url``."""
    return re.search(rf"ComfyUI launched at {re.escape(url)} \(log: ([^)]+)\)", out).group(1)


def test_fourth_death_fails_instead_of_a_fourth_restart(pytester: pytest.Pytester) -> None:
    """Nothing queued ahead (--comfy-prefetch 0): each prompt is queued by its own test, on the
    server that runs then, and dies there."""
    names = ["first", "kill-1", "kill-2", "kill-3", "kill-4", "after"]
    result, project = run_with_deaths(pytester, names, "--comfy-prefetch", "0")
    out = result.stdout.str()
    result.assert_outcomes(passed=4, failed=2)
    killed = killed_urls(project)
    urls = [killed[f"kill-{n}"] for n in (1, 2, 3, 4)]
    launched = re.findall(r"ComfyUI launched at (http://127\.0\.0\.1:\d+)", out)
    assert launched == urls and len(set(urls)) == 4, (launched, killed)  # the first launch and three restarts
    for n, url in enumerate(urls[:3], start=1):
        assert result.stdout.lines.count(f"ComfyUI at {url} died during the run (log: {url_log(out, url)}); "
                                         f"launching it again (restart {n} of at most 3)") == 1, out
    assert "restart 4" not in out and out.count("launching it again") == 3, "no fourth restart"
    assert result.stdout.lines.count(
        f"ComfyUI at {urls[3]} died during the run (log: {url_log(out, urls[3])}); not launched again: "
        "it was restarted 3 times already, the most --comfy-restart-on-crash allows") == 1, out
    ids, failed = junit_cases(project.path / "r.xml")
    assert [len(ids[f"kill-{n}"]) for n in (1, 2, 3)] == [2, 2, 2], "each killed prompt queued once more"
    assert sorted(failed) == ["after", "kill-4"], failed
    gone = f"ComfyUI at {urls[3]} is not available (details in the session summary)"
    assert failed["kill-4"].splitlines()[0] == failed["after"].splitlines()[0] == gone, failed
    assert f"ComfyUI at {urls[3]}: the server went away during the run (" in out
    assert sorted(p.name.split("_")[1] for p in project.images()) == sorted(names[:-2])


def test_a_prompt_queued_again_after_a_restart_survives_the_next_death(pytester: pytest.Pytester) -> None:
    """kill-2 is queued ahead on the first server (--comfy-prefetch 2, the default); after the
    first death it is queued again on the second, which dies while it runs: a restart is left,
    so the prompt runs on a third server."""
    result, project = run_with_deaths(pytester, ["first", "kill-1", "kill-2"])
    out = result.stdout.str()
    assert out.count("launching it again") == 2, out
    result.assert_outcomes(passed=3)
    ids, _ = junit_cases(project.path / "r.xml")
    assert len(ids["kill-2"]) == 3, "queued on each server"
