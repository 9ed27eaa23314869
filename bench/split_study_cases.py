"""The sources and cases of bench/split_study.py: which pictures each side holds, and what is
done to them (harmless: other servers' arithmetic, pixel noise; regressions: what a user would
name). Pixels in, pixels out; measuring and the tables are in split_study.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from baseline_study import CONFIGS, Base, Context, array, crop, enhanced, hue, jpeg, noise, patch, shift
from PIL import Image, ImageEnhance, ImageFilter
from split_study_images import SYNTHETIC, Synthetic

#: the sizes the Gaussian noise classes are measured at (the other cases: each source's own size)
NOISE_SIZES = (64, 128, 256, 512, 1024)
NOISE_SIGMAS = (1.0, 2.0)


@dataclass(frozen=True)
class Source:
    """One base picture: a checkpoint output of the cache (``base``) or a synthetic one."""

    name: str
    side: int
    base: Base | None = None
    synthetic: Synthetic | None = None

    def pixels(self, cache: Path, size: int | None = None) -> np.ndarray:
        size = size or self.side
        if self.synthetic is not None:
            return self.synthetic.pixels(size)
        assert self.base is not None
        image = Image.open(cache / "reference" / f"{self.base.key}.png").convert("RGB")
        return np.asarray(image if image.width == size else image.resize((size, size), Image.Resampling.LANCZOS))

    def other(self, cache: Path) -> np.ndarray:
        """Another seed of the same source (another gradient, another grey)."""
        if self.synthetic is not None:
            return self.synthetic.pixels(self.side, seed=1)
        assert self.base is not None
        return array((cache / "reference" / f"{self.base.key}-seed+1.png").read_bytes())

    def server_image(self, cache: Path, server: str) -> np.ndarray | None:
        """What a harmless server (``config:``) or a changed prompt rendered; None for a synthetic source."""
        if self.base is None:
            return None
        if server.endswith(":"):
            path = cache / server[:-1] / f"{self.base.key}.png"
        else:
            path = cache / "reference" / f"{self.base.key}-{server.replace(' ', '-')}.png"
        return array(path.read_bytes()) if path.is_file() else None  # (--no-render: not rendered yet)


def _checkpoint(index: int, side: int) -> Source:
    base = Base(index, side, (42 if side == 64 else 1042) + index)
    return Source(f"checkpoint {base.key}", side, base=base)


def _synthetic(index: int, side: int) -> Source:
    picture = SYNTHETIC[index]
    return Source(f"{picture.name} {side}px", side, synthetic=picture)


#: Split by source: no picture (nor another seed of it) on both sides. Each side has checkpoint
#: outputs at 64 and 256 px, gradients, greys and near-uniform fills.
TUNING = [_checkpoint(0, 64), _checkpoint(1, 64), _checkpoint(2, 64), _checkpoint(0, 256),
          _synthetic(0, 64), _synthetic(2, 256), _synthetic(4, 64), _synthetic(7, 256), _synthetic(9, 64)]
HELD_OUT = [_checkpoint(3, 64), _checkpoint(4, 64), _checkpoint(5, 64), _checkpoint(1, 256),
            _synthetic(1, 256), _synthetic(3, 64), _synthetic(5, 256), _synthetic(6, 64), _synthetic(8, 256)]
SIDE_SOURCES = {"tuning": TUNING, "held-out": HELD_OUT}

Client = Callable[[np.ndarray, Any], np.ndarray]


@dataclass(frozen=True)
class Case:
    name: str
    expect: str  # pass | fail
    server: str = ""  # "config:" (a harmless server) or a changed prompt of the reference server
    client: Client | None = None
    trials: int = 1
    size: int | None = None  # the size the source is drawn at (None: its own)
    family: str = ""  # the class the tables group it in ("" : its name)

    @property
    def group(self) -> str:
        return self.family or self.name


def gaussian(sigma: float) -> Client:
    def apply(a: np.ndarray, ctx: Context) -> np.ndarray:
        return a + np.random.default_rng(2000 + ctx.trial).normal(0.0, sigma, a.shape)
    return apply


def another_seed(a: np.ndarray, ctx: Context) -> np.ndarray:
    return ctx.other


def blur(a: np.ndarray, ctx: Any) -> np.ndarray:
    return np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(1)))


HARMLESS = [
    *(Case(c.name, "pass", server=f"{c.name}:") for c in CONFIGS[1:]),
    Case("batch of 2, image 0", "pass", server="batch-2"),
    Case("uniform noise ±1", "pass", client=noise(1), trials=2),
    Case("uniform noise ±2", "pass", client=noise(2), trials=2),
    *(Case(f"Gaussian σ={sigma:g}, {size} px", "pass", client=gaussian(sigma), trials=2 if size <= 256 else 1,
           size=size, family=f"Gaussian σ={sigma:g}") for sigma in NOISE_SIGMAS for size in NOISE_SIZES),
]

REGRESSIONS = [
    Case("another seed", "fail", client=another_seed),
    Case("one more step (4 -> 5)", "fail", server="steps+1"),
    Case("cfg 7.5 -> 8.5", "fail", server="cfg+1"),
    Case("one word of the prompt", "fail", server="one word"),
    *(Case(f"patch {p} % of the area", "fail", client=patch(p / 100), trials=4) for p in (2, 3, 5)),
    Case("hue +15°", "fail", client=hue(15)),
    Case("hue -15°", "fail", client=hue(-15)),
    Case("saturation +10 %", "fail", client=enhanced(ImageEnhance.Color, 1.10)),
    Case("saturation -10 %", "fail", client=enhanced(ImageEnhance.Color, 0.90)),
    Case("brightness +5 %", "fail", client=enhanced(ImageEnhance.Brightness, 1.05)),
    Case("brightness -5 %", "fail", client=enhanced(ImageEnhance.Brightness, 0.95)),
    Case("contrast +10 %", "fail", client=enhanced(ImageEnhance.Contrast, 1.10)),
    Case("contrast -10 %", "fail", client=enhanced(ImageEnhance.Contrast, 0.90)),
    Case("shift 1 px", "fail", client=shift(1)),
    Case("shift 2 px", "fail", client=shift(2)),
    Case("5 % crop, scaled back", "fail", client=crop(True)),
    Case("5 % crop (another size)", "fail", client=crop(False)),
    Case("horizontal flip", "fail", client=lambda a, ctx: a[:, ::-1]),
    Case("JPEG quality 90", "fail", client=jpeg(90)),
    Case("JPEG quality 75", "fail", client=jpeg(75)),
    Case("blur, radius 1 px", "fail", client=blur),
]

CASES = [*HARMLESS, *REGRESSIONS]
