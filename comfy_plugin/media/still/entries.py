"""What an accepted image is reduced to (an entry of the baseline file, and its reference image
beside it), and how a test sees a new image (an observation: the entry that would record it,
with its reference pixels, and the thumbnail and reference PNGs when it may be recorded)."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ...errors import BaselineError
from ..kind import plain
from .image import DecodedImage, decode, pixels_of, reference_png, thumbnail_png
from .metrics import METRICS
from .metrics.base import Metric
from .spec import DEFAULT_REFERENCE_SIDE, HashSpec

#: Keys of the entry itself that every entry has; every other key belongs to a metric (``Metric.fields``).
_REQUIRED = ("width", "height", "workflow_digest")
_SHA256 = re.compile(r"[0-9a-f]{64}")


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
    reference: str = ""  # the same, e.g. "x.refs/3f2a...png"; "" for an entry recorded before references
    #: the SHA-256 of the output file's bytes: a rerun with the same bytes matches without a
    #: decode; "" for an entry recorded before digests (compared by decoding, as before)
    sha256: str = ""
    kind: ClassVar[str] = "image"  # the output kind (media/still.py)

    def side_files(self) -> tuple[str, ...]:
        """The thumbnail and the reference this entry names."""
        return tuple(name for name in (self.thumbnail, self.reference) if name)

    def values(self, metric: Metric) -> dict[str, Any] | None:
        """The metric's fields, or None when the entry was recorded without that metric."""
        if not all(name in self.features for name in metric.fields):
            return None
        return {name: self.features[name] for name in (*metric.fields, *metric.optional) if name in self.features}

    def with_thumbnail(self, thumbnail: str) -> BaselineEntry:
        return replace(self, thumbnail=thumbnail)

    def with_reference(self, reference: str) -> BaselineEntry:
        return replace(self, reference=reference)

    def to_json(self) -> dict[str, Any]:
        """The entry as the file holds it; ``reference`` only when there is one (older files
        read and write back unchanged)."""
        data = {**self.features, "width": self.width, "height": self.height, "seed": self.seed,
                "workflow_digest": self.workflow_digest, "params": self.params, "thumbnail": self.thumbnail}
        if self.reference:
            data["reference"] = self.reference
        if self.sha256:
            data["sha256"] = self.sha256
        return data

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
                features.update({name: data[name] for name in (*present, *metric.optional) if name in data})
        if missing or not features:
            absent = sorted(missing) or [name for m in METRICS for name in m.fields]
            raise BaselineError(f"{where}: not a baseline entry (missing {', '.join(absent)})")
        try:
            entry = cls(data["width"], data["height"], data.get("seed"), data["workflow_digest"], features,
                        data.get("params", {}), data.get("thumbnail", ""), data.get("reference", ""),
                        data.get("sha256", ""))
            _check(entry)
        except (TypeError, KeyError, BaselineError) as exc:
            raise BaselineError(f"{where}: {exc}") from None
        return entry


def _check(entry: BaselineEntry) -> None:
    for name, value in (("width", entry.width), ("height", entry.height)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BaselineError(f"{name} {value!r}: expected an integer")
    if not isinstance(entry.params, dict) or not isinstance(entry.thumbnail, str) \
            or not isinstance(entry.reference, str):
        raise BaselineError("params must be an object, thumbnail and reference paths")
    if not isinstance(entry.sha256, str) or (entry.sha256 and not _SHA256.fullmatch(entry.sha256)):
        raise BaselineError(f"sha256 {entry.sha256!r}: expected 64 lowercase hex digits")
    for metric in METRICS:
        values = entry.values(metric)
        if values is not None:
            metric.check(values)


@dataclass(frozen=True)
class Observation:
    """One output image as a test saw it: the entry that would record it and its reference
    pixels (what SSIM and CIEDE2000 compare). ``thumbnail_png`` and ``reference_png`` are the
    files a baseline keeps; ``recordable()`` makes them when the observation may be written.

    ``to_json()`` carries everything a baseline needs (the entry, both PNGs), so a result kept
    for review can be written as the baseline later without the image."""

    entry: BaselineEntry
    thumbnail_png: bytes = b""
    reference_png: bytes = b""
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)  # the reference's RGB
    source: bytes = field(default=b"", compare=False, repr=False)  # the original PNG, kept as a full-size reference
    kind: ClassVar[str] = "image"  # the output kind (media/still.py)

    def reference_pixels(self) -> np.ndarray | None:
        """The reference's pixels; from the PNG for an observation read back from JSON."""
        if self.pixels is not None:
            return self.pixels
        return pixels_of(self.reference_png, "the observation's reference") if self.reference_png else None

    def recordable(self) -> Observation:
        """This observation with the thumbnail and reference PNGs a baseline keeps (made from
        the reference pixels when missing)."""
        pixels = self.pixels
        if pixels is None or (self.thumbnail_png and self.reference_png):
            return self
        return replace(self, thumbnail_png=self.thumbnail_png or thumbnail_png(pixels),
                       reference_png=self.reference_png or self.source or reference_png(pixels))

    def settled(self) -> Observation:
        """What a session keeps until it writes (in its spill file): the reference pixels, the
        PNGs a baseline keeps made from them only when the store writes it, at the session's end
        and not while prompts run; the PNGs alone once made (or with the original PNG as the reference)."""
        if self.pixels is None or self.source or (self.thumbnail_png and self.reference_png):
            return self.recordable().without_pixels()
        return self

    def without_pixels(self) -> Observation:
        """What a session keeps until it writes: the PNGs, not the arrays."""
        return replace(self, pixels=None, source=b"")

    def to_json(self) -> dict[str, Any]:
        seen = self.recordable()
        return {"entry": seen.entry.to_json(), "thumbnail_png": base64.b64encode(seen.thumbnail_png).decode("ascii"),
                "reference_png": base64.b64encode(seen.reference_png).decode("ascii")}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observation:
        try:
            return cls(BaselineEntry.from_json(data["entry"], "observation"), base64.b64decode(data["thumbnail_png"]),
                       base64.b64decode(data.get("reference_png", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"not an observation: {exc}") from None


def observe(image_bytes: bytes, spec: HashSpec | None = None, *, seed: int | None = None,
            workflow_digest: str = "", params: Mapping[str, Any] | None = None,
            thumbnail: bool = True, reference_side: int | None = DEFAULT_REFERENCE_SIDE) -> Observation:
    """Every metric and the reference pixels of one output image, from one decode; the PNGs a
    baseline keeps only when asked for (``thumbnail``). ``reference_side`` None keeps the
    original PNG as the reference."""
    image = decode(image_bytes)
    source = image_bytes if reference_side is None and image.format == "PNG" else b""
    seen = observe_decoded(image, spec, seed=seed, workflow_digest=workflow_digest, params=params,
                           thumbnail=thumbnail, reference_side=reference_side, source=source)
    return replace(seen, entry=replace(seen.entry, sha256=digest_of(image_bytes)))


def digest_of(data: bytes) -> str:
    """The SHA-256 an entry keeps of its output file's bytes."""
    return hashlib.sha256(data).hexdigest()


def observe_decoded(image: DecodedImage, spec: HashSpec | None = None, *, seed: int | None = None,
                    workflow_digest: str = "", params: Mapping[str, Any] | None = None, thumbnail: bool = True,
                    reference_side: int | None = DEFAULT_REFERENCE_SIDE, source: bytes = b"") -> Observation:
    """``observe`` for pixels already decoded (a video's sampled frame): nothing decoded twice.
    ``source``: a PNG of exactly these pixels, kept as a full-size reference when given."""
    features: dict[str, Any] = {}
    for metric in METRICS:
        features.update(metric.observe(image, spec or HashSpec()))
    entry = BaselineEntry(image.width, image.height, seed, workflow_digest, features, plain(dict(params or {})))
    seen = Observation(entry, pixels=image.reference(reference_side), source=source)
    return seen.recordable() if thumbnail else seen


@functools.cache
def warm_up() -> None:
    """Observe one tiny image, once per process, so that what the per-image path loads on
    first use (Pillow's file format plugins, parts of numpy) is loaded before the first prompt
    runs, while the server is still idle, instead of on the first image."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize((8, 8)).convert("RGB").save(out, format="PNG")
    observe(out.getvalue())
