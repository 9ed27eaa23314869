"""Audio outputs, a built-in kind: what ``SaveAudio`` (FLAC), ``SaveAudioMP3``,
``SaveAudioOpus`` and ``PreviewAudio`` list under ``audio``, and an audio-only file (WAV, FLAC,
MP3, Opus, ...) any node lists under another key. Compared by ``comparison``; the report card
shows both files in ``<audio>`` players and a spectrogram of each."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from ..html import img_tag
from ..kind import CompareContext, KindVerdict, OutputKind, Recordable, SavedOutput, SideFiles, Stored, in_node_order

if TYPE_CHECKING:
    from ...client import OutputFile
    from .comparison import PromptAudio
    from .entries import AudioEntry, AudioObservation

#: Suffixes of audio files a node may list under a key other than ``audio``.
AUDIO_SUFFIXES = (".flac", ".mp3", ".opus", ".ogg", ".wav", ".m4a", ".aac")
_HREF = re.compile(r'href="([^"]*)"')


def _path(output: SavedOutput) -> str:
    return str(output.path or output.file.filename)


def _suffix(output: SavedOutput) -> str:
    return PurePosixPath(output.file.filename).suffix.lower() or ".bin"


class Audios(OutputKind):
    name = "audio"
    noun = "audio output"

    def recognises(self, file: OutputFile, data: bytes) -> str | None:
        if file.kind != "audio" and PurePosixPath(file.filename).suffix.lower() not in AUDIO_SUFFIXES:
            return None
        from .signal import probe

        found = probe(data)
        return f"{found.format} {found.rate} Hz, {found.channels} ch" if found else None

    def warm_up(self, stored: list[Stored]) -> None:
        """PyAV, numpy and scipy's STFT, while the server is still idle."""
        if stored:
            import av  # noqa: F401
            import scipy.signal  # noqa: F401

    def compare(self, stored: list[Stored] | None, outputs: list[SavedOutput], context: CompareContext) -> KindVerdict:
        from .comparison import compare_all, readings, thresholds
        from .entries import observe

        limits = thresholds(context.layers)
        outputs = in_node_order(outputs)
        observed = [observe(o.data, _suffix(o), node=o.file.node_id, seed=context.seed,
                            workflow_digest=context.workflow_digest, params=context.params) for o in outputs]
        entries = cast("list[AudioEntry] | None", stored)
        result = compare_all(entries, observed, limits, context.stored_file, [_path(o) for o in outputs])
        card = self._card(result, entries or [], observed, outputs, context) if context.report else {}
        return KindVerdict(self.name, result.status, result.message, readings(result, limits),
                           tuple(s.settled() for s in observed), result.unchanged, card)

    # -- what a baseline keeps -------------------------------------------------------------

    def read_entry(self, data: Mapping[str, Any], where: str) -> Stored:
        from .entries import AudioEntry

        return AudioEntry.from_json(data, where)

    def read_observed(self, data: Mapping[str, Any]) -> Recordable:
        from .entries import AudioObservation

        return AudioObservation.from_json(data)

    def keep(self, seen: Recordable, files: SideFiles, prompt_id: str, index: int) -> Stored:
        """The file itself by digest (small ones) and its spectrogram named by prompt and index."""
        audio = cast("AudioObservation", seen)
        copy = files.by_digest(audio.data, audio.suffix or ".bin") if audio.data else ""
        picture = files.named(prompt_id, index, ".png", audio.spectrogram_png) if audio.spectrogram_png else ""
        return replace(audio.entry, audio=copy, spectrogram=picture)

    # -- the report ------------------------------------------------------------------------

    @staticmethod
    def _card(result: PromptAudio, entries: list[AudioEntry], observed: list[AudioObservation],
              outputs: list[SavedOutput], context: CompareContext) -> dict[str, Any]:
        from .comparison import describe
        from .signal import spectrogram_db, spectrogram_png

        parts = []
        for position, (output, seen) in enumerate(zip(outputs, observed, strict=True)):
            compared = result.results[position]
            entry = entries[position] if position < len(entries) else None
            old_picture = ""
            if compared.baseline is not None:
                old_picture = _b64(spectrogram_png(spectrogram_db(compared.baseline.samples, compared.baseline.rate)))
            distances = ", ".join(f"{k} {v:.3g}" for k, v in compared.distances.items())
            parts.append({"label": f"audio {position} ({compared.status}): {describe(seen.entry)}"
                                   + (f"; {distances}" if distances else ""),
                          "path": _path(output), "spectrogram": _b64(seen.spectrogram_png),
                          "baseline_path": str(context.stored_file(entry.audio)) if entry and entry.audio else "",
                          "baseline_spectrogram": old_picture, "status": compared.status if entry else ""})
        return {"audio": parts}

    def preview(self, outputs: list[SavedOutput]) -> dict[str, Any]:
        from ...errors import BaselineError
        from .signal import decode, spectrogram_db, spectrogram_png

        parts = []
        for position, output in enumerate(in_node_order(outputs)):
            try:
                audio = decode(output.data)
                picture, label = _b64(spectrogram_png(spectrogram_db(audio.samples, audio.rate))), (
                    f"audio {position}: {audio.format}, {audio.rate} Hz, {audio.channels} channel(s), "
                    f"{audio.duration:.2f} s")
            except BaselineError as exc:
                picture, label = "", f"audio {position}: {exc}"
            parts.append({"label": label, "path": _path(output), "spectrogram": picture})
        return {"audio": parts}

    def thumbnails(self, card: Mapping[str, Any]) -> list[str]:
        return [a["spectrogram"] for a in card.get("audio", []) if a.get("spectrogram")]

    def card_html(self, card: Mapping[str, Any], link: Callable[[str, str], str]) -> str:
        parts = []
        for audio in card.get("audio") or []:
            row = ""
            if audio.get("status"):
                row += _figure(audio.get("baseline_path") or "", audio.get("baseline_spectrogram"), "baseline", link)
            row += _figure(audio.get("path") or "", audio.get("spectrogram"), "new", link)
            parts.append(f'<div class="compare audio"><div class="label">{html.escape(str(audio.get("label", "")))}'
                         f'</div><div class="row">{row}</div></div>')
        return "\n".join(parts)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii") if data else ""


def _figure(path: str, picture: str | None, side: str, link: Callable[[str, str], str]) -> str:
    """A player of the file (relative to the report, as the report links any saved file) over
    its spectrogram."""
    found = _HREF.search(link("", path)) if path else None
    if found:
        src = html.escape(html.unescape(found.group(1)), quote=True)
        player = f'<audio controls preload="metadata" src="{src}" title="{html.escape(path, quote=True)}"></audio>'
    else:
        player = f'<div class="noimg">{side}: no file kept</div>'
    return (f'<figure>{player}<br>{img_tag(picture, f"{side} spectrogram")}'
            f'<figcaption>{side}</figcaption></figure>')
