"""The audio kind (media/audio/) without a server: FLAC, MP3 and WAV made with PyAV are
recognised, recorded with their file and spectrogram beside the entry, rerun green; a louder,
shifted, shorter or other-rate output fails naming what changed; readings, pending results'
JSON and the report's players."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comfy_plugin.baselines.verdict import Verdict
from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.client import OutputFile
from comfy_plugin.errors import BaselineError
from comfy_plugin.media.audio.comparison import thresholds, track_problems
from comfy_plugin.media.audio.kind import Audios
from comfy_plugin.media.audio.signal import decode, loudness_db, spectrogram_db, spectrum_distance
from comfy_plugin.media.kinds import Kinds
from comfy_plugin.run.prepare import PreparedPrompt
from tests.unit.test_text_kind import NODE, ROOT, regression, stored

RATE = 22050


def tones(notes: tuple[float, ...] = (440.0, 554.0, 659.0), *, gain_db: float = -12.0, delay: float = 0.0,
          seconds: float = 0.9, rate: int = RATE) -> np.ndarray:
    """A mono pattern of notes, each a third of the length (``delay``: silence before, the length kept)."""
    t = np.arange(int(seconds * rate)) / rate
    note = np.array(notes)[np.minimum((t / (seconds / len(notes))).astype(int), len(notes) - 1)]
    wave = 10 ** (gain_db / 20) * np.sin(2 * np.pi * np.cumsum(note) / rate)
    shift = int(delay * rate)
    wave = np.concatenate([np.zeros(shift), wave[: wave.size - shift]])
    return wave[None].astype(np.float32)


def encode(samples: np.ndarray, fmt: str = "flac", codec: str = "flac", rate: int = RATE) -> bytes:
    import av

    buffer = io.BytesIO()
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        if codec == "libmp3lame":
            stream.bit_rate = 320_000  # (at 44.1 kHz: a lower rate quietens it by 0.45 dB)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.T.reshape(1, -1)), format="flt", layout=layout)
        frame.sample_rate, frame.pts = rate, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "workflows-files" / "noise-image-api.json", tmp_path / "wf.json")
    (tmp_path / "batches").mkdir()
    params = {"workflow_file": "../wf.json", "workflow_items": {"seed": "2,inputs,seed"}}
    (tmp_path / "batches" / "t.json").write_text(json.dumps({"parameters": params,
                                                              "prompts": [{"id": "words", "seed": 5}]}))
    return tmp_path


def check(root: Path, data: bytes, *, update: bool = False, name: str = "a.flac") -> tuple[Verdict, Any]:
    reg = regression(root, update=update)
    batch = load_batch(root / "batches" / "t.json", "batches/t.json", root)
    reg.collected(batch)
    spec = batch.prompts[0]
    outputs = [reg.kinds.saved(OutputFile("9", "audio", name, "audio", "output"), None, data)]
    verdict = reg.check(NODE, batch, spec, PreparedPrompt(batch.workflow, dict(spec.values), None), outputs)
    if update:
        reg.finish()
    return verdict, reg


def test_audio_files_are_recognised_and_measured() -> None:
    kinds = Kinds.of()
    wave = tones(rate=44100)
    for fmt, codec in (("flac", "flac"), ("mp3", "libmp3lame"), ("wav", "pcm_s16le")):
        data = encode(wave, fmt, codec, rate=44100)
        saved = kinds.saved(OutputFile("9", "audio", f"a.{fmt}", "audio", "output"), None, data)
        assert (saved.kind, saved.detail) == ("audio", f"{fmt} 44100 Hz, 1 ch")
        audio = decode(data)
        assert (audio.rate, audio.channels) == (44100, 1) and abs(audio.duration - 0.9) < 0.001
        assert abs(loudness_db(audio.samples) - (-15.0)) < 0.1, "a sine's RMS is 3 dB under its peak"
    assert kinds.saved(OutputFile("9", "images", "x.png", "", "output"), None, b"\x89PNG").kind != "audio"
    assert Audios().recognises(OutputFile("9", "audio", "a.flac", "", "output"), b"not audio") is None


def test_the_spectrum_distance_sees_notes_not_the_codec() -> None:
    wave = tones(rate=44100)
    same = spectrogram_db(decode(encode(wave, "mp3", "libmp3lame", rate=44100)).samples, 44100)
    assert spectrum_distance(spectrogram_db(wave, 44100), same) < 0.02
    other = spectrogram_db(tones((440.0, 587.0, 659.0), rate=44100), 44100)
    assert spectrum_distance(spectrogram_db(wave, 44100), other) > 0.05


def test_recorded_with_its_file_beside_it_and_rerun_green(project: Path) -> None:
    data = encode(tones())
    verdict, _ = check(project, data, update=True)
    assert verdict.status == "recorded"
    [entry] = stored(project)
    assert (entry["kind"], entry["format"], entry["rate"], entry["channels"]) == ("audio", "flac", RATE, 1)
    assert (project / "baselines" / entry["audio"]).read_bytes() == data
    assert (project / "baselines" / entry["spectrogram"]).read_bytes().startswith(b"\x89PNG")
    again, reg = check(project, data)
    assert (again.status, again.failed) == ("match", False)
    assert again.readings["audio_spectrum"][0] == (0.0,) and again.readings["audio_loudness"][0] == (0.0,)
    [card] = reg.cards[NODE]
    page = Audios().card_html(card, lambda inner, path: f'<a href="{path}">{inner}</a>')
    assert page.count("<audio controls") == 2 and page.count("data:image/png;base64,") == 2
    assert check(project, data, update=True)[0].status == "unchanged"


@pytest.mark.parametrize(("changed", "expected"), [
    ({"gain_db": -9.0}, ["audio 0: louder by 3.0 dB"]),
    ({"delay": 0.05}, ["audio 0: spectrum distance"]),
    ({"seconds": 0.8}, ["shorter by 0.10 s (0.80 s, the baseline 0.90 s)"]),
])
def test_a_change_fails_naming_what_changed(project: Path, changed: dict[str, float], expected: list[str]) -> None:
    check(project, encode(tones()), update=True)
    verdict, reg = check(project, encode(tones(**changed)))
    assert verdict.status == "diff", verdict.message
    for text in expected:
        assert text in verdict.message
    assert NODE in reg.reviewable


def test_another_sample_rate_is_named(project: Path) -> None:
    check(project, encode(tones()), update=True)
    verdict, _ = check(project, encode(tones(rate=44100), rate=44100))
    assert "the sample rate changed: 44100 Hz, the baseline 22050 Hz" in verdict.message
    assert verdict.readings.get("audio_spectrum") is None, "no spectrum compared across rates"


def test_an_observation_survives_json_and_thresholds_are_read() -> None:
    from comfy_plugin.media.audio.entries import observe

    seen = observe(encode(tones()), ".flac", node="9", seed=1, workflow_digest="d", params={"a": 1})
    back = Audios().read_observed(json.loads(json.dumps(seen.to_json())))
    assert back.to_json() == seen.to_json()
    assert thresholds(({"audio_thresholds": {"loudness": None}},))["loudness"] is None
    with pytest.raises(BaselineError, match="audio_thresholds"):
        thresholds(({"audio_thresholds": {"volume": 1}},))
    with pytest.raises(BaselineError, match="not an audio entry"):
        Audios().read_entry({"format": "flac"}, "x")


def test_the_sound_of_a_video_is_compared_by_the_same_measures(tmp_path: Path) -> None:
    kept = tmp_path / "kept.flac"
    kept.write_bytes(encode(tones()))
    assert track_problems(kept, encode(tones())) == []
    assert track_problems(kept, encode(tones(gain_db=-9.0))) == ["louder by 3.0 dB", "spectrum distance 0.05 > 0.0052"]
    assert track_problems(kept, b"\x89PNG no sound") == ["the sound was removed"]
    kept.write_bytes(b"\x89PNG no sound")
    assert track_problems(kept, b"\x89PNG no sound either") == []
    assert track_problems(tmp_path / "gone.mp4", encode(tones())) == [], "no copy kept: the frames decide"
