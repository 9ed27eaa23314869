"""One output image, decoded once: every metric, the reference and the thumbnail read from the same pixels.

Decoding a 1024x1024 PNG is most of the client's work per image, and the pytest process
shares the CPU with the server, so nothing here decodes or converts twice: the grey image, the
small grey squares the hashes read and the reference are made on first use and kept. The
metrics let Pillow do the pixel work (crops, histograms, differences), which copies no array
of the whole image.

The **reference** is what the structural metrics (SSIM, CIEDE2000) compare: the image scaled
down (never up) to a long side of ``reference_side`` pixels (256 by default; ``None``: the
full image), kept losslessly as a PNG beside the baseline entry. The reviewer's thumbnail is
made from it.
"""

from __future__ import annotations

import io
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import BaselineError

THUMBNAIL_SIDE = 128
#: Pillow's reducing_gap for the downscale: an integer box reduction first, then Lanczos
#: (a 1024 -> 256 reference costs 4 ms instead of 11, the same picture to the metrics).
_REDUCING_GAP = 2.0


def reference_size(width: int, height: int, side: int | None) -> tuple[int, int]:
    """The size of an image scaled so that its long side is at most ``side`` (None: unchanged)."""
    if side is None or max(width, height) <= side:
        return width, height
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def scaled(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` at ``size`` (Lanczos); the image itself when it already is."""
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


def png_bytes(image: Image.Image, **options: object) -> bytes:
    """A PNG of ``image``: the same pixels give the same bytes (with the same Pillow)."""
    out = io.BytesIO()
    image.save(out, format="PNG", **options)
    return out.getvalue()


def thumbnail_png(pixels: np.ndarray, side: int = THUMBNAIL_SIDE) -> bytes:
    """A small PNG (``side`` px on the longer side) of the reference pixels, for a reviewer."""
    small = Image.fromarray(pixels)
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return png_bytes(small, optimize=True)


def reference_png(pixels: np.ndarray) -> bytes:
    """The lossless PNG of a reference kept beside its baseline entry."""
    return png_bytes(Image.fromarray(pixels), compress_level=9)


class DecodedImage:
    """The first frame of an image as RGB (an alpha channel dropped), with derived views."""

    def __init__(self, rgb: Image.Image, image_format: str = "") -> None:
        self.rgb = rgb
        self.format = image_format
        self._squares: dict[int, Image.Image] = {}

    @property
    def width(self) -> int:
        return self.rgb.width

    @property
    def height(self) -> int:
        return self.rgb.height

    @cached_property
    def grey(self) -> Image.Image:
        """Pillow's luminance ("L"), the grey every imagehash algorithm starts from."""
        return self.rgb.convert("L")

    def grey_square(self, side: int) -> Image.Image:
        """The grey image resized (Lanczos) to ``side`` x ``side``, as phash reads it."""
        if side not in self._squares:
            self._squares[side] = self.grey.resize((side, side), Image.Resampling.LANCZOS)
        return self._squares[side]

    def reference(self, side: int | None) -> np.ndarray:
        """The reference pixels (height x width x 3, uint8): the long side at most ``side``."""
        return np.asarray(scaled(self.rgb, reference_size(self.width, self.height, side)))


def decode(image_bytes: bytes) -> DecodedImage:
    """Decode once; an unreadable image is a BaselineError (the prompt fails, naming why)."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as img:
            img.load()
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            return DecodedImage(rgb, img.format or "")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BaselineError(f"cannot read the image for its baseline: {exc}") from None


def pixels_of(data: bytes, what: str = "the image") -> np.ndarray:
    """The RGB pixels of a PNG held in memory (a stored reference, a pending observation's)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BaselineError(f"cannot read {what}: {exc}") from None


def load_reference(path: Path) -> np.ndarray:
    """A stored reference's pixels. A Git LFS pointer that was never pulled is named as such."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BaselineError(f"the reference image {path} cannot be read: {exc.strerror or exc}") from None
    if data.startswith(b"version https://git-lfs"):
        raise BaselineError(f"the reference image {path} is a Git LFS pointer: run `git lfs pull`")
    return pixels_of(data, f"the reference image {path}")
