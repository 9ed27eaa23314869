"""Time and memory of each prompt: junit properties, the report section and the summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from test_checkpoint import tiny_batch

from comfy_plugin.server.launcher import default_python
from conftest import COMFY_DIR, CPU_ARGS, MODEL_PATHS, ROOT, Project


def junit_properties(path) -> dict[str, dict[str, str]]:
    return {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
            for case in ET.parse(path).iter("testcase")}


def test_a_launched_server_records_exact_peak_memory_and_node_times(offline_project: Project) -> None:
    p = offline_project
    p.batch("tiny.json", tiny_batch([{"id": "one", "positive_prompt": "a red barn", "seed": 5151},
                                     {"id": "two", "positive_prompt": "a blue barn", "seed": 5152}]))
    result = p.pytester.runpytest(
        "batches/", "-p", "no:cacheprovider", "-rA", "--junitxml=r.xml", f"--comfy-launch={COMFY_DIR}",
        f"--comfy-python={default_python(ROOT)}", f"--comfy-launch-args={' '.join(CPU_ARGS)}",
        f"--comfy-model-paths={MODEL_PATHS}")
    result.assert_outcomes(passed=2)
    props = junit_properties(p.path / "r.xml")
    for name in ("one", "two"):
        queued, executed, peak = (float(props[name][k]) for k in ("queued_s", "execution_s", "peak_mem_mb"))
        assert 0 <= queued < 120 and 0 < executed < 120, props[name]
        assert 200 < peak < 20_000, f"the server's peak resident memory in MB: {peak}"
    result.stdout.fnmatch_lines(["time: queued * s, executed * s (execution: the server's timestamps)",
                                 "memory: * MB (peak resident memory)",
                                 "slowest nodes (as the client saw them): *KSampler 3 *"])
    result.stdout.fnmatch_lines(["slowest prompts: batches/tiny.json::* s, * MB; batches/tiny.json::* s, * MB"])


def test_a_remote_server_reports_sampled_device_memory(project: Project) -> None:
    project.batch("tiny.json", tiny_batch([{"id": "remote", "positive_prompt": "a green barn", "seed": 5153}]))
    result = project.run("batches/", "-rA", "--junitxml=r.xml")
    result.assert_outcomes(passed=1)
    props = junit_properties(project.path / "r.xml")["remote"]
    assert float(props["peak_mem_mb"]) > 0 and float(props["execution_s"]) > 0 and "queued_s" in props
    result.stdout.fnmatch_lines(["memory: * MB (device memory, sampled)"])
