"""The perceptual hash: the picture's layout, as imagehash sees it.

phash (the default) reads a 32x32 grey thumbnail, so it sees layout but not colour, and not
detail finer than 1/32 of the image. On a flat image its bits are rounding noise (one grey
level of noise flips 31 of 64), so when both images are flat (``contrast`` below
``FLAT_CONTRAST``) the hash is not used; nor is phash when both are smooth (a gradient, a sky:
``structure`` below ``STABLE_STRUCTURE``), where pixel noise flips a third of its bits. The
entry records the hash setting with it: two hashes of different settings cannot be compared.

phash is computed here from the shared 32x32 grey square with a DCT written in numpy: the
same bits as ``imagehash.phash`` (tests compare them; on a flat image, whose coefficients are
rounding noise there, this one gives one fixed hash) without importing scipy, which costs the
pytest process about 0.2 s of CPU at its first image. The other algorithms call imagehash.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import imagehash
import numpy as np

from ....errors import BaselineError
from ..image import DecodedImage
from ..spec import HashSpec
from .base import Reading, Values, beyond, limit

#: Maximum phash-8 Hamming distance that still matches: reruns reach 4, the closest change the
#: hash sees is 8 (between images with structure phash distances are even; 6 is the middle).
DEFAULT_THRESHOLD = 6
#: Below this contrast (standard deviation of phash-8's 32x32 grey image) an image is flat.
FLAT_CONTRAST = 1.0
#: Below this ``structure`` phash's bits are noise: a gradient, a sky, a near-uniform fill has a
#: few large DCT coefficients and many at the median, which Gaussian noise of 2 grey levels flips
#: (20 to 32 of 64 bits; docs/baselines-split-study.md). 16 keeps three quarters of the bits eight
#: widths of that noise from the median (the checkpoint's outputs have 37 to 132; at 6, a radial
#: gradient of 5.5 to 12 still lost 6 bits to it).
STABLE_STRUCTURE = 16.0
CONTRAST_SIDE = 32
PHASH_FACTOR = 4  # imagehash's highfreq_factor: phash-N reads an (N*4)x(N*4) grey square

_HASHERS = {"ahash": imagehash.average_hash, "dhash": imagehash.dhash, "whash": imagehash.whash}


@lru_cache(maxsize=8)
def _dct_rows(side: int, rows: int) -> np.ndarray:
    """The first ``rows`` rows of the unnormalised DCT-II matrix of length ``side``."""
    k = np.arange(rows)[:, None]
    n = np.arange(side)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * side))


def phash_bits(image: DecodedImage, size: int) -> np.ndarray:
    """``size`` x ``size`` booleans: the lowest DCT frequencies of the grey square against their median."""
    side = size * PHASH_FACTOR
    pixels = np.asarray(image.grey_square(side), dtype=np.float64)
    basis = _dct_rows(side, size)
    low = np.round(basis @ pixels @ basis.T, 6)  # exact zeros stay zero: a flat image gets one hash
    bits: np.ndarray = low > np.median(low)
    return bits


def structure(image: DecodedImage) -> float:
    """How far phash-8's coefficients stand from their median: the first quartile, in widths of
    the spread that pixel noise of one grey level gives a coefficient of this image (1/sqrt of
    its pixels, as the amplitude of the pattern it stands for). Below a few, noise flips bits."""
    side = 8 * PHASH_FACTOR
    pixels = np.asarray(image.grey_square(side), dtype=np.float64)
    basis = _dct_rows(side, 8)
    low = basis @ pixels @ basis.T
    amplitude = float(np.percentile(np.abs(low - np.median(low)), 25)) / (2 * side * side)
    return round(amplitude * max(math.sqrt(image.width * image.height), side), 2)


def hash_hex(image: DecodedImage, spec: HashSpec) -> str:
    """imagehash's hex string of the image's hash."""
    if spec.algorithm == "phash":
        return str(imagehash.ImageHash(phash_bits(image, spec.size)))
    if spec.algorithm == "colorhash":
        return str(imagehash.colorhash(image.rgb, binbits=spec.size))
    return str(_HASHERS[spec.algorithm](image.grey, hash_size=spec.size))


def contrast(image: DecodedImage) -> float:
    """Standard deviation of the 32x32 grey image phash-8 reads: 0 for a flat image."""
    return round(float(np.asarray(image.grey_square(CONTRAST_SIDE), dtype=np.float64).std()), 2)


def default_threshold(spec: HashSpec) -> int:
    """The phash-8 default scaled to the hash's length (the study measured 64-bit hashes)."""
    return max(1, round(DEFAULT_THRESHOLD * spec.bits / 64))


def spec_of(values: Values) -> HashSpec:
    return HashSpec(values["algorithm"], values["hash_size"])


def hamming(a_hex: str, b_hex: str, spec: HashSpec) -> int:
    """Bits that differ between two hashes of ``spec``."""
    for value in (a_hex, b_hex):
        if not isinstance(value, str) or len(value) != spec.hex_digits:
            raise BaselineError(f"hash {value!r} is not a {spec} hash ({spec.hex_digits} hex digits)")
    try:
        return bin(int(a_hex, 16) ^ int(b_hex, 16)).count("1")
    except ValueError:
        raise BaselineError(f"hashes {a_hex!r} and {b_hex!r} are not hexadecimal") from None


class HashMetric:
    name = "hash"
    fields: tuple[str, ...] = ("algorithm", "hash_size", "hash", "contrast")
    optional: tuple[str, ...] = ("structure",)  # entries recorded before it lack it
    threshold_key = "threshold"

    def observe(self, image: DecodedImage, hash_spec: HashSpec) -> dict[str, Any]:
        return {"algorithm": hash_spec.algorithm, "hash_size": hash_spec.size,
                "hash": hash_hex(image, hash_spec), "contrast": contrast(image), "structure": structure(image)}

    def check(self, values: Values) -> None:
        spec = spec_of(values)
        if not isinstance(values["hash"], str) or len(values["hash"]) != spec.hex_digits:
            raise BaselineError(f"hash {values['hash']!r} is not a {spec} hash ({spec.hex_digits} hex digits)")
        if not isinstance(values["contrast"], (int, float)) or isinstance(values["contrast"], bool):
            raise BaselineError(f"contrast {values['contrast']!r}: expected a number")
        shown = values.get("structure", 0.0)
        if not isinstance(shown, (int, float)) or isinstance(shown, bool):
            raise BaselineError(f"structure {shown!r}: expected a number")

    def setting(self, values: Values) -> str:
        return str(spec_of(values))

    def default_threshold(self, values: Values) -> int:
        return default_threshold(spec_of(values))

    def distance(self, old: Values, new: Values) -> int:
        return hamming(old["hash"], new["hash"], spec_of(new))

    def describe(self, old: Values, new: Values, distance: float, threshold: float | None) -> Reading:
        spec = spec_of(new)
        unused = not_used(old, new, spec)
        figure = f"{spec} distance {distance} (threshold {limit(threshold)}" + (f"; {unused}" if unused else "") + ")"
        problem = f"{spec} distance {distance} > {threshold}" if beyond(distance, threshold) and not unused else ""
        return Reading(figure, problem)


def not_used(old: Values, new: Values, spec: HashSpec) -> str:
    """Why the hash is not used for this pair ("" when it is): its bits are noise in both images."""
    if max(old["contrast"], new["contrast"]) < FLAT_CONTRAST:
        return "not used, both images are flat"  # the hash is rounding noise there
    smooth = [float(values["structure"]) for values in (old, new) if "structure" in values]
    if spec.algorithm == "phash" and len(smooth) == 2 and max(smooth) < STABLE_STRUCTURE:
        return "not used, both images are smooth"
    return ""


HASH = HashMetric()
