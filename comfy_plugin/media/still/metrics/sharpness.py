"""Sharpness: the mean absolute difference of neighbouring grey pixels (a blur change, which a
32x32 hash thumbnail cannot see). Read at full size: detail is what it measures."""

from __future__ import annotations

from typing import Any

from PIL import ImageChops

from ....errors import BaselineError
from ..image import DecodedImage
from ..spec import HashSpec
from .base import Reading, Values, beyond, limit

#: Maximum difference of the two sharpness values, in grey levels: reruns reach 1.99 (a flat
#: image with ±4 noise), the closest change only sharpness sees is 7.0 (a blur radius).
DEFAULT_SHARPNESS_THRESHOLD = 3.0


def _mean_step(image: DecodedImage, dx: int, dy: int) -> float | None:
    """Mean absolute difference of each grey pixel and its neighbour (dx, dy) away, from the
    histogram of the differences (Pillow does the pixel work, no array copies)."""
    grey = image.grey
    width, height = grey.width - dx, grey.height - dy
    if width < 1 or height < 1:
        return None
    shifted = grey.crop((dx, dy, dx + width, dy + height))
    counts = ImageChops.difference(shifted, grey.crop((0, 0, width, height))).histogram()
    return sum(level * count for level, count in enumerate(counts)) / (width * height)


def sharpness(image: DecodedImage) -> float:
    """What a blur lowers: the mean of the vertical and horizontal steps; 0 for a single pixel."""
    steps = [step for step in (_mean_step(image, 0, 1), _mean_step(image, 1, 0)) if step is not None]
    return round(sum(steps) / len(steps), 2) if steps else 0.0


class SharpnessMetric:
    name = "sharpness"
    fields: tuple[str, ...] = ("sharpness",)
    optional: tuple[str, ...] = ()
    threshold_key = "sharpness_threshold"

    def observe(self, image: DecodedImage, hash_spec: HashSpec) -> dict[str, Any]:
        return {"sharpness": sharpness(image)}

    def check(self, values: Values) -> None:
        if not isinstance(values["sharpness"], (int, float)) or isinstance(values["sharpness"], bool):
            raise BaselineError(f"sharpness {values['sharpness']!r}: expected a number")

    def setting(self, values: Values) -> str:
        return ""

    def default_threshold(self, values: Values) -> float:
        return DEFAULT_SHARPNESS_THRESHOLD

    def distance(self, old: Values, new: Values) -> float:
        distance: float = round(abs(old["sharpness"] - new["sharpness"]), 2)
        return distance

    def describe(self, old: Values, new: Values, distance: float, threshold: float | None) -> Reading:
        problem = (f"sharpness {old['sharpness']:g} -> {new['sharpness']:g} (distance {distance:g} > {threshold:g})"
                   if beyond(distance, threshold) else "")
        return Reading(f"sharpness {distance:g} (threshold {limit(threshold)})", problem)


SHARPNESS = SharpnessMetric()
