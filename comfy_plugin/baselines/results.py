"""What a session will record, and how pytest-xdist workers' results reach the controller.

Only one process writes baseline files (the plain session, or the xdist controller after
merging), so each worker sends ``SessionResults.to_json()`` as plain JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BaselineError
from ..media.kind import Recordable
from ..media.kinds import Kinds

FORMAT_VERSION = 1


@dataclass
class SessionResults:
    """What a session (or one xdist worker) will record, per batch file key (``store.key``)."""

    updates: dict[str, dict[str, list[Recordable]]] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)  # every prompt id of files collected in full
    origins: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # key -> id -> provenance

    def record(self, batch_key: str, prompt_id: str, observations: list[Recordable] | None,
               provenance: Mapping[str, Any] | None = None) -> None:
        """``provenance``: where the observations were made (written with them)."""
        if observations is not None:  # kept as the files the store writes, not as decoded data
            self.updates.setdefault(batch_key, {})[prompt_id] = [o.settled() for o in observations]
            if provenance:
                self.origins.setdefault(batch_key, {})[prompt_id] = dict(provenance)

    def collected(self, batch_key: str, prompt_ids: Iterable[str]) -> None:
        self.ids.setdefault(batch_key, set()).update(prompt_ids)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for ``workeroutput``: thumbnails and references as base64."""
        return {
            "format": FORMAT_VERSION,
            "updates": {key: {pid: [o.to_json() for o in obs] for pid, obs in prompts.items()}
                        for key, prompts in self.updates.items()},
            "ids": {key: sorted(ids) for key, ids in self.ids.items()},
            "origins": self.origins,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], kinds: Kinds) -> SessionResults:
        if data.get("format") != FORMAT_VERSION:
            raise BaselineError(f"baseline results of format {data.get('format')!r}: expected {FORMAT_VERSION}")
        updates = {key: {pid: [kinds.of_json(o).read_observed(o) for o in obs] for pid, obs in prompts.items()}
                   for key, prompts in data.get("updates", {}).items()}
        return cls(updates, {key: set(ids) for key, ids in data.get("ids", {}).items()},
                   {key: dict(origins) for key, origins in data.get("origins", {}).items()})

    def merge(self, other: SessionResults) -> None:
        """Add another process's results; for a prompt both hold, ``other`` wins."""
        for key, prompts in other.updates.items():
            for prompt_id, observations in prompts.items():
                self.record(key, prompt_id, observations, other.origins.get(key, {}).get(prompt_id))
        for key, ids in other.ids.items():
            self.collected(key, ids)


def merge_worker_results(results: list[Mapping[str, Any]], kinds: Kinds) -> SessionResults:
    """The controller's view of its workers' ``SessionResults.to_json()``: updates and ids united.

    A prompt runs on one worker only; should two report it (a rerun plugin), the later one wins."""
    merged = SessionResults()
    for data in results:
        merged.merge(SessionResults.from_json(data, kinds))
    return merged
