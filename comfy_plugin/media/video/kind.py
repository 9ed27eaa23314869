"""Animations and videos, an output kind: animated WEBP, PNG and GIF, MP4, WEBM and whatever
else holds a video stream, listed under ``images`` (ComfyUI's own SaveAnimated*, SaveWEBM,
SaveVideo, with ``"animated": [true]`` beside them) or ``gifs`` (VideoHelperSuite).

The file decides, not the flag (``OutputFile.animated``): a one-frame animation reports no flag
and is a still image, and a file of two frames or more, or with a video stream, is a video
whatever its node says. Registered before still images, so an animated file is never taken for
its first frame."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from ..kind import CompareContext, KindVerdict, OutputKind, Recordable, SavedOutput, SideFiles, Stored, in_node_order

if TYPE_CHECKING:
    from ...client import OutputFile
    from .comparison import PromptVideos
    from .entries import VideoEntry, VideoObservation

#: The /history output keys a video may be listed under.
OUTPUT_KEYS = ("images", "gifs", "video", "videos", "animated")


def _path(output: SavedOutput) -> str:
    return str(output.path or output.file.filename)


def _suffix(output: SavedOutput) -> str:
    return PurePosixPath(output.file.filename).suffix.lower() or ".bin"


class Videos(OutputKind):
    name = "video"
    noun = "video"

    def recognises(self, file: OutputFile, data: bytes) -> str | None:
        if file.kind not in OUTPUT_KEYS:
            return None
        from .decode import probe

        found = probe(data)
        return f"{found.format} {found.width}x{found.height}, {found.frames} frames" if found else None

    def warm_up(self, stored: list[Stored]) -> None:
        """Pillow, numpy and imagehash (the frames' metrics), scikit-image when a frame has a
        reference, and PyAV when a stored video is not an animated image."""
        if not stored:
            return
        from ..still.comparison import warm_up_references
        from ..still.entries import warm_up
        from .decode import PILLOW_FORMATS

        warm_up()
        entries = cast("list[VideoEntry]", stored)
        if any(s.reference for e in entries for s in e.samples):
            warm_up_references()
        if any(e.format not in PILLOW_FORMATS for e in entries):
            import av  # noqa: F401 (loaded now, while the server is idle)

    def compare(self, stored: list[Stored] | None, outputs: list[SavedOutput], context: CompareContext) -> KindVerdict:
        from ..still.kind import StillImages
        from .comparison import compare_all, readings
        from .entries import observe

        spec, thresholds = StillImages().settings(context)  # the frames' hash and thresholds
        outputs = in_node_order(outputs)
        observed = [observe(o.data, _suffix(o), spec, seed=context.seed, workflow_digest=context.workflow_digest,
                            params=context.params, record=context.record, reference_side=context.reference_side)
                    for o in outputs]
        entries = cast("list[VideoEntry] | None", stored)
        result = compare_all(entries, observed, thresholds, context.stored_file, [_path(o) for o in outputs])
        card = self._card(result, entries or [], observed, outputs, context) if context.report else {}
        return KindVerdict(self.name, result.status, result.message, readings(result), tuple(observed),
                           result.unchanged, card)

    # -- what a baseline keeps -------------------------------------------------------------

    def read_entry(self, data: Mapping[str, Any], where: str) -> Stored:
        from .entries import VideoEntry

        return VideoEntry.from_json(data, where)

    def read_observed(self, data: Mapping[str, Any]) -> Recordable:
        from .entries import VideoObservation

        return VideoObservation.from_json(data)

    def keep(self, seen: Recordable, files: SideFiles, prompt_id: str, index: int) -> Stored:
        """The first frame's thumbnail (named by prompt and index), each sampled frame's
        reference and the video itself (small ones) by digest; the entry names them all."""
        video = cast("VideoObservation", seen).recordable()
        samples = tuple(replace(sample, reference=files.by_digest(frame.reference_png, ".png"))
                        for sample, frame in zip(video.entry.samples, video.frames, strict=True))
        thumbnail = files.named(prompt_id, index, ".png", video.poster_png) if video.poster_png else ""
        copy = files.by_digest(video.data, video.suffix or ".bin") if video.data else ""
        return replace(video.entry, samples=samples, thumbnail=thumbnail, video=copy)

    # -- the report ------------------------------------------------------------------------

    def _card(self, result: PromptVideos, entries: list[VideoEntry], observed: list[VideoObservation],
              outputs: list[SavedOutput], context: CompareContext) -> dict[str, Any]:
        """Both videos and the strip of sampled frames, from the pixels the comparison decoded."""
        from .card import frame_part, video_part
        from .comparison import describe

        videos = []
        for position, (output, seen) in enumerate(zip(outputs, observed, strict=True)):
            compared = result.videos[position]
            by_index = {f.index: f for f in compared.frames}
            frames = []
            for sample, frame in zip(seen.entry.samples, seen.frames, strict=True):
                measured = by_index.get(sample.index)
                frames.append(frame_part(sample.index, sample.time, frame.reference_pixels(),
                                         baseline=measured.baseline_pixels if measured else None,
                                         distances=measured.distances if measured else None,
                                         failed=bool(measured and measured.failed)))
            entry = entries[position] if position < len(entries) else None
            baseline = str(context.stored_file(entry.video)) if entry and entry.video else ""
            label = f"video {position} ({compared.status}): {describe(seen.entry)}"
            videos.append(video_part(label, seen.entry.format, _path(output), baseline, frames,
                                     status=compared.status if entry else ""))
        return {"videos": videos}

    def preview(self, outputs: list[SavedOutput]) -> dict[str, Any]:
        """The new videos and their sampled frames (a prompt that is not compared)."""
        import numpy as np

        from ...errors import BaselineError
        from .card import frame_part, video_part
        from .decode import decode

        videos = []
        for position, output in enumerate(in_node_order(outputs)):
            try:
                video = decode(output.data)
            except BaselineError as exc:
                videos.append(video_part(f"video {position}: {exc}", "", _path(output), "", []))
                continue
            frames = [frame_part(f.index, f.time, np.asarray(f.image)) for f in video.samples]
            label = f"video {position}: {video.format}, {video.width}x{video.height}, {video.frames} frames"
            videos.append(video_part(label, video.format, _path(output), "", frames))
        return {"videos": videos}

    def thumbnails(self, card: Mapping[str, Any]) -> list[str]:
        return [v["poster"] for v in card.get("videos", []) if v.get("poster")]

    def card_html(self, card: Mapping[str, Any], link: Callable[[str, str], str]) -> str:
        from .card import card_html

        return card_html(card, link)
