"""What an accepted video is reduced to (an entry: its size, frame count, frame rate and
duration, and each sampled frame as a still image's metrics with its reference image beside
it), and how a test sees a new video (an observation: that entry with the frames' pixels).

Each sampled frame is a still image to the metrics: ``media/still`` observes and compares it
from the pixels decoded once (``observe_decoded``), so every still-image metric applies."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import BaselineError
from ..kind import plain

if TYPE_CHECKING:
    from ..still.entries import BaselineEntry, Observation
    from ..still.spec import HashSpec

#: A video file up to this size is kept beside its entry, for the report's side-by-side view.
KEEP_VIDEO_BYTES = 8 * 1024 * 1024
_NUMBERS = ("width", "height", "frames")


@dataclass(frozen=True)
class FrameEntry:
    """One sampled frame: its index, its time, its metrics' values and its reference image."""

    index: int
    time: float
    features: dict[str, Any]
    reference: str = ""  # relative to the baseline file's folder, e.g. "x.refs/3f2a...png"

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "time": self.time, **self.features, "reference": self.reference}


@dataclass(frozen=True)
class VideoEntry:
    """One accepted video of one prompt, as stored in the baseline file."""

    format: str
    width: int
    height: int
    frames: int
    fps: float
    duration: float
    seed: int | None
    workflow_digest: str
    params: dict[str, Any]
    samples: tuple[FrameEntry, ...]
    thumbnail: str = ""  # the first frame, for a reviewer
    video: str = ""  # a copy of the file (small ones only), for the report's side-by-side view
    kind: ClassVar[str] = "video"

    def side_files(self) -> tuple[str, ...]:
        names = (self.thumbnail, self.video, *(s.reference for s in self.samples))
        return tuple(dict.fromkeys(name for name in names if name))

    def frame_entry(self, sample: FrameEntry) -> BaselineEntry:
        """A sampled frame as a still image's entry (what ``media/still`` compares)."""
        from ..still.entries import BaselineEntry

        return BaselineEntry(self.width, self.height, self.seed, self.workflow_digest, sample.features,
                             self.params, "", sample.reference)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": self.format, "width": self.width, "height": self.height,
                "frames": self.frames, "fps": self.fps, "duration": self.duration, "seed": self.seed,
                "workflow_digest": self.workflow_digest, "params": self.params, "thumbnail": self.thumbnail,
                "video": self.video, "samples": [s.to_json() for s in self.samples]}

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> VideoEntry:
        if not isinstance(data, Mapping):
            raise BaselineError(f"{where}: not a video entry")
        try:
            entry = cls(str(data["format"]), data["width"], data["height"], data["frames"], float(data["fps"]),
                        float(data["duration"]), data.get("seed"), str(data["workflow_digest"]),
                        dict(data.get("params") or {}), tuple(_frame(s, where) for s in data["samples"]),
                        str(data.get("thumbnail", "")), str(data.get("video", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"{where}: not a video entry ({exc.__class__.__name__}: {exc})") from None
        for name in _NUMBERS:
            value = getattr(entry, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise BaselineError(f"{where}: {name} {value!r}: expected a whole number")
        for sample in entry.samples:  # each frame's values checked as a still image's
            _check_frame(entry.frame_entry(sample), where)
        return entry


def _frame(data: Any, where: str) -> FrameEntry:
    if not isinstance(data, Mapping):
        raise BaselineError(f"{where}: a sample is not an object")
    features = {k: v for k, v in data.items() if k not in ("index", "time", "reference")}
    return FrameEntry(int(data["index"]), float(data["time"]), features, str(data.get("reference", "")))


def _check_frame(frame: BaselineEntry, where: str) -> None:
    from ..still.entries import BaselineEntry

    BaselineEntry.from_json(frame.to_json(), f"{where}: sample")


@dataclass(frozen=True)
class VideoObservation:
    """One output video as a test saw it: the entry that would record it (its frames' references
    not yet written), each sampled frame as a still observation (with its pixels until settled),
    and the files a baseline keeps: the first frame's thumbnail and the video itself (small ones)."""

    entry: VideoEntry
    frames: tuple[Observation, ...]
    suffix: str = ""  # the file's extension, for the kept copy
    data: bytes = field(default=b"", repr=False)
    poster_png: bytes = field(default=b"", repr=False)
    kind: ClassVar[str] = "video"

    def recordable(self) -> VideoObservation:
        """With every PNG a baseline keeps (made from the pixels where missing)."""
        frames = tuple(f.recordable() for f in self.frames)
        poster = self.poster_png or (frames[0].thumbnail_png if frames else b"")
        return replace(self, frames=frames, poster_png=poster)

    def settled(self) -> VideoObservation:
        seen = self.recordable()
        return replace(seen, frames=tuple(f.without_pixels() for f in seen.frames))

    def to_json(self) -> dict[str, Any]:
        seen = self.recordable()
        return {"kind": self.kind, "entry": seen.entry.to_json(), "frames": [f.to_json() for f in seen.frames],
                "suffix": seen.suffix, "data": _b64(seen.data), "poster_png": _b64(seen.poster_png)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VideoObservation:
        from ..still.entries import Observation

        try:
            return cls(VideoEntry.from_json(data["entry"], "observation"),
                       tuple(Observation.from_json(f) for f in data["frames"]), str(data.get("suffix", "")),
                       base64.b64decode(data.get("data", "")), base64.b64decode(data.get("poster_png", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"not a video observation: {exc}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def observe(data: bytes, suffix: str, spec: HashSpec, *, seed: int | None, workflow_digest: str,
            params: Mapping[str, Any], record: bool, reference_side: int | None) -> VideoObservation:
    """The video decoded once; each sampled frame observed by every still-image metric."""
    from ..still.entries import observe_decoded
    from ..still.image import DecodedImage
    from .decode import decode

    video = decode(data)
    frames = tuple(observe_decoded(DecodedImage(f.image), spec, seed=seed, workflow_digest=workflow_digest,
                                   params=params, thumbnail=False, reference_side=reference_side)
                   for f in video.samples)
    samples = tuple(FrameEntry(f.index, round(f.time, 6), seen.entry.features)
                    for f, seen in zip(video.samples, frames, strict=True))
    entry = VideoEntry(video.format, video.width, video.height, video.frames, round(video.fps, 6),
                       round(video.duration, 6), seed, workflow_digest, plain(dict(params)), samples)
    kept = data if len(data) <= KEEP_VIDEO_BYTES else b""  # an accept later keeps it too
    seen = VideoObservation(entry, frames, suffix, kept)
    return seen.recordable() if record else seen
