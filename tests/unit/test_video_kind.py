"""The video kind without a server: which files it recognises, what it records beside an entry,
what a changed frame, frame rate or frame count says, and its round trips (pending results and
pytest-xdist payloads as JSON, the baseline file) and report card."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from comfy_plugin.baselines.regression import Regression
from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.client import OutputFile
from comfy_plugin.media.kinds import Kinds
from comfy_plugin.media.video.decode import decode, sample_indices
from comfy_plugin.media.video.entries import VideoEntry, VideoObservation
from comfy_plugin.media.video.kind import Videos
from comfy_plugin.run.prepare import PreparedPrompt
from comfy_plugin.settings import BaselineSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = BaselineSettings(update=False, prune=False, root=Path("baselines"), env=None, missing="fail",
                            hash="phash-8", threshold=None, fresh=False)
SIZE = (48, 32)


def frames(seeds: list[int]) -> list[Image.Image]:
    return [Image.fromarray(np.random.default_rng(s).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8))
            for s in seeds]


def animation(fmt: str, seeds: list[int], duration_ms: int = 125) -> bytes:
    images, out = frames(seeds), io.BytesIO()
    options = {"lossless": True} if fmt == "WEBP" else {}
    images[0].save(out, format=fmt, save_all=True, append_images=images[1:], duration=duration_ms, loop=0,
                   **options)
    return out.getvalue()


def video(seeds: list[int], fps: int = 8, fmt: str = "mp4", codec: str = "libx264") -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "0"}
        for image in frames(seeds):
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


SEEDS = list(range(20))


@pytest.mark.parametrize(("name", "data"), [
    ("webp", lambda: animation("WEBP", SEEDS)), ("png", lambda: animation("PNG", SEEDS)),
    ("gif", lambda: animation("GIF", SEEDS, 120)), ("mp4", lambda: video(SEEDS)),
    ("webm", lambda: video(SEEDS, fmt="webm", codec="libvpx-vp9")),
])
def test_every_format_is_a_video_of_20_frames_at_8_fps_sampled_16_times(name, data):
    content = data()
    detail = Kinds.of().recognise(OutputFile("1", "images", f"a.{name}", "", "output", True), content)
    assert detail == ("video", f"{name} 48x32, 20 frames")
    decoded = decode(content)
    assert (decoded.format, decoded.width, decoded.height, decoded.frames) == (name, 48, 32, 20)
    assert decoded.fps == pytest.approx(1000 / 120 if name == "gif" else 8.0, rel=1e-3)
    assert [f.index for f in decoded.samples] == sample_indices(20) and len(decoded.samples) == 16
    assert decoded.samples[-1].index == 19
    assert decoded.samples[-1].time == pytest.approx(19 * (0.12 if name == "gif" else 0.125), abs=1e-3)


def test_a_one_frame_animation_and_a_still_preview_are_images_and_a_gifs_output_is_a_video():
    kinds = Kinds.of()
    one = animation("WEBP", [1])
    assert kinds.recognise(OutputFile("1", "images", "a.webp", "", "output"), one) == ("image", "48x32")
    still = io.BytesIO()
    frames([3])[0].save(still, format="PNG")
    assert kinds.recognise(OutputFile("1", "images", "a.png", "", "temp", False), still.getvalue())[0] == "image"
    moving = animation("PNG", [1, 2])  # the file decides, whatever the node says
    assert kinds.recognise(OutputFile("1", "images", "a.png", "", "output", False), moving) == \
        ("video", "png 48x32, 2 frames")
    assert kinds.recognise(OutputFile("1", "gifs", "a.mp4", "", "output"), video([1, 2, 3]))[0] == "video"
    assert kinds.recognise(OutputFile("1", "gifs", "a.txt", "", "output"), b"not a video")[0] == ""
    assert sample_indices(100) == [0, 7, 13, 20, 26, 33, 40, 46, 53, 59, 66, 73, 79, 86, 92, 99]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "workflows-files" / "noise-image-api.json", tmp_path / "wf.json")
    (tmp_path / "batches").mkdir()
    batch = {"parameters": {"workflow_file": "../wf.json", "workflow_items": {"seed": "2,inputs,seed"}},
             "prompts": [{"id": "clip", "seed": 5}]}
    (tmp_path / "batches" / "b.json").write_text(json.dumps(batch))
    return tmp_path


def check(project: Path, data: bytes, name: str = "clip.mp4", report: bool = False, **changes):
    reg = Regression.create(replace(SETTINGS, root=project / "baselines", **changes), project, "batches",
                            report=report)
    batch = load_batch(project / "batches" / "b.json", "batches/b.json", project)
    reg.collected(batch)
    spec = batch.prompts[0]
    saved = project / name
    saved.write_bytes(data)
    output = reg.kinds.saved(OutputFile("5", "images", name, "", "output", True), saved, data)
    verdict = reg.check("batches/b.json::clip", batch, spec, PreparedPrompt(batch.workflow, dict(spec.values), None),
                        [output])
    reg.finish()
    return reg, verdict


def test_a_recorded_video_matches_and_a_changed_frame_rate_or_frame_fails_naming_it(project):
    _, recorded = check(project, video(SEEDS), update=True)
    assert recorded.status == "recorded"
    stored = json.loads((project / "baselines" / "b.json").read_text())["baselines"]["clip"]
    assert [e["kind"] for e in stored] == ["video"] and len(stored[0]["samples"]) == 16
    entry = VideoEntry.from_json(stored[0], "here")
    assert all((project / "baselines" / name).is_file() for name in entry.side_files())
    assert entry.video.endswith(".mp4") and entry.samples[7].reference.endswith(".png")

    _, same = check(project, video(SEEDS))
    assert same.status == "match", same.message
    assert same.readings["video_hash"] == ((0.0,), 6.0) and same.readings["video_ssim"][0] == (0.0,)

    changed = [*SEEDS[:8], 99, *SEEDS[9:]]  # frame 8 is sampled (frame 7 of 20 is not)
    _, frame = check(project, video(changed))
    assert frame.status == "diff"
    assert "video 0: frame 8 (1.00 s) differs: " in frame.message and "frame 9 " not in frame.message
    assert frame.readings["video_hash"][0][0] > 6

    _, rate = check(project, video(SEEDS, fps=12))
    assert "video 0: the frame rate changed: 12 fps, the baseline 8 fps" in rate.message
    assert "the duration changed" in rate.message and "frame 0" not in rate.message

    _, count = check(project, video(SEEDS[:18]))
    assert "video 0: the frame count changed: 18 frames, the baseline 20" in count.message


def test_an_animation_kept_for_review_round_trips_as_json_and_shows_both_and_a_strip(project):
    check(project, animation("WEBP", SEEDS), "clip.webp", update=True)
    changed = animation("WEBP", [*SEEDS[:19], 77])
    reg, verdict = check(project, changed, "clip.webp", report=True)
    assert verdict.status == "diff" and "video 0: frame 19 (2.38 s) differs" in verdict.message
    _key, _id, seen = reg.reviewable["batches/b.json::clip"]
    back = Videos().read_observed(json.loads(json.dumps(seen[0].settled().to_json())))
    assert isinstance(back, VideoObservation) and back.data == changed and back.entry == seen[0].entry
    card = reg.cards["batches/b.json::clip"][0]
    assert card["kind"] == "video" and len(card["videos"][0]["frames"]) == 16
    assert card["videos"][0]["frames"][-1]["failed"] and not card["videos"][0]["frames"][0]["failed"]
    page = Videos().card_html(card, lambda inner, path: f'<a href="{Path(path).name}">{inner}</a>')
    assert page.count('class="animation"') == 2  # the baseline's copy and the new file
    assert '<img src="clip.webp"' in page and '.webp" alt="baseline"' in page
    assert page.count('alt="baseline frame') == 16 and "frame 19 (2.38 s)" in page


def test_a_video_card_plays_both_files_muted(project):
    check(project, video(SEEDS), update=True)
    reg, _ = check(project, video([*SEEDS[:3], 50, *SEEDS[4:]]), report=True)
    page = Videos().card_html(reg.cards["batches/b.json::clip"][0], lambda inner, path: f'<a href="{path}">x</a>')
    assert page.count("<video muted controls") == 2 and ".refs/" in page and "clip.mp4" in page


def test_a_video_that_is_not_compared_shows_its_sampled_frames():
    data = video(SEEDS[:5])
    saved = Kinds.of().saved(OutputFile("5", "gifs", "clip.mp4", "", "output"), None, data)
    card = Videos().preview([saved])
    [shown] = card["videos"]
    assert shown["label"] == "video 0: mp4, 48x32, 5 frames"
    assert [f["index"] for f in shown["frames"]] == [0, 1, 2, 3, 4]
    assert Videos().thumbnails(card) == [shown["frames"][0]["new"]] and shown["frames"][0]["baseline"] is None


def test_comfy_reference_side_applies_to_frames(project):
    wide = [Image.fromarray(np.asarray(f.resize((480, 320)))) for f in frames([1, 2, 3])]
    out = io.BytesIO()
    wide[0].save(out, format="PNG", save_all=True, append_images=wide[1:], duration=100)
    for side, size in (("256", (256, 171)), ("full", (480, 320))):
        shutil.rmtree(project / "baselines", ignore_errors=True)  # a matching rerun keeps its entry
        check(project, out.getvalue(), "clip.png", update=True, reference_side=side)
        entry = json.loads((project / "baselines" / "b.json").read_text())["baselines"]["clip"][0]
        assert Image.open(project / "baselines" / entry["samples"][2]["reference"]).size == size
