"""The output-kind interface: what the harness needs of one kind of ComfyUI output (still
images, and whatever a project or a later version adds) to record, compare, review and report it.

A kind is one module with one ``OutputKind``. Everything downstream (baseline files, pending
results and ``--comfy-accept``, junit properties, the terminal summary, the HTML report and the
pytest-xdist payload) handles outputs through this interface, ``Readings`` and plain JSON,
never through a kind's own fields. No pytest and no image library here.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from ..client import OutputFile
    from ..settings import BaselineSettings

#: metric name -> (its distance for each output, None where not measured; its threshold, None: off)
Readings = dict[str, tuple[tuple["float | None", ...], "float | None"]]

#: The statuses a kind's comparison ends in, the most telling first.
STATUSES = ("diff", "changed-test", "missing", "match")
#: The kind an entry or observation without a "kind" key is (files written before kinds existed).
DEFAULT_KIND = "image"


@dataclass(frozen=True)
class SavedOutput:
    """One file (or text) a prompt produced: as the server listed it, where it was saved, its
    bytes, and the kind that recognised it ("" when none did) with a short detail ("512x512")."""

    file: OutputFile
    path: Path | None  # None when save_images.enabled is false
    data: bytes = field(default=b"", repr=False)
    kind: str = ""
    detail: str = ""


class Recordable(Protocol):
    """An output as a test saw it, holding all a baseline needs (for pending results and
    pytest-xdist payloads: ``to_json`` is self-contained, side files included)."""

    @property
    def kind(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...

    def settled(self) -> Recordable:
        """What a session keeps until it writes: self-contained, without decoded data."""
        ...


class Stored(Protocol):
    """A baseline entry of one output as the baseline file holds it."""

    @property
    def kind(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...

    def side_files(self) -> tuple[str, ...]:
        """The files kept beside the entry that it names (relative to the baseline file's folder)."""
        ...


class SideFiles(Protocol):
    """What the baseline store offers a kind that writes an entry's files beside it."""

    def named(self, prompt_id: str, index: int, suffix: str, data: bytes) -> str:
        """A file named after the prompt and the output's index (a reviewer's thumbnail)."""
        ...

    def by_digest(self, data: bytes, suffix: str) -> str:
        """A file named by its content's digest, never rewritten (a reference)."""
        ...


@dataclass(frozen=True)
class CompareContext:
    """What a kind knows of the prompt whose outputs it observes and compares."""

    settings: BaselineSettings  # command line and ini
    layers: tuple[Mapping[str, Any], ...]  # the prompt's and the batch file's "baseline" objects, first wins
    seed: int | None
    workflow_digest: str
    params: Mapping[str, Any]
    record: bool  # the observations may be written: make what an entry keeps beside it
    reference_side: int | None
    stored_file: Callable[[str], Path]  # a side file named by an entry -> its path
    report: bool = False  # the HTML report wants this kind's part of the card


@dataclass(frozen=True)
class KindVerdict:
    """One kind's outputs of one prompt against their baseline entries."""

    kind: str
    status: str  # one of STATUSES
    message: str
    readings: Readings = field(default_factory=dict)
    observed: tuple[Recordable, ...] = ()  # what an update or an accept records for this kind
    unchanged: bool = False  # an update keeps the stored entries as they are (no churn)
    card: dict[str, Any] = field(default_factory=dict)  # this kind's part of a report card (JSON)

    @property
    def failed(self) -> bool:
        return self.status != "match"


class OutputKind(ABC):
    """One kind of output. ``name`` is stored in baseline entries (the default kind's entries
    omit it); ``prefix`` goes before its metric names in junit properties and readings
    (still images keep their documented names with no prefix)."""

    name: ClassVar[str]
    noun: ClassVar[str]  # what one output is called in messages: "image"

    @property
    def prefix(self) -> str:
        return "" if self.name == DEFAULT_KIND else f"{self.name}_"

    @abstractmethod
    def recognises(self, file: OutputFile, data: bytes) -> str | None:
        """A short detail of the output ("512x512") when it is of this kind, else None."""

    @abstractmethod
    def compare(self, stored: list[Stored] | None, outputs: list[SavedOutput], context: CompareContext) -> KindVerdict:
        """This kind's outputs of a prompt against its stored entries (None: the prompt has no
        baseline at all; []: it has one, holding no output of this kind)."""

    @abstractmethod
    def preview(self, outputs: list[SavedOutput]) -> dict[str, Any]:
        """The report card's part for outputs that are not compared (random seeds)."""

    @abstractmethod
    def read_entry(self, data: Mapping[str, Any], where: str) -> Stored:
        """An entry as the baseline file holds it; a BaselineError names ``where`` when it is not one."""

    @abstractmethod
    def read_observed(self, data: Mapping[str, Any]) -> Recordable:
        """A ``Recordable.to_json()`` read back (a pending result, a pytest-xdist payload)."""

    @abstractmethod
    def keep(self, seen: Recordable, files: SideFiles, prompt_id: str, index: int) -> Stored:
        """The entry that records ``seen``, its side files written through ``files``."""

    @abstractmethod
    def card_html(self, card: Mapping[str, Any], link: Callable[[str, str], str]) -> str:
        """This kind's part of a report card. ``link(inner_html, path)`` links a saved file
        relative to the report."""

    def warm_up(self, stored: list[Stored]) -> None:  # noqa: B027 (optional: most kinds load nothing heavy)
        """Load what comparing with ``stored`` (this kind's entries of a batch file) would
        load, before the first prompt runs, while the server is still idle."""

    def thumbnails(self, card: Mapping[str, Any]) -> list[str]:
        """Base64 PNG thumbnails of the outputs in ``card`` (pytest-html's extras)."""
        return []


def worst(statuses: list[str]) -> str:
    """The status of several comparisons together: the most telling one."""
    return min(statuses, key=STATUSES.index) if statuses else "match"


def in_node_order(outputs: list[SavedOutput]) -> list[SavedOutput]:
    """By node id (each node's files as listed): ComfyUI may run independent output nodes in
    another order from run to run, and a kind compares its outputs by position."""
    def key(output: SavedOutput) -> tuple[int, str]:
        node = output.file.node_id
        return (int(node), "") if node.isdigit() else (1 << 62, node)

    return sorted(outputs, key=key)


class Compared(Protocol):
    """One output compared with its entry, as ``together`` reads it."""

    @property
    def status(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def test_changed(self) -> str: ...


@dataclass(frozen=True)
class Together:
    status: str
    message: str
    unchanged: bool  # an update keeps the stored entries


def together(results: Sequence[Compared], stored: int | None, noun: str, hint: str) -> Together:
    """A kind's outputs of one prompt, compared index by index, put together: the most telling
    status, the failures' messages (every message when all match), and a different number of
    outputs than the baseline holds a failure of its own (``stored`` None: no baseline)."""
    if stored is None:
        return Together("missing", f"no baseline for this prompt ({len(results)} {noun}(s))", False)
    status = worst([r.status for r in results])
    parts = [r.message for r in results if r.status != "match"]
    changed = any(r.test_changed for r in results)
    if stored != len(results):
        parts.insert(0, f"the prompt produced {len(results)} {noun}(s), its baseline holds {stored}\n  {hint}")
        status = "changed-test" if changed else "diff"
    message = "\n".join(parts) or "\n".join(r.message for r in results)
    return Together(status, message, status == "match" and not changed)


# -- what every kind's entries record of the prompt ---------------------------------------

def workflow_digest(workflow: Mapping[str, Any]) -> str:
    """sha256 of the workflow as canonical JSON, without ``_meta`` (titles do not change images)."""
    stripped = {
        node_id: {k: v for k, v in node.items() if k != "_meta"} if isinstance(node, Mapping) else node
        for node_id, node in workflow.items()
    }
    text = json.dumps(stripped, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain(value: Any) -> Any:
    """``value`` as JSON gives it back, so a stored copy compares equal to a fresh one."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
