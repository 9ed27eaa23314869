"""Client CPU of comparing one video with its baseline: a 512x512 mp4 of 16 frames (all 16
sampled), its entry recorded first, then the video kind's ``compare`` timed with
``time.process_time`` (decode, every still-image metric on each frame, the references read
back), median of a few runs. Target: at most 1 s.

Two cases: a rerun that gives the same file (the references are equal: SSIM and CIEDE2000 stop
early) and a video with every frame changed a little (every metric computed in full).

    .venv/bin/python bench/video_compare.py [--runs 5] [--frames 16] [--side 512]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np

from comfy_plugin.client import OutputFile
from comfy_plugin.media.kind import CompareContext, SavedOutput
from comfy_plugin.media.video.kind import Videos
from comfy_plugin.settings import BaselineSettings

SETTINGS = BaselineSettings(update=False, prune=False, root=Path("baselines"), env=None, missing="fail",
                            hash="phash-8", threshold=None, fresh=False)


def mp4(frames: int, side: int, shift: int = 0) -> bytes:
    """Smooth moving gradients with a little noise (like a generated clip, not pure noise)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0:side]
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            base = np.stack([(x + 8 * i) % 256, (y + 4 * i) % 256, (x + y) // 4 % 256], axis=-1)
            pixels = np.clip(base + rng.integers(-6, 7, base.shape) + shift, 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return out.getvalue()


class Folder:
    """SideFiles in a temporary folder (what the baseline store offers a kind)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def named(self, prompt_id: str, index: int, suffix: str, data: bytes) -> str:
        (self.root / f"{prompt_id}_{index}{suffix}").write_bytes(data)
        return f"{prompt_id}_{index}{suffix}"

    def by_digest(self, data: bytes, suffix: str) -> str:
        import hashlib

        name = hashlib.sha256(data).hexdigest()[:16] + suffix
        (self.root / name).write_bytes(data)
        return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args()
    kind = Videos()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        context = CompareContext(SETTINGS, (), 1, "digest", {}, True, 256, lambda name: root / name)
        recorded = mp4(args.frames, args.side)
        file = OutputFile("1", "images", "clip.mp4", "", "output", True)
        seen = kind.compare(None, [SavedOutput(file, None, recorded, "video")], context).observed[0]
        entry = kind.keep(seen, Folder(root), "clip", 0)
        context = replace(context, record=False)
        kind.warm_up([entry])
        for label, data in (("same file", recorded), ("every frame changed", mp4(args.frames, args.side, 3))):
            times, verdict = [], None
            for _ in range(args.runs):
                start = time.process_time()
                verdict = kind.compare([entry], [SavedOutput(file, None, data, "video")], context)
                times.append(time.process_time() - start)
            assert verdict is not None
            print(f"{args.side}x{args.side} mp4, {args.frames} frames sampled, {label}: "
                  f"median {statistics.median(times):.3f} s CPU (min {min(times):.3f}, max {max(times):.3f}, "
                  f"{args.runs} runs); {verdict.status}, worst ssim {verdict.readings['ssim'][0][0]:.4f}")


if __name__ == "__main__":
    main()
