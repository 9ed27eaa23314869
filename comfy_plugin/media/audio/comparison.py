"""An observed audio output against its baseline entry, and a prompt's audio outputs together.

The sample rate and the channel count are compared exactly, the duration within a tolerance,
the loudness (RMS, dB) and the spectrum (``signal.spectrum_distance`` against the file kept
beside the entry) within thresholds chosen by ``bench/audio_study.py`` on half of its sources
and checked on the other half (docs/audio-study.md). A failure names what changed:
``audio 0: louder by 3.1 dB; spectrum distance 0.42 > 0.1; shorter by 0.4 s``.
A batch file or a prompt may set other thresholds: ``"baseline": {"audio_thresholds":
{"loudness": 0.5}}`` (``null``: that metric off).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import BaselineError
from ..kind import Readings, together

if TYPE_CHECKING:
    from .entries import AudioEntry, AudioObservation
    from .signal import Audio

#: Each metric's default threshold, from docs/audio-study.md (the half the thresholds were chosen on).
THRESHOLDS: dict[str, float | None] = {"loudness": 0.87, "spectrum": 0.0052, "duration": 0.01}
THRESHOLDS_KEY = "audio_thresholds"
UPDATE_HINT = "if the change is intended, record the new audio with --comfy-update-baselines (or accept it)"
MISSING_HINT = "record one with --comfy-update-baselines (or --comfy-missing-baseline=write)"


@dataclass(frozen=True)
class AudioComparison:
    status: str
    position: int
    message: str
    distances: dict[str, float] = field(default_factory=dict)
    test_changed: str = ""
    baseline: Audio | None = field(default=None, repr=False)  # decoded, for the report


def thresholds(layers: tuple[Mapping[str, Any], ...]) -> dict[str, float | None]:
    """The defaults, overridden by the first baseline object that names ``audio_thresholds``."""
    for layer in layers:
        given = layer.get(THRESHOLDS_KEY)
        if given is None:
            continue
        if not isinstance(given, Mapping) or set(given) - set(THRESHOLDS):
            raise BaselineError(f"baseline.{THRESHOLDS_KEY}: expected an object of {', '.join(THRESHOLDS)}")
        merged = dict(THRESHOLDS)
        for name, value in given.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise BaselineError(f"baseline.{THRESHOLDS_KEY}.{name}: expected a number >= 0 or null")
            merged[name] = None if value is None else float(value)
        return merged
    return dict(THRESHOLDS)


def describe(entry: AudioEntry) -> str:
    """``flac, 44100 Hz, 2 channels, 1.50 s, -18.2 dB``."""
    return (f"{entry.format}, {entry.rate} Hz, {entry.channels} channel(s), {entry.duration:.2f} s, "
            f"{entry.loudness_db:.1f} dB")


def measure(old: AudioEntry, new: AudioEntry, baseline: Audio | None, seen: Audio | None,
            limits: Mapping[str, float | None]) -> tuple[dict[str, float], list[str]]:
    """Each metric's distance and what changed beyond its threshold."""
    from .signal import spectrogram_db, spectrum_distance

    problems = []
    if old.rate != new.rate:
        problems.append(f"the sample rate changed: {new.rate} Hz, the baseline {old.rate} Hz")
    if old.channels != new.channels:
        problems.append(f"the channel count changed: {new.channels}, the baseline {old.channels}")
    loud = new.loudness_db - old.loudness_db
    distances = {"loudness": abs(loud), "duration": abs(new.duration - old.duration)}
    if _beyond(distances["loudness"], limits.get("loudness")):
        problems.append(f"{'louder' if loud > 0 else 'quieter'} by {abs(loud):.1f} dB")
    if baseline is not None and seen is not None and old.rate == new.rate:
        distances["spectrum"] = spectrum_distance(spectrogram_db(baseline.samples, baseline.rate),
                                                  spectrogram_db(seen.samples, seen.rate))
        limit = limits.get("spectrum")
        if _beyond(distances["spectrum"], limit):
            problems.append(f"spectrum distance {distances['spectrum']:.3g} > {limit:g}")
    longer = new.duration - old.duration
    if _beyond(distances["duration"], limits.get("duration")):
        problems.append(f"{'longer' if longer > 0 else 'shorter'} by {abs(longer):.2f} s "
                        f"({new.duration:.2f} s, the baseline {old.duration:.2f} s)")
    return distances, problems


def _beyond(value: float, limit: float | None) -> bool:
    return limit is not None and value > limit + 1e-9


def compare(old: AudioEntry | None, new: AudioObservation, position: int, limits: Mapping[str, float | None], *,
            stored_file: Callable[[str], Path], new_path: str = "") -> AudioComparison:
    """One audio output against its baseline entry (None: there is none)."""
    from ..still.comparison import params_changes
    from .signal import decode

    label = f"audio {position}"
    if old is None:
        return AudioComparison("missing", position, f"{label} has no baseline\n  new: {new_path}\n  {MISSING_HINT}")
    changes = params_changes(old.params, new.entry.params)
    changed = ("the prompt's parameters changed since the baseline was recorded (" + "; ".join(changes) + ")"
               if changes else "the workflow changed since the baseline was recorded"
               if old.workflow_digest != new.entry.workflow_digest else "")
    baseline, notes = None, []
    if old.audio:
        path = stored_file(old.audio)
        try:
            baseline = decode(path.read_bytes())
        except (OSError, BaselineError) as exc:
            notes.append(f"{label}: the baseline's file {path} cannot be read ({exc}): its spectrum is not compared")
    distances, problems = measure(old, new.entry, baseline, new.decoded, limits)
    files = (f"  baseline: {describe(old)}{', ' + old.audio if old.audio else ''}\n"
             f"  new:      {describe(new.entry)}, {new_path or '(not saved)'}")
    if not problems:
        text = "\n".join([*notes, f"{label} matches its baseline ({describe(new.entry)})"])
        return AudioComparison("match", position, text, distances, changed, baseline)
    text = "\n".join([*notes, f"{label}: " + "; ".join(problems)])
    if changed:
        text += f"\n  but {changed}: a changed test, not necessarily a regression"
    return AudioComparison("changed-test" if changed else "diff", position, f"{text}\n{files}\n  {UPDATE_HINT}",
                           distances, changed, baseline)


@dataclass(frozen=True)
class PromptAudio:
    results: list[AudioComparison]
    status: str
    message: str
    unchanged: bool


def compare_all(entries: list[AudioEntry] | None, observed: list[AudioObservation],
                limits: Mapping[str, float | None], stored_file: Callable[[str], Path],
                new_paths: list[str]) -> PromptAudio:
    """Each audio output at its index; a different number of them is a failure of its own."""
    results = [compare(entries[i] if entries and i < len(entries) else None, seen, i, limits,
                       stored_file=stored_file, new_path=new_paths[i] if i < len(new_paths) else "")
               for i, seen in enumerate(observed)]
    summary = together(results, None if entries is None else len(entries), "audio output", UPDATE_HINT)
    return PromptAudio(results, summary.status, summary.message, summary.unchanged)


def readings(result: PromptAudio, limits: Mapping[str, float | None]) -> Readings:
    """Each metric's distance per audio output (None where not measured) and its threshold."""
    names = [n for n in THRESHOLDS if any(n in r.distances for r in result.results)]
    return {n: (tuple(r.distances.get(n) for r in result.results), limits.get(n)) for n in names}


def track_problems(old_file: Path, new_data: bytes, limits: Mapping[str, float | None] | None = None) -> list[str]:
    """What changed of the sound of a video (its first audio stream) since the copy ``old_file``
    kept beside its entry, by the same measures and thresholds as an audio output; [] when
    neither has one, or the copy cannot be read (the frames are compared all the same)."""
    from .signal import decode, loudness_db

    try:
        old_data = old_file.read_bytes()
    except OSError:
        return []

    def track(data: bytes) -> Audio | None:
        try:
            return decode(data)
        except BaselineError:  # no audio stream (or none that decodes): no sound
            return None

    old, new = track(old_data), track(new_data)
    if old is None or new is None:
        return [] if old is new else ["the sound was added" if old is None else "the sound was removed"]

    def entry(audio: Audio) -> AudioEntry:
        from .entries import AudioEntry

        return AudioEntry(audio.format, audio.rate, audio.channels, audio.duration, loudness_db(audio.samples),
                          None, "", {})

    return measure(entry(old), entry(new), old, new, THRESHOLDS if limits is None else limits)[1]
