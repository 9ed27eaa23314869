#!/usr/bin/env python3
"""Do the baseline metrics pass what only changes the arithmetic and fail what a user calls a
regression? A study, not a test: its tables are in docs/baselines-study.md.

CPU reruns of ComfyUI are byte-identical, so the harmless variants here are servers that
compute the same picture another way, each a fresh launch of the development ComfyUI with the
generated SD1.5-shaped checkpoint (workflows-files/tiny-sd15-txt2img-api.json):

  restart            the reference configuration again (a new process)
  threads-2          OMP_NUM_THREADS=2 instead of 1 (another reduction order in torch)
  split-attention    --use-split-cross-attention (the reference uses ComfyUI's CPU default,
  pytorch-attention  --use-pytorch-cross-attention  sub-quadratic attention)
  fp16-vae           --fp16-vae, bf16-vae --bf16-vae, bf16-unet --bf16-unet (other precisions)
  batch-2            the same prompt in a batch of two, image 0 (the reference server)

and the regressions a user would name: on the server another seed, one more sampler step, cfg
+1, one word of the prompt; on the client (of the reference image) a local patch of 2, 3 and
5 % of the area (another picture's pixels there, or a smooth blob), hue rotated ±15°,
saturation ±10 %, brightness ±5 %, a shift of 1 and 2 pixels, a 5 % crop scaled back (and one
of another size), a horizontal flip, JPEG artefacts (quality 75 and 90), a one-pixel blur.
Client-side ±1/±2 pixel noise (the old study's stand-in for GPU nondeterminism) is shown for
information. 64x64 images of six prompts and 256x256 images of two; the latter are also judged
with 128, 64 and 32 px references (2x, 4x and 8x down: a 1024 px image gets 4x with the 256 px
default).

For every case and metric it prints the distances, the verdict of baselines.compare with the
defaults, the error rates at the default thresholds, candidates that are not metrics of the
plugin (PSNR, percentiles of the maps instead of tiles, luma-only SSIM, CIEDE2000 at half the
side), combinations of metrics, and the client CPU of a 1024x1024 image per reference side
(the tables are made by baseline_study_tables.py). Server outputs are kept under --cache (build/baseline-study), so a second run
measures without a server; --markdown writes the tables for the docs.

    .venv/bin/python bench/baseline_study.py [--cache DIR] [--markdown FILE] [--regenerate]

Exit status 1 when a default misclassifies a counted case.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baseline_study_tables import (  # noqa: E402
    SHOWN,
    SIDES,
    Case,
    Out,
    Sample,
    case_rows,
    combination_rows,
    metric_rows,
    redundancy,
    side_rows,
    summary,
    wrong,
)

from comfy_plugin.client import ComfyClient  # noqa: E402
from comfy_plugin.media.still.comparison import compare  # noqa: E402
from comfy_plugin.media.still.entries import observe  # noqa: E402
from comfy_plugin.media.still.metrics.pixels import matched  # noqa: E402
from comfy_plugin.media.still.spec import DEFAULT_REFERENCE_SIDE, reference_side_text  # noqa: E402
from comfy_plugin.server.launcher import launch  # noqa: E402

COMFY_DIR = ROOT / ".comfyui" / "ComfyUI"
COMFY_PYTHON = ROOT / ".comfyui" / "venv" / "bin" / "python"
MODEL_PATHS = ROOT / ".comfyui" / "extra_model_paths.yaml"
WORKFLOW = ROOT / "workflows-files" / "tiny-sd15-txt2img-api.json"
CPU_ARGS = ["--cpu", "--disable-all-custom-nodes"]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: (prompt, the same prompt with one word changed)
PROMPTS = [("a cat wearing a hat", "a dog wearing a hat"), ("a lighthouse at night", "a lighthouse at dawn"),
           ("a bowl of fruit", "a bowl of soup"), ("a red car", "a blue car"),
           ("a mountain lake", "a mountain road"), ("an old sailor", "an old farmer")]


# -- what the server renders ----------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    name: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = tuple(ONE_THREAD.items())


CONFIGS = [Config("reference"), Config("restart"),
           Config("threads-2", env=(("OMP_NUM_THREADS", "2"), ("MKL_NUM_THREADS", "2"))),
           Config("split-attention", ("--use-split-cross-attention",)),
           Config("pytorch-attention", ("--use-pytorch-cross-attention",)),
           Config("fp16-vae", ("--fp16-vae",)), Config("bf16-vae", ("--bf16-vae",)),
           Config("bf16-unet", ("--bf16-unet",))]


@dataclass(frozen=True)
class Base:
    index: int
    side: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.side}px-{self.index}"


def bases(small: int, large: int) -> list[Base]:
    return ([Base(i, 64, 42 + i) for i in range(small)]
            + [Base(i, 256, 1042 + i) for i in range(large)])


#: variant -> how the reference server's prompt changes (only the reference server runs them)
SERVER_VARIANTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "batch-2": lambda v: {**v, "batch_size": 2},
    "seed+1": lambda v: {**v, "seed": v["seed"] + 1},
    "steps+1": lambda v: {**v, "steps": v["steps"] + 1},
    "cfg+1": lambda v: {**v, "cfg": v["cfg"] + 1.0},
    "one word": lambda v: {**v, "text": v["word_changed"]},
}


def values(base: Base) -> dict[str, Any]:
    text, changed = PROMPTS[base.index % len(PROMPTS)]
    return {"seed": base.seed, "steps": 4, "cfg": 7.5, "text": text, "word_changed": changed,
            "side": base.side, "batch_size": 1}


def workflow(v: dict[str, Any]) -> dict[str, Any]:
    graph = json.loads(WORKFLOW.read_text())
    graph["3"]["inputs"].update(seed=v["seed"], steps=v["steps"], cfg=v["cfg"])
    graph["5"]["inputs"].update(width=v["side"], height=v["side"], batch_size=v["batch_size"])
    graph["6"]["inputs"]["text"] = v["text"]
    graph["9"]["inputs"]["filename_prefix"] = "study"
    return graph


def jobs(config: Config, all_bases: list[Base]) -> dict[str, dict[str, Any]]:
    """file name -> workflow of what ``config`` renders."""
    out = {f"{b.key}.png": workflow(values(b)) for b in all_bases}
    if config.name == "reference":
        for b in all_bases:
            for variant, change in SERVER_VARIANTS.items():
                out[f"{b.key}-{variant.replace(' ', '-')}.png"] = workflow(change(values(b)))
    return out


def generate(cache: Path, all_bases: list[Base], timeout: float) -> None:
    """Render what the cache lacks, one fresh server per configuration."""
    for config in CONFIGS:
        folder = cache / config.name
        todo = {name: wf for name, wf in jobs(config, all_bases).items() if not (folder / name).is_file()}
        if not todo:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        saved = {key: os.environ.get(key) for key, _ in config.env}
        os.environ.update(dict(config.env))
        started = time.monotonic()
        try:
            server = launch(COMFY_DIR, str(COMFY_PYTHON), [*CPU_ARGS, *config.args], model_paths=MODEL_PATHS)
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        client = ComfyClient(server.url)
        try:
            for name, wf in todo.items():
                result = client.wait(client.submit(wf), timeout)
                (folder / name).write_bytes(client.download(result.files[0]))
        finally:
            client.close()
            server.stop()
        print(f"  {config.name}: {len(todo)} image(s) in {time.monotonic() - started:.0f} s", flush=True)


# -- what the client changes ----------------------------------------------------------------------


def array(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def enhanced(kind: type, factor: float) -> Callable[[np.ndarray, Any], np.ndarray]:
    return lambda a, ctx: np.asarray(kind(Image.fromarray(a)).enhance(factor))


def hue(degrees: float) -> Callable[[np.ndarray, Any], np.ndarray]:
    def rotate(a: np.ndarray, ctx: Any) -> np.ndarray:
        from skimage.color import hsv2rgb, rgb2hsv

        hsv = rgb2hsv(a)
        hsv[..., 0] = (hsv[..., 0] + degrees / 360) % 1.0
        return np.rint(hsv2rgb(hsv) * 255)
    return rotate


def patch(fraction: float) -> Callable[[np.ndarray, Any], np.ndarray]:
    """A square of ``fraction`` of the area: another seed's pixels there (even trials) or a
    smooth blob of the region's mean colour (odd trials), at a position drawn per trial."""
    def apply(a: np.ndarray, ctx: Context) -> np.ndarray:
        height, width = a.shape[:2]
        side = round((fraction * width * height) ** 0.5)
        rng = np.random.default_rng(ctx.trial)
        y, x = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        out = a.astype(np.float64).copy()
        region = out[y:y + side, x:x + side]
        out[y:y + side, x:x + side] = ctx.other[y:y + side, x:x + side] if ctx.trial % 2 == 0 else region.mean(axis=(0, 1))
        return out
    return apply


def shift(pixels: int) -> Callable[[np.ndarray, Any], np.ndarray]:
    """Right and down by ``pixels``, the edge repeated."""
    def apply(a: np.ndarray, ctx: Any) -> np.ndarray:
        padded = np.pad(a, ((pixels, 0), (pixels, 0), (0, 0)), mode="edge")
        return padded[: a.shape[0], : a.shape[1]]
    return apply


def crop(scale_back: bool) -> Callable[[np.ndarray, Any], np.ndarray]:
    def apply(a: np.ndarray, ctx: Any) -> np.ndarray:
        height, width = a.shape[:2]
        inner_w, inner_h = round(width * 0.95), round(height * 0.95)
        x, y = (width - inner_w) // 2, (height - inner_h) // 2
        image = Image.fromarray(a).crop((x, y, x + inner_w, y + inner_h))
        return np.asarray(image.resize((width, height), Image.BICUBIC) if scale_back else image)
    return apply


def jpeg(quality: int) -> Callable[[np.ndarray, Any], np.ndarray]:
    def apply(a: np.ndarray, ctx: Any) -> np.ndarray:
        out = io.BytesIO()
        Image.fromarray(a).save(out, format="JPEG", quality=quality)
        return array(out.getvalue())
    return apply


def noise(amplitude: int) -> Callable[[np.ndarray, Any], np.ndarray]:
    def apply(a: np.ndarray, ctx: Context) -> np.ndarray:
        rng = np.random.default_rng(1000 + ctx.trial)
        return a.astype(np.int16) + rng.integers(-amplitude, amplitude + 1, a.shape)
    return apply


# -- cases ---------------------------------------------------------------------------------------------


CASES = [
    *(Case(c.name, "pass", server=f"{c.name}:") for c in CONFIGS[1:]),
    Case("batch of 2, image 0", "pass", server="batch-2"),
    Case("client noise ±1", "info", client=noise(1), trials=2),
    Case("client noise ±2", "info", client=noise(2), trials=2),
    Case("another seed", "fail", server="seed+1"),
    Case("one more step (4 -> 5)", "fail", server="steps+1"),
    Case("cfg 7.5 -> 8.5", "fail", server="cfg+1"),
    Case("one word of the prompt", "fail", server="one word"),
    Case("patch 2 % of the area", "fail", client=patch(0.02), trials=4),
    Case("patch 3 % of the area", "fail", client=patch(0.03), trials=4),
    Case("patch 5 % of the area", "fail", client=patch(0.05), trials=4),
    Case("hue +15°", "fail", client=hue(15)),
    Case("hue -15°", "fail", client=hue(-15)),
    Case("saturation +10 %", "fail", client=enhanced(ImageEnhance.Color, 1.10)),
    Case("saturation -10 %", "fail", client=enhanced(ImageEnhance.Color, 0.90)),
    Case("brightness +5 %", "fail", client=enhanced(ImageEnhance.Brightness, 1.05)),
    Case("brightness -5 %", "fail", client=enhanced(ImageEnhance.Brightness, 0.95)),
    Case("shift 1 px", "fail", client=shift(1)),
    Case("shift 2 px", "fail", client=shift(2)),
    Case("5 % crop, scaled back", "fail", client=crop(True)),
    Case("5 % crop (another size)", "fail", client=crop(False)),
    Case("horizontal flip", "fail", client=lambda a, ctx: a[:, ::-1]),
    Case("JPEG quality 90", "fail", client=jpeg(90)),
    Case("JPEG quality 75", "fail", client=jpeg(75)),
    Case("blur, radius 1 px", "fail",
         client=lambda a, ctx: np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(1)))),
]


@dataclass
class Context:
    other: np.ndarray  # the another-seed image of the same base (patches)
    trial: int


# -- measuring -----------------------------------------------------------------------------------------

def _luma(pixels: np.ndarray) -> np.ndarray:
    grey = np.asarray(Image.fromarray(pixels).convert("L"))
    return np.repeat(grey[:, :, None], 3, axis=2)


def extras(old: np.ndarray, new: np.ndarray) -> dict[str, float]:
    """The candidates of ``EXTRA`` for one pair of references."""
    from skimage.metrics import peak_signal_noise_ratio

    from comfy_plugin.media.still.metrics.ciede2000 import delta_e_map
    from comfy_plugin.media.still.metrics.pixels import tile_means
    from comfy_plugin.media.still.metrics.ssim import ssim_map

    pair = matched(old, new)
    if pair is None:
        return {}
    same = np.array_equal(pair.old, pair.new)
    psnr = 99.0 if same else min(99.0, float(peak_signal_noise_ratio(pair.old, pair.new, data_range=255)))
    luma = matched(_luma(pair.old), _luma(pair.new))
    half = [np.asarray(Image.fromarray(a).reduce(2)) for a in (pair.old, pair.new)] if min(pair.size) >= 16 else None
    half_pair = matched(*half) if half else pair
    out = {"psnr": round(psnr, 2), "ssim_p1": round(1 - float(np.percentile(ssim_map(pair), 1)), 5),
           "ciede2000_p99": round(float(np.percentile(delta_e_map(pair), 99)), 3),
           "ssim_luma": round(1 - float(ssim_map(luma).mean()), 5),
           "ssim_luma_tile": round(1 - float(tile_means(ssim_map(luma)).min()), 5),
           "ciede2000_half": round(float(delta_e_map(half_pair).mean()), 3),
           "ciede2000_half_tile": round(float(tile_means(delta_e_map(half_pair)).max()), 3)}
    return out


def measure(base: Base, old_png: bytes, new_png: bytes) -> Sample:
    """Every distance at the default reference side, and the verdict at each side studied."""
    sides = [DEFAULT_REFERENCE_SIDE, *(s for s in SIDES if s < base.side and s != DEFAULT_REFERENCE_SIDE)]
    sample = Sample(base, {}, True, None)
    for side in sides:
        old = observe(old_png, thumbnail=False, reference_side=side)
        new = observe(new_png, thumbnail=False, reference_side=side)
        result = compare(old.entry.with_reference("study"), new, baseline_reference=old.pixels)
        sample.verdicts[side] = result.status
        sample.by_side[side] = dict(result.distances)
        if side == DEFAULT_REFERENCE_SIDE:
            sample.distances = {**result.distances, **extras(old.pixels, new.pixels)}
    a, b = array(old_png), array(new_png)
    sample.same_size = a.shape == b.shape
    sample.max_change = int(np.abs(a.astype(np.int16) - b).max()) if sample.same_size else None
    return sample


def run_cases(cache: Path, all_bases: list[Base]) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {case.name: [] for case in CASES}
    for base in all_bases:
        reference = (cache / "reference" / f"{base.key}.png").read_bytes()
        other = array((cache / "reference" / f"{base.key}-seed+1.png").read_bytes())
        for case in CASES:
            for trial in range(case.trials):
                if case.server.endswith(":"):
                    data = (cache / case.server[:-1] / f"{base.key}.png").read_bytes()
                elif case.server:
                    data = (cache / "reference" / f"{base.key}-{case.server.replace(' ', '-')}.png").read_bytes()
                else:
                    data = png(case.client(array(reference), Context(other, 100 * base.index + trial)))
                samples[case.name].append(measure(base, reference, data))
    return samples


def cost_rows(repeats: int = 5) -> list[list[str]]:
    """Client CPU of one 1024x1024 image: observing it, and comparing its reference, per side."""
    rng = np.random.default_rng(7)
    small = np.clip(rng.normal(128, 60, (256, 256, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(small).resize((1024, 1024), Image.BICUBIC).filter(ImageFilter.GaussianBlur(1))
    data = png(np.asarray(image))
    other = png(np.asarray(image)[:, :, ::-1])
    rows = []
    for side in (128, 256, 512, None):
        old = observe(data, reference_side=side)
        entry = old.entry.with_reference("cost")
        times: dict[str, list[float]] = {"observe": [], "compare": [], "record": []}
        for _ in range(repeats):
            started = time.process_time()
            new = observe(other, thumbnail=False, reference_side=side)
            times["observe"].append(time.process_time() - started)
            started = time.process_time()
            compare(entry, new, baseline_reference=old.pixels)
            times["compare"].append(time.process_time() - started)
            started = time.process_time()
            new.recordable()
            times["record"].append(time.process_time() - started)
        rows.append([reference_side_text(side), str(len(old.reference_png) // 1024),
                     *(f"{statistics.median(times[k]) * 1000:.0f}" for k in ("observe", "compare", "record"))])
    return rows


# -- main ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "baseline-study",
                        help="where the servers' images are kept (default build/baseline-study)")
    parser.add_argument("--small", type=int, default=6, help="64x64 prompts (default 6)")
    parser.add_argument("--large", type=int, default=2, help="256x256 prompts (default 2)")
    parser.add_argument("--regenerate", action="store_true", help="render every image again")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--markdown", type=Path, help="write the tables to this file")
    args = parser.parse_args()
    all_bases = bases(args.small, args.large)
    started = time.monotonic()
    if args.regenerate:
        for path in args.cache.glob("*/*.png"):
            path.unlink()
    print(f"rendering what {args.cache} lacks ({len(CONFIGS)} server configurations)", flush=True)
    generate(args.cache, all_bases, args.timeout)
    rendered = time.monotonic() - started
    samples = run_cases(args.cache, all_bases)
    out = Out()
    out.table("Distances per case (reference side 256; 1 - SSIM; mean CIEDE2000; PSNR in dB)",
              ["case", "expect", "n", "largest pixel change", *SHOWN, "defaults"], case_rows(CASES, samples))
    out.table("Each metric at its default threshold", ["metric", "threshold", "harmless: worst",
              "harmless failed", "regressions caught", "caught by it alone", "beyond the harmless worst"],
              metric_rows(CASES, samples))
    out.line(redundancy(CASES, samples))
    out.table("Combinations of metrics", ["metrics", "harmless passed", "regressions caught", "missed"],
              combination_rows(CASES, samples))
    out.table("Reference side (the 256x256 images)", ["reference side", "harmless passed", "regressions caught",
              "caught by ssim and ciede2000 alone", "missed by them"], side_rows(CASES, samples))
    out.table("Client CPU per 1024x1024 image, ms (median)", ["reference side", "reference KiB", "observe",
              "compare", "record (PNGs)"], cost_rows())
    errors = wrong(CASES, samples)
    out.line(summary(CASES, samples, errors))
    for case, sample in errors:
        out.line(f"- misclassified: {case.name} ({sample.base.key}): {sample.verdicts.get(DEFAULT_REFERENCE_SIDE)}")
    print(f"\n{time.monotonic() - started:.0f} s ({rendered:.0f} s rendering)")
    if args.markdown:
        args.markdown.write_text("\n".join(out.markdown))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
