"""Ignore regions without a server: rectangles in pixels or fractions, the stand-ins masked from
the references, and the card's rectangles in full-image pixels (the real-server test is
tests/test_ignore_regions.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comfy_plugin.client import OutputFile
from comfy_plugin.errors import BaselineError
from comfy_plugin.media.kind import CompareContext, SavedOutput
from comfy_plugin.media.still.kind import StillImages
from comfy_plugin.media.still.regions import ignore_regions, in_pixels, is_fraction
from comfy_plugin.settings import BaselineSettings

SETTINGS = BaselineSettings(update=False, prune=False, root=Path("baselines"), env=None, missing="fail",
                            hash="phash-8", threshold=None, fresh=False)


RED, BLUE = (200, 30, 30), (30, 30, 200)


def picture(inside: tuple[int, int, int], outside: tuple[int, int, int], size: int = 512) -> bytes:
    """Noise with a solid 64 px patch at (384, 384), in the region, and one at (64, 64)."""
    pixels = np.random.default_rng(3).integers(0, 255, (size, size, 3), dtype=np.uint8)
    pixels[384:448, 384:448] = inside
    pixels[64:128, 64:128] = outside
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def output(data: bytes) -> SavedOutput:
    return SavedOutput(OutputFile("9", "images", "x.png", "", "output"), None, data, "image")


def test_rectangles_are_pixels_or_fractions_rounded_outwards() -> None:
    assert not is_fraction((0, 0, 1, 1)), "integers are pixels, even at most 1"
    assert is_fraction((0, 0, 1.0, 0.5))
    assert in_pixels((0.5, 0.25, 1.0, 0.5), 200, 100) == (100, 25, 200, 50)
    assert in_pixels((10.5, 0, 20.2, 300), 200, 100) == (10, 0, 21, 100), "outwards, clipped to the image"
    assert ignore_regions([{"ignore": [[1, 2, 3, 4]]}, {"ignore": [[0, 0, 9, 9]]}]) == [(1, 2, 3, 4)]
    assert ignore_regions([{}, {"ignore": [[0, 0, 9, 9]]}]) == [(0, 0, 9, 9)], "the batch file's"
    with pytest.raises(BaselineError, match=r"ignore\[1\]: \[5, 5, 5, 9\]: x0 must be less than x1"):
        ignore_regions([{"ignore": [[0, 0, 1, 1], [5, 5, 5, 9]]}])
    with pytest.raises(BaselineError, match=r"ignore\[0\]: expected \[x0, y0, x1, y1\]"):
        ignore_regions([{"ignore": [[0, 0, 1]]}])


def test_a_change_inside_a_region_matches_one_outside_fails(tmp_path: Path) -> None:
    """Recorded with a 512 px reference downscaled to 256: the region, in full-image pixels,
    falls on the reference at half its size."""
    kind = StillImages()
    record = CompareContext(SETTINGS, ({},), 1, "w", {}, True, 256, lambda name: tmp_path / name)
    seen = kind.compare(None, [output(picture(RED, RED))], record).observed

    class Files:
        def named(self, prompt_id: str, index: int, suffix: str, data: bytes) -> str:
            (tmp_path / f"t{index}{suffix}").write_bytes(data)
            return f"t{index}{suffix}"

        def by_digest(self, data: bytes, suffix: str) -> str:
            (tmp_path / f"r{suffix}").write_bytes(data)
            return f"r{suffix}"

    stored = [kind.keep(s, Files(), "p", i) for i, s in enumerate(seen)]
    layers = ({"ignore": [[384, 384, 448, 448]]},)
    compare = CompareContext(SETTINGS, layers, 1, "w", {}, False, 256, lambda name: tmp_path / name, report=True)

    plain = CompareContext(SETTINGS, ({},), 1, "w", {}, False, 256, lambda name: tmp_path / name)
    assert kind.compare(stored, [output(picture(BLUE, RED))], plain).status == "diff"

    inside = kind.compare(stored, [output(picture(BLUE, RED))], compare)
    assert inside.status == "match", inside.message
    assert "1 region(s) ignored" in inside.message
    assert inside.card["ignore"] == [[384, 384, 448, 448]]
    assert inside.observed[0].entry.width == 512, "the real observation is what an update records"

    outside = kind.compare(stored, [output(picture(RED, BLUE))], compare)
    assert outside.status == "diff", outside.message
