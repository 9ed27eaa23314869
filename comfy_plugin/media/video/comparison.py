"""An observed video against its baseline entry, and a prompt's videos together.

The frame size, the frame count, the frame rate and the format are compared exactly, the
duration within one frame; then each sampled frame by every still-image metric
(``media/still/comparison``: ``measure`` on the entry's values, ``measure_references`` on the
reference images). A failure names the video, the frame index and its time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import BaselineError
from ..kind import together

if TYPE_CHECKING:
    import numpy as np

    from .entries import VideoEntry, VideoObservation

UPDATE_HINT = "if the change is intended, record the new video with --comfy-update-baselines (or accept it)"
MISSING_HINT = "record one with --comfy-update-baselines (or --comfy-missing-baseline=write)"


@dataclass(frozen=True)
class FrameComparison:
    index: int
    time: float
    distances: dict[str, float]
    problems: list[str]
    baseline_pixels: np.ndarray | None = field(default=None, repr=False)  # for the report's strip

    @property
    def failed(self) -> bool:
        return bool(self.problems)


@dataclass(frozen=True)
class VideoComparison:
    """One video against its entry: ``distances`` are each metric's worst over the frames."""

    status: str
    position: int
    message: str
    distances: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float | None] = field(default_factory=dict)
    frames: list[FrameComparison] = field(default_factory=list)
    test_changed: str = ""


def describe(entry: VideoEntry) -> str:
    """``mp4, 512x512, 16 frames at 8 fps (2.00 s)``."""
    return (f"{entry.format}, {entry.width}x{entry.height}, {entry.frames} frames at {entry.fps:g} fps "
            f"({entry.duration:.2f} s)")


def structure_problems(old: VideoEntry, new: VideoEntry) -> list[str]:
    """What differs of the video as a whole (no frame compared)."""
    problems = []
    if old.format != new.format:
        problems.append(f"the format changed: {new.format}, the baseline {old.format}")
    if (old.width, old.height) != (new.width, new.height):
        problems.append(f"the frame size changed: {new.width}x{new.height}, the baseline {old.width}x{old.height}")
    if old.frames != new.frames:
        problems.append(f"the frame count changed: {new.frames} frames, the baseline {old.frames}")
    if round(old.fps, 3) != round(new.fps, 3):
        problems.append(f"the frame rate changed: {new.fps:g} fps, the baseline {old.fps:g} fps")
    one_frame = 1.0 / max(old.fps, new.fps) if max(old.fps, new.fps) > 0 else 0.0
    if abs(old.duration - new.duration) > one_frame + 1e-6:
        problems.append(f"the duration changed: {new.duration:.3f} s, the baseline {old.duration:.3f} s")
    return problems


def test_change(old: VideoEntry, new: VideoObservation) -> str:
    """How the test differs from the one that recorded the baseline, or ""."""
    from ..still.comparison import params_changes

    changes = params_changes(old.params, new.entry.params)
    if changes:
        return "the prompt's parameters changed since the baseline was recorded (" + "; ".join(changes) + ")"
    if old.workflow_digest != new.entry.workflow_digest:
        return "the workflow changed since the baseline was recorded"
    return _setting(old, new)


def compare_frames(old: VideoEntry, new: VideoObservation, limits: Mapping[str, float | None],
                   stored_file: Callable[[str], Path]) -> list[FrameComparison]:
    """Each sampled frame against the baseline's frame of the same index."""
    from ..still.comparison import measure, measure_references
    from ..still.image import load_reference

    results = []
    for sample, seen in zip(old.samples, new.frames, strict=False):
        entry = old.frame_entry(sample)
        distances, _figures, problems = measure(entry, seen.entry, limits)
        pixels = None
        if sample.reference:
            try:
                pixels = load_reference(stored_file(sample.reference))
            except BaselineError as exc:
                problems.append(str(exc))
        if pixels is not None:
            more, _figures, more_problems = measure_references(entry, seen, limits, pixels)
            distances.update(more)
            problems += more_problems
        results.append(FrameComparison(sample.index, sample.time, distances, problems, pixels))
    return results


def compare(old: VideoEntry | None, new: VideoObservation, position: int, given: Mapping[str, float | None], *,
            stored_file: Callable[[str], Path], new_path: str = "") -> VideoComparison:
    """One video against its baseline entry (None: there is none)."""
    from ..still.comparison import resolve

    label = f"video {position}"
    limits = resolve(new.frames[0].entry, given) if new.frames else dict(given)
    if old is None:
        return VideoComparison("missing", position, f"{label} has no baseline\n  new: {new_path}\n  {MISSING_HINT}",
                               thresholds=limits)
    changed = test_change(old, new)
    files = (f"  baseline: {describe(old)}{', ' + old.video if old.video else ''}\n"
             f"  new:      {describe(new.entry)}, {new_path or '(not saved)'}")
    if _setting(old, new):
        return VideoComparison("changed-test", position, f"{label} cannot be compared: {changed}\n{files}\n"
                               f"  {UPDATE_HINT}", thresholds=limits, test_changed=changed)
    problems = [f"{label}: {p}" for p in structure_problems(old, new.entry)]
    frames: list[FrameComparison] = []
    if (old.width, old.height, old.frames) == (new.entry.width, new.entry.height, new.entry.frames):
        frames = compare_frames(old, new, limits, stored_file)
    problems += [f"{label}: frame {f.index} ({f.time:.2f} s) differs: " + "; ".join(f.problems)
                 for f in frames if f.failed]
    if old.video and new.data:  # the sound, from the copy kept beside the entry (media/audio)
        from ..audio.comparison import track_problems

        problems += [f"{label}: its sound: {p}" for p in track_problems(stored_file(old.video), new.data)]
    distances: dict[str, float] = {}
    for frame in frames:
        for name, value in frame.distances.items():
            distances[name] = max(value, distances.get(name, value))
    if not problems:
        return VideoComparison("match", position, f"{label} matches its baseline ({describe(new.entry)}; "
                               f"{len(frames)} frames compared)", distances, limits, frames, changed)
    text = "\n".join(problems)
    if changed:
        text += f"\n  but {changed}: a changed test, not necessarily a regression"
    text += f"\n{files}\n  {UPDATE_HINT}"
    return VideoComparison("changed-test" if changed else "diff", position, text, distances, limits, frames,
                           changed)


def _setting(old: VideoEntry, new: VideoObservation) -> str:
    """A metric computed another way (another hash): the frames cannot be compared at all."""
    from ..still.comparison import setting_change

    if not (old.samples and new.frames):
        return ""
    return setting_change(old.frame_entry(old.samples[0]), new.frames[0].entry)


@dataclass(frozen=True)
class PromptVideos:
    """All videos of one prompt against its stored entries."""

    videos: list[VideoComparison]
    status: str
    message: str
    unchanged: bool


def compare_all(entries: list[VideoEntry] | None, observed: list[VideoObservation],
                given: Mapping[str, float | None], stored_file: Callable[[str], Path],
                new_paths: list[str]) -> PromptVideos:
    """Each video at its index; a different number of videos is a failure of its own."""
    results = [compare(entries[i] if entries and i < len(entries) else None, seen, i, given, stored_file=stored_file,
                       new_path=new_paths[i] if i < len(new_paths) else "") for i, seen in enumerate(observed)]
    summary = together(results, None if entries is None else len(entries), "video", UPDATE_HINT)
    return PromptVideos(results, summary.status, summary.message, summary.unchanged)


def readings(result: PromptVideos) -> dict[str, tuple[tuple[float | None, ...], float | None]]:
    """Each metric's worst distance per video (None where not measured) and its threshold."""
    names: dict[str, Any] = {}
    for video in result.videos:
        for name in video.thresholds:
            if any(name in v.distances for v in result.videos):
                names.setdefault(name, video.thresholds.get(name))
    return {name: (tuple(v.distances.get(name) for v in result.videos), limit) for name, limit in names.items()}
