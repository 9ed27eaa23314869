"""Typed reading of the editor's JSON fields.

A workflow file is data from anywhere: no field is trusted to hold the type litegraph
writes. Each reader returns the field as the converter needs it, or raises
``UIFormatError`` naming the file, the place (a node, a link, a subgraph) and the field,
with the offending value shown briefly (a huge or deeply nested value never is in full).
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UIFormatError

_DIGITS = re.compile(r"-?[0-9]{1,30}")


class _Brief(reprlib.Repr):
    """``repr`` cut short: a few items, a few levels, an integer of any size."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxstring, self.maxother = 3, 4, 4, 40, 40

    def repr_int(self, x: int, level: int) -> str:
        return repr(x) if x.bit_length() < 200 else f"<an integer of {x.bit_length()} bits>"


_BRIEF = _Brief()


def brief(value: Any) -> str:
    """A value as a message shows it: at most about 80 characters."""
    text = _BRIEF.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Fields:
    """The readers for one place of one file: ``source`` names the file, ``where`` the place."""

    source: str
    where: str

    def error(self, what: str) -> UIFormatError:
        return UIFormatError(self.source, what, self.where,
                             "the file is damaged or was not written by the ComfyUI editor: open it in the editor "
                             "and save it again")

    def integer(self, value: Any, what: str) -> int:
        """An integer as JSON writes one (``3``, ``3.0``, or the string ``"3"``); never a bool,
        NaN, an infinity or a fraction."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            return int(value)
        raise self.error(f"{what} is not an integer: {brief(value)}")

    def slot(self, value: Any, what: str) -> int:
        """A slot number: an integer, 0 or more."""
        number = self.integer(value, what)
        if number < 0:
            raise self.error(f"{what} is negative: {number}")
        return number

    def node_id(self, value: Any, what: str) -> str:
        """A node id as the converter keys nodes: litegraph's numbers (or strings), as text."""
        if isinstance(value, str) and 0 < len(value) <= 200:
            return value
        return str(self.integer(value, what))

    def listed(self, value: Any, what: str) -> list[Any]:
        """A list; a missing (null) one is empty."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(f"{what} is not a list: {brief(value)}")
        return value

    def mapping(self, value: Any, what: str) -> Mapping[str, Any]:
        """An object; a missing (null) one is empty."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"{what} is not an object: {brief(value)}")
        return value

    def text(self, value: Any, what: str, default: str = "") -> str:
        """A string; a missing (null) one is ``default``."""
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(f"{what} is not a string: {brief(value)}")
        return value
