"""How a failed prompt is shown: labelled sections of plain text, never a traceback."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Protocol

from ..errors import InternalError


class LineWriter(Protocol):
    """What ``toterminal`` uses of pytest's terminal writer (which pytest does not export)."""

    def line(self, s: str = "", **markup: bool) -> None: ...


@dataclass(eq=False)
class FailureRepr:
    """Sections of a failure, each an optional title and its lines (as tavern shows a stage).

    pytest prints any ``longrepr`` that has ``toterminal``; pytest-xdist sends ``str()`` of it."""

    sections: list[tuple[str, str]]

    @classmethod
    def of_text(cls, text: str) -> FailureRepr:
        return cls([("", text)])

    @classmethod
    def of_internal(cls, error: InternalError, verbose: bool) -> FailureRepr:
        """A bug of the plugin: one line and a request to report it; the traceback with -v."""
        sections = [("", str(error))]
        if verbose:
            sections.append(("traceback", "".join(traceback.format_exception(error.original)).rstrip()))
        return cls(sections)

    def toterminal(self, tw: LineWriter) -> None:
        for title, text in self.sections:
            if title:
                tw.line(f"{title}:", bold=True)
            for line in text.splitlines():
                tw.line(line, red=not title)

    def __str__(self) -> str:
        return "\n".join((f"{title}:\n{text}" if title else text) for title, text in self.sections)
