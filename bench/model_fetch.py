"""Figures of --comfy-fetch-models on this machine: the generated checkpoint (465 MB) served by a
local HTTP server (tests/model_server.py) and fetched into an empty cache, fetched again from the
cache (pooch hashes it, no request), and fetched with the connection cut at 40 % (resumed with a
Range request). Prints seconds and MB/s; one run of each (the figures are seconds apart).

    .venv/bin/python bench/model_fetch.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from model_server import serving  # noqa: E402

from comfy_plugin.server.models import ModelFile, fetch  # noqa: E402

CHECKPOINT = ROOT / ".comfyui" / "models" / "checkpoints" / "tiny-sd15.safetensors"


def timed(label: str, model: ModelFile, cache: Path, size: int, requests: int) -> None:
    start = time.perf_counter()
    fetch([model], cache, lambda _: None)
    took = time.perf_counter() - start
    print(f"{label:<28} {took:6.2f} s  {size / 1e6 / took:7.0f} MB/s  ({requests} request(s) so far)")


def main() -> None:
    digest = (CHECKPOINT.parent / (CHECKPOINT.name + ".sha256")).read_text().split()[0]
    size = CHECKPOINT.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        with serving({"/m": CHECKPOINT}) as served:
            model = ModelFile("checkpoints", "m.safetensors", served.url + "/m", digest)
            cache = Path(tmp) / "a"
            timed("fresh fetch", model, cache, size, len(served.requests))
            timed("cached rerun (hash only)", model, cache, size, len(served.requests))
        with serving({"/m": CHECKPOINT}, drops=1, drop_at=int(size * 0.4)) as served:
            model = ModelFile("checkpoints", "m.safetensors", served.url + "/m", digest)
            timed("cut at 40 %, resumed", model, Path(tmp) / "b", size, 0)
            print(f"  requests: {[r['range'] or 'whole' for r in served.requests]}")


if __name__ == "__main__":
    main()
