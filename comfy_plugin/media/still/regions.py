"""Ignore regions: rectangles of a still image that its comparison does not look at (a
watermark, a timestamp, a text overlay). ``"baseline": {"ignore": [[x0, y0, x1, y1], ...]}``.

A rectangle is in pixels of the full image (x0, y0 included, x1, y1 excluded, as Pillow's
boxes), or in fractions of its width and height when every value is at most 1 and one of them
at least is written with a decimal point (``[0.75, 0.9, 1.0, 1.0]``: the bottom-right corner).

An entry keeps whole-image summaries (hash, colour grid, sharpness) that cannot leave out a
region chosen later, so with regions every metric is read from the two reference images
instead (the 256 px downscale kept beside each entry): the baseline's pixels are copied into
the new reference's rectangles, so nothing inside them can differ, and both references are
measured again. The regions may change at any time without a re-record; an entry without a
reference cannot be compared this way and says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import BaselineError
from .comparison import Comparison, Limits, PromptComparison, compare_all, setting_change
from .entries import BaselineEntry, Observation, observe_decoded
from .image import DecodedImage, load_reference
from .metrics.pixels import matched
from .spec import HashSpec

#: The key of a batch file's (or prompt's) ``baseline`` object.
IGNORE_KEY = "ignore"

Rect = tuple[float, float, float, float]
Box = tuple[int, int, int, int]


def ignore_regions(layers: Sequence[Mapping[str, Any]]) -> list[Rect]:
    """The rectangles of the first ``baseline`` object that names ``ignore`` (prompt, then batch
    file); a rectangle that is not four numbers with x0 < x1 and y0 < y1 is a BaselineError."""
    chosen = next((layer[IGNORE_KEY] for layer in layers if IGNORE_KEY in layer), None) or []
    rects = []
    for n, rect in enumerate(chosen):
        where = f"baseline.{IGNORE_KEY}[{n}]"
        if not isinstance(rect, (list, tuple)) or len(rect) != 4 \
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in rect):
            raise BaselineError(f"{where}: expected [x0, y0, x1, y1], four numbers of at least 0")
        x0, y0, x1, y1 = rect
        if not (x0 < x1 and y0 < y1):
            raise BaselineError(f"{where}: {list(rect)}: x0 must be less than x1 and y0 less than y1")
        rects.append((x0, y0, x1, y1))
    return rects


def is_fraction(rect: Rect) -> bool:
    """Fractions of the image: every value at most 1, one at least written as a float."""
    return all(v <= 1 for v in rect) and any(isinstance(v, float) for v in rect)


def in_pixels(rect: Rect, width: int, height: int) -> Box:
    """The rectangle in whole pixels of a ``width`` x ``height`` image, rounded outwards (so
    it covers at least what was asked) and clipped to the image."""
    sx, sy = (width, height) if is_fraction(rect) else (1, 1)
    x0, y0, x1, y1 = rect
    return (min(width, math.floor(x0 * sx)), min(height, math.floor(y0 * sy)),
            min(width, math.ceil(x1 * sx)), min(height, math.ceil(y1 * sy)))


#: Reference pixels added around a box on a downscaled reference: Lanczos spreads a change
#: inside the box over its neighbours' pixels.
BLEED = 2


def scaled_box(box: Box, full: tuple[int, int], shape: tuple[int, ...]) -> Box:
    """A box in full-image pixels as it falls on a reference of ``shape`` (rounded outwards,
    ``BLEED`` pixels wider where the reference is a downscale)."""
    fx, fy = shape[1] / full[0], shape[0] / full[1]
    pad = BLEED if (shape[1], shape[0]) != full else 0
    x0, y0, x1, y1 = box
    return (max(0, math.floor(x0 * fx) - pad), max(0, math.floor(y0 * fy) - pad),
            min(shape[1], math.ceil(x1 * fx) + pad), min(shape[0], math.ceil(y1 * fy) + pad))


def masked(old: np.ndarray, new: np.ndarray, boxes: Sequence[Box], full: tuple[int, int]) -> np.ndarray:
    """``new`` with the baseline's pixels inside every box: nothing there can differ."""
    out: np.ndarray = new.copy()
    for box in boxes:
        x0, y0, x1, y1 = scaled_box(box, full, new.shape)
        out[y0:y1, x0:x1] = old[y0:y1, x0:x1]
    return out


def _measured(pixels: np.ndarray, hash_spec: HashSpec) -> dict[str, Any]:
    """Every entry metric of reference pixels (the features an entry keeps)."""
    from PIL import Image

    return observe_decoded(DecodedImage(Image.fromarray(pixels)), hash_spec, thumbnail=False,
                           reference_side=None).entry.features


def _stand_ins(entry: BaselineEntry, seen: Observation, reference: Path | None, rects: Sequence[Rect],
               hash_spec: HashSpec) -> tuple[BaselineEntry, Observation, np.ndarray] | str:
    """The entry, the observation and the baseline's reference with the regions masked and
    every metric read from the references; or why this image cannot be compared so."""
    new_pixels = seen.reference_pixels()
    if not entry.reference or reference is None or new_pixels is None:
        return "its baseline has no reference image: record it again with --comfy-update-baselines"
    pair = matched(load_reference(reference), new_pixels)
    if pair is None or (entry.width, entry.height) != (seen.entry.width, seen.entry.height):
        return ""  # another size: the comparison reports it
    full = (entry.width, entry.height)
    new = masked(pair.old, pair.new, [in_pixels(r, *full) for r in rects], full)
    old_entry = replace(entry, features=_measured(pair.old, hash_spec))
    new_entry = replace(seen.entry, features=_measured(new, hash_spec))
    return old_entry, replace(seen, entry=new_entry, pixels=new), pair.old


@dataclass(frozen=True)
class Ignoring:
    """``compare_all`` with the regions left out (``same``: the outputs byte-identical to their
    recorded ones, which match anyway)."""

    rects: Sequence[Rect]
    hash_spec: HashSpec
    same: Sequence[bool]

    def __call__(self, entries: list[BaselineEntry] | None, observed: list[Observation], thresholds: Limits | None,
                 *, baseline_images: list[str], new_images: list[str],
                 baseline_references: list[Path | None]) -> PromptComparison:
        return compare_ignoring(self, entries, observed, thresholds, baseline_images=baseline_images,
                                new_images=new_images, baseline_references=baseline_references)


def compare_ignoring(ignoring: Ignoring, entries: list[BaselineEntry] | None, observed: list[Observation],
                     thresholds: Limits | None, *, baseline_images: list[str], new_images: list[str],
                     baseline_references: list[Path | None]) -> PromptComparison:
    """Each image with an entry (not byte-identical, compared with the same metric settings)
    is compared by stand-ins masked and measured from the references; the result keeps the
    real observations (what an update records)."""
    rects, hash_spec, same = ignoring.rects, ignoring.hash_spec, ignoring.same
    entries = list(entries) if entries is not None else None
    stand_old: list[BaselineEntry] = list(entries or [])
    stand_new: list[Observation] = list(observed)
    references: list[Any] = list(baseline_references)  # a Path, or the pixels of a stand-in
    notes: dict[int, str] = {}
    for i, seen in enumerate(observed):
        if not entries or i >= len(entries) or (i < len(same) and same[i]) or setting_change(entries[i], seen.entry):
            continue
        made = _stand_ins(entries[i], seen, references[i] if i < len(references) else None, rects, hash_spec)
        if isinstance(made, str):
            notes[i] = f"the ignored regions were not applied: {made}" if made else ""
            continue
        stand_old[i], stand_new[i], pixels = made
        references[i] = pixels
        notes[i] = (f"{len(rects)} region(s) ignored (baseline.{IGNORE_KEY}); every metric read from the "
                    "reference images")
    result = compare_all(stand_old if entries is not None else None, stand_new, thresholds,
                         baseline_images=baseline_images, new_images=new_images,
                         baseline_references=references)
    images = [_restored(c, observed, notes.get(c.index, "")) for c in result.images]
    return replace(result, images=images, observed=list(observed))


def _restored(comparison: Comparison, observed: list[Observation], note: str) -> Comparison:
    """The comparison of a stand-in with the real observation back, and a note of the regions."""
    message = comparison.message
    if note:
        head, sep, rest = message.partition("\n")
        message = f"{head}\n  {note}{sep}{rest}"
    return replace(comparison, observed=observed[comparison.index], message=message)


def card_boxes(rects: Sequence[Rect], observed: Sequence[Observation]) -> list[list[int]]:
    """The regions in pixels of the (first) full image, as the report hatches them."""
    if not rects or not observed:
        return []
    width, height = observed[0].entry.width, observed[0].entry.height
    return [list(in_pixels(r, width, height)) for r in rects]
