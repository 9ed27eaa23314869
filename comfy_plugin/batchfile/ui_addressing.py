"""A UI-format workflow named by a batch file: what its ``workflow_items`` may address, from
the file alone (when the batch file is collected) or with the server's ``/object_info``
(when a prompt runs), and each file converted once per session.

The nodes become ``workflow.Addresses``: every id the editor emits (``75:6``), subgraph
instances and PrimitiveNodes whose inputs forward to the prompt's inputs, and the nodes the
editor never sends, each with a hint at what the user probably meant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Problem, UIFormatError
from ..settings import MAX_UI_NODES
from ..uiformat.catalog import Catalog
from ..uiformat.graph import PRIMITIVE, read_workflow
from ..uiformat.visible import Visible, convert_visible, file_nodes
from .checks import check_target
from .workflow import Addresses, NodeEntry, Place, Target

if TYPE_CHECKING:
    from .known_info import KnownInfo


@dataclass(frozen=True)
class Converted:
    """A UI-format file converted with one ``/object_info``: the prompt the editor would
    queue, and its nodes as a batch file addresses them (input names and display titles
    known)."""

    prompt: dict[str, dict[str, Any]]
    addresses: Addresses


def file_addresses(workflow: Mapping[str, Any], source: str, max_nodes: int = MAX_UI_NODES) -> Addresses:
    """What the file alone tells: ids, stored titles, nodes never sent. Input names and the
    titles of untitled nodes (their class's display name) are left to the server. Raises the
    file's structural faults (``LegacyGroupNode``, ``MissingSubgraph``, ``RecursiveSubgraph``,
    ``BrokenLink``, ``TooManyNodes``)."""
    return _addresses(file_nodes(read_workflow(workflow, source), max_nodes), None)


def converted(workflow: Mapping[str, Any], object_info: Mapping[str, Any] | Catalog, source: str,
              server_version: str | None = None, max_nodes: int = MAX_UI_NODES) -> Converted:
    """Convert ``workflow`` and address it with the server's classes; raises the converter's
    errors (``UnknownNodeType`` is also a ``ModelMissing``: the prompt is skipped)."""
    prompt, found = convert_visible(workflow, object_info, source, server_version, max_nodes)
    return Converted(prompt, _addresses(found, prompt))


def _addresses(found: Mapping[str, Visible], prompt: Mapping[str, Any] | None) -> Addresses:
    """``prompt`` None: from the file alone (titles not complete). Once converted, a node that
    is not sent takes only the inputs that forward somewhere, and a PrimitiveNode that feeds
    nothing is a node whose value goes nowhere."""
    nodes: dict[str, NodeEntry] = {}
    for node_id, seen in found.items():
        forwards = {name: tuple(Place(n, "inputs", f) for n, f in places) for name, places in seen.forwards.items()}
        fields, unsent, instead = seen.fields, seen.unsent, seen.instead
        if prompt is not None and node_id not in prompt and not unsent:
            fields = tuple(forwards)
            if seen.class_type == PRIMITIVE and not forwards:
                unsent = "a PrimitiveNode that feeds no input"
                instead = "connect its output to the input it should set, in the editor, and save the file"
        nodes[node_id] = NodeEntry(seen.class_type, seen.title if seen.title is not None else seen.default_title,
                                   {"inputs": fields} if fields is not None else None, unsent, instead, forwards)
    return Addresses(nodes, titles_complete=prompt is not None)


@dataclass
class Conversions:
    """The conversions of one session, all with the same ``/object_info`` (its classes derived
    once): each file once, by ``key`` (its resolved path); an error is kept and raised again."""

    object_info: Mapping[str, Any]
    server_version: str | None = None
    max_nodes: int = MAX_UI_NODES  # --comfy-max-nodes
    catalog: Catalog = field(init=False)
    _done: dict[tuple[str, str], Converted | UIFormatError] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.object_info)

    def get(self, key: str, workflow: Mapping[str, Any], source: str) -> Converted:
        found = self._done.get((key, source))
        if found is None:
            try:
                found = converted(workflow, self.catalog, source, self.server_version, self.max_nodes)
            except UIFormatError as exc:
                found = exc
            self._done[(key, source)] = found
        if isinstance(found, UIFormatError):
            raise found.with_traceback(None)
        return found


@dataclass(frozen=True)
class Collected:
    """What collection knows of a UI-format file: the addresses the file tells and, when an
    ``/object_info`` of an earlier run is known, those it gives (``known``; ``note`` says where
    and when it came from)."""

    addresses: Addresses
    known: Addresses | None = None
    note: str = ""

    @property
    def best(self) -> Addresses:
        return self.known or self.addresses

    def problems(self, target: Target, place: str) -> list[Problem]:
        """What the file tells, then what the known ``/object_info`` tells."""
        problems = check_target(self.addresses, target, place)
        if problems or self.known is None:
            return problems
        return [Problem(p.place, p.message, f"{p.hint} ({self.note})" if p.hint else self.note)
                for p in check_target(self.known, target, place)]


def collected(workflow: Mapping[str, Any], source: str, known: KnownInfo | None,
              max_nodes: int = MAX_UI_NODES) -> Collected:
    """Raises the file's structural faults; a conversion that fails with the known
    ``/object_info`` checks nothing more (the server may differ now: the run tells)."""
    addresses = file_addresses(workflow, source, max_nodes)
    if known is None:
        return Collected(addresses)
    try:
        seen = converted(workflow, known.catalog, source, max_nodes=max_nodes).addresses
    except UIFormatError:
        return Collected(addresses)
    return Collected(addresses, seen, known.note())
