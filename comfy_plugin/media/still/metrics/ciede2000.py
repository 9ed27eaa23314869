"""CIEDE2000 colour difference (scikit-image) of the two references: how different each pixel
looks, in CIELAB, where 1.0 is about a just noticeable difference. It sees a change of hue,
saturation or brightness that leaves the structure (SSIM, the hash) untouched.

``ciede2000`` is the mean over the image; ``ciede2000_tile`` the mean of the worst tile of an
8x8 grid (a local colour defect). scikit-image is imported when the first comparison runs.
"""

from __future__ import annotations

import numpy as np

from .base import Reading, beyond, limit
from .pixels import ReferencePair, tile_means
from .ssim import worst_tile

#: Mean CIEDE2000 (of the smoothed references) that still matches: docs/baselines-split-study.md.
DEFAULT_CIEDE2000_THRESHOLD = 1.0
#: The worst tile's mean CIEDE2000 that still matches.
DEFAULT_CIEDE2000_TILE_THRESHOLD = 1.5


def delta_e_map(pair: ReferencePair) -> np.ndarray:
    """CIEDE2000 of every pixel (sRGB, D65) of the smoothed references: a mean of raw per-pixel
    differences adds up pixel noise no eye sees (Gaussian noise of 2 grey levels reads 2 to 2.6 on
    a grey or a gradient), the smoothed pair keeps a change of colour and divides the noise."""
    def compute(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        from skimage.color import deltaE_ciede2000, rgb2lab  # (only when comparing)

        smooth = pair.smoothed()
        # in float32: a third of float64's cost, differences below 0.001
        delta_e: np.ndarray = deltaE_ciede2000(rgb2lab(smooth.old / 255), rgb2lab(smooth.new / 255))
        return delta_e

    return pair.map("ciede2000", compute)


class Ciede2000Metric:
    name = "ciede2000"
    threshold_key = "ciede2000_threshold"
    default_threshold: float | None = DEFAULT_CIEDE2000_THRESHOLD

    def distance(self, pair: ReferencePair) -> float | None:
        if pair.identical:
            return 0.0
        return round(pair.value("ciede2000_mean", lambda: float(delta_e_map(pair).mean())), 3)

    def describe(self, pair: ReferencePair, distance: float | None, threshold: float | None) -> Reading:
        problem = f"ciede2000 mean {distance:g} > {threshold:g}" if beyond(distance, threshold) else ""
        return Reading(f"ciede2000 {distance:g} (mean dE2000; threshold {limit(threshold)})", problem)


class Ciede2000TileMetric:
    name = "ciede2000_tile"
    threshold_key = "ciede2000_tile_threshold"
    default_threshold: float | None = DEFAULT_CIEDE2000_TILE_THRESHOLD

    def _worst(self, pair: ReferencePair) -> tuple[float, str]:
        return worst_tile(pair.map("ciede2000_tiles", lambda old, new: tile_means(delta_e_map(pair))), lowest=False)

    def distance(self, pair: ReferencePair) -> float | None:
        return 0.0 if pair.identical else round(self._worst(pair)[0], 3)

    def describe(self, pair: ReferencePair, distance: float | None, threshold: float | None) -> Reading:
        where = self._worst(pair)[1] if distance else ""
        problem = (f"ciede2000_tile {distance:g} > {threshold:g} (worst tile at {where})"
                   if beyond(distance, threshold) else "")
        shown = f"worst tile {where}; " if distance else ""
        return Reading(f"ciede2000_tile {distance:g} ({shown}threshold {limit(threshold)})", problem)


CIEDE2000 = Ciede2000Metric()
CIEDE2000_TILE = Ciede2000TileMetric()
