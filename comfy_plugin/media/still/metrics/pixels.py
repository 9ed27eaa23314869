"""Two references side by side: what the structural metrics (SSIM, CIEDE2000) read.

A pair holds the baseline's reference and the new image's at one size, and computes each
per-pixel map (an SSIM map, a colour-difference map) once for every metric that reads it. A
mean over the whole image hides a local defect (a patch of 3 % of the area moves a mean by
about 3 %), so each map is also judged by its worst tile of a ``TILE_GRID`` x ``TILE_GRID`` grid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from ..image import reference_size, scaled

#: The grid of tiles a map is judged by: a tile is 1/64 of the image (1.6 % of its area).
TILE_GRID = 8
#: The sigma, in reference pixels, of the Gaussian a pair is smoothed by before CIEDE2000
#: (docs/baselines-split-study.md): it divides independent pixel noise by about 5 (1.0: 3.5,
#: which leaves Gaussian noise of 2 grey levels at 0.8 on a dark fill, too close to 1.0).
SMOOTHING = 1.5

MapFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


class ReferencePair:
    """The baseline's reference (``old``) and the new image's (``new``), of one shape."""

    def __init__(self, old: np.ndarray, new: np.ndarray) -> None:
        if old.shape != new.shape:
            raise ValueError(f"references of shapes {old.shape} and {new.shape}")
        self.old = old
        self.new = new
        self._maps: dict[str, np.ndarray] = {}
        self._values: dict[str, float] = {}

    @property
    def identical(self) -> bool:
        """The same pixels (a CPU rerun): every distance is 0 without computing a map."""
        return self.value("identical", lambda: float(np.array_equal(self.old, self.new))) == 1.0

    @property
    def size(self) -> tuple[int, int]:
        return self.old.shape[1], self.old.shape[0]

    def map(self, name: str, compute: MapFunction) -> np.ndarray:
        """The per-pixel map ``name``, computed once for every metric that reads it."""
        if name not in self._maps:
            self._maps[name] = compute(self.old, self.new)
        return self._maps[name]

    def smoothed(self) -> ReferencePair:
        """Both references smoothed by a Gaussian of ``SMOOTHING`` pixels: what a mean of
        per-pixel differences reads, so that pixel noise (GPU nondeterminism), which such a mean
        adds up, weighs about a fifth of its raw size while a shift of colour keeps its own."""
        if "smoothed" not in self._maps:
            from scipy.ndimage import gaussian_filter  # (only when comparing; scikit-image loads it anyway)

            def smooth(pixels: np.ndarray) -> np.ndarray:
                spread = (SMOOTHING, SMOOTHING, 0)[: pixels.ndim]
                out: np.ndarray = gaussian_filter(pixels.astype(np.float32), spread, mode="nearest", truncate=3.0)
                return out

            self._maps["smoothed"] = np.stack([smooth(self.old), smooth(self.new)])
        return ReferencePair(*self._maps["smoothed"])

    def value(self, name: str, compute: Callable[[], float]) -> float:
        """A figure derived from a map (its mean, its worst tile), computed once."""
        if name not in self._values:
            self._values[name] = compute()
        return self._values[name]


def _bounds(length: int, parts: int) -> np.ndarray:
    """Where each part begins, split as numpy.array_split splits."""
    size, extra = divmod(length, parts)
    return np.cumsum([0] + [size + (1 if part < extra else 0) for part in range(parts - 1)])


def tile_means(values: np.ndarray, grid: int = TILE_GRID) -> np.ndarray:
    """The mean of ``values`` (a 2-d map) in each tile of a ``grid`` x ``grid`` grid (fewer
    tiles along a side shorter than ``grid`` pixels)."""
    rows, cols = min(grid, values.shape[0]), min(grid, values.shape[1])
    row_starts, col_starts = _bounds(values.shape[0], rows), _bounds(values.shape[1], cols)
    sums = np.add.reduceat(np.add.reduceat(values.astype(np.float64), row_starts, axis=0), col_starts, axis=1)
    heights = np.diff(np.append(row_starts, values.shape[0]))
    widths = np.diff(np.append(col_starts, values.shape[1]))
    means: np.ndarray = sums / np.outer(heights, widths)
    return means


def matched(old: np.ndarray, new: np.ndarray) -> ReferencePair | None:
    """The two references at one size: the larger scaled down to the smaller (a reference
    recorded with another ``--comfy-reference-side``); None when their shapes do not correspond
    (the images differ in size, which the size check reports)."""
    (old_h, old_w), (new_h, new_w) = old.shape[:2], new.shape[:2]
    if (old_h, old_w) == (new_h, new_w):
        return ReferencePair(old, new)
    small, large = sorted([(old_w, old_h), (new_w, new_h)], key=lambda size: size[0] * size[1])
    if reference_size(*large, max(small)) != small:
        return None
    if (old_w, old_h) == large:
        return ReferencePair(np.asarray(scaled(Image.fromarray(old), small)), new)
    return ReferencePair(old, np.asarray(scaled(Image.fromarray(new), small)))
