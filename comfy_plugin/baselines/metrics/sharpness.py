"""Sharpness: the mean absolute difference of neighbouring grey pixels (a blur change, which a
32x32 hash thumbnail cannot see). Read at full size: detail is what it measures."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import BaselineError
from ..image import DecodedImage
from ..spec import HashSpec
from .base import Reading, Values, beyond, limit

#: Maximum difference of the two sharpness values, in grey levels: reruns reach 1.99 (a flat
#: image with ±4 noise), the closest change only sharpness sees is 7.0 (a blur radius).
DEFAULT_SHARPNESS_THRESHOLD = 3.0


def sharpness(image: DecodedImage) -> float:
    """What a blur lowers; 0 for a single pixel."""
    grey = image.grey_array.astype(np.int16)
    steps = [np.abs(np.diff(grey, axis=axis)).mean() for axis in (0, 1) if grey.shape[axis] > 1]
    return round(float(np.mean(steps)), 2) if steps else 0.0


class SharpnessMetric:
    name = "sharpness"
    fields = ("sharpness",)
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
        return round(abs(old["sharpness"] - new["sharpness"]), 2)

    def describe(self, old: Values, new: Values, distance: float, threshold: float | None) -> Reading:
        problem = (f"sharpness {old['sharpness']:g} -> {new['sharpness']:g} (distance {distance:g} > {threshold:g})"
                   if beyond(distance, threshold) else "")
        return Reading(f"sharpness {distance:g} (threshold {limit(threshold)})", problem)


SHARPNESS = SharpnessMetric()
