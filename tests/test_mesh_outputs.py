"""3D meshes on the real server: a node that reports its .glb under ``3d`` exactly as SaveGLB
does (a stand-in in tests/custom_nodes/mesh_maker: no model-free core node makes a mesh) is
recorded and rerun green; one vertex moved fails naming the kind and what changed; the report
shows both meshes' statistics and offers the change, ``--comfy-accept`` records it and the rerun
is green."""

from __future__ import annotations

import json
from typing import Any

import pytest

from comfy_plugin.server.launcher import LaunchedServer
from conftest import Project, start_with_custom_node

FAIL = "--comfy-missing-baseline=fail"
NODE = "batches/m.json::box"
WORKFLOW = {"1": {"class_type": "TestMeshBox", "inputs": {"size": 1.0, "move": 0.0, "filename_prefix": "mesh/box"}}}


@pytest.fixture(scope="module")
def mesh_server(tmp_path_factory: pytest.TempPathFactory) -> LaunchedServer:
    """A ComfyUI whose custom nodes are the mesh maker alone."""
    server = start_with_custom_node(tmp_path_factory.mktemp("mesh-server"), "mesh_maker")
    yield server
    server.stop()


def batch(move: float) -> dict[str, Any]:
    return {"parameters": {"workflow_file": "../workflows-files/mesh-api.json",
                           "workflow_items": {"size": "1,inputs,size", "move": "1,inputs,move"},
                           "save_images": {"enabled": True, "output_directory": "./images/"}},
            "prompts": [{"id": "box", "size": 2.0, "move": move}]}


def stored(project: Project) -> list[dict[str, Any]]:
    return json.loads((project.path / "baselines" / "m.json").read_text())["baselines"]["box"]


def test_a_mesh_is_recorded_a_moved_vertex_fails_and_is_accepted(pytester: pytest.Pytester,
                                                                 mesh_server: LaunchedServer) -> None:
    project = Project(pytester, mesh_server.url)
    (project.path / "workflows-files" / "mesh-api.json").write_text(json.dumps(WORKFLOW))
    project.batch("m.json", batch(0.0))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=1)
    [entry] = stored(project)
    assert (entry["kind"], entry["format"], entry["vertices"], entry["faces"]) == ("mesh", "glb", 8, 12)
    assert entry["bounds"] == [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]
    assert (project.path / "baselines" / entry["mesh"]).is_file()
    assert [p.suffix for p in project.images()] == [".glb"]
    project.run("batches/", FAIL).assert_outcomes(passed=1)

    project.batch("m.json", batch(0.25))
    report = project.path / "report.html"
    changed = project.run("batches/", FAIL, f"--comfy-report={report}")
    changed.assert_outcomes(failed=1)
    out = changed.stdout.str()
    assert "mesh 0: 1 vertex(es) moved (the farthest by 0.25)" in out
    assert "bounds" not in out, "three other corners keep the box's bounds"
    page = report.read_text()
    assert 'class="mesh-stats"' in page and "<th>baseline</th>" in page and "accept-box" in page

    (project.path / "accepted.json").write_text(json.dumps([NODE]))
    accepted = project.run(f"--comfy-accept={project.path / 'accepted.json'}")
    assert accepted.ret == 0, accepted.stdout.str()
    accepted.stdout.fnmatch_lines([f"accepted {NODE}: 1 mesh(s) as its baseline*"])
    assert stored(project)[0]["digest"] != entry["digest"]
    project.run("batches/", FAIL).assert_outcomes(passed=1)
