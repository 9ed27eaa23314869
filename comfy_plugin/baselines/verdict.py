"""What the baseline check says about one prompt: a status, a message and every reading, the
same for every output kind, as plain JSON for pytest-xdist workers and the report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import BaselineError
from ..media.kind import Readings

#: Verdicts whose new outputs a reviewer may accept as the baseline (--comfy-accept).
REVIEWABLE = ("diff", "changed-test", "missing")
_FAILING = ("diff", "changed-test", "missing", "nondeterministic")


@dataclass(frozen=True)
class Verdict:
    """``readings``: every metric's distances (one per output) and threshold, by reading name
    (a kind's prefix and the metric: ``hash``, ``ssim``, ``length_bytes``); ``accepted``: the
    policy lets this status pass (a missing baseline, by default)."""

    # match | diff | changed-test | missing | recorded | unchanged | removed | not-compared | nondeterministic
    status: str
    message: str
    skip: bool = False
    accepted: bool = False
    readings: Readings = field(default_factory=dict)
    uncompared: tuple[str, ...] = ()  # outputs no kind compares, each by its suffix (".glb") or key
    provenance: str = ""  # a failing comparison's baseline recorded elsewhere: "recorded on …; this run on …"
    reruns: int = 0  # uncached reruns of a failure (--comfy-confirm-failures): "nondeterministic", or a confirmed diff

    @property
    def failed(self) -> bool:
        return self.status in _FAILING and not self.skip and not self.accepted

    def worst_reading(self) -> tuple[str, float, float] | None:
        """(reading, distance, threshold) of the reading furthest past (or nearest to) its
        threshold, relative to it; None when nothing was measured against a threshold."""
        found = []
        for name, (values, limit) in self.readings.items():
            measured = [v for v in values if v is not None]
            if limit is None or not measured:
                continue
            value = max(measured)
            ratio = value / limit if limit else (float("inf") if value else 0.0)  # 0: an exact comparison
            found.append((ratio, name, value, limit))
        if not found:
            return None
        _ratio, name, value, limit = max(found)
        return name, value, limit

    def summarised(self) -> Verdict:
        """What the session keeps of a done prompt's verdict for its summary: the status and
        flags it counts and the worst reading it names; neither the message nor every reading
        (ten thousand prompts' worth of them)."""
        worst = self.worst_reading()
        return replace(self, message="", readings={worst[0]: ((worst[1],), worst[2])} if worst else {})

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, for a pytest-xdist worker's payload to the controller."""
        data = asdict(self)
        data["readings"] = {name: [list(values), limit] for name, (values, limit) in self.readings.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        try:
            readings = {str(name): (tuple(values), limit) for name, (values, limit) in data.get("readings", {}).items()}
            return cls(str(data["status"]), str(data["message"]), bool(data.get("skip", False)),
                       bool(data.get("accepted", False)), readings,
                       tuple(str(o) for o in data.get("uncompared", ())), str(data.get("provenance") or ""),
                       reruns=int(data.get("reruns", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"not a baseline verdict: {exc}") from None


def merge_verdicts(into: dict[str, Verdict], payload: Mapping[str, Mapping[str, Any]]) -> None:
    """A pytest-xdist worker's verdicts (node id -> ``Verdict.to_json()``) merged into the
    controller's, so its summary counts every prompt and names the worst readings."""
    into.update({nodeid: Verdict.from_json(data) for nodeid, data in payload.items()})


def listed(uncompared: Iterable[str]) -> str:
    """``1 .glb, 2 .latent``: outputs no kind compares, counted by what names them."""
    counts: dict[str, int] = {}
    for name in uncompared:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
