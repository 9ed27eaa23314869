"""The mesh kind (media/mesh.py) without a server: a .glb under ``3d`` recognised, recorded with
its file beside the entry, rerun green (also when only the file's bytes differ); a moved vertex,
other counts and other bounds fail naming what changed; JSON round trip; the report's table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comfy_plugin.baselines.verdict import Verdict
from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.client import OutputFile
from comfy_plugin.errors import BaselineError
from comfy_plugin.media.kinds import Kinds
from comfy_plugin.media.mesh import Meshes, digest
from comfy_plugin.run.prepare import PreparedPrompt
from tests.unit.test_audio_kind import project  # noqa: F401 (the fixture)
from tests.unit.test_text_kind import NODE, regression, stored


def glb(moved: float = 0.0, extents: tuple[float, float, float] = (1.0, 2.0, 3.0), name: str = "box") -> bytes:
    import trimesh

    mesh = trimesh.creation.box(extents=extents)
    vertices = np.array(mesh.vertices)
    vertices[0] += (moved, 0.0, 0.0)
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.Trimesh(vertices, mesh.faces, process=False), node_name=name)
    return bytes(scene.export(file_type="glb"))


def check(root: Path, data: bytes, *, update: bool = False) -> tuple[Verdict, Any]:
    reg = regression(root, update=update)
    batch = load_batch(root / "batches" / "t.json", "batches/t.json", root)
    reg.collected(batch)
    spec = batch.prompts[0]
    outputs = [reg.kinds.saved(OutputFile("9", "3d", "m_00001_.glb", "mesh", "output"), None, data)]
    verdict = reg.check(NODE, batch, spec, PreparedPrompt(batch.workflow, dict(spec.values), None), outputs)
    if update:
        reg.finish()
    return verdict, reg


def test_a_glb_is_recognised_as_a_mesh() -> None:
    saved = Kinds.of().saved(OutputFile("9", "3d", "m.glb", "mesh", "output"), None, glb())
    assert (saved.kind, saved.detail) == ("mesh", "8 vertices, 12 faces")
    assert Meshes().recognises(OutputFile("9", "3d", "m.glb", "", "output"), b"not a mesh") is None


def test_recorded_and_rerun_green_whatever_the_bytes(project: Path) -> None:  # noqa: F811
    check(project, glb(), update=True)
    [entry] = stored(project)
    assert (entry["kind"], entry["vertices"], entry["faces"]) == ("mesh", 8, 12)
    assert entry["bounds"] == [[-0.5, -1.0, -1.5], [0.5, 1.0, 1.5]]
    assert (project / "baselines" / entry["mesh"]).read_bytes() == glb()
    renamed = glb(name="another-node-name")
    assert renamed != glb(), "other bytes, the same geometry"
    again, reg = check(project, renamed)
    assert (again.status, again.failed) == ("match", False), again.message
    assert again.readings["mesh_moved_vertices"] == ((0.0,), 0.0)
    [card] = reg.cards[NODE]
    page = Meshes().card_html(card, lambda inner, path: inner)
    assert page.count("<td>8</td>") == 2 and "<th>baseline</th>" in page
    assert check(project, glb(), update=True)[0].status == "unchanged"


def test_a_moved_vertex_fails_naming_it(project: Path) -> None:  # noqa: F811
    check(project, glb(), update=True)
    verdict, reg = check(project, glb(moved=-0.25))
    assert verdict.status == "diff"
    assert "mesh 0: the bounds changed" in verdict.message
    assert "1 vertex(es) moved (the farthest by 0.25)" in verdict.message
    assert verdict.readings["mesh_moved_vertices"] == ((1.0,), 0.0)
    assert NODE in reg.reviewable
    assert check(project, glb(moved=1e-6))[0].status == "match", "a move within the tolerance is no change"


def test_other_counts_are_named(project: Path) -> None:  # noqa: F811
    import trimesh

    check(project, glb(), update=True)
    sphere = bytes(trimesh.Scene(trimesh.creation.icosphere(1)).export(file_type="glb"))
    verdict, _ = check(project, sphere)
    assert "mesh 0: 42 vertices and 80 faces, the baseline 8 and 12" in verdict.message


def test_an_entry_reads_back_and_the_digest_rounds() -> None:
    points = np.array([[0.1, 0.2, 0.3]])
    assert digest(points) == digest(points + 1e-9) != digest(points + 1e-3)
    with pytest.raises(BaselineError, match="not a mesh entry"):
        Meshes().read_entry({"format": "glb"}, "x")
    entry = Meshes().read_entry({"format": "glb", "vertices": 8, "faces": 12, "bounds": [[0, 0, 0], [1, 1, 1]],
                                 "digest": "d"}, "x")
    assert Meshes().read_observed(json.loads(json.dumps(entry.to_json()))).to_json() == entry.to_json()
