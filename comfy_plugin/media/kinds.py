"""The output kinds of a session: the built-in ones and those a project adds through the
``pytest_comfy_output_kinds`` hook. Plain data, built once by the plugin's state object."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BaselineError
from .kind import DEFAULT_KIND, OutputKind, SavedOutput

if TYPE_CHECKING:
    from ..client import OutputFile


def builtin() -> list[OutputKind]:
    """The kinds the plugin knows itself; videos before still images (an animated WEBP or PNG is
    listed under ``images`` too)."""
    from .audio.kind import Audios
    from .mesh import Meshes
    from .still.kind import StillImages
    from .text import Texts
    from .video.kind import Videos

    return [Videos(), StillImages(), Texts(), Audios(), Meshes()]


@dataclass(frozen=True)
class Kinds:
    """The kinds in order, built-in ones first. A project's kinds (the last ``project`` of
    ``all``) are asked first whether they recognise an output, so that a project may take over
    outputs a built-in kind would own; the first kind asked that recognises one owns it."""

    all: tuple[OutputKind, ...]
    project: int = 0

    @classmethod
    def of(cls, extra: Iterable[OutputKind] = ()) -> Kinds:
        """The built-in kinds, then ``extra`` (a project's); a name given twice is an error."""
        built = builtin()
        kinds = (*built, *extra)
        names = [kind.name for kind in kinds]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise BaselineError(f"output kind {', '.join(doubled)} is defined twice")
        return cls(tuple(kinds), len(kinds) - len(built))

    def named(self, name: str) -> OutputKind:
        for kind in self.all:
            if kind.name == name:
                return kind
        known = ", ".join(kind.name for kind in self.all)
        raise BaselineError(f"unknown output kind {name!r} (this session knows {known}): is the project's "
                            "conftest.py that defines it loaded?")

    def of_json(self, data: object) -> OutputKind:
        """The kind of a stored entry or observation (no "kind" key: the default kind)."""
        name = data.get("kind", DEFAULT_KIND) if isinstance(data, dict) else DEFAULT_KIND
        return self.named(str(name))

    def recognise(self, file: OutputFile, data: bytes) -> tuple[str, str]:
        """(kind name, detail) of an output; ("", "") when no kind recognises it."""
        split = len(self.all) - self.project
        for kind in (*self.all[split:], *self.all[:split]):
            detail = kind.recognises(file, data)
            if detail is not None:
                return kind.name, detail
        return "", ""

    def saved(self, file: OutputFile, path: Path | None, data: bytes) -> SavedOutput:
        """An output as saved, with the kind that recognised it."""
        name, detail = self.recognise(file, data)
        return SavedOutput(file, path, data, name, detail)
