"""The audio kind's thresholds, chosen on half of a set of generated sources and checked on the
other half, which plays no part in the choice (docs/audio-study.md holds the tables).

Sources (44.1 kHz, 2 s; each a generator and a seed): steady tones, chords (stereo), noise
bursts, speech-like formant sweeps and tone patterns, ``SOURCES`` of each kind; split by
source: even-numbered ones choose, odd-numbered ones are held out.

Harmless variants, which must pass: a rerun (the same samples), a re-encode through MP3 at 320
kbit/s (PyAV), a resample round trip (44.1 -> 48 -> 44.1 kHz, scipy's polyphase filter), noise
at -80 dBFS. Regressions, which must fail: the gain +1 dB and -1 dB, a pitch shift of a
semitone, a time shift of 50 ms (silence before, the length kept), noise at -30 dBFS, a cut of
the last 10 %, the same generator with another seed.

Each metric is measured exactly as the kind does (``media/audio/signal``). A metric's threshold
is twice the largest harmless value on the choosing half (a harmless class then sits at half of
it), at least its floor (``FLOORS``: a rerun measures 0). On the held-out half every harmless
class must stay at most 70 % of each threshold, and each regression class is caught (any metric
beyond its threshold) for every source, or listed with the sources that escape it.

    .venv/bin/python bench/audio_study.py [--sources 5] [--write docs/audio-study.md]
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from scipy.signal import resample_poly

from comfy_plugin.media.audio.signal import decode, loudness_db, spectrogram_db, spectrum_distance

RATE = 44100
SECONDS = 2.0
METRICS = ("loudness", "spectrum", "duration")
FLOORS = {"loudness": 0.1, "spectrum": 0.005, "duration": 0.01}
SHARE = 0.5  # a harmless class's largest value is this share of the threshold on the choosing half
CEILING = 0.7  # ... and at most this on the held-out half


def _time() -> np.ndarray:
    return np.arange(int(SECONDS * RATE)) / RATE


def tone(rng: np.random.Generator) -> np.ndarray:
    f = rng.uniform(110, 1760)
    return (0.3 * np.sin(2 * np.pi * f * _time()))[None]


def chord(rng: np.random.Generator) -> np.ndarray:
    root = rng.uniform(110, 440)
    left = sum(np.sin(2 * np.pi * root * r * _time()) for r in (1.0, 1.26, 1.5)) / 5
    right = sum(np.sin(2 * np.pi * root * r * _time() + 0.5) for r in (1.0, 1.26, 1.5, 2.0)) / 6
    return np.stack([left, right])


def bursts(rng: np.random.Generator) -> np.ndarray:
    t = _time()
    gate = (np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, 6)) > 0.2).astype(float)
    noise = rng.standard_normal(t.size) * 0.15
    return (noise * gate)[None]


def formants(rng: np.random.Generator) -> np.ndarray:
    """A buzz at a voice's pitch whose harmonics are weighted by two formants that glide."""
    t = _time()
    pitch = rng.uniform(90, 220) * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    f1 = rng.uniform(300, 800) + 200 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t)
    f2 = rng.uniform(1000, 2200) + 500 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t + 1)
    wave = np.zeros_like(t)
    for k in range(1, 30):
        freq = k * pitch
        weight = np.exp(-(((freq - f1) / 150) ** 2)) + 0.6 * np.exp(-(((freq - f2) / 250) ** 2))
        wave += weight * np.sin(k * phase)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 4) * t) ** 2
    return (0.1 * wave * envelope)[None]


def pattern(rng: np.random.Generator) -> np.ndarray:
    notes = 220 * 2 ** (rng.integers(0, 24, 8) / 12)
    t = _time()
    note = notes[np.minimum((t / (SECONDS / notes.size)).astype(int), notes.size - 1)]
    return (0.3 * np.sin(2 * np.pi * np.cumsum(note) / RATE))[None]


GENERATORS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "tone": tone, "chord": chord, "bursts": bursts, "formants": formants, "pattern": pattern}


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    seed: int

    def samples(self, seed_offset: int = 0) -> np.ndarray:
        return GENERATORS[self.kind](np.random.default_rng(self.seed + seed_offset)).astype(np.float32)


def mp3_round_trip(x: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    layout = "mono" if x.shape[0] == 1 else "stereo"
    with av.open(buffer, mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE, layout=layout)
        stream.bit_rate = 320_000
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x.T.reshape(1, -1)), format="flt", layout=layout)
        frame.sample_rate, frame.pts = RATE, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return decode(buffer.getvalue()).samples


def noise(x: np.ndarray, dbfs: float, seed: int) -> np.ndarray:
    rms = 10 ** (dbfs / 20)
    return x + np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32) * rms


def fit(x: np.ndarray, length: int) -> np.ndarray:
    return x[:, :length] if x.shape[1] >= length else np.pad(x, ((0, 0), (0, length - x.shape[1])))


def pitch(x: np.ndarray) -> np.ndarray:
    """Up a semitone (resampled by 17/18 ~ 2^(-1/12), played at the same rate), the length kept."""
    return fit(resample_poly(x, 17, 18, axis=1), x.shape[1])


def delay(x: np.ndarray, seconds: float = 0.05) -> np.ndarray:
    shift = int(seconds * RATE)
    return np.concatenate([np.zeros((x.shape[0], shift), x.dtype), x[:, : x.shape[1] - shift]], axis=1)


HARMLESS: dict[str, Callable[[Source, np.ndarray], np.ndarray]] = {
    "rerun": lambda s, x: x.copy(),
    "mp3 320k re-encode": lambda s, x: mp3_round_trip(x),
    "resample 44.1->48->44.1 kHz": lambda s, x: fit(resample_poly(resample_poly(x, 160, 147, axis=1), 147, 160,
                                                                  axis=1), x.shape[1]),
    "noise at -80 dBFS": lambda s, x: noise(x, -80, s.seed),
}
REGRESSIONS: dict[str, Callable[[Source, np.ndarray], np.ndarray]] = {
    "+1 dB": lambda s, x: x * 10 ** (1 / 20),
    "-1 dB": lambda s, x: x * 10 ** (-1 / 20),
    "pitch +1 semitone": lambda s, x: pitch(x),
    "time shift 50 ms": lambda s, x: delay(x),
    "noise at -30 dBFS": lambda s, x: noise(x, -30, s.seed),
    "cut 10 %": lambda s, x: x[:, : int(x.shape[1] * 0.9)],
    "another seed": lambda s, x: s.samples(seed_offset=1000),
}


def measure(old: np.ndarray, new: np.ndarray) -> dict[str, float]:
    """The kind's distances (media/audio/comparison.measure, without the file round trip)."""
    return {"loudness": abs(loudness_db(new) - loudness_db(old)),
            "spectrum": spectrum_distance(spectrogram_db(old, RATE), spectrogram_db(new, RATE)),
            "duration": abs(new.shape[1] - old.shape[1]) / RATE}


def sources(per_kind: int) -> list[Source]:
    return [Source(f"{kind}-{i}", kind, 100 * k + i) for k, kind in enumerate(GENERATORS) for i in range(per_kind)]


def measure_all(chosen: list[Source]) -> dict[str, dict[str, dict[str, float]]]:
    """variant -> source -> metric -> distance."""
    table: dict[str, dict[str, dict[str, float]]] = {name: {} for name in (*HARMLESS, *REGRESSIONS)}
    for source in chosen:
        x = source.samples()
        for name, make in (*HARMLESS.items(), *REGRESSIONS.items()):
            table[name][source.name] = measure(x, make(source, x).astype(np.float32))
    return table


def choose(table: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    worst = {m: max(v[m] for name in HARMLESS for v in table[name].values()) for m in METRICS}
    return {m: float(f"{max(worst[m] / SHARE, FLOORS[m]):.2g}") for m in METRICS}


def caught(values: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    return [m for m in METRICS if values[m] > thresholds[m]]


def tables(table: dict[str, dict[str, dict[str, float]]], thresholds: dict[str, float], title: str) -> list[str]:
    lines = [f"### {title}", "", "Harmless variants: the largest value of each metric over the sources "
             "(its share of the threshold).", "",
             "| variant | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for name in HARMLESS:
        largest = {m: max(v[m] for v in table[name].values()) for m in METRICS}
        cells = [f"{largest[m]:.3g} ({largest[m] / thresholds[m]:.0%})" for m in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Regressions: the sources caught, by which metric (the smallest value of each over the sources).",
              "", "| regression | caught | by | " + " | ".join(METRICS) + " | escaping |",
              "|---|---|---|" + "---|" * len(METRICS) + "---|"]
    for name in REGRESSIONS:
        rows = table[name]
        hits = {src: caught(v, thresholds) for src, v in rows.items()}
        by = sorted({m for ms in hits.values() for m in ms})
        escaping = ", ".join(src for src, ms in hits.items() if not ms) or "none"
        cells = [f"{min(v[m] for v in rows.values()):.3g}" for m in METRICS]
        lines.append(f"| {name} | {sum(bool(ms) for ms in hits.values())}/{len(rows)} | {', '.join(by) or '-'} | "
                     + " | ".join(cells) + f" | {escaping} |")
    return [*lines, ""]


def verdict(table: dict[str, dict[str, dict[str, float]]], thresholds: dict[str, float]) -> list[str]:
    problems = [f"{name}: {m} at {max(v[m] for v in table[name].values()) / thresholds[m]:.0%} of its threshold"
                for name in HARMLESS for m in METRICS
                if max(v[m] for v in table[name].values()) > CEILING * thresholds[m]]
    problems += [f"{name}: not caught for {src}" for name in REGRESSIONS
                 for src, v in table[name].items() if not caught(v, thresholds)]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=4, help="sources of each kind (half choose, half are held out)")
    parser.add_argument("--write", type=Path, help="write the tables to this Markdown file")
    args = parser.parse_args()
    every = sources(args.sources)
    choosing, held_out = every[0::2], every[1::2]
    fit_table, test_table = measure_all(choosing), measure_all(held_out)
    thresholds = choose(fit_table)
    problems = verdict(test_table, thresholds)
    text = [f"Thresholds chosen on {len(choosing)} sources: "
            + ", ".join(f"{m} {v:g}" for m, v in thresholds.items()), "",
            *tables(fit_table, thresholds, f"Choosing half ({', '.join(s.name for s in choosing)})"),
            *tables(test_table, thresholds, f"Held-out half ({', '.join(s.name for s in held_out)})"),
            "Held out: " + ("every harmless class within 70 % of each threshold, every regression caught"
                            if not problems else "; ".join(problems))]
    print("\n".join(text))
    if args.write:
        body = args.write.read_text() if args.write.exists() else ""
        marker = "<!-- tables: bench/audio_study.py --write -->"
        head = body.split(marker, 1)[0] if marker in body else "# The audio study\n\n"
        args.write.write_text(head + marker + "\n\n" + "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
