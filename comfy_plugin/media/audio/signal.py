"""Audio read once and measured: PyAV decodes any container ComfyUI writes (FLAC, MP3, Opus,
WAV, and the audio track of a video) to float samples; the measures are plain numpy and scipy
on those samples, shared by the kind and by ``bench/audio_study.py`` (which chose the
thresholds), so that the study measures exactly what a test compares.

- loudness: the RMS of every sample of every channel, in dB relative to full scale;
- spectrum: the mean absolute difference of two log-magnitude spectrograms (scipy's STFT of the
  channels' mean) over the cells that sound in either, each clipped to ``RANGE_DB`` below the
  louder one's peak, as a fraction of that range (0: the same, 1: as different as can be).
  Frequencies above ``TOP_HZ`` are left out: lossy encoders cut them at high bitrates already,
  and no regression hides only there.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...errors import BaselineError

if TYPE_CHECKING:
    import numpy as np

#: The dynamic range of the spectrograms compared (dB below the louder peak).
RANGE_DB = 60.0
#: The cells of a spectrogram compared: those within this of the louder peak in either.
ACTIVE_DB = 40.0
#: The highest frequency compared.
TOP_HZ = 16000.0
#: The STFT's window, in samples at 44.1 kHz (scaled with the rate: about 23 ms).
WINDOW = 1024
#: The loudness of silence (RMS of zero), instead of minus infinity.
SILENCE_DB = -120.0


@dataclass(frozen=True)
class Probe:
    format: str  # "flac", "mp3", "ogg", "wav", ...
    rate: int
    channels: int


@dataclass(frozen=True)
class Audio:
    """Decoded audio: ``samples`` has one row per channel, floats in [-1, 1]."""

    format: str
    rate: int
    samples: np.ndarray = field(repr=False)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / self.rate if self.rate else 0.0


def probe(data: bytes) -> Probe | None:
    """The audio in ``data`` (no video stream beside it), or None when it holds none."""
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            if container.streams.video or not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            return Probe(_format(container), int(stream.rate or 0), int(stream.channels or 0))
    except (av.FFmpegError, ValueError, OSError):
        return None


def _format(container: object) -> str:
    name = str(getattr(getattr(container, "format", None), "name", "") or "")
    return name.split(",", maxsplit=1)[0]


def decode(data: bytes) -> Audio:
    """The first audio stream of ``data`` (an audio file, or a video with sound) as samples."""
    import av
    import numpy as np

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise BaselineError("the file holds no audio stream")
            stream = container.streams.audio[0]
            rate, layout = int(stream.rate or 0), stream.layout
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            parts = []
            for frame in container.decode(stream):
                parts += [f.to_ndarray() for f in resampler.resample(frame)]
            parts += [f.to_ndarray() for f in resampler.resample(None)]
            fmt = _format(container)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise BaselineError(f"cannot decode the audio: {exc}") from None
    channels = layout.nb_channels if layout is not None else 1
    samples = np.concatenate(parts, axis=1) if parts else np.zeros((channels, 0), np.float32)
    return Audio(fmt, rate, samples.astype(np.float32, copy=False))


def loudness_db(samples: np.ndarray) -> float:
    """The RMS of every sample, in dBFS (``SILENCE_DB`` for silence)."""
    import numpy as np

    if samples.size == 0:
        return SILENCE_DB
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DB, 20.0 * np.log10(rms)) if rms > 0 else SILENCE_DB


def spectrogram_db(samples: np.ndarray, rate: int) -> np.ndarray:
    """The log-magnitude spectrogram (dB; frequency rows up to ``TOP_HZ``, time columns) of the
    channels' mean, by scipy's STFT (a Hann window of about 23 ms, half overlapping)."""
    import numpy as np
    from scipy.signal import stft

    mono = samples.mean(axis=0) if samples.ndim == 2 else samples
    window = max(64, round(WINDOW * rate / 44100))
    if mono.size < window:
        mono = np.pad(mono, (0, window - mono.size))
    freqs, _times, z = stft(mono, fs=rate, nperseg=window, noverlap=window // 2, boundary=None, padded=True)
    magnitude = np.abs(z[freqs <= TOP_HZ]) * window  # scale-free of the window's length
    return np.asarray(20.0 * np.log10(magnitude + 1e-9), dtype=np.float64)


def spectrum_distance(old: np.ndarray, new: np.ndarray) -> float:
    """Two spectrograms' mean absolute difference over the frames both have and the cells where
    either is within ``ACTIVE_DB`` of the louder peak (silent cells say nothing, and would make
    a short change vanish in a long file), each clipped to ``RANGE_DB`` below that peak, as a
    fraction of ``RANGE_DB``."""
    import numpy as np

    rows = min(old.shape[0], new.shape[0])
    cols = min(old.shape[1], new.shape[1])
    if rows == 0 or cols == 0:
        return 0.0 if old.size == new.size else 1.0
    a, b = old[:rows, :cols], new[:rows, :cols]
    peak = max(float(a.max()), float(b.max()))
    active = (a > peak - ACTIVE_DB) | (b > peak - ACTIVE_DB)
    if not active.any():
        return 0.0
    a, b = np.maximum(a, peak - RANGE_DB), np.maximum(b, peak - RANGE_DB)
    return float(np.abs(a - b)[active].mean() / RANGE_DB)


def spectrogram_png(spectrogram: np.ndarray, width: int = 320, height: int = 120) -> bytes:
    """A picture of a spectrogram (low frequencies at the bottom, louder is brighter)."""
    import numpy as np
    from PIL import Image

    if spectrogram.size == 0:
        spectrogram = np.zeros((2, 2))
    top = float(spectrogram.max())
    scaled = (np.clip(spectrogram, top - RANGE_DB, top) - (top - RANGE_DB)) / RANGE_DB
    gray = (np.flipud(scaled) * 255).astype(np.uint8)
    heat = np.stack([gray, (gray.astype(np.uint16) * gray // 255).astype(np.uint8), 255 - gray // 2], axis=-1)
    picture = Image.fromarray(heat, "RGB").resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()
