"""Which perceptual hash a baseline uses: a setting parsed at start-up, with no image library."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import BaselineError

ALGORITHMS = ("phash", "ahash", "dhash", "whash", "colorhash")


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

    @property
    def hex_digits(self) -> int:
        return -(-self.bits // 4)

    def __str__(self) -> str:
        return f"{self.algorithm}-{self.size}"


#: The long side of the reference image kept beside each baseline entry (docs/baselines-study.md).
DEFAULT_REFERENCE_SIDE = 256
MIN_REFERENCE_SIDE = 16


def parse_reference_side(text: str | int | None) -> int | None:
    """``256`` -> 256, ``full`` -> None (the original image): the long side of a reference."""
    if text is None:
        return DEFAULT_REFERENCE_SIDE
    if isinstance(text, str) and text.strip().lower() == "full":
        return None
    try:
        side = int(text)
    except (TypeError, ValueError):
        side = 0
    if isinstance(text, bool) or side < MIN_REFERENCE_SIDE:
        raise BaselineError(f"reference side {text!r}: expected a number of pixels (at least "
                            f"{MIN_REFERENCE_SIDE}, default {DEFAULT_REFERENCE_SIDE}) or full")
    return side


def reference_side_text(side: int | None) -> str:
    return "full" if side is None else str(side)
