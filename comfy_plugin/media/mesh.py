"""3D meshes, a built-in kind: what ``SaveGLB`` lists under ``3d`` (a ``.glb``), and a mesh
file (``.glb``, ``.gltf``, ``.obj``, ``.ply``, ``.stl``) any node lists elsewhere. Read with
trimesh (every geometry of a scene joined into one mesh).

Compared by geometry, never by bytes (a writer's metadata, the prompt included, changes them):
the vertex and face counts exactly, the bounds within ``TOLERANCE``, and a digest of the vertex
positions rounded to ``TOLERANCE``. When the digest differs, the file kept beside the entry
tells how many vertices moved and how far. The report shows both meshes' statistics side by
side.
"""

from __future__ import annotations

import hashlib
import html
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ..errors import BaselineError
from .kind import (
    CompareContext,
    KindVerdict,
    OutputKind,
    Readings,
    Recordable,
    SavedOutput,
    SideFiles,
    Stored,
    in_node_order,
    plain,
    worst,
)

if TYPE_CHECKING:
    import numpy as np

    from ..client import OutputFile

#: Positions are rounded to this before their digest, and bounds compared within it.
TOLERANCE = 1e-4
MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".stl")
#: A mesh file up to this size is kept beside its entry (to tell which vertices moved).
KEEP_BYTES = 16 * 1024 * 1024
UPDATE_HINT = "if the change is intended, record the new mesh with --comfy-update-baselines (or accept it)"


@dataclass(frozen=True)
class Geometry:
    vertices: np.ndarray = field(repr=False)  # (n, 3) float64
    faces: np.ndarray = field(repr=False)  # (m, 3) int


def read(data: bytes, suffix: str) -> Geometry:
    """The mesh in ``data``, every geometry of a scene joined."""
    import numpy as np
    import trimesh

    try:
        mesh = trimesh.load(io.BytesIO(data), file_type=suffix.lstrip(".") or "glb", force="mesh", process=False)
    except (ValueError, KeyError, TypeError, OSError, IndexError) as exc:
        raise BaselineError(f"cannot read the mesh: {exc}") from None
    vertices = np.asarray(getattr(mesh, "vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    return Geometry(vertices, faces)


def digest(vertices: np.ndarray) -> str:
    """sha256 of the positions rounded to ``TOLERANCE`` (as 64-bit integers, in order)."""
    import numpy as np

    steps = np.round(vertices / TOLERANCE).astype("<i8")
    return hashlib.sha256(steps.tobytes()).hexdigest()


@dataclass(frozen=True)
class MeshEntry:
    """One mesh of one prompt: as observed (``data`` the file) and as stored (``mesh`` its copy)."""

    format: str
    vertices: int
    faces: int
    bounds: list[list[float]]  # [[min x, y, z], [max x, y, z]]
    digest: str
    seed: int | None = None
    workflow_digest: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    node: str = ""
    mesh: str = ""
    data: bytes = field(default=b"", repr=False, compare=False)
    kind: ClassVar[str] = "mesh"

    def to_json(self) -> dict[str, Any]:
        out = {"kind": self.kind, "format": self.format, "vertices": self.vertices, "faces": self.faces,
               "bounds": self.bounds, "digest": self.digest, "seed": self.seed,
               "workflow_digest": self.workflow_digest, "params": self.params, "node": self.node, "mesh": self.mesh}
        if self.data:
            import base64

            out["data"] = base64.b64encode(self.data).decode("ascii")
        return out

    def settled(self) -> MeshEntry:
        return self

    def side_files(self) -> tuple[str, ...]:
        return (self.mesh,) if self.mesh else ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> MeshEntry:
        import base64

        try:
            seed = data.get("seed")
            bounds = [[float(v) for v in corner] for corner in data["bounds"]]
            entry = cls(str(data["format"]), data["vertices"], data["faces"], bounds, str(data["digest"]),
                        seed if isinstance(seed, int) else None, str(data.get("workflow_digest", "")),
                        dict(data.get("params") or {}), str(data.get("node", "")), str(data.get("mesh", "")),
                        base64.b64decode(data.get("data", "")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BaselineError(f"{where}: not a mesh entry ({exc})") from None
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (entry.vertices, entry.faces)):
            raise BaselineError(f"{where}: vertex and face counts must be whole numbers")
        return entry


def observe(output: SavedOutput, context: CompareContext) -> tuple[MeshEntry, Geometry]:
    suffix = PurePosixPath(output.file.filename).suffix.lower() or ".glb"
    geometry = read(output.data, suffix)
    v = geometry.vertices
    bounds = [v.min(axis=0).round(6).tolist(), v.max(axis=0).round(6).tolist()] if len(v) else [[], []]
    return MeshEntry(suffix.lstrip("."), len(v), len(geometry.faces), bounds, digest(v), context.seed,
                     context.workflow_digest, plain(dict(context.params)), output.file.node_id, "",
                     output.data if len(output.data) <= KEEP_BYTES else b""), geometry


@dataclass(frozen=True)
class _One:
    status: str
    message: str
    moved: float | None = None
    bounds: float | None = None


def _bounds_change(old: MeshEntry, new: MeshEntry) -> float | None:
    if len(old.bounds) != 2 or len(new.bounds) != 2 or any(len(c) != 3 for c in (*old.bounds, *new.bounds)):
        return None
    return max(abs(a - b) for oc, nc in zip(old.bounds, new.bounds, strict=True) for a, b in zip(oc, nc, strict=True))


def _moved(old: MeshEntry, new: Geometry, context: CompareContext) -> tuple[int, float] | None:
    """How many vertices moved beyond the tolerance, and the farthest, from the kept file."""
    import numpy as np

    if not old.mesh:
        return None
    path = context.stored_file(old.mesh)
    try:
        before = read(path.read_bytes(), PurePosixPath(old.mesh).suffix or ".glb")
    except OSError as exc:
        raise BaselineError(f"cannot read the baseline mesh {path}: {exc}") from None
    if before.vertices.shape != new.vertices.shape:
        return None
    distance = np.linalg.norm(before.vertices - new.vertices, axis=1)
    return int((distance > TOLERANCE).sum()), float(distance.max(initial=0.0))


def compare_one(old: MeshEntry | None, new: MeshEntry, geometry: Geometry, index: int,
                context: CompareContext) -> _One:
    label = f"mesh {index}"
    if old is None:
        return _One("missing", f"{label} has no baseline entry")
    problems = []
    if (old.vertices, old.faces) != (new.vertices, new.faces):
        problems.append(f"{new.vertices} vertices and {new.faces} faces, the baseline {old.vertices} and {old.faces}")
    change = _bounds_change(old, new)
    if change is None or change > TOLERANCE:
        problems.append(f"the bounds changed: {new.bounds}, the baseline {old.bounds}")
    moved: float | None = 0.0
    if old.digest != new.digest:
        found = _moved(old, geometry, context)
        moved = float(found[0]) if found else None
        if found:
            problems.append(f"{found[0]} vertex(es) moved (the farthest by {found[1]:.4g})")
        elif not problems:
            problems.append("the vertex positions changed (their digest differs)")
    if not problems:
        return _One("match", "", 0.0, change)
    what = _test_change(old, new)
    message = f"{label}: " + "; ".join(problems)
    if what:
        message += f"\n  but {what}: a changed test, not necessarily a regression"
    return _One("changed-test" if what else "diff", f"{message}\n  {UPDATE_HINT}", moved, change)


def _test_change(old: MeshEntry, new: MeshEntry) -> str:
    from .still.comparison import params_changes

    changes = params_changes(old.params, new.params)
    if changes:
        return "the prompt's parameters changed since the baseline was recorded (" + "; ".join(changes) + ")"
    return "the workflow changed since the baseline was recorded" if old.workflow_digest != new.workflow_digest else ""


class Meshes(OutputKind):
    name = "mesh"
    noun = "mesh"

    def recognises(self, file: OutputFile, data: bytes) -> str | None:
        suffix = PurePosixPath(file.filename).suffix.lower()
        if suffix not in MESH_SUFFIXES:
            return None
        try:
            geometry = read(data, suffix)
        except BaselineError:
            return None
        return f"{len(geometry.vertices)} vertices, {len(geometry.faces)} faces"

    def compare(self, stored: list[Stored] | None, outputs: list[SavedOutput], context: CompareContext) -> KindVerdict:
        seen = [observe(o, context) for o in in_node_order(outputs)]
        entries = cast("list[MeshEntry]", stored or [])
        results = [compare_one(entries[i] if i < len(entries) else None, s, g, i, context)
                   for i, (s, g) in enumerate(seen)]
        observed = tuple(s for s, _ in seen)
        if stored is None:
            return KindVerdict(self.name, "missing", f"no baseline for this prompt ({len(seen)} mesh(es))",
                               observed=observed, card=self._card(observed, [], results, context))
        status = worst([r.status for r in results])
        messages = [r.message for r in results if r.status != "match"]
        if len(entries) != len(seen):
            status = worst([status, "diff"])
            messages.insert(0, f"the baseline holds {len(entries)} mesh(es), the prompt produced {len(seen)}")
        if status == "match":
            messages = [f"{len(seen)} mesh(es) match their baseline"]
        readings: Readings = {}
        if results:
            readings = {"moved_vertices": (tuple(r.moved for r in results), 0.0),
                        "bounds": (tuple(r.bounds for r in results), TOLERANCE)}
        unchanged = status == "match" and not any(_test_change(e, s) for e, s in zip(entries, observed, strict=False))
        return KindVerdict(self.name, status, "\n".join(messages), readings, observed, unchanged,
                           self._card(observed, entries, results, context))

    # -- what a baseline keeps -------------------------------------------------------------

    def read_entry(self, data: Mapping[str, Any], where: str) -> Stored:
        return MeshEntry.from_json(data, where)

    def read_observed(self, data: Mapping[str, Any]) -> Recordable:
        return MeshEntry.from_json(data, "a kept mesh observation")

    def keep(self, seen: Recordable, files: SideFiles, prompt_id: str, index: int) -> Stored:
        entry = cast("MeshEntry", seen)
        copy = files.by_digest(entry.data, f".{entry.format}") if entry.data else ""
        return replace(entry, mesh=copy, data=b"")

    # -- the report ------------------------------------------------------------------------

    @staticmethod
    def _card(seen: tuple[MeshEntry, ...], entries: list[MeshEntry], results: list[_One],
              context: CompareContext) -> dict[str, Any]:
        if not context.report:
            return {}
        return {"meshes": [{"index": i, "status": results[i].status if i < len(results) else "",
                            "new": _stats(s), "baseline": _stats(entries[i]) if i < len(entries) else None}
                           for i, s in enumerate(seen)]}

    def preview(self, outputs: list[SavedOutput]) -> dict[str, Any]:
        meshes = []
        for i, output in enumerate(outputs):
            try:
                geometry = read(output.data, PurePosixPath(output.file.filename).suffix.lower())
                stats: dict[str, Any] = {"vertices": len(geometry.vertices), "faces": len(geometry.faces)}
            except BaselineError as exc:
                stats = {"error": str(exc)}
            meshes.append({"index": i, "status": "", "new": stats, "baseline": None})
        return {"meshes": meshes}

    def card_html(self, card: Mapping[str, Any], link: Callable[[str, str], str]) -> str:
        e = html.escape
        parts = []
        for mesh in card.get("meshes") or []:
            new, old = mesh.get("new") or {}, mesh.get("baseline")
            names = list(dict.fromkeys([*new, *(old or {})]))
            head = "<tr><th></th>" + ("<th>baseline</th>" if old is not None else "") + "<th>new</th></tr>"
            rows = "".join(
                f"<tr><th>{e(n)}</th>" + (f"<td>{e(str(old.get(n, '')))}</td>" if old is not None else "")
                + f"<td>{e(str(new.get(n, '')))}</td></tr>" for n in names)
            parts.append(f'<div class="compare mesh"><div class="label">mesh {e(str(mesh.get("index")))} '
                         f'({e(str(mesh.get("status") or "new"))})</div><table class="mesh-stats">{head}{rows}'
                         "</table></div>")
        return "\n".join(parts)


def _stats(entry: MeshEntry) -> dict[str, Any]:
    return {"vertices": entry.vertices, "faces": entry.faces, "bounds min": entry.bounds[0] if entry.bounds else "",
            "bounds max": entry.bounds[1] if len(entry.bounds) > 1 else "", "digest": entry.digest[:12]}
