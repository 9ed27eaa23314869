"""What an accepted image is reduced to (an entry of the baseline file), and how a test sees
a new image (an observation: the entry that would record it, with its thumbnail)."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from PIL import Image

from ..errors import BaselineError
from .image import decode
from .metrics import METRICS
from .spec import HashSpec

#: Keys of the entry itself that every entry has; every other key belongs to a metric (``Metric.fields``).
_REQUIRED = ("width", "height", "workflow_digest")


@dataclass(frozen=True)
class BaselineEntry:
    """One accepted image of one prompt, as stored in the baseline file.

    ``features`` holds each metric's fields (``hash``, ``colour``, ...); on disk they sit
    beside the entry's own keys, as they always have."""

    width: int
    height: int
    seed: int | None
    workflow_digest: str
    features: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)  # the prompt's values, seeds resolved
    thumbnail: str = ""  # relative to the baseline file's folder, e.g. "x.thumbs/a-cat_0.png"

    def values(self, metric: Any) -> dict[str, Any] | None:
        """The metric's fields, or None when the entry was recorded without that metric."""
        if not all(name in self.features for name in metric.fields):
            return None
        return {name: self.features[name] for name in metric.fields}

    def with_thumbnail(self, thumbnail: str) -> BaselineEntry:
        return replace(self, thumbnail=thumbnail)

    def to_json(self) -> dict[str, Any]:
        return {**self.features, "width": self.width, "height": self.height, "seed": self.seed,
                "workflow_digest": self.workflow_digest, "params": self.params, "thumbnail": self.thumbnail}

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> BaselineEntry:
        """An entry read from a file: every metric's fields present together, or all absent."""
        if not isinstance(data, dict):
            raise BaselineError(f"{where}: not a baseline entry")
        missing = [name for name in _REQUIRED if name not in data]
        features: dict[str, Any] = {}
        for metric in METRICS:
            present = [name for name in metric.fields if name in data]
            if present:
                missing += [name for name in metric.fields if name not in data]
                features.update({name: data[name] for name in present})
        if missing or not features:
            absent = sorted(missing) or [name for m in METRICS for name in m.fields]
            raise BaselineError(f"{where}: not a baseline entry (missing {', '.join(absent)})")
        try:
            entry = cls(data["width"], data["height"], data.get("seed"), data["workflow_digest"], features,
                        data.get("params", {}), data.get("thumbnail", ""))
            _check(entry)
        except (TypeError, KeyError, BaselineError) as exc:
            raise BaselineError(f"{where}: {exc}") from None
        return entry


def _check(entry: BaselineEntry) -> None:
    for name, value in (("width", entry.width), ("height", entry.height)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BaselineError(f"{name} {value!r}: expected an integer")
    if not isinstance(entry.params, dict) or not isinstance(entry.thumbnail, str):
        raise BaselineError("params must be an object and thumbnail a path")
    for metric in METRICS:
        values = entry.values(metric)
        if values is not None:
            metric.check(values)


@dataclass(frozen=True)
class Observation:
    """One output image as a test saw it: the entry that would record it, and its thumbnail
    (empty when the test was not going to record it)."""

    entry: BaselineEntry
    thumbnail_png: bytes = b""

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry.to_json(), "thumbnail_png": base64.b64encode(self.thumbnail_png).decode("ascii")}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observation:
        try:
            return cls(BaselineEntry.from_json(data["entry"], "observation"), base64.b64decode(data["thumbnail_png"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"not an observation: {exc}") from None


def observe(image_bytes: bytes, spec: HashSpec = HashSpec(), *, seed: int | None = None,
            workflow_digest: str = "", params: Mapping[str, Any] | None = None,
            thumbnail: bool = True) -> Observation:
    """Every metric of one output image, from one decode; the thumbnail only when asked for."""
    image = decode(image_bytes)
    features: dict[str, Any] = {}
    for metric in METRICS:
        features.update(metric.observe(image, spec))
    entry = BaselineEntry(image.width, image.height, seed, workflow_digest, features, plain(dict(params or {})))
    return Observation(entry, image.thumbnail_png() if thumbnail else b"")


@functools.cache
def warm_up() -> None:
    """Observe one tiny image, once per process, so that what the per-image path loads on
    first use (Pillow's file format plugins, parts of numpy) is loaded before the first prompt
    runs, while the server is still idle, instead of on the first image."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize((8, 8)).convert("RGB").save(out, format="PNG")
    observe(out.getvalue())


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
