"""Perceptual-hash baselines for fixed-seed prompts: hash, compare, store. No pytest here.

A prompt's output images are compared with the images accepted earlier, not byte for byte
(a GPU is not bit-exact from run to run) but by summaries that survive tiny pixel noise and
change when the picture does. Each image is summarised four ways, because each summary is
blind where another sees (``bench/baseline_study.py`` measured all of them):

- **size**: width x height, compared exactly;
- **hash**: imagehash's perceptual hash (``phash`` of 8x8 by default; ``ahash``, ``dhash``,
  ``whash``, ``colorhash`` and other sizes selectable). It reads a 32x32 grey thumbnail, so it
  sees layout, but not colour, and not detail finer than 1/32 of the image. On a flat image
  its bits are rounding noise (one grey level of noise flips 31 of 64): when both images are
  flat (``contrast`` below ``FLAT_CONTRAST``) the hash is not used;
- **colour**: the mean R, G, B of each cell of a 4x4 grid (a flat image changing colour);
- **sharpness**: the mean absolute difference of neighbouring grey pixels (a blur change,
  which a 32x32 thumbnail cannot see).

An image matches when its size is the same and each distance is at most its threshold.

Defaults, from ``bench/baseline_study.py`` against the development ComfyUI (CPU; 6 seeds or
colours per kind: 512x512 noise images, 512x512 flat-colour images, 64x64 images of the
generated SD1.5 checkpoint; 144 reruns, 66 visible same-size perturbations):

    distance                          phash-8        colour        sharpness
    rerun, cache freed                0              0             0
    rerun + ±1 / ±2 pixel noise       0-4            <= 0.44       <= 1.10
      (±4, for the margin)            0-2            <= 0.59       <= 1.99
    another seed (noise / SD)         26-36 / 22-40  1.9-2.9 / 76+ ~0
    colour red +16 (noise/flat/SD)    2-4 / 0 / 0-2  8.7-11 / 15+ / 16
    blur radius 1 -> 2 (noise)        0-4            <= 0.1        7.0-8.1
    blur added (SD)                   0-2            1.3-2.2       7.0-8.9
    5 % crop scaled back (noise/SD)   8-18 / 2-10    0.5-1 / 10.6+ 2.4-2.8 / 3.7-4.5
    steps 4 -> 5 (SD)                 0-2            3.3-6.4       <= 0.24
    5 % crop, 5 % resize, other size  the pixel size differs (phash-8 of a 5 % resize: 0-4)

    DEFAULT_THRESHOLD = 6              reruns reach 4, the closest change the hash sees is 8 (phash
                                       is a median split: between images with structure, distances
                                       are even, so 6 is the middle of the gap)
    DEFAULT_COLOUR_THRESHOLD = 2.0     reruns <= 0.59, closest change only colour sees 3.3 (steps)
    DEFAULT_SHARPNESS_THRESHOLD = 3.0  reruns <= 1.99 (flat + ±4 noise), closest change only
                                       sharpness sees 7.0 (a blur radius)

On its own the hash cannot separate a colour shift or a blur change of a noise image (2-4)
from rerun noise (up to 4). A change of a flat image that moves no pixel by more than rerun
noise does (a blur of a flat image) cannot be seen in any image; the study lists it as such.
Another hash algorithm or size gets the phash-8 threshold scaled to its number of bits
(``default_threshold``).

How the pytest layer uses this module::

    spec = HashSpec.parse("phash-8")                       # command line > ini > batch > prompt
    thresholds = Thresholds(hash=default_threshold(spec))  # or the configured threshold
    store = BaselineStore(rootdir / "baselines", rootdir, env="cpu")
    stored = store.load(batch_path)                        # {prompt id: [BaselineEntry, ...]}
    digest = workflow_digest(prepared.workflow)
    seen = [observe(data, spec, seed=..., workflow_digest=digest, params=prepared.values)
            for data in still_images]                      # one Observation per output image
    entries = stored.get(prompt_id)
    result = compare_all(entries, seen, thresholds,
                         baseline_images=[str(store.thumbnail_path(batch_path, e)) for e in entries or []],
                         new_images=[str(saved.path) for saved in ...])
    if result.failed: ...                                  # status: match|diff|missing|changed-test;
                                                           # result.message names both images
    # --comfy-update-baselines (or --comfy-missing-baseline=write for a missing one):
    results.record(store.key(batch_path), prompt_id, updated_entries(result))
    results.collected(store.key(batch_path), all_ids_of_the_file)   # files collected in full
    # under pytest-xdist each worker sends results.to_json(); the controller merges them with
    # merge_worker_results(payloads) and is the only process that writes, once per batch file:
    store.write(batch_path, merged.updates.get(key, {}), remove=stale if prune else ())
    # stale = stale_entries(store.load(batch_path), merged.ids[key]), listed at session end

On disk, ``baselines/[<env>/]x.json`` mirrors ``batches/x.json``: ``{"baselines": {prompt id:
[entry of image 0, image 1, ...]}}`` with sorted keys and indent 2, and ``x.thumbs/<prompt
id>_<index>.png`` holds a thumbnail of each accepted image for a reviewer. Every file is
written to a temporary name and renamed into place.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping

import imagehash
import numpy as np
from PIL import Image

from .errors import ComfyError
from .outputs import safe_piece

ALGORITHMS = ("phash", "ahash", "dhash", "whash", "colorhash")
STATUSES = ("match", "diff", "missing", "changed-test")
MISSING_POLICIES = ("fail", "skip", "write")
#: Maximum phash-8 Hamming distance that still matches (see the module docstring).
DEFAULT_THRESHOLD = 6
#: Maximum difference, in grey levels, of one channel's mean in one cell of the colour grid.
DEFAULT_COLOUR_THRESHOLD = 2.0
#: Maximum difference, in grey levels, of the mean neighbour difference (sharpness).
DEFAULT_SHARPNESS_THRESHOLD = 3.0
#: Below this contrast (standard deviation of phash's 32x32 grey image) an image is flat.
FLAT_CONTRAST = 1.0
CONTRAST_SIDE = 32
COLOUR_GRID = 4
THUMBNAIL_SIDE = 128
FORMAT_VERSION = 1
UPDATE_HINT = "if the change is intended, record the new image with --comfy-update-baselines"
MISSING_HINT = "record one with --comfy-update-baselines (or --comfy-missing-baseline=write)"

_HASHERS = {
    "phash": imagehash.phash,
    "ahash": imagehash.average_hash,
    "dhash": imagehash.dhash,
    "whash": imagehash.whash,
}


class BaselineError(ComfyError):
    """A baseline file or setting cannot be used: unreadable, malformed, or an invalid hash setting."""


# -- what an image is reduced to ---------------------------------------------------------------


@dataclass(frozen=True)
class HashSpec:
    """Which perceptual hash: ``size`` is imagehash's ``hash_size`` (``binbits`` for colorhash)."""

    algorithm: str = "phash"
    size: int = 8

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise BaselineError(f"unknown hash algorithm {self.algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 2 <= self.size <= 64:
            raise BaselineError(f"hash size {self.size!r} for {self.algorithm}: expected an integer in 2..64")
        if self.algorithm == "whash" and self.size & (self.size - 1):
            raise BaselineError(f"hash size {self.size} for whash: expected a power of 2")
        if self.algorithm == "colorhash" and self.size > 16:
            raise BaselineError(f"hash size {self.size} for colorhash (bits per bin): expected 2..16")

    @classmethod
    def parse(cls, text: str) -> HashSpec:
        """``phash``, ``phash-16``, ``colorhash-3``: the form settings and messages use."""
        name, _, size = text.strip().lower().partition("-")
        if not size:
            return cls(name)
        try:
            number = int(size)
        except ValueError:
            raise BaselineError(f"hash setting {text!r}: expected ALGORITHM or ALGORITHM-SIZE, e.g. phash-8") from None
        return cls(name, number)

    @property
    def bits(self) -> int:
        return 14 * self.size if self.algorithm == "colorhash" else self.size * self.size

    def __str__(self) -> str:
        return f"{self.algorithm}-{self.size}"


def default_threshold(spec: HashSpec) -> int:
    """The phash-8 default scaled to the hash's length (the study measured 64-bit hashes)."""
    return max(1, round(DEFAULT_THRESHOLD * spec.bits / 64))


@dataclass(frozen=True)
class Thresholds:
    """The largest distances that still match; ``None`` turns the colour or sharpness check off."""

    hash: int = DEFAULT_THRESHOLD
    colour: float | None = DEFAULT_COLOUR_THRESHOLD
    sharpness: float | None = DEFAULT_SHARPNESS_THRESHOLD


def open_image(image_bytes: bytes) -> Image.Image:
    """The first frame as RGB (an alpha channel is dropped)."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as img:
            img.load()
            return img.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BaselineError(f"cannot read the image for its baseline: {exc}") from None


def hash_image(image: Image.Image, spec: HashSpec = HashSpec()) -> str:
    if spec.algorithm == "colorhash":
        return str(imagehash.colorhash(image, binbits=spec.size))
    return str(_HASHERS[spec.algorithm](image, hash_size=spec.size))


def compute_hash(image_bytes: bytes, spec: HashSpec = HashSpec()) -> str:
    """The image's perceptual hash, as imagehash's hex string."""
    return hash_image(open_image(image_bytes), spec)


def distance(a_hex: str, b_hex: str, spec: HashSpec = HashSpec()) -> int:
    """Hamming distance of two hashes of ``spec`` (bits that differ)."""
    digits = -(-spec.bits // 4)
    for value in (a_hex, b_hex):
        if len(value) != digits:
            raise BaselineError(f"hash {value!r} is not a {spec} hash ({digits} hex digits)")
    try:
        if spec.algorithm == "colorhash":
            a, b = imagehash.hex_to_flathash(a_hex, spec.size), imagehash.hex_to_flathash(b_hex, spec.size)
        else:
            a, b = imagehash.hex_to_hash(a_hex), imagehash.hex_to_hash(b_hex)
    except ValueError:
        raise BaselineError(f"hashes {a_hex!r} and {b_hex!r} are not hexadecimal") from None
    return int(a - b)


def colour_signature(image: Image.Image) -> str:
    """Mean R, G, B of each cell of a 4x4 grid, each as 16-bit hex in 1/256 grey levels.

    Fractions matter: rounding to whole levels would turn a shift of 0.01 into 1."""
    rgb = image.convert("RGB")
    if rgb.width < COLOUR_GRID or rgb.height < COLOUR_GRID:
        rgb = rgb.resize((max(rgb.width, COLOUR_GRID), max(rgb.height, COLOUR_GRID)), Image.NEAREST)
    pixels = np.asarray(rgb, dtype=np.float64)
    means = [cell.mean(axis=(0, 1))
             for band in np.array_split(pixels, COLOUR_GRID, axis=0)
             for cell in np.array_split(band, COLOUR_GRID, axis=1)]
    fixed = np.rint(np.concatenate(means) * 256).clip(0, 65535).astype(">u2")
    return fixed.tobytes().hex()


def colour_distance(a_hex: str, b_hex: str) -> float:
    """The largest difference of one channel in one cell, in grey levels (0..255)."""
    try:
        a = np.frombuffer(bytes.fromhex(a_hex), dtype=">u2").astype(np.int64)
        b = np.frombuffer(bytes.fromhex(b_hex), dtype=">u2").astype(np.int64)
    except ValueError:
        raise BaselineError(f"colour signatures {a_hex!r} and {b_hex!r} are not hexadecimal") from None
    if a.size != b.size or a.size != 3 * COLOUR_GRID * COLOUR_GRID:
        raise BaselineError(f"colour signatures {a_hex!r} and {b_hex!r} are not {COLOUR_GRID}x{COLOUR_GRID} RGB grids")
    return round(float(np.abs(a - b).max()) / 256, 2)


def sharpness(image: Image.Image) -> float:
    """Mean absolute difference of neighbouring grey pixels: what a blur lowers."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    steps = [np.abs(np.diff(grey, axis=axis)).mean() for axis in (0, 1) if grey.shape[axis] > 1]
    return round(float(np.mean(steps)), 2) if steps else 0.0


def contrast(image: Image.Image) -> float:
    """Standard deviation of the 32x32 grey image phash-8 reads: 0 for a flat image."""
    grey = image.convert("L").resize((CONTRAST_SIDE, CONTRAST_SIDE), Image.LANCZOS)
    return round(float(np.asarray(grey, dtype=np.float64).std()), 2)


def thumbnail_png(image: Image.Image, side: int = THUMBNAIL_SIDE) -> bytes:
    """A small PNG (``side`` px on the longer side) for a reviewer; the same pixels give the same bytes."""
    small = image.copy()
    small.thumbnail((side, side), Image.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def workflow_digest(workflow: Mapping[str, Any]) -> str:
    """sha256 of the workflow as canonical JSON, without ``_meta`` (titles do not change images)."""
    stripped = {
        node_id: {k: v for k, v in node.items() if k != "_meta"} if isinstance(node, Mapping) else node
        for node_id, node in workflow.items()
    }
    text = json.dumps(stripped, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain(value: Any) -> Any:
    """``value`` as JSON gives it back, so a stored copy compares equal to a fresh one."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


# -- entries and observations -----------------------------------------------------------------


@dataclass(frozen=True)
class BaselineEntry:
    """One accepted image of one prompt, as stored in the baseline file."""

    algorithm: str
    hash_size: int
    hash: str
    colour: str  # colour_signature
    sharpness: float
    contrast: float  # below FLAT_CONTRAST the image is flat and its hash is not compared
    width: int
    height: int
    seed: int | None
    workflow_digest: str
    params: dict[str, Any] = field(default_factory=dict)  # the prompt's values, seeds resolved
    thumbnail: str = ""  # relative to the baseline file's folder, e.g. "x.thumbs/a-cat_0.png"

    @property
    def spec(self) -> HashSpec:
        return HashSpec(self.algorithm, self.hash_size)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> BaselineEntry:
        names = {f.name for f in fields(cls)}
        required = names - {"params", "thumbnail", "seed"}
        if not isinstance(data, dict) or not required <= data.keys():
            missing = sorted(required - set(data)) if isinstance(data, dict) else []
            raise BaselineError(f"{where}: not a baseline entry" + (f" (missing {', '.join(missing)})" if missing else ""))
        try:
            entry = cls(**{k: v for k, v in data.items() if k in names})
            entry.spec  # validates algorithm and size
        except (TypeError, BaselineError) as exc:
            raise BaselineError(f"{where}: {exc}") from None
        return entry


@dataclass(frozen=True)
class Observation:
    """One output image as a test saw it: the entry that would record it, and its thumbnail."""

    entry: BaselineEntry
    thumbnail_png: bytes

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry.to_json(), "thumbnail_png": base64.b64encode(self.thumbnail_png).decode("ascii")}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observation:
        try:
            return cls(BaselineEntry.from_json(data["entry"], "observation"), base64.b64decode(data["thumbnail_png"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"not an observation: {exc}") from None


def observe(image_bytes: bytes, spec: HashSpec = HashSpec(), *, seed: int | None = None,
            workflow_digest: str = "", params: Mapping[str, Any] | None = None) -> Observation:
    """Size, hash, colour, sharpness, contrast and thumbnail of one output image (decoded once)."""
    image = open_image(image_bytes)
    entry = BaselineEntry(spec.algorithm, spec.size, hash_image(image, spec), colour_signature(image),
                          sharpness(image), contrast(image), image.width, image.height, seed,
                          workflow_digest, plain(dict(params or {})))
    return Observation(entry, thumbnail_png(image))


# -- comparison ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One image against its baseline entry. ``status`` is one of STATUSES."""

    status: str
    index: int
    distance: int | None  # hash distance; None when there was nothing to compare with
    colour_distance: float | None
    sharpness_distance: float | None
    thresholds: Thresholds
    message: str
    observed: Observation | None = None
    test_changed: str = ""  # what changed since the baseline was recorded, "" when nothing did

    @property
    def failed(self) -> bool:
        return self.status != "match"

    @property
    def threshold(self) -> int:
        return self.thresholds.hash


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def params_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``blur: 2 -> 3``, ``added steps: 5``, ``removed cfg``: what a reviewer needs to see."""
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            changes.append(f"removed {key}")
        elif key not in old:
            changes.append(f"added {key}: {_short(new[key])}")
        elif plain(old[key]) != plain(new[key]):
            changes.append(f"{key}: {_short(old[key])} -> {_short(new[key])}")
    return changes


def what_changed(stored: BaselineEntry, current: BaselineEntry) -> str:
    """How the test differs from the one that recorded the baseline, or "" when it does not."""
    changes = params_changes(stored.params, current.params)
    if changes:
        return "the prompt's parameters changed since the baseline was recorded (" + "; ".join(changes) + ")"
    if stored.workflow_digest != current.workflow_digest:
        return "the workflow changed since the baseline was recorded"
    if stored.spec != current.spec:
        return f"the baseline was recorded with {stored.spec}, this run uses {current.spec}"
    return ""


def _images(baseline_image: str, new_image: str) -> str:
    return (f"  baseline: {baseline_image or '(no thumbnail)'}\n"
            f"  new:      {new_image or '(not saved: save_images.enabled is false)'}")


def _limit(value: float | None) -> str:
    return "off" if value is None else f"{value:g}"


def compare(entry: BaselineEntry | None, observed: Observation, index: int = 0,
            thresholds: Thresholds = Thresholds(), *, baseline_image: str = "", new_image: str = "") -> Comparison:
    """Compare one observed image with its baseline entry.

    ``match``: same size and every distance within its threshold. ``diff``: another size or a
    distance beyond its threshold. ``changed-test``: such a difference while the parameters,
    the workflow or the hash setting changed since the baseline was recorded (a changed test,
    not necessarily a regression). ``missing``: no entry. ``baseline_image`` (the thumbnail)
    and ``new_image`` (the saved output) are the paths the message names."""
    new = observed.entry
    label = f"image {index}"
    if entry is None:
        return Comparison("missing", index, None, None, None, thresholds,
                          f"{label} has no baseline\n  new:      {new_image or '(not saved)'}\n  {MISSING_HINT}",
                          observed)
    changed = what_changed(entry, new)
    if entry.spec != new.spec:
        return Comparison("changed-test", index, None, None, None, thresholds,
                          f"{label} cannot be compared: {changed}\n{_images(baseline_image, new_image)}\n"
                          f"  {UPDATE_HINT}", observed, changed)
    hash_d = distance(entry.hash, new.hash, new.spec)
    colour_d = colour_distance(entry.colour, new.colour)
    sharp_d = round(abs(entry.sharpness - new.sharpness), 2)
    flat = max(entry.contrast, new.contrast) < FLAT_CONTRAST  # the hash is rounding noise there
    problems = []
    if (entry.width, entry.height) != (new.width, new.height):
        problems.append(f"it is {new.width}x{new.height}, the baseline {entry.width}x{entry.height}")
    if hash_d > thresholds.hash and not flat:
        problems.append(f"{new.spec} distance {hash_d} > {thresholds.hash}")
    if thresholds.colour is not None and colour_d > thresholds.colour:
        problems.append(f"colour distance {colour_d:g} > {thresholds.colour:g}")
    if thresholds.sharpness is not None and sharp_d > thresholds.sharpness:
        problems.append(f"sharpness {entry.sharpness:g} -> {new.sharpness:g} (distance {sharp_d:g} > "
                        f"{thresholds.sharpness:g})")
    figures = (f"{new.spec} distance {hash_d} (threshold {thresholds.hash}"
               + ("; not used, both images are flat" if flat else "")
               + f"), colour {colour_d:g} (threshold {_limit(thresholds.colour)}),"
               f" sharpness {sharp_d:g} (threshold {_limit(thresholds.sharpness)})")
    if not problems:
        return Comparison("match", index, hash_d, colour_d, sharp_d, thresholds,
                          f"{label} matches its baseline: {figures}", observed, changed)
    text = f"{label} differs from its baseline: " + "; ".join(problems)
    if changed:
        text += f"\n  but {changed}: a changed test, not necessarily a regression"
    text += f"\n  {figures}\n{_images(baseline_image, new_image)}\n  {UPDATE_HINT}"
    return Comparison("changed-test" if changed else "diff", index, hash_d, colour_d, sharp_d, thresholds,
                      text, observed, changed)


@dataclass(frozen=True)
class PromptComparison:
    """All images of one prompt against its stored entries."""

    images: list[Comparison]
    expected: int | None  # how many images the baseline holds; None when it holds none
    observed: list[Observation]
    count_message: str = ""  # set when the number of images differs
    test_changed: str = ""

    @property
    def status(self) -> str:
        if self.expected is None:
            return "missing"
        statuses = {c.status for c in self.images}
        if self.count_message:
            return "changed-test" if self.test_changed else "diff"
        for status in ("diff", "changed-test", "missing"):
            if status in statuses:
                return status
        return "match"

    @property
    def failed(self) -> bool:
        return self.status != "match"

    @property
    def message(self) -> str:
        """Every failure of the prompt, one block each; the match figures when it matches."""
        if self.expected is None:
            return f"no baseline for this prompt ({len(self.observed)} image(s))\n  {MISSING_HINT}"
        parts = [self.count_message] if self.count_message else []
        parts += [c.message for c in self.images if c.failed and c.status != "missing"]
        return "\n".join(parts) if parts else "\n".join(c.message for c in self.images)


def compare_all(entries: list[BaselineEntry] | None, observed: list[Observation],
                thresholds: Thresholds = Thresholds(), *, baseline_images: list[str] | None = None,
                new_images: list[str] | None = None) -> PromptComparison:
    """Each image at its index; a different number of images is a failure of its own."""
    entries = list(entries) if entries else None
    baseline_images = baseline_images or []
    new_images = new_images or []
    results = []
    for index, seen in enumerate(observed):
        entry = entries[index] if entries and index < len(entries) else None
        results.append(compare(entry, seen, index, thresholds,
                               baseline_image=baseline_images[index] if index < len(baseline_images) else "",
                               new_image=new_images[index] if index < len(new_images) else ""))
    changed = next((c.test_changed for c in results if c.test_changed), "")
    if not changed and entries and observed:
        changed = what_changed(entries[0], observed[0].entry)
    count_message = ""
    if entries is not None and len(entries) != len(observed):
        count_message = f"the prompt produced {len(observed)} image(s), its baseline holds {len(entries)}"
        if changed:
            count_message += f"\n  but {changed}: a changed test, not necessarily a regression"
        count_message += f"\n  {UPDATE_HINT}"
    return PromptComparison(results, len(entries) if entries is not None else None, list(observed),
                            count_message, changed)


def updated_entries(result: PromptComparison) -> list[Observation] | None:
    """What ``--comfy-update-baselines`` records for the prompt: ``None`` keeps the stored entries
    (everything matches and nothing about the test changed), so reruns do not churn the files."""
    if result.status == "match" and not result.test_changed:
        return None
    return list(result.observed)


def stale_entries(stored: Mapping[str, Any], collected_ids: Iterable[str]) -> list[str]:
    """Prompt ids with a baseline but no prompt in the batch file (which was collected in full)."""
    return sorted(set(stored) - set(collected_ids))


# -- results of a session, and of pytest-xdist workers -------------------------------------------


@dataclass
class SessionResults:
    """What a session (or one xdist worker) will record, per batch file key (``store.key``)."""

    updates: dict[str, dict[str, list[Observation]]] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)  # every prompt id of files collected in full

    def record(self, batch_key: str, prompt_id: str, observations: list[Observation] | None) -> None:
        if observations is not None:
            self.updates.setdefault(batch_key, {})[prompt_id] = list(observations)

    def collected(self, batch_key: str, prompt_ids: Iterable[str]) -> None:
        self.ids.setdefault(batch_key, set()).update(prompt_ids)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for ``workeroutput``: thumbnails as base64."""
        return {
            "format": FORMAT_VERSION,
            "updates": {key: {pid: [o.to_json() for o in obs] for pid, obs in prompts.items()}
                        for key, prompts in self.updates.items()},
            "ids": {key: sorted(ids) for key, ids in self.ids.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionResults:
        if data.get("format") != FORMAT_VERSION:
            raise BaselineError(f"baseline results of format {data.get('format')!r}: expected {FORMAT_VERSION}")
        updates = {key: {pid: [Observation.from_json(o) for o in obs] for pid, obs in prompts.items()}
                   for key, prompts in data.get("updates", {}).items()}
        return cls(updates, {key: set(ids) for key, ids in data.get("ids", {}).items()})


def merge_worker_results(results: list[Mapping[str, Any]]) -> SessionResults:
    """The controller's view of its workers' ``SessionResults.to_json()``: updates and ids united.

    A prompt runs on one worker only; should two report it (a rerun plugin), the later one wins."""
    merged = SessionResults()
    for data in results:
        part = SessionResults.from_json(data)
        for key, prompts in part.updates.items():
            for prompt_id, observations in prompts.items():
                merged.record(key, prompt_id, observations)
        for key, ids in part.ids.items():
            merged.collected(key, ids)
    return merged


# -- the store ---------------------------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it into place: never half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise BaselineError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise BaselineError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def thumbnail_name(prompt_id: str, index: int) -> str:
    """``<prompt id>_<index>.png``; an id that needs sanitising gets a digest so names stay distinct."""
    piece = safe_piece(prompt_id, "prompt")
    if piece != prompt_id:
        piece += "-" + hashlib.sha256(prompt_id.encode("utf-8")).hexdigest()[:8]
    return f"{piece}_{index}.png"


class BaselineStore:
    """Baseline files under ``root`` (``baselines/``), one per batch file, optionally per environment.

    ``rootdir/batches/sub/x.json`` -> ``root[/env]/sub/x.json`` (the folder structure under
    ``batch_dir`` is mirrored); a batch file elsewhere under ``rootdir`` ->
    ``root[/env]/_rootdir/<its path relative to rootdir>``, so the two never collide."""

    def __init__(self, root: Path, rootdir: Path, env: str | None = None, batch_dir: str = "batches") -> None:
        if env is not None and (not env or safe_piece(env, "") != env or env == "_rootdir"):
            raise BaselineError(f"baseline environment label {env!r}: use letters, digits, '.', '_' and '-' only")
        self.root = Path(root)
        self.rootdir = Path(rootdir).resolve()
        self.env = env
        self.batch_dir = batch_dir

    @property
    def base(self) -> Path:
        return self.root / self.env if self.env else self.root

    def key(self, batch_file: Path) -> str:
        """The batch file's path relative to the rootdir, in POSIX form: the same on every worker."""
        path = Path(batch_file).resolve()
        try:
            return path.relative_to(self.rootdir).as_posix()
        except ValueError:
            raise BaselineError(f"{batch_file}: baselines mirror batch files under the rootdir {self.rootdir}, "
                                f"and this one lies outside it") from None

    def baseline_path(self, batch_file: Path) -> Path:
        rel = PurePosixPath(self.key(batch_file))
        prefix = PurePosixPath(self.batch_dir)
        if rel.parts[: len(prefix.parts)] == prefix.parts and len(rel.parts) > len(prefix.parts):
            return self.base.joinpath(*rel.parts[len(prefix.parts):])
        return self.base.joinpath("_rootdir", *rel.parts)

    def thumbs_dir(self, batch_file: Path) -> Path:
        path = self.baseline_path(batch_file)
        return path.with_name(path.stem + ".thumbs")

    def thumbnail_path(self, batch_file: Path, entry: BaselineEntry) -> Path | None:
        return self.baseline_path(batch_file).parent / entry.thumbnail if entry.thumbnail else None

    def load(self, batch_file: Path) -> dict[str, list[BaselineEntry]]:
        """``{prompt id: [entry of image 0, image 1, ...]}``; ``{}`` when nothing was recorded."""
        path = self.baseline_path(batch_file)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"cannot read {path}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})") from None
        if not isinstance(data, dict) or not isinstance(data.get("baselines"), dict):
            raise BaselineError(f"{path}: not a baseline file (no 'baselines' object)")
        if data.get("format") != FORMAT_VERSION:
            raise BaselineError(f"{path}: baseline format {data.get('format')!r}, this version reads {FORMAT_VERSION}")
        stored = {}
        for prompt_id, entries in data["baselines"].items():
            if not isinstance(entries, list):
                raise BaselineError(f"{path}: baselines.{prompt_id}: expected a list of entries, one per image")
            stored[prompt_id] = [BaselineEntry.from_json(e, f"{path}: baselines.{prompt_id}[{i}]")
                                 for i, e in enumerate(entries)]
        return stored

    def write(self, batch_file: Path, updates: Mapping[str, list[Observation]],
              remove: Iterable[str] = ()) -> Path:
        """Merge ``updates`` (whole prompts) into the stored file and drop ``remove``; returns its path.

        Thumbnails are written first and the JSON last, so the file never names a missing one;
        thumbnails nothing refers to any more are deleted afterwards. No entries left: no file."""
        path = self.baseline_path(batch_file)
        stored = self.load(batch_file)
        thumbs = self.thumbs_dir(batch_file)
        for prompt_id in remove:
            stored.pop(prompt_id, None)
        for prompt_id, observations in updates.items():
            if not observations:  # nothing to compare against later: no entry at all
                stored.pop(prompt_id, None)
                continue
            entries = []
            for index, seen in enumerate(observations):
                name = thumbnail_name(prompt_id, index)
                _atomic_write(thumbs / name, seen.thumbnail_png)
                entries.append(_with_thumbnail(seen.entry, f"{thumbs.name}/{name}"))
            stored[prompt_id] = entries
        if stored:
            document = {
                "format": FORMAT_VERSION,
                "batch_file": self.key(batch_file),
                "environment": self.env,
                "baselines": {pid: [e.to_json() for e in entries] for pid, entries in stored.items()},
            }
            text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
            _atomic_write(path, text.encode("utf-8"))
        elif path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise BaselineError(f"cannot remove {path}: {exc.strerror or exc}") from None
        self._drop_unused_thumbnails(thumbs, stored)
        return path

    @staticmethod
    def _drop_unused_thumbnails(thumbs: Path, stored: Mapping[str, list[BaselineEntry]]) -> None:
        used = {PurePosixPath(e.thumbnail).name for entries in stored.values() for e in entries}
        if not thumbs.is_dir():
            return
        for item in thumbs.iterdir():
            if item.suffix == ".png" and item.name not in used:
                item.unlink(missing_ok=True)
        try:
            thumbs.rmdir()  # only when empty
        except OSError:
            pass


def _with_thumbnail(entry: BaselineEntry, thumbnail: str) -> BaselineEntry:
    return replace(entry, thumbnail=thumbnail)
