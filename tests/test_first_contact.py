"""First contact, against the real server: a changed workflow names the nodes and inputs that
changed, and the converter example's committed /object_info is the development server's."""

from __future__ import annotations

import json

from comfy_plugin.client import ComfyClient
from conftest import ROOT, Project, noise_batch


def test_a_changed_workflow_names_the_node_and_the_input(project: Project) -> None:
    project.batch("garden.json", noise_batch([{"id": "rose", "seed": 1}]))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)
    stored = json.loads((project.path / "baselines" / "garden.json").read_text())
    assert stored["provenance"]["rose"]["workflow"]["1"]["inputs"]["color"] == 3355443, "the map is kept"

    path = project.path / "workflows-files" / "noise-image-api.json"
    workflow = json.loads(path.read_text())
    workflow["1"]["inputs"]["color"] = 16711680
    workflow["2"]["inputs"]["strength"] = 0.9
    path.write_text(json.dumps(workflow))
    result = project.run("batches/", "--comfy-missing-baseline=fail")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "  but the workflow changed since the baseline was recorded: node 1 (EmptyImage) input color: 3355443 -> "
        "16711680; node 2 (ImageAddNoise) input strength: 0.6 -> 0.9: a changed test, not necessarily a regression",
    ])

    # a baseline recorded before the map was kept says it as before
    del stored["provenance"]["rose"]["workflow"]
    (project.path / "baselines" / "garden.json").write_text(json.dumps(stored))
    older = project.run("batches/", "--comfy-missing-baseline=fail")
    older.assert_outcomes(failed=1)
    older.stdout.fnmatch_lines(["  but the workflow changed since the baseline was recorded: a changed test, *"])


def test_the_converter_examples_object_info_is_the_development_servers(project: Project) -> None:
    committed = json.loads((ROOT / "workflows-files" / "object-info.json").read_text())
    live = ComfyClient(project.url).object_info()
    assert {name: live[name] for name in committed} == committed, "rewrite it: scripts/example_object_info.py"
