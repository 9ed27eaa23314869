"""Which perceptual hash a baseline uses: a setting parsed at start-up, with no image library."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BaselineError

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
