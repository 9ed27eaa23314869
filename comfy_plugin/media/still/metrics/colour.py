"""Colour: the mean R, G, B of each cell of a 4x4 grid (a flat image changing colour, which
no grey hash sees)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
from PIL import Image

from ....errors import BaselineError
from ..image import DecodedImage
from ..spec import HashSpec
from .base import Reading, Values, beyond, limit

#: Maximum difference, in grey levels, of one channel's mean in one cell: reruns reach 0.59,
#: the closest change only colour sees is 3.3 (4 -> 5 sampling steps of the SD1.5 checkpoint).
DEFAULT_COLOUR_THRESHOLD = 2.0
COLOUR_GRID = 4
_VALUES = 3 * COLOUR_GRID * COLOUR_GRID


def _starts(length: int) -> list[int]:
    """Where each of the grid's parts begins, split as numpy.array_split splits."""
    size, extra = divmod(length, COLOUR_GRID)
    starts, at = [], 0
    for part in range(COLOUR_GRID):
        starts.append(at)
        at += size + (1 if part < extra else 0)
    return [*starts, length]


def cell_sums(image: Image.Image) -> np.ndarray:
    """grid*grid rows of (sum of R, sum of G, sum of B, pixels), row by row: exact integers,
    from one band of the grid's rows at a time (a quarter of the image in memory at most)."""
    rows, cols = _starts(image.height), _starts(image.width)
    bands = np.stack([np.asarray(image.crop((0, top, image.width, bottom))).sum(axis=0, dtype=np.uint32)
                      for top, bottom in pairwise(rows)])  # each band's column sums: (grid, width, 3)
    sums = np.add.reduceat(bands, cols[:-1], axis=1, dtype=np.int64).reshape(-1, 3)
    pixels = np.array([(bottom - top) * (right - left) for top, bottom in pairwise(rows)
                       for left, right in pairwise(cols)], dtype=np.int64)
    return np.column_stack([sums, pixels])


def colour_signature(image: DecodedImage) -> str:
    """Each cell's mean R, G, B as 16-bit hex in 1/256 grey levels: rounding to whole levels
    would turn a shift of 0.01 into 1."""
    rgb = image.rgb
    if rgb.width < COLOUR_GRID or rgb.height < COLOUR_GRID:
        rgb = rgb.resize((max(rgb.width, COLOUR_GRID), max(rgb.height, COLOUR_GRID)), Image.Resampling.NEAREST)
    cells = cell_sums(rgb)
    means = cells[:, :3] / cells[:, 3:]
    signature: str = np.rint(means.reshape(-1) * 256).clip(0, 65535).astype(">u2").tobytes().hex()
    return signature


def _levels(a_hex: str, b_hex: str) -> tuple[list[int], list[int]]:
    try:
        a, b = bytes.fromhex(a_hex), bytes.fromhex(b_hex)
    except (TypeError, ValueError):
        raise BaselineError(f"colour signatures {a_hex!r} and {b_hex!r} are not hexadecimal") from None
    if len(a) != len(b) or len(a) != 2 * _VALUES:
        raise BaselineError(f"colour signatures {a_hex!r} and {b_hex!r} are not {COLOUR_GRID}x{COLOUR_GRID} RGB grids")
    return ([int.from_bytes(a[i:i + 2], "big") for i in range(0, len(a), 2)],
            [int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2)])


def colour_distance(a_hex: str, b_hex: str) -> float:
    """The largest difference of one channel in one cell, in grey levels (0..255)."""
    a, b = _levels(a_hex, b_hex)
    return round(max(abs(x - y) for x, y in zip(a, b, strict=True)) / 256, 2)


class ColourMetric:
    name = "colour"
    fields: tuple[str, ...] = ("colour",)
    optional: tuple[str, ...] = ()
    threshold_key = "colour_threshold"

    def observe(self, image: DecodedImage, hash_spec: HashSpec) -> dict[str, Any]:
        return {"colour": colour_signature(image)}

    def check(self, values: Values) -> None:
        _levels(values["colour"], values["colour"])

    def setting(self, values: Values) -> str:
        return ""

    def default_threshold(self, values: Values) -> float:
        return DEFAULT_COLOUR_THRESHOLD

    def distance(self, old: Values, new: Values) -> float:
        return colour_distance(old["colour"], new["colour"])

    def describe(self, old: Values, new: Values, distance: float, threshold: float | None) -> Reading:
        problem = f"colour distance {distance:g} > {threshold:g}" if beyond(distance, threshold) else ""
        return Reading(f"colour {distance:g} (threshold {limit(threshold)})", problem)


COLOUR = ColourMetric()
