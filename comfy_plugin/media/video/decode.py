"""A video or an animated image read once: its size, frame count, frame rate and duration, and
the pixels of a fixed sample of its frames (the first, the last and evenly spaced between).

Animated WEBP, PNG and GIF are read with Pillow (``ImageSequence``); MP4, WEBM and anything
else with a video stream with PyAV. Only the sampled frames are converted to RGB: the others
are decoded (a codec cannot skip them) and dropped at once, so a long video costs no memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import BaselineError

if TYPE_CHECKING:
    from PIL import Image

#: At most this many frames are sampled from one video.
SAMPLES = 16


@dataclass(frozen=True)
class Probe:
    """What recognising a video reads (no frame converted)."""

    format: str  # "webp", "png", "gif" (animated images), "mp4", "webm", ...
    width: int
    height: int
    frames: int


@dataclass(frozen=True)
class Frame:
    index: int
    time: float  # seconds from the first frame
    image: Image.Image = field(repr=False)  # RGB


@dataclass(frozen=True)
class Decoded:
    format: str
    width: int
    height: int
    frames: int
    fps: float  # frames per second (an animation's: its frame count over its duration)
    duration: float  # seconds
    samples: tuple[Frame, ...]

    @property
    def animated_image(self) -> bool:
        """An animated WEBP, PNG or GIF (an <img> shows it), not a video (a <video> plays it)."""
        return self.format in PILLOW_FORMATS


PILLOW_FORMATS = ("webp", "png", "gif")


def sample_indices(count: int, samples: int = SAMPLES) -> list[int]:
    """The first, the last and evenly spaced between: every frame of a short video."""
    if count <= samples:
        return list(range(count))
    return sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})


def probe(data: bytes) -> Probe | None:
    """The video in ``data``, or None when it is none (a still image, not media at all)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            frames = getattr(img, "n_frames", 1)
            if not getattr(img, "is_animated", False) or frames < 2:
                return None
            return Probe((img.format or "").lower(), img.width, img.height, frames)
    except Image.DecompressionBombError:
        return None
    except (OSError, ValueError):
        pass  # not an image Pillow reads: a container, perhaps
    return _probe_container(data)


def _probe_container(data: bytes) -> Probe | None:
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            frames = stream.frames or _count_packets(container, stream)
            if frames < 1 or not stream.codec_context.width:
                return None
            return Probe(_container_format(container), stream.codec_context.width, stream.codec_context.height,
                         frames)
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return None


def _container_format(container: Any) -> str:
    names = str(container.format.name).split(",")
    return "mp4" if "mp4" in names else "webm" if "webm" in names else names[0]


def _count_packets(container: Any, stream: Any) -> int:
    """The frame count of a stream whose header does not give it (WEBM): its packets, no decode."""
    count = sum(1 for packet in container.demux(stream) if packet.size)
    container.seek(0)
    return count


def decode(data: bytes, samples: int = SAMPLES) -> Decoded:
    """The video read once; one that cannot be read is a BaselineError naming why."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if getattr(img, "is_animated", False):
                return _decode_animation(img, samples)
    except Image.DecompressionBombError as exc:
        raise BaselineError(f"cannot read the video: {exc}") from None
    except (OSError, ValueError):
        pass
    return _decode_container(data, samples)


def _decode_animation(img: Image.Image, samples: int) -> Decoded:
    from PIL import ImageSequence

    count = getattr(img, "n_frames", 1)
    wanted = set(sample_indices(count, samples))
    frames, elapsed_ms, shortest = [], 0.0, 0.0
    for index, frame in enumerate(ImageSequence.Iterator(img)):
        frame.load()  # a WEBP frame's duration is known once it is loaded
        if index in wanted:
            frames.append(Frame(index, elapsed_ms / 1000.0, frame.convert("RGB")))
        length = float(frame.info.get("duration") or 0)
        elapsed_ms += length
        shortest = min(shortest, length) if shortest and length else shortest or length
    duration = elapsed_ms / 1000.0
    # the rate it was made at: an encoder merges equal neighbours into one longer frame
    fps = 1000.0 / shortest if shortest > 0 else 0.0
    return Decoded((img.format or "").lower(), img.width, img.height, count, fps, duration, tuple(frames))


def _decode_container(data: bytes, samples: int) -> Decoded:
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                raise BaselineError("cannot read the video: the file has no video stream")
            stream = container.streams.video[0]
            expected = stream.frames or _count_packets(container, stream)
            frames, count = _frames(container, stream, sample_indices(expected, samples))
            if count != expected:  # the header's count was wrong: sample the frames there are
                container.seek(0)
                frames, count = _frames(container, stream, sample_indices(count, samples))
            fps = float(stream.average_rate) if stream.average_rate else 0.0
            duration = _duration(container, stream, count, fps)
            width, height = stream.codec_context.width, stream.codec_context.height
            return Decoded(_container_format(container), width, height, count, fps, duration, tuple(frames))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise BaselineError(f"cannot read the video: {exc}") from None


def _frames(container: Any, stream: Any, wanted: list[int]) -> tuple[list[Frame], int]:
    """The sampled frames as RGB images, and how many frames the stream holds."""
    chosen, frames, first, count = set(wanted), [], None, 0
    for count, frame in enumerate(container.decode(stream), start=1):
        time = float(frame.time or 0.0)
        first = time if first is None else first
        if count - 1 in chosen:
            frames.append(Frame(count - 1, time - first, frame.to_image()))
    return frames, count


def _duration(container: Any, stream: Any, count: int, fps: float) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000
    return count / fps if fps else 0.0
