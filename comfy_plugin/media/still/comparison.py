"""An observed image against its baseline entry, by every metric, and a prompt's images together.

``match``: same size and every metric within its threshold. ``diff``: another size, another
number of images, or a metric beyond its threshold. ``changed-test``: such a difference while
the parameters, the workflow or a metric's setting changed since the baseline was recorded
(a changed test, not necessarily a regression). ``missing``: no entry.

The entry's own values are compared by ``METRICS``; its reference image with the new image's
by ``REFERENCE_METRICS`` (SSIM, CIEDE2000). An entry recorded before references existed is
compared by the former only, with a hint: a plain ``--comfy-update-baselines`` adds its reference.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import BaselineError
from ..kind import plain
from .entries import BaselineEntry, Observation
from .image import load_reference
from .metrics import METRICS, REFERENCE_METRICS, default_thresholds
from .metrics.pixels import matched

STATUSES = ("match", "diff", "missing", "changed-test")
#: The metric whose distance verdicts, junit properties and the summary report.
PRIMARY = "hash"
UPDATE_HINT = "if the change is intended, record the new image with --comfy-update-baselines"
MISSING_HINT = "record one with --comfy-update-baselines (or --comfy-missing-baseline=write)"
NO_REFERENCE_HINT = ("the baseline has no reference image, so ssim and ciede2000 were not compared: "
                     "a plain --comfy-update-baselines adds it")

#: The baseline's reference image as a comparison is given it: its file, its pixels, or none.
Reference = Path | np.ndarray | None

Limits = Mapping[str, "float | None"]  # metric name -> largest distance that matches (None: off)


@dataclass(frozen=True)
class Comparison:
    """One image against its baseline entry. ``status`` is one of STATUSES."""

    status: str
    index: int
    distances: dict[str, float]  # metric name -> distance; empty when nothing was compared
    thresholds: dict[str, float | None]
    message: str
    observed: Observation | None = None
    test_changed: str = ""  # what changed since the baseline was recorded, "" when nothing did
    no_reference: bool = False  # the entry has no reference image: compared by its own values only

    @property
    def failed(self) -> bool:
        return self.status != "match"

    @property
    def distance(self) -> float | None:
        """The hash distance (None when there was nothing to compare with)."""
        return self.distances.get(PRIMARY)

    @property
    def threshold(self) -> float | None:
        return self.thresholds.get(PRIMARY)


def resolve(entry: BaselineEntry, given: Limits | None) -> dict[str, float | None]:
    """``given`` completed with each metric's default for the observed entry."""
    return {**default_thresholds(entry), **(given or {})}


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def params_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``blur: 2 -> 3``, ``added steps: 5``, ``removed cfg``: what a reviewer needs to see."""
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            changes.append(f"removed {key}")
        elif key not in old:
            changes.append(f"added {key}: {_short(new[key])}")
        elif plain(old[key]) != plain(new[key]):
            changes.append(f"{key}: {_short(old[key])} -> {_short(new[key])}")
    return changes


def setting_change(stored: BaselineEntry, current: BaselineEntry) -> str:
    """A metric computed another way (another hash) than when the baseline was recorded."""
    for metric in METRICS:
        old, new = stored.values(metric), current.values(metric)
        if old is not None and new is not None and metric.setting(old) != metric.setting(new):
            return f"the baseline was recorded with {metric.setting(old)}, this run uses {metric.setting(new)}"
    return ""


def what_changed(stored: BaselineEntry, current: BaselineEntry) -> str:
    """How the test differs from the one that recorded the baseline, or "" when it does not."""
    changes = params_changes(stored.params, current.params)
    if changes:
        return "the prompt's parameters changed since the baseline was recorded (" + "; ".join(changes) + ")"
    if stored.workflow_digest != current.workflow_digest:
        return "the workflow changed since the baseline was recorded"
    return setting_change(stored, current)


def _images(baseline_image: str, new_image: str) -> str:
    return (f"  baseline: {baseline_image or '(no thumbnail)'}\n"
            f"  new:      {new_image or '(not saved: save_images.enabled is false)'}")


def measure(entry: BaselineEntry, new: BaselineEntry,
            limits: Mapping[str, float | None]) -> tuple[dict[str, float], list[str], list[str]]:
    """(distances, figures, problems) of every metric both entries hold, and of the size."""
    distances: dict[str, float] = {}
    figures: list[str] = []
    problems: list[str] = []
    if (entry.width, entry.height) != (new.width, new.height):
        problems.append(f"it is {new.width}x{new.height}, the baseline {entry.width}x{entry.height}")
    for metric in METRICS:
        old_values, new_values = entry.values(metric), new.values(metric)
        if old_values is None or new_values is None:
            figures.append(f"{metric.name} not recorded in the baseline")
            continue
        distance = metric.distance(old_values, new_values)
        distances[metric.name] = distance
        reading = metric.describe(old_values, new_values, distance, limits.get(metric.name))
        figures.append(reading.figure)
        if reading.problem:
            problems.append(reading.problem)
    return distances, figures, problems


def _baseline_pixels(entry: BaselineEntry, reference: Reference) -> np.ndarray:
    if isinstance(reference, np.ndarray):
        return reference
    if reference is None:
        raise BaselineError(f"the baseline names the reference image {entry.reference}, but no path to it was given")
    return load_reference(Path(reference))


def measure_references(entry: BaselineEntry, observed: Observation, limits: Mapping[str, float | None],
                       reference: Reference) -> tuple[dict[str, float], list[str], list[str]]:
    """(distances, figures, problems) of ``REFERENCE_METRICS`` between the baseline's reference
    and the new image's. A reference that cannot be read is a problem: the baseline is broken."""
    new_pixels = observed.reference_pixels()
    if not entry.reference or new_pixels is None:
        return {}, [], []
    try:
        old_pixels = _baseline_pixels(entry, reference)
    except BaselineError as exc:
        return {}, [], [str(exc)]
    pair = matched(old_pixels, new_pixels)
    if pair is None:
        return {}, ["references of another size: ssim and ciede2000 not compared"], []
    distances: dict[str, float] = {}
    figures, problems = [], []
    for metric in REFERENCE_METRICS:
        distance = metric.distance(pair)
        if distance is not None:
            distances[metric.name] = distance
        reading = metric.describe(pair, distance, limits.get(metric.name))
        figures.append(reading.figure)
        if reading.problem:
            problems.append(reading.problem)
    return distances, figures, problems


def _figures(figures: list[str], reference_figures: list[str], no_reference: bool) -> str:
    text = ", ".join(figures)
    if reference_figures:
        text += "\n  " + ", ".join(reference_figures)
    if no_reference:
        text += f"\n  {NO_REFERENCE_HINT}"
    return text


def compare(entry: BaselineEntry | None, observed: Observation, index: int = 0,
            thresholds: Limits | None = None, *, baseline_image: str = "", new_image: str = "",
            baseline_reference: Reference = None) -> Comparison:
    """One observed image against its baseline entry. ``thresholds`` by metric name (missing
    ones take their defaults); ``baseline_image`` (the thumbnail) and ``new_image`` (the saved
    output) are the paths the message names; ``baseline_reference`` the entry's reference image
    (its path, or its pixels)."""
    new = observed.entry
    label = f"image {index}"
    limits = resolve(new, thresholds)
    if entry is None:
        return Comparison("missing", index, {}, limits,
                          f"{label} has no baseline\n  new:      {new_image or '(not saved)'}\n  {MISSING_HINT}",
                          observed)
    changed = what_changed(entry, new)
    if setting_change(entry, new):
        return Comparison("changed-test", index, {}, limits,
                          f"{label} cannot be compared: {changed}\n{_images(baseline_image, new_image)}\n"
                          f"  {UPDATE_HINT}", observed, changed)
    distances, figures, problems = measure(entry, new, limits)
    more, reference_figures, reference_problems = measure_references(entry, observed, limits, baseline_reference)
    distances.update(more)
    problems += reference_problems
    no_reference = not entry.reference
    shown = _figures(figures, reference_figures, no_reference)
    if not problems:
        return Comparison("match", index, distances, limits, f"{label} matches its baseline: {shown}",
                          observed, changed, no_reference)
    text = f"{label} differs from its baseline: " + "; ".join(problems)
    if changed:
        text += f"\n  but {changed}: a changed test, not necessarily a regression"
    text += f"\n  {shown}\n{_images(baseline_image, new_image)}\n  {UPDATE_HINT}"
    return Comparison("changed-test" if changed else "diff", index, distances, limits, text, observed, changed,
                      no_reference)


@dataclass(frozen=True)
class PromptComparison:
    """All images of one prompt against its stored entries."""

    images: list[Comparison]
    expected: int | None  # how many images the baseline holds; None when it holds none
    observed: list[Observation]
    count_message: str = ""  # set when the number of images differs
    test_changed: str = ""
    thresholds: dict[str, float | None] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.expected is None:
            return "missing"
        statuses = {c.status for c in self.images}
        if self.count_message:
            return "changed-test" if self.test_changed else "diff"
        for status in ("diff", "changed-test", "missing"):
            if status in statuses:
                return status
        return "match"

    @property
    def failed(self) -> bool:
        return self.status != "match"

    @property
    def message(self) -> str:
        """Every failure of the prompt, one block each; the match figures when it matches."""
        if self.expected is None:
            return f"no baseline for this prompt ({len(self.observed)} image(s))\n  {MISSING_HINT}"
        parts = [self.count_message] if self.count_message else []
        parts += [c.message for c in self.images if c.failed and c.status != "missing"]
        return "\n".join(parts) if parts else "\n".join(c.message for c in self.images)


def _at(items: list[str], index: int) -> str:
    return items[index] if index < len(items) else ""


def compare_all(entries: list[BaselineEntry] | None, observed: list[Observation],
                thresholds: Limits | None = None, *, baseline_images: list[str] | None = None,
                new_images: list[str] | None = None,
                baseline_references: list[Path | None] | None = None) -> PromptComparison:
    """Each image at its index; a different number of images is a failure of its own.
    ``baseline_references``: each entry's reference image, by index (``store.reference_path``)."""
    entries = list(entries) if entries else None
    references = list(baseline_references or [])
    results = [compare(entries[index] if entries and index < len(entries) else None, seen, index, thresholds,
                       baseline_image=_at(baseline_images or [], index), new_image=_at(new_images or [], index),
                       baseline_reference=references[index] if index < len(references) else None)
               for index, seen in enumerate(observed)]
    changed = next((c.test_changed for c in results if c.test_changed), "")
    if not changed and entries and observed:
        changed = what_changed(entries[0], observed[0].entry)
    count_message = ""
    if entries is not None and len(entries) != len(observed):
        count_message = f"the prompt produced {len(observed)} image(s), its baseline holds {len(entries)}"
        if changed:
            count_message += f"\n  but {changed}: a changed test, not necessarily a regression"
        count_message += f"\n  {UPDATE_HINT}"
    limits = results[0].thresholds if results else dict(thresholds or {})
    return PromptComparison(results, len(entries) if entries is not None else None, list(observed),
                            count_message, changed, limits)


def updated_entries(result: PromptComparison) -> list[Observation] | None:
    """What ``--comfy-update-baselines`` records for the prompt: ``None`` keeps the stored entries
    (everything matches, nothing about the test changed and every entry has its reference), so
    reruns do not churn the files; an entry without a reference is recorded again, with one."""
    if result.status == "match" and not result.test_changed and not any(c.no_reference for c in result.images):
        return None
    return list(result.observed)


def stale_entries(stored: Mapping[str, Any], collected_ids: Iterable[str]) -> list[str]:
    """Prompt ids with a baseline but no prompt in the batch file (which was collected in full)."""
    return sorted(set(stored) - set(collected_ids))


@functools.cache
def warm_up_references() -> None:
    """Compare two tiny references once per process, so that scikit-image (and what it loads)
    is loaded before the first prompt runs, while the server is still idle. Called only when a
    baseline with a reference is about to be compared."""
    pixels = np.zeros((8, 8, 3), dtype=np.uint8)
    pair = matched(pixels, pixels)
    assert pair is not None  # the same shape always matches
    for metric in REFERENCE_METRICS:
        metric.distance(pair)
