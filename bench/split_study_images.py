"""The pictures of bench/split_study.py that no server renders: flat and low-chroma content
(gradients, greys, near-uniform fills, a sky, soft shapes), where noise weighs most against a
metric and a change has the least structure to show itself by.

Each is drawn in normalised coordinates, so a source is the same picture at every size; its
``seed`` picks the parameters of its family (another seed: another gradient, another grey)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Draw = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]  # (x, y, rng) -> HxWx3 floats


def _grey(level: np.ndarray | float, tint: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    base = np.asarray(level, dtype=np.float64)
    return np.stack([base + tint[0], base + tint[1], base + tint[2]], axis=-1)


def _ramp(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0..1 along a direction drawn per seed."""
    angle = rng.uniform(0, 2 * np.pi)
    t = (x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle)
    return (t - t.min()) / max(float(t.max() - t.min()), 1e-9)


def grey_gradient(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low, high = rng.uniform(10, 70), rng.uniform(180, 245)
    return _grey(low + (high - low) * _ramp(x, y, rng))


def tinted_gradient(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low, high = rng.uniform(60, 110), rng.uniform(150, 200)
    tint = tuple(rng.uniform(-8, 8, 3))
    return _grey(low + (high - low) * _ramp(x, y, rng), tint)  # type: ignore[arg-type]


def grey_fill(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _grey(np.full_like(x, rng.uniform(60, 200)))


def beige_fill(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Near-uniform: a paper colour with a 3-level gradient."""
    level = rng.uniform(170, 215)
    return _grey(level + 3 * _ramp(x, y, rng), (8.0, 4.0, -6.0))


def dark_fill(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Near-black with a faint vignette (noise is clipped at 0 here)."""
    level = rng.uniform(8, 30)
    vignette = 4 * (1 - ((x - 0.5) ** 2 + (y - 0.5) ** 2) * 2)
    return _grey(level + vignette, (0.0, 0.0, 2.0))


def near_white(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    level = rng.uniform(238, 250)
    return _grey(level + 2 * _ramp(x, y, rng), (0.0, 0.0, 1.0))


def radial(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cx, cy = rng.uniform(0.2, 0.8, 2)
    inner, outer = rng.uniform(150, 230), rng.uniform(30, 90)
    distance = np.clip(np.hypot(x - cx, y - cy) / 0.8, 0, 1)
    return _grey(inner + (outer - inner) * distance)


def sky(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    top = np.array([rng.uniform(90, 130), rng.uniform(140, 170), rng.uniform(200, 230)])
    bottom = np.array([rng.uniform(200, 225), rng.uniform(215, 235), rng.uniform(235, 250)])
    t = (y ** rng.uniform(0.7, 1.5))[..., None]
    return np.asarray(top + (bottom - top) * t)


def blobs(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Soft low-chroma shapes: a few Gaussians on a grey ground."""
    level = np.full_like(x, rng.uniform(90, 160))
    for _ in range(5):
        cx, cy, width, height = *rng.uniform(0.1, 0.9, 2), rng.uniform(0.08, 0.25), rng.uniform(-45, 45)
        level = level + height * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width ** 2))
    return _grey(level, tuple(rng.uniform(-6, 6, 3)))  # type: ignore[arg-type]


def soft_disk(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cx, cy, radius = *rng.uniform(0.35, 0.65, 2), rng.uniform(0.15, 0.3)
    ground, disk = rng.uniform(90, 150), rng.uniform(20, 40)
    edge = 1 / (1 + np.exp((np.hypot(x - cx, y - cy) - radius) / 0.015))
    return _grey(ground + disk * edge, (3.0, 0.0, -3.0))


@dataclass(frozen=True)
class Synthetic:
    """One flat or low-chroma source: ``draw`` with the parameters of ``seed``, at any size."""

    name: str
    draw: Draw

    def pixels(self, side: int, seed: int = 0) -> np.ndarray:
        coords = (np.arange(side) + 0.5) / side
        x, y = np.meshgrid(coords, coords)
        picture = self.draw(x, y, np.random.default_rng(seed))
        return np.clip(np.rint(picture), 0, 255).astype(np.uint8)


SYNTHETIC = [Synthetic(f.__name__.replace("_", " "), f) for f in
             (grey_gradient, tinted_gradient, grey_fill, beige_fill, dark_fill, near_white, radial, sky, blobs,
              soft_disk)]
