"""Pending results: what a run leaves for each compared prompt whose outputs differ from its
baseline (or that has none), so that a reviewer can accept it later without a rerun
(``accept.py``). One JSON file per prompt under the output folder (``images/comfy-pending/``
by default, which CI keeps as an artifact). No pytest here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BaselineError

PENDING_VERSION = 1


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


@dataclass(frozen=True)
class Pending:
    """One prompt's result, waiting for a reviewer."""

    nodeid: str
    batch_key: str  # the batch file's key in the baseline store (its path under the rootdir)
    prompt_id: str
    status: str  # the verdict it had: diff, changed-test, missing
    message: str
    observations: list[dict[str, Any]]  # each output's Recordable.to_json() (media/kind.py)
    perf: dict[str, Any] = field(default_factory=dict)  # {"device": ..., "figures": {...}, "cold": why} when timed
    provenance: dict[str, Any] = field(default_factory=dict)  # where it ran (server/identity.py Provenance)

    def to_json(self) -> dict[str, Any]:
        return {"version": PENDING_VERSION, **vars(self)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> Pending:
        try:
            if data.get("version") != PENDING_VERSION:
                raise BaselineError(f"{where}: a pending result of another version ({data.get('version')!r})")
            return cls(data["nodeid"], data["batch_key"], data["prompt_id"], data["status"], data["message"],
                       list(data["observations"]), dict(data.get("perf") or {}), dict(data.get("provenance") or {}))
        except (AttributeError, KeyError, TypeError) as exc:
            raise BaselineError(f"{where}: not a pending result ({exc})") from None


@dataclass(frozen=True)
class PendingStore:
    """``<root>/<batch key>/<prompt id>.json``: one file per prompt, replaced by its next run."""

    root: Path

    def path(self, batch_key: str, prompt_id: str) -> Path:
        return self.root.joinpath(*[_slug(part) for part in batch_key.split("/")], _slug(prompt_id) + ".json")

    def put(self, pending: Pending) -> None:
        from .store import atomic_write

        text = json.dumps(pending.to_json(), indent=1, sort_keys=True) + "\n"
        atomic_write(self.path(pending.batch_key, pending.prompt_id), text.encode("utf-8"))

    def drop(self, batch_key: str, prompt_id: str) -> None:
        """A prompt that now matches leaves nothing to accept."""
        self.path(batch_key, prompt_id).unlink(missing_ok=True)

    def all(self) -> dict[str, tuple[Path, Pending]]:
        """Every pending result under the root, by test node id."""
        found: dict[str, tuple[Path, Pending]] = {}
        files = [p for p in self.root.rglob("*.json") if p.is_file()] if self.root.is_dir() else []
        for path in sorted(files):
            try:
                pending = Pending.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))
            except (OSError, ValueError) as exc:
                raise BaselineError(f"{path}: cannot read the pending result: {exc}") from None
            found[pending.nodeid] = (path, pending)
        return found
