"""What a session will record, and how pytest-xdist workers' results reach the controller.

Only one process writes baseline files (the plain session, or the xdist controller after
merging), so each worker sends ``SessionResults.to_json()`` as plain JSON.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar, overload

from ..errors import BaselineError
from ..media.kind import Recordable
from ..media.kinds import Kinds

FORMAT_VERSION = 1
V = TypeVar("V")


class Spill:
    """One temporary file (gone with the process) holding the observations and provenance a
    session keeps until it writes its baselines: memory stays flat in the number of prompts,
    whatever their thumbnails, references and workflows weigh."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None

    def put(self, observations: list[Recordable]) -> Spilled:
        offset, size = self.write(observations)
        return Spilled(self, offset, size, len(observations))

    def get(self, offset: int, size: int) -> list[Recordable]:
        observations: list[Recordable] = self.read(offset, size)
        return observations

    def write(self, value: object) -> tuple[int, int]:
        """Where ``value`` now lies in the file: (offset, size)."""
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="comfy-results-")  # noqa: SIM115 (lives with the session)
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        offset = self._file.seek(0, 2)
        self._file.write(data)
        return offset, len(data)

    def read(self, offset: int, size: int) -> Any:
        assert self._file is not None  # (an offset exists only once write wrote)
        self._file.seek(offset)
        return pickle.loads(self._file.read(size))  # (this process wrote it)


@dataclass(frozen=True)
class Spilled(Sequence[Recordable]):
    """A prompt's observations in the spill file, read back each time they are looked at."""

    spill: Spill
    offset: int
    size: int
    length: int

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> Recordable: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Recordable]: ...
    def __getitem__(self, index: int | slice) -> Recordable | Sequence[Recordable]:
        return self.spill.get(self.offset, self.size)[index]

    def __iter__(self) -> Iterator[Recordable]:
        return iter(self.spill.get(self.offset, self.size))


class SpilledMap(Mapping[str, V]):
    """Prompt id -> a value kept in the spill file and read back when looked at: the provenance
    recorded with a prompt's observations (with its workflow's node inputs, about 2 KB a prompt),
    or a baseline file's entries and provenance as the store read them."""

    def __init__(self, spill: Spill) -> None:
        self.spill = spill
        self._at: dict[str, tuple[int, int]] = {}

    def put(self, prompt_id: str, value: V) -> None:
        self._at[prompt_id] = self.spill.write(value)

    def __getitem__(self, prompt_id: str) -> V:
        found: V = self.spill.read(*self._at[prompt_id])
        return found

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


@dataclass
class SessionResults:
    """What a session (or one xdist worker) will record, per batch file key (``store.key``). The
    observations wait in a spill file, not in memory."""

    updates: dict[str, dict[str, Sequence[Recordable]]] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)  # every prompt id of files collected in full
    origins: dict[str, SpilledMap[dict[str, Any]]] = field(default_factory=dict)  # key -> id -> provenance
    spill: Spill = field(default_factory=Spill, repr=False, compare=False)

    def record(self, batch_key: str, prompt_id: str, observations: Sequence[Recordable] | None,
               provenance: Mapping[str, Any] | None = None) -> None:
        """``provenance``: where the observations were made (written with them)."""
        if observations is not None:  # kept as the files the store writes, not as decoded data
            settled = [o.settled() for o in observations]
            self.updates.setdefault(batch_key, {})[prompt_id] = self.spill.put(settled) if settled else []
            if provenance:
                self.origins.setdefault(batch_key, SpilledMap(self.spill)).put(prompt_id, dict(provenance))

    def origins_of(self, batch_key: str) -> Mapping[str, dict[str, Any]]:
        """Prompt id -> the provenance recorded for it, of one batch file."""
        return self.origins.get(batch_key) or {}

    def collected(self, batch_key: str, prompt_ids: Iterable[str]) -> None:
        self.ids.setdefault(batch_key, set()).update(prompt_ids)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for ``workeroutput``: thumbnails and references as base64."""
        return {
            "format": FORMAT_VERSION,
            "updates": {key: {pid: [o.to_json() for o in obs] for pid, obs in prompts.items()}
                        for key, prompts in self.updates.items()},
            "ids": {key: sorted(ids) for key, ids in self.ids.items()},
            "origins": {key: dict(origins.items()) for key, origins in self.origins.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], kinds: Kinds) -> SessionResults:
        if data.get("format") != FORMAT_VERSION:
            raise BaselineError(f"baseline results of format {data.get('format')!r}: expected {FORMAT_VERSION}")
        updates = {key: {pid: [kinds.of_json(o).read_observed(o) for o in obs] for pid, obs in prompts.items()}
                   for key, prompts in data.get("updates", {}).items()}
        results = cls(ids={key: set(ids) for key, ids in data.get("ids", {}).items()})
        for key, prompts in updates.items():
            for prompt_id, observations in prompts.items():
                results.updates.setdefault(key, {})[prompt_id] = results.spill.put(observations) if observations else []
        for key, origins in data.get("origins", {}).items():
            for prompt_id, origin in origins.items():
                results.origins.setdefault(key, SpilledMap(results.spill)).put(prompt_id, dict(origin))
        return results

    def merge(self, other: SessionResults) -> None:
        """Add another process's results; for a prompt both hold, ``other`` wins."""
        for key, prompts in other.updates.items():
            for prompt_id, observations in prompts.items():
                self.record(key, prompt_id, observations, other.origins_of(key).get(prompt_id))
        for key, ids in other.ids.items():
            self.collected(key, ids)


def merge_worker_results(results: list[Mapping[str, Any]], kinds: Kinds) -> SessionResults:
    """The controller's view of its workers' ``SessionResults.to_json()``: updates and ids united.

    A prompt runs on one worker only; should two report it (a rerun plugin), the later one wins."""
    merged = SessionResults()
    for data in results:
        merged.merge(SessionResults.from_json(data, kinds))
    return merged
