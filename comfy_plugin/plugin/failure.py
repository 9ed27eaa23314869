"""How a failed prompt is shown: labelled sections of plain text, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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

    def toterminal(self, tw: LineWriter) -> None:
        for title, text in self.sections:
            if title:
                tw.line(f"{title}:", bold=True)
            for line in text.splitlines():
                tw.line(line, red=not title)

    def __str__(self) -> str:
        return "\n".join((f"{title}:\n{text}" if title else text) for title, text in self.sections)
