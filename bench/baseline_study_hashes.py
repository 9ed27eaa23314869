#!/usr/bin/env python3
"""How far apart are the hashes of reruns and of real changes? A study, not a test.

(The first baseline study, kept as it was: the hash, colour and sharpness defaults come from it.
bench/baseline_study.py is the study of every metric, SSIM and CIEDE2000 among them, against
real numeric differences between servers; docs/baselines-study.md has its tables.)

The defaults of comfy_plugin/media/still/metrics/ (hash, colour and sharpness thresholds) come from
this. For three kinds of image produced by a real ComfyUI it measures, between a baseline
image and another image, the perceptual-hash distance (phash-8, and ahash, dhash, whash,
colorhash for comparison), the colour distance (mean RGB of a 4x4 grid) and the sharpness
distance (mean neighbour difference), for

  reruns (must match)      the same prompt again with the server's cache freed; that rerun
                           with tiny pixel noise (±1, ±2; ±4 for information) added here with
                           numpy, standing in for GPU nondeterminism
  perturbations (must not) another seed, a colour change, a blur change, a 5 % crop, a 5 %
                           crop scaled back to the full size, a 5 % resize, another size (and
                           on the SD graph another prompt text and one more step)

on 512x512 noise images (EmptyImage -> ImageAddNoise -> ImageBlur), 512x512 flat-colour
images (EmptyImage -> ImageBlur), and the generated SD1.5 checkpoint's graph at 64x64 when
.comfyui/models/checkpoints/tiny-sd15.safetensors exists. For every case it prints the
distribution of distances and the verdict of baselines.compare with the defaults (size, hash,
colour and sharpness together), then, for each check, the largest rerun distance and the
smallest perturbation that only this check catches. A perturbation that moves no pixel by
more than the rerun noise (a blur of a flat image) cannot be seen in any image and is
reported as such. Cases marked "info" show where the limits lie and have no expected verdict.

    .venv/bin/python bench/baseline_study_hashes.py          # launches the development ComfyUI
    .venv/bin/python bench/baseline_study_hashes.py --url http://127.0.0.1:8188 --bases 6

Exit status 1 when a default misclassifies a case.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from comfy_plugin.client import ComfyClient  # noqa: E402
from comfy_plugin.files import safe_piece  # noqa: E402
from comfy_plugin.media.still.comparison import compare  # noqa: E402
from comfy_plugin.media.still.entries import observe  # noqa: E402
from comfy_plugin.media.still.metrics.colour import DEFAULT_COLOUR_THRESHOLD  # noqa: E402
from comfy_plugin.media.still.metrics.hash import (  # noqa: E402
    DEFAULT_THRESHOLD,
    FLAT_CONTRAST,
    hamming,
)
from comfy_plugin.media.still.metrics.sharpness import DEFAULT_SHARPNESS_THRESHOLD  # noqa: E402
from comfy_plugin.media.still.spec import HashSpec  # noqa: E402
from comfy_plugin.server.launcher import launch  # noqa: E402

COMFY_DIR = ROOT / ".comfyui" / "ComfyUI"
COMFY_PYTHON = ROOT / ".comfyui" / "venv" / "bin" / "python"
MODEL_PATHS = ROOT / ".comfyui" / "extra_model_paths.yaml"
CHECKPOINT = ROOT / ".comfyui" / "models" / "checkpoints" / "tiny-sd15.safetensors"
CKPT_NAME = "tiny-sd15.safetensors"
EXTRA_SPECS = [HashSpec("ahash"), HashSpec("dhash"), HashSpec("whash"), HashSpec("colorhash", 3)]
PHASH = HashSpec("phash", 8)
COLOURS = [0x336699, 0x808080, 0xC04020, 0x20A060, 0xE0D040, 0x202020]
SD_PROMPTS = ["a cat wearing a hat", "a lighthouse at night", "a bowl of fruit", "a red car",
              "a mountain lake", "an old sailor"]


# -- graphs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """One prompt of the study: what the graph builders read."""

    seed: int = 0
    colour: int = 0x336699
    width: int = 512
    height: int = 512
    blur: int = 1
    sigma: float = 1.0
    text: str = "a cat wearing a hat"
    steps: int = 4
    cfg: float = 7.5
    post: tuple[tuple[Any, ...], ...] = ()  # ("crop", w, h, x, y) / ("scale", w, h) after the image


def _post(graph: dict[str, Any], source: list[Any], post: tuple[tuple[Any, ...], ...]) -> list[Any]:
    for n, step in enumerate(post):
        node = f"p{n}"
        if step[0] == "crop":
            graph[node] = {"class_type": "ImageCrop", "inputs": {"image": source, "width": step[1],
                                                                  "height": step[2], "x": step[3], "y": step[4]}}
        elif step[0] == "scale":
            graph[node] = {"class_type": "ImageScale", "inputs": {"image": source, "upscale_method": "bilinear",
                                                                   "width": step[1], "height": step[2],
                                                                   "crop": "disabled"}}
        elif step[0] == "blur":
            graph[node] = {"class_type": "ImageBlur", "inputs": {"image": source, "blur_radius": step[1],
                                                                  "sigma": step[2]}}
        source = [node, 0]
    return source


def noise_graph(p: Params) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": p.width, "height": p.height, "batch_size": 1,
                                                     "color": p.colour}},
        "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": p.seed, "strength": 0.5}},
        "3": {"class_type": "ImageBlur", "inputs": {"image": ["2", 0], "blur_radius": p.blur, "sigma": p.sigma}},
    }
    graph["9"] = {"class_type": "SaveImage", "inputs": {"images": _post(graph, ["3", 0], p.post),
                                                        "filename_prefix": "study-noise"}}
    return graph


def flat_graph(p: Params) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": p.width, "height": p.height, "batch_size": 1,
                                                     "color": p.colour}},
        "3": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": p.blur, "sigma": p.sigma}},
    }
    graph["9"] = {"class_type": "SaveImage", "inputs": {"images": _post(graph, ["3", 0], p.post),
                                                        "filename_prefix": "study-flat"}}
    return graph


def sd_graph(p: Params) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "3": {"class_type": "KSampler", "inputs": {
            "seed": p.seed, "steps": p.steps, "cfg": p.cfg, "sampler_name": "euler", "scheduler": "normal",
            "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT_NAME}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": p.width, "height": p.height, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": p.text, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, ugly", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    }
    graph["9"] = {"class_type": "SaveImage", "inputs": {"images": _post(graph, ["8", 0], p.post),
                                                        "filename_prefix": "study-sd"}}
    return graph


# -- client-side changes ----------------------------------------------------------------------------


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def add_noise(data: bytes, amplitude: int, seed: int) -> bytes:
    """Every channel of every pixel moved by a uniform integer in -amplitude..amplitude."""
    rng = np.random.default_rng(seed)
    array = pixels(data).astype(np.int16)
    return png(np.clip(array + rng.integers(-amplitude, amplitude + 1, array.shape), 0, 255))


def shift_red(data: bytes, amount: int) -> bytes:
    array = pixels(data).astype(np.int16)
    array[..., 0] += amount
    return png(np.clip(array, 0, 255))


def shifted(colour: int, amount: int) -> int:
    """``colour`` with its red channel moved by ``amount`` (away from the nearer limit)."""
    red = colour >> 16
    red = red + amount if red + amount <= 255 else red - amount
    return (red << 16) | (colour & 0xFFFF)


# -- cases ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    expect: str  # pass | fail | info
    change: Callable[[Params], Params] | None = None  # a server-side change of the prompt
    client: Callable[[bytes, int], bytes] | None = None  # a change of the downloaded bytes (bytes, trial)
    repeats: int = 1


def crop(side: int) -> tuple[tuple[Any, ...], ...]:
    inner = round(side * 0.95)
    offset = (side - inner) // 2
    return (("crop", inner, inner, offset, offset),)


def image_cases(kind: str, side: int) -> list[Case]:
    inner = round(side * 0.95)
    cases = [
        Case("rerun, cache freed", "pass", change=lambda p: p, repeats=2),
        Case("rerun + noise ±1", "pass", change=lambda p: p, client=lambda d, t: add_noise(d, 1, t), repeats=3),
        Case("rerun + noise ±2", "pass", change=lambda p: p, client=lambda d, t: add_noise(d, 2, t), repeats=3),
        Case("rerun + noise ±4", "info", change=lambda p: p, client=lambda d, t: add_noise(d, 4, t), repeats=1),
    ]
    if kind != "flat":
        cases.append(Case("another seed", "fail", change=lambda p: _replace(p, seed=p.seed + 1)))
    if kind == "sd":
        cases += [
            Case("another prompt text", "fail", change=lambda p: _replace(p, text=p.text + ", oil painting")),
            Case("steps 4 -> 5", "fail", change=lambda p: _replace(p, steps=p.steps + 1)),
            Case("colour: red +16 (client)", "fail", client=lambda d, t: shift_red(d, 16)),
            Case("colour: red +8 (client)", "info", client=lambda d, t: shift_red(d, 8)),
            Case("blur added: radius 1", "fail", change=lambda p: _replace(p, post=(("blur", 1, 1.0),))),
            Case("another size 64x48", "fail", change=lambda p: _replace(p, height=48)),
        ]
    else:
        cases += [
            Case("colour: red +16", "fail", change=lambda p: _replace(p, colour=shifted(p.colour, 16))),
            Case("colour: red +8", "info", change=lambda p: _replace(p, colour=shifted(p.colour, 8))),
            Case("blur radius 1 -> 2", "fail", change=lambda p: _replace(p, blur=2)),
            Case("blur sigma 1.0 -> 1.5", "info", change=lambda p: _replace(p, sigma=1.5)),
            Case(f"another size {side}x{side * 3 // 4}", "fail", change=lambda p: _replace(p, height=side * 3 // 4)),
        ]
    cases += [
        Case(f"5% crop ({inner}x{inner})", "fail", change=lambda p: _replace(p, post=p.post + crop(side))),
        Case(f"5% crop, scaled back to {side}", "fail",
             change=lambda p: _replace(p, post=p.post + crop(side) + (("scale", side, side),))),
        Case(f"5% resize ({inner}x{inner})", "fail", change=lambda p: _replace(p, post=p.post + (("scale", inner, inner),))),
        Case(f"5% resize and back to {side}", "info",
             change=lambda p: _replace(p, post=p.post + (("scale", inner, inner), ("scale", side, side)))),
    ]
    return cases


def _replace(p: Params, **changes: Any) -> Params:
    return Params(**{**p.__dict__, **changes})


# -- measuring -----------------------------------------------------------------------------------------


#: A perturbation whose output moves no pixel by more than this is within the rerun noise.
RERUN_NOISE = 2


@dataclass
class Sample:
    phash: int
    colour: float
    sharpness: float
    same_size: bool
    max_pixel_change: int | None  # None for another size
    flat: bool  # both images below FLAT_CONTRAST (metrics/hash.py): the hash is not used
    extra: dict[str, int]
    verdict: str  # the status baselines.compare gives with the defaults

    @property
    def invisible(self) -> bool:
        """The output differs from the baseline no more than a rerun with noise does."""
        return self.max_pixel_change is not None and self.max_pixel_change <= RERUN_NOISE


@dataclass
class CaseResult:
    case: Case
    samples: list[Sample] = field(default_factory=list)


class Runner:
    def __init__(self, client: ComfyClient, timeout: float) -> None:
        self.client = client
        self.timeout = timeout
        self.cached_reruns = 0

    def run(self, workflow: dict[str, Any], fresh: bool = False) -> bytes:
        """Queue ``workflow`` and download its one image; ``fresh`` frees the cache first."""
        for attempt in range(3):
            if fresh:
                self.client.free()
                time.sleep(0.5 + attempt)  # the worker applies the flag between prompts
            result = self.client.wait(self.client.submit(workflow), self.timeout)
            if not fresh or not result.cached_nodes:
                return self.client.download(result.files[0])
        self.cached_reruns += 1
        return self.client.download(result.files[0])


def features(data: bytes, spec: HashSpec = PHASH) -> dict[str, Any]:
    return observe(data, spec, thumbnail=False).entry.features


def rgb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def measure(base: bytes, other: bytes) -> Sample:
    old = observe(base, PHASH, thumbnail=False).entry
    new = observe(other, PHASH, thumbnail=False)
    result = compare(old, new)
    extra = {str(s): hamming(features(base, s)["hash"], features(other, s)["hash"], s) for s in EXTRA_SPECS}
    a, b = rgb(base), rgb(other)
    same_size = a.size == b.size
    change = int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max()) if same_size else None
    return Sample(
        phash=result.distances["hash"],
        colour=result.distances["colour"],
        sharpness=result.distances["sharpness"],
        same_size=same_size,
        max_pixel_change=change,
        flat=max(old.features["contrast"], new.entry.features["contrast"]) < FLAT_CONTRAST,
        extra=extra,
        verdict=result.status,
    )


def study(runner: Runner, kind: str, graph: Callable[[Params], dict[str, Any]], bases: list[Params],
          side: int, save: Path | None) -> tuple[list[CaseResult], list[float]]:
    """Every case against every base; returns the results and the contrast of each base image."""
    results = [CaseResult(case) for case in image_cases(kind, side)]
    contrasts = []
    for trial, base_params in enumerate(bases):
        base = runner.run(graph(base_params), fresh=True)
        contrasts.append(features(base)["contrast"])
        if save is not None and trial == 0:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{kind}-base.png").write_bytes(base)
        for result in results:
            case = result.case
            for repeat in range(case.repeats):
                if case.change is not None:
                    params = case.change(base_params)
                    data = runner.run(graph(params), fresh=params == base_params)
                else:
                    data = base
                if case.client is not None:
                    data = case.client(data, 1000 * trial + repeat)
                result.samples.append(measure(base, data))
                if save is not None and trial == 0 and repeat == 0:
                    (save / f"{kind}-{safe_piece(case.name)}.png").write_bytes(data)
    return results, contrasts


# -- reporting ------------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:g}" if low == high else f"{low:g}-{high:g} (med {statistics.median(values):g})"


def histogram(values: list[float]) -> str:
    return " ".join(f"{v:g}x{n}" if n > 1 else f"{v:g}" for v, n in sorted(Counter(values).items()))


def report(title: str, results: list[CaseResult]) -> int:
    """Print one table; returns how many samples the defaults got wrong."""
    print(f"\n== {title}")
    extra_names = [str(s) for s in EXTRA_SPECS]
    print(f"{'case':34} {'expect':6} {'n':>2}  {'phash-8':18} {'colour':20} {'sharpness':20} "
          + " ".join(f"{n:>12}" for n in extra_names) + "   defaults (hash+colour+size)")
    wrong = 0
    for result in results:
        s = result.samples
        verdicts = Counter("pass" if x.verdict == "match" else "fail" for x in s)
        expect = result.case.expect
        if expect == "fail" and all(x.invisible for x in s):
            changes = sorted({x.max_pixel_change for x in s})
            verdict = (f"n/a: no pixel moves by more than {max(changes)} (rerun noise: {RERUN_NOISE}), "
                       f"no image check can see it; {', '.join(f'{k} {v}/{len(s)}' for k, v in sorted(verdicts.items()))}")
        else:
            bad = sum(1 for x in s if not (expect == "fail" and x.invisible) and expect != "info"
                      and (x.verdict == "match") != (expect == "pass"))
            wrong += bad
            verdict = ", ".join(f"{k} {v}/{len(s)}" for k, v in sorted(verdicts.items()))
            if expect != "info":
                verdict += "  ok" if not bad else f"  WRONG ({bad})"
            if any(not x.same_size for x in s):
                verdict += "  [other size]"
            if any(x.flat for x in s):
                verdict += "  [flat: colour only]"
        print(f"{result.case.name:34} {expect:6} {len(s):>2}  {spread([x.phash for x in s]):18} "
              f"{spread([x.colour for x in s]):20} {spread([x.sharpness for x in s]):20} "
              + " ".join(f"{spread([x.extra[n] for x in s]):>12}" for n in extra_names) + f"   {verdict}")
        print(f"{'':44}phash-8 values: {histogram([x.phash for x in s])}")
    return wrong


def separating(all_results: list[tuple[str, list[CaseResult]]]) -> None:
    """For each check: the largest rerun distance, and the perturbations that only it catches."""
    checks = [("phash-8", DEFAULT_THRESHOLD, lambda x: 0 if x.flat else x.phash),
              ("colour", DEFAULT_COLOUR_THRESHOLD, lambda x: x.colour),
              ("sharpness", DEFAULT_SHARPNESS_THRESHOLD, lambda x: x.sharpness)]
    reruns = [(kind, r.case.name, x) for kind, rs in all_results for r in rs if r.case.expect == "pass"
              for x in r.samples]
    changes = [(kind, r.case.name, x) for kind, rs in all_results for r in rs if r.case.expect == "fail"
               for x in r.samples if x.same_size and not x.invisible]
    print(f"\n== each check with the defaults, over {len(reruns)} reruns and {len(changes)} visible same-size "
          f"perturbations (another size always fails)")
    print(f"{'check':10} {'threshold':>9} {'reruns: max':>12}  {'caught':>7}  smallest value among the perturbations "
          f"only this check catches")
    for name, limit, value in checks:
        worst = max(reruns, key=lambda r: value(r[2]))
        caught = [c for c in changes if value(c[2]) > limit]
        alone = [c for c in caught if sum(v(c[2]) > lim for _, lim, v in checks) == 1]
        smallest = min(alone, key=lambda c: value(c[2]), default=None)
        print(f"{name:10} {limit:>9g} {value(worst[2]):>12g}  {len(caught):>3}/{len(changes):<3}  "
              + (f"{value(smallest[2]):g} ({smallest[0]}: {smallest[1]})" if smallest else "-")
              + f"   [largest rerun: {worst[0]}: {worst[1]}]")
    missed = [c for c in changes if not any(v(c[2]) > lim for _, lim, v in checks)]
    print("every visible perturbation is caught" if not missed else
          "missed: " + "; ".join(f"{k}: {n} (phash {x.phash}, colour {x.colour:g}, sharpness {x.sharpness:g})"
                                 for k, n, x in missed))


# -- main ------------------------------------------------------------------------------------------------


def has_checkpoint(client: ComfyClient) -> bool:
    info = client.get_json("/object_info/CheckpointLoaderSimple")
    names = info.get("CheckpointLoaderSimple", {}).get("input", {}).get("required", {}).get("ckpt_name", [[]])[0]
    return CKPT_NAME in names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running ComfyUI; default: launch the development one (--cpu)")
    parser.add_argument("--bases", type=int, default=4, help="base prompts per kind of image (seeds and colours)")
    parser.add_argument("--side", type=int, default=512, help="side of the noise and flat images")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--save", type=Path, help="keep the first base's images of every case in this folder")
    args = parser.parse_args()
    if args.bases > len(COLOURS):
        parser.error(f"--bases: at most {len(COLOURS)}")

    server = None
    if args.url:
        url = args.url
    else:
        model_paths = MODEL_PATHS if MODEL_PATHS.is_file() else None
        server = launch(COMFY_DIR, str(COMFY_PYTHON), ["--cpu", "--disable-all-custom-nodes"], model_paths=model_paths)
        url = server.url
        print(f"launched ComfyUI at {url} (log: {server.log_path})")
    client = ComfyClient(url)
    started = time.monotonic()
    try:
        runner = Runner(client, args.timeout)
        side = args.side
        tables = []
        wrong = 0
        kinds: list[tuple[str, str, Callable[[Params], dict[str, Any]], list[Params], int]] = [
            ("noise", f"noise images {side}x{side} (EmptyImage -> ImageAddNoise 0.5 -> ImageBlur 1/1.0), "
                      f"{args.bases} seeds x colours", noise_graph,
             [Params(seed=1000 + i, colour=COLOURS[i], width=side, height=side) for i in range(args.bases)], side),
            ("flat", f"flat-colour images {side}x{side} (EmptyImage -> ImageBlur 1/1.0), {args.bases} colours",
             flat_graph, [Params(colour=COLOURS[i], width=side, height=side) for i in range(args.bases)], side),
        ]
        if CHECKPOINT.is_file() and has_checkpoint(client):
            kinds.append(("sd", f"generated SD1.5 checkpoint ({CKPT_NAME}) 64x64, 4 steps euler, "
                                f"{args.bases} prompts x seeds", sd_graph,
                          [Params(seed=42 + i, text=SD_PROMPTS[i], width=64, height=64) for i in range(args.bases)], 64))
        else:
            where = "not on the server" if CHECKPOINT.is_file() else f"{CHECKPOINT} does not exist"
            print(f"note: the generated-checkpoint graph is skipped ({where}; scripts/make_checkpoint.py makes it)")
        for kind, title, graph, bases, kind_side in kinds:
            results, contrasts = study(runner, kind, graph, bases, kind_side, args.save)
            tables.append((kind, results))
            wrong += report(f"{title}; contrast of the base images {min(contrasts):g}-{max(contrasts):g}", results)
        separating(tables)
        if runner.cached_reruns:
            print(f"warning: {runner.cached_reruns} rerun(s) were served from the cache despite /free")
        print(f"\n{time.monotonic() - started:.0f} s; defaults: phash-8 {DEFAULT_THRESHOLD}, "
              f"colour {DEFAULT_COLOUR_THRESHOLD:g}, sharpness {DEFAULT_SHARPNESS_THRESHOLD:g}: "
              + ("every case classified as expected" if not wrong else f"{wrong} sample(s) misclassified"))
        return 1 if wrong else 0
    finally:
        client.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
