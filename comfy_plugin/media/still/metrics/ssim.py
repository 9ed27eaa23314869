"""SSIM (structural similarity, scikit-image) of the two references: structure, contrast and
brightness in 7x7 windows, per RGB channel. The distance is 1 - SSIM (0: the same pixels).

``ssim`` is the usual mean over the image (ComfyUI's own tests accept SSIM > 0.95);
``ssim_tile`` is the mean of the worst tile of an 8x8 grid, which a local defect moves as much
as a global one moves the mean. scikit-image is imported when the first comparison runs.
"""

from __future__ import annotations

import numpy as np

from .base import Reading, beyond, limit
from .pixels import ReferencePair, tile_means

#: 1 - mean SSIM that still matches (docs/baselines-split-study.md): Gaussian pixel noise of 2
#: grey levels on a flat or smooth picture reads 0.066 (the window's contrast term sees nothing
#: else there); a shift, a crop, JPEG artefacts read 0.14 and more on the checkpoint's outputs.
DEFAULT_SSIM_THRESHOLD = 0.12
#: 1 - the worst tile's mean SSIM that still matches (that noise: 0.076 on a 64 px picture).
DEFAULT_SSIM_TILE_THRESHOLD = 0.15
WINDOW = 7  # scikit-image's default window; smaller references use the largest odd side they have


def _window(pair: ReferencePair) -> int:
    side = min(pair.size)
    return WINDOW if side >= WINDOW else side - (1 - side % 2)


def ssim_map(pair: ReferencePair) -> np.ndarray:
    """The per-pixel SSIM, averaged over the channels; the image's mean SSIM is kept with it."""
    def compute(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        from skimage.metrics import structural_similarity  # (only when comparing)

        # float32 halves the cost of float64 (what uint8 would be computed in); SSIM moves by < 1e-5
        mean, full = structural_similarity(old.astype(np.float32), new.astype(np.float32), win_size=_window(pair),
                                           channel_axis=2, data_range=255, full=True)
        pair.value("ssim_mean", lambda: float(mean))
        per_pixel: np.ndarray = full.mean(axis=2)
        return per_pixel

    return pair.map("ssim", compute)


def _mean(pair: ReferencePair) -> float:
    """scikit-image's mean SSIM (the map's mean without its border, as the paper defines it)."""
    ssim_map(pair)
    return pair.value("ssim_mean", lambda: float("nan"))


def worst_tile(tiles: np.ndarray, lowest: bool) -> tuple[float, str]:
    """The worst tile's value and where it lies ("row 3, column 5 of 8x8")."""
    index = int(np.argmin(tiles) if lowest else np.argmax(tiles))
    row, column = divmod(index, tiles.shape[1])
    return float(tiles.flat[index]), f"row {row + 1}, column {column + 1} of {tiles.shape[0]}x{tiles.shape[1]}"


def usable(pair: ReferencePair) -> bool:
    return _window(pair) >= 3


class SsimMetric:
    name = "ssim"
    threshold_key = "ssim_threshold"
    default_threshold: float | None = DEFAULT_SSIM_THRESHOLD

    def distance(self, pair: ReferencePair) -> float | None:
        if not usable(pair):
            return None
        return 0.0 if pair.identical else round(1.0 - _mean(pair), 5)

    def describe(self, pair: ReferencePair, distance: float | None, threshold: float | None) -> Reading:
        if distance is None:
            return Reading("ssim not computed (the reference is under 3 pixels)")
        problem = f"ssim distance {distance:g} > {threshold:g} (SSIM {1 - distance:.4f})" if beyond(
            distance, threshold) else ""
        return Reading(f"ssim {distance:g} (SSIM {1 - distance:.4f}; threshold {limit(threshold)})", problem)


class SsimTileMetric:
    name = "ssim_tile"
    threshold_key = "ssim_tile_threshold"
    default_threshold: float | None = DEFAULT_SSIM_TILE_THRESHOLD

    def _worst(self, pair: ReferencePair) -> tuple[float, str]:
        return worst_tile(pair.map("ssim_tiles", lambda old, new: tile_means(ssim_map(pair))), lowest=True)

    def distance(self, pair: ReferencePair) -> float | None:
        if not usable(pair):
            return None
        return 0.0 if pair.identical else round(1.0 - self._worst(pair)[0], 5)

    def describe(self, pair: ReferencePair, distance: float | None, threshold: float | None) -> Reading:
        if distance is None:
            return Reading("ssim_tile not computed (the reference is under 3 pixels)")
        where = self._worst(pair)[1] if distance else ""
        problem = (f"ssim_tile distance {distance:g} > {threshold:g} (worst tile: SSIM {1 - distance:.4f} "
                   f"at {where})") if beyond(distance, threshold) else ""
        shown = f"worst tile {where}; " if distance else ""
        return Reading(f"ssim_tile {distance:g} ({shown}threshold {limit(threshold)})", problem)


SSIM = SsimMetric()
SSIM_TILE = SsimTileMetric()
