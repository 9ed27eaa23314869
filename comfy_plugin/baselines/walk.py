"""A baseline file's JSON read a prompt at a time: ten thousand prompts' entries and provenance
are never all decoded at once (``json.loads`` of such a file builds every one of them before the
first can be put away). The decoding of each value is ``json``'s own (``raw_decode``); here only
the two outer levels are walked, so any valid JSON layout reads, not only the one the store writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from ..errors import BaselineError

#: Objects whose members are yielded one at a time (a prompt's entries, its provenance).
STREAMED = frozenset({"baselines", "provenance"})
#: The value yielded for a streamed object itself, once its members have been.
WALKED = object()

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class NotWalkable(ValueError):
    """Not a JSON object as walked here; ``json.loads`` of the text words the error."""


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def peek(self) -> str:
        self.at = _SPACE.match(self.text, self.at).end()  # type: ignore[union-attr]  # (matches "" at worst)
        return self.text[self.at:self.at + 1]

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise NotWalkable(f"expected {char!r} at {self.at}")
        self.at += 1

    def value(self) -> Any:
        self.peek()
        value, self.at = _DECODER.raw_decode(self.text, self.at)  # JSONDecodeError is a ValueError
        return value

    def members(self) -> Iterator[str]:
        """The keys of the object here, each yielded with the cursor at its value: the caller
        reads the value before the next key is looked for."""
        self.take("{")
        if self.peek() == "}":
            self.at += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise NotWalkable(f"a key that is not a string at {self.at}")
            self.take(":")
            yield key
            if self.peek() != ",":
                break
            self.at += 1
        self.take("}")


def walk(text: str) -> Iterator[tuple[str | None, str, Any]]:
    """``(object, key, value)`` for every member of the top-level object: a member of a
    ``STREAMED`` object as ``(its name, key, value)``, one at a time, then the object itself as
    ``(None, name, WALKED)``; any other member as ``(None, key, value)``. Raises ValueError
    (``NotWalkable`` or ``json.JSONDecodeError``) where the text is not such an object."""
    cursor = _Cursor(text)
    for key in cursor.members():
        if key in STREAMED and cursor.peek() == "{":
            for inner in cursor.members():
                yield key, inner, cursor.value()
            yield None, key, WALKED
        else:
            yield None, key, cursor.value()
    if cursor.peek():
        raise NotWalkable(f"extra data at {cursor.at}")


def refused(path: Path, text: str) -> NoReturn:
    """The error of a baseline file the walk refused, as ``json`` words it (line and column)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})") from None
    raise BaselineError(f"{path}: not a baseline file (no 'baselines' object)")
