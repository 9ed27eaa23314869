"""Synthetic report entries (generated data, no server) for the report's scale and
comparison-view tests and for bench/report_scale.py: a pair of real picture files (the new
output at 512x512, the baseline's reference at 256x256 with a yellow square in the tile at row
6, column 4 of 8x8) that every card links, failing cards spread evenly among passing ones."""

from __future__ import annotations

import base64
import io
import os
import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

SIDE = 512
TILE = {"metric": "ssim_tile", "row": 6, "column": 4, "rows": 8, "columns": 8}
IGNORED = [0, 0, 128, 64]  # a region the comparison ignores, in pixels of the full image


def pictures(folder: Path) -> dict[str, str]:
    """The new image, the baseline's reference and their amplified difference (base64)."""
    rng = random.Random(1)
    new = Image.new("RGB", (SIDE, SIDE), (40, 90, 160))
    draw = ImageDraw.Draw(new)
    for _ in range(40):
        x, y = rng.randrange(SIDE), rng.randrange(SIDE)
        draw.ellipse((x, y, x + 40, y + 40), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    base = new.copy()
    ImageDraw.Draw(base).rectangle((192, 320, 255, 383), fill=(250, 250, 0))  # row 6, column 4 of 8x8
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    new.save(folder / "images" / "new.png")
    base.resize((SIDE // 2, SIDE // 2)).save(folder / "refs" / "ref.png")
    diff = Image.new("RGB", (SIDE // 2, SIDE // 2))
    ImageDraw.Draw(diff).rectangle((96, 160, 127, 191), fill=(255, 255, 255))
    buffer = io.BytesIO()
    diff.save(buffer, "PNG")
    return {"new": str(folder / "images" / "new.png"), "ref": str(folder / "refs" / "ref.png"),
            "diff": base64.b64encode(buffer.getvalue()).decode("ascii")}


def entry(i: int, failed: bool, files: dict[str, str]) -> dict[str, Any]:
    comparison: dict[str, Any] = {"index": 0, "status": "diff" if failed else "match",
                                  "readings": {"hash": [12 if failed else 0, 10],
                                               "ssim_tile": [0.4 if failed else 0.0, 0.1]},
                                  "baseline_path": files["ref"]}
    part: dict[str, Any] = {"kind": "image", "images": [{"path": files["new"], "width": SIDE, "height": SIDE}],
                            "comparisons": [comparison]}
    batch = f"batches/b{i // 1000}.json"
    found: dict[str, Any] = {
        "nodeid": f"{batch}::p{i}", "outcome": "failed" if failed else "passed", "prompt": f"p{i}", "batch": batch,
        "order": i, "seed": i, "params": {"seed": i, "width": SIDE, "height": SIDE}, "duration_s": 0.3,
        "execution_s": 0.2, "parts": [part],
        "baseline": "diff: image 0 differs from its baseline" if failed else "match: image 0 matches its baseline"}
    if failed:
        comparison.update(diff=files["diff"], baseline_size=[SIDE // 2, SIDE // 2], tile=TILE)
        part["ignore"] = [IGNORED]
        found["message"] = ("image 0 differs from its baseline: ssim_tile distance 0.4 > 0.1 "
                            "(worst tile: SSIM 0.6000 at row 6, column 4 of 8x8)")
        found["provenance"] = f"first failed in run {i} (a made-up provenance line)"
    return found


def entries(count: int, failing: int, files: dict[str, str]) -> list[dict[str, Any]]:
    """``count`` entries in file order, ``failing`` of them failed, spread evenly. A failing
    card links pictures of its own (hard links to the pair): Chromium loads a lazy picture at
    once when its address is in its memory cache, so cards sharing one address would all load
    as soon as the first did, and laziness could not be seen."""
    step = max(1, count // max(failing, 1))
    found = []
    for i in range(count):
        failed = i % step == 0 and i // step < failing
        found.append(entry(i, failed, _own(files, i) if failed else files))
    return found


def _own(files: dict[str, str], i: int) -> dict[str, str]:
    """``files`` with the new image and the reference under names of card ``i``'s own."""
    own = dict(files)
    for key in ("new", "ref"):
        original = Path(files[key])
        linked = original.with_name(f"{original.stem}-{i}{original.suffix}")
        if not linked.exists():
            os.link(original, linked)
        own[key] = str(linked)
    return own
