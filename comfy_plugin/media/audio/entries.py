"""What an accepted audio output is reduced to (an entry: its format, sample rate, channels,
duration and loudness, and the file itself beside it, which the spectrum is compared with), and
how a test sees a new one (an observation: that entry with the file's bytes and its samples)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import BaselineError
from ..kind import plain

if TYPE_CHECKING:
    from .signal import Audio

#: An audio file up to this size is kept beside its entry (the spectrum is compared with it);
#: a larger one is compared by its rate, channels, duration and loudness only.
KEEP_AUDIO_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class AudioEntry:
    """One accepted audio output of one prompt, as stored in the baseline file."""

    format: str
    rate: int
    channels: int
    duration: float
    loudness_db: float
    seed: int | None
    workflow_digest: str
    params: dict[str, Any]
    node: str = ""
    audio: str = ""  # the file kept beside the entry, named by its digest
    spectrogram: str = ""  # its picture, for a reviewer
    kind: ClassVar[str] = "audio"

    def side_files(self) -> tuple[str, ...]:
        return tuple(name for name in (self.audio, self.spectrogram) if name)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": self.format, "rate": self.rate, "channels": self.channels,
                "duration": self.duration, "loudness_db": self.loudness_db, "seed": self.seed,
                "workflow_digest": self.workflow_digest, "params": self.params, "node": self.node,
                "audio": self.audio, "spectrogram": self.spectrogram}

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> AudioEntry:
        if not isinstance(data, Mapping):
            raise BaselineError(f"{where}: not an audio entry")
        try:
            seed = data.get("seed")
            entry = cls(str(data["format"]), data["rate"], data["channels"], float(data["duration"]),
                        float(data["loudness_db"]), seed if isinstance(seed, int) else None,
                        str(data["workflow_digest"]), dict(data.get("params") or {}), str(data.get("node", "")),
                        str(data.get("audio", "")), str(data.get("spectrogram", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"{where}: not an audio entry ({exc.__class__.__name__}: {exc})") from None
        for name in ("rate", "channels"):
            value = getattr(entry, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise BaselineError(f"{where}: {name} {value!r}: expected a whole number")
        return entry


@dataclass(frozen=True)
class AudioObservation:
    """One audio output as a test saw it: the entry that would record it, the file's bytes
    (kept beside the entry) and its spectrogram's picture; ``decoded`` until settled."""

    entry: AudioEntry
    suffix: str = ""
    data: bytes = field(default=b"", repr=False)
    spectrogram_png: bytes = field(default=b"", repr=False)
    decoded: Audio | None = field(default=None, repr=False, compare=False)
    kind: ClassVar[str] = "audio"

    def settled(self) -> AudioObservation:
        return replace(self, decoded=None)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "entry": self.entry.to_json(), "suffix": self.suffix,
                "data": _b64(self.data), "spectrogram_png": _b64(self.spectrogram_png)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AudioObservation:
        try:
            return cls(AudioEntry.from_json(data["entry"], "observation"), str(data.get("suffix", "")),
                       base64.b64decode(data.get("data", "")), base64.b64decode(data.get("spectrogram_png", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"not an audio observation: {exc}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def observe(data: bytes, suffix: str, *, node: str, seed: int | None, workflow_digest: str,
            params: Mapping[str, Any]) -> AudioObservation:
    """The file decoded once and measured; its spectrogram's picture made from those samples."""
    from .signal import decode, loudness_db, spectrogram_db, spectrogram_png

    audio = decode(data)
    entry = AudioEntry(audio.format, audio.rate, audio.channels, round(audio.duration, 6),
                       round(loudness_db(audio.samples), 4), seed, workflow_digest, plain(dict(params)), node)
    picture = spectrogram_png(spectrogram_db(audio.samples, audio.rate))
    kept = data if len(data) <= KEEP_AUDIO_BYTES else b""
    return AudioObservation(entry, suffix, kept, picture, audio)
