"""One output image, decoded once: every metric and the thumbnail read from the same pixels.

Decoding a 1024x1024 PNG is most of the client's work per image, and the pytest process
shares the CPU with the server, so nothing here decodes or converts twice: the grey image and
the small grey squares the hashes read are made on first use and kept. The metrics let Pillow
do the pixel work (crops, histograms, differences), which copies no array of the whole image.
"""

from __future__ import annotations

import io
from functools import cached_property

from PIL import Image

from ..errors import BaselineError

THUMBNAIL_SIDE = 128


class DecodedImage:
    """The first frame of an image as RGB (an alpha channel dropped), with derived views."""

    def __init__(self, rgb: Image.Image) -> None:
        self.rgb = rgb
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
            self._squares[side] = self.grey.resize((side, side), Image.LANCZOS)
        return self._squares[side]

    def thumbnail_png(self, side: int = THUMBNAIL_SIDE) -> bytes:
        """A small PNG (``side`` px on the longer side) for a reviewer; the same pixels give the same bytes."""
        small = self.rgb.copy()
        small.thumbnail((side, side), Image.LANCZOS)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
        return out.getvalue()


def decode(image_bytes: bytes) -> DecodedImage:
    """Decode once; an unreadable image is a BaselineError (the prompt fails, naming why)."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as img:
            img.load()
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            return DecodedImage(rgb)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BaselineError(f"cannot read the image for its baseline: {exc}") from None
