"""Pictures a kind embeds in its part of a card (``data:`` URIs: a difference image, a video's
frames, a spectrogram) moved to files in a folder beside the report, ``<report stem>_files/``,
named by their content's digest (the same picture is written once), so that the page stays
small and the browser loads each picture only when its card is shown. Every ``<img>`` of a
card is marked ``loading="lazy"``. The cards beyond the first page go there too (``cards.js``),
so that the page itself shows at once whatever the number of prompts."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import urllib.parse
from pathlib import Path

from ..files import write_atomically

_DATA_URI = re.compile(r'src="data:image/(png|jpeg|webp|gif);base64,([A-Za-z0-9+/=]+)"')
_IMG = re.compile(r"<img (?!loading=)")


def lazy(fragment: str) -> str:
    """Every picture of a card loaded only when it nears the window."""
    return _IMG.sub('<img loading="lazy" decoding="async" ', fragment)


class Pictures:
    """The folder beside the report and the pictures written into it during one render."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: set[str] = set()

    @classmethod
    def beside(cls, report: Path) -> Pictures:
        return cls(report.parent / f"{report.stem}_files")

    def moved(self, fragment: str) -> str:
        """``fragment`` with each embedded picture written to the folder and linked relatively."""
        def swap(found: re.Match[str]) -> str:
            try:
                data = base64.b64decode(found.group(2), validate=True)
            except (binascii.Error, ValueError):
                return found.group(0)
            return f'src="{self.file(f"{hashlib.sha256(data).hexdigest()[:24]}.{found.group(1)}", data)}"'

        return _DATA_URI.sub(swap, fragment)

    def file(self, name: str, data: bytes) -> str:
        """``data`` written to the folder as ``name`` (once; kept when already there); its
        address relative to the report."""
        if name not in self.written:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / name
            if not target.is_file() or target.read_bytes() != data:
                write_atomically(target, data)
            self.written.add(name)
        return f"{urllib.parse.quote(self.folder.name)}/{name}"

    def prune(self) -> None:
        """Pictures of an earlier report at the same path that this one no longer shows."""
        if not self.folder.is_dir():
            return
        for old in self.folder.iterdir():
            if old.is_file() and old.name not in self.written:
                old.unlink()
