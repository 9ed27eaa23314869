"""Reference images beside baseline entries, and the metrics that compare them (SSIM and
CIEDE2000 with scikit-image, by mean and by worst tile), without a server."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from comfy_plugin.baselines.results import SessionResults, merge_worker_results
from comfy_plugin.baselines.store import BaselineStore, reference_name
from comfy_plugin.errors import BaselineError
from comfy_plugin.media.kinds import Kinds
from comfy_plugin.media.still.comparison import Comparison, compare, compare_all
from comfy_plugin.media.still.entries import Observation, observe
from comfy_plugin.media.still.metrics import REFERENCE_METRICS, by_name, threshold_keys
from comfy_plugin.media.still.metrics.pixels import matched, tile_means
from comfy_plugin.media.still.spec import parse_reference_side

ROOT = Path(__file__).resolve().parents[2]


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def texture(seed: int = 1, width: int = 96, height: int = 64) -> bytes:
    """Colourful blotches like the generated checkpoint's output: structure at several scales."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8))
    fine = rng.normal(0, 20, (height, width, 3))
    return png(np.asarray(coarse.resize((width, height), Image.BICUBIC), dtype=np.float64) + fine)


def changed(data: bytes, change) -> bytes:
    return png(np.asarray(change(Image.open(io.BytesIO(data)).convert("RGB")), dtype=np.float64))


def compared(base: bytes, new: bytes, **thresholds) -> Comparison:
    """``new`` against the baseline recorded from ``base``, references included."""
    stored = observe(base)
    return compare(stored.entry.with_reference("x.refs/0.png"), observe(new, thumbnail=False), 0, thresholds,
                   baseline_reference=stored.pixels)


# -- the reference ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size, side, expected", [
    ((1024, 512), 256, (256, 128)), ((64, 64), 256, (64, 64)), ((300, 1000), 128, (38, 128)),
    ((1024, 1024), None, (1024, 1024)),
])
def test_the_reference_is_a_downscale_to_its_long_side_never_an_upscale(size, side, expected):
    seen = observe(png(np.zeros((size[1], size[0], 3))), reference_side=side)
    assert pixels(seen.reference_png).shape[:2] == (expected[1], expected[0])
    assert np.array_equal(pixels(seen.reference_png), seen.pixels), "the PNG is lossless"


def test_full_keeps_the_original_bytes():
    data = texture(3)
    assert observe(data, reference_side=None).reference_png == data
    assert observe(data).reference_png != data  # re-encoded, though 96 px is under 256: no metadata kept


@pytest.mark.parametrize("text, side", [("256", 256), (512, 512), ("full", None), (" FULL ", None), (None, 256)])
def test_reference_side_setting(text, side):
    assert parse_reference_side(text) == side


@pytest.mark.parametrize("text", ["0", "8", "big", "-256", True])
def test_a_bad_reference_side_is_refused(text):
    with pytest.raises(BaselineError, match="reference side"):
        parse_reference_side(text)


def test_the_thumbnail_is_made_from_the_reference():
    seen = observe(png(np.full((512, 1024, 3), (200, 10, 10))))
    with Image.open(io.BytesIO(seen.thumbnail_png)) as thumb:
        assert thumb.size == (128, 64) and thumb.convert("RGB").getpixel((3, 3)) == (200, 10, 10)


def test_an_observation_carries_its_reference_through_json():
    """What a pending result keeps for --comfy-accept: the entry and both PNGs."""
    seen = observe(texture(1), thumbnail=False)
    data = json.loads(json.dumps(seen.to_json()))
    back = Observation.from_json(data)
    assert back.entry == seen.entry and back.reference_png and back.thumbnail_png
    assert np.array_equal(back.reference_pixels(), seen.pixels)
    del data["reference_png"]  # a pending result written before references existed
    assert Observation.from_json(data).reference_pixels() is None


# -- the metrics ---------------------------------------------------------------------------------


def test_identical_references_are_at_distance_zero():
    result = compared(texture(1), texture(1))
    assert result.status == "match"
    assert {k: result.distances[k] for k in ("ssim", "ssim_tile", "ciede2000", "ciede2000_tile")} == {
        "ssim": 0, "ssim_tile": 0, "ciede2000": 0, "ciede2000_tile": 0}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pixel_noise_of_one_level_matches(seed):
    base = texture(seed)
    noisy = png(pixels(base).astype(np.int16) + np.random.default_rng(seed).integers(-1, 2, pixels(base).shape))
    assert compared(base, noisy).status == "match"


def test_a_three_percent_patch_fails_by_its_worst_tile_though_the_mean_hides_it():
    base = texture(1)
    array = pixels(base).astype(np.float64)
    array[20:30, 40:50] = pixels(texture(9))[20:30, 40:50]  # 100 of 6144 pixels: 1.6 %
    result = compared(base, png(array))
    assert result.status == "diff"
    assert result.distances["ssim_tile"] > 10 * result.distances["ssim"], "a mean dilutes a local defect"
    assert result.distances["ssim_tile"] > by_name("ssim_tile").default_threshold
    assert "ssim_tile distance" in result.message and "worst tile: SSIM" in result.message


@pytest.mark.parametrize("change", [
    lambda im: ImageEnhance.Brightness(im).enhance(1.05),
    lambda im: ImageEnhance.Brightness(im).enhance(0.95),
], ids=["brighter", "darker"])
def test_five_percent_brightness_fails_by_colour_difference(change):
    result = compared(texture(1), changed(texture(1), change))
    assert result.status == "diff"
    assert result.distances["ciede2000"] > by_name("ciede2000").default_threshold
    assert "ciede2000 mean" in result.message


def test_a_hue_rotation_fails_by_colour_difference():
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(pixels(texture(1)))
    hsv[..., 0] = (hsv[..., 0] + 15 / 360) % 1
    result = compared(texture(1), png(np.rint(hsv2rgb(hsv) * 255)))
    assert result.status == "diff" and result.distances["ciede2000"] > 1


def test_a_one_pixel_blur_fails_by_ssim():
    result = compared(texture(1), changed(texture(1), lambda im: im.filter(ImageFilter.GaussianBlur(1))))
    assert result.status == "diff" and result.distances["ssim"] > by_name("ssim").default_threshold


def test_every_metric_threshold_and_distance_is_in_the_message():
    result = compared(texture(1), texture(2))
    for name in ("phash-8 distance", "colour ", "sharpness "):
        assert name in result.message
    for name, threshold in result.thresholds.items():
        assert f"threshold {threshold:g})" in result.message, name
    for name in ("ssim", "ssim_tile", "ciede2000", "ciede2000_tile"):
        assert f"{name} {result.distances[name]:g} (" in result.message


def test_thresholds_of_the_reference_metrics_can_be_set_and_turned_off():
    base = texture(1)
    brighter = changed(base, lambda im: ImageEnhance.Brightness(im).enhance(1.05))
    assert compared(base, brighter).status == "diff"
    off = {name: None for name in ("hash", "colour", "sharpness", "ssim", "ssim_tile", "ciede2000", "ciede2000_tile")}
    assert compared(base, brighter, **off).status == "match"
    assert compared(base, brighter, **{**off, "ciede2000": 1.0}).status == "diff"


def test_tile_means_split_as_numpy_array_split():
    values = np.random.default_rng(2).random((37, 21))
    expected = [[cell.mean() for cell in np.array_split(band, 8, axis=1)] for band in np.array_split(values, 8, axis=0)]
    assert np.allclose(tile_means(values), expected)
    assert tile_means(np.ones((3, 5))).shape == (3, 5), "fewer tiles than pixels never"


def test_tiny_references_are_compared_where_they_can_be():
    base = png(np.random.default_rng(1).integers(0, 256, (2, 5, 3)))
    result = compared(base, base)
    assert result.status == "match"
    assert "ssim not computed" in result.message and result.distances["ciede2000"] == 0


def test_references_of_other_sides_are_compared_at_the_smaller():
    base = texture(1, 512, 256)
    stored = observe(base, reference_side=128)
    new = observe(base, thumbnail=False, reference_side=256)
    pair = matched(stored.pixels, new.pixels)
    assert pair is not None and pair.size == (128, 64)
    result = compare(stored.entry.with_reference("r.png"), new, baseline_reference=stored.pixels)
    assert result.status == "match" and result.distances["ssim"] < 0.01
    assert matched(stored.pixels, stored.pixels[:, :100]) is None, "another aspect: the size check reports it"


# -- references on disk ----------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> BaselineStore:
    (tmp_path / "batches").mkdir()
    (tmp_path / "batches" / "x.json").write_text("{}")
    return BaselineStore(tmp_path / "baselines", tmp_path)


def batch(store: BaselineStore) -> Path:
    return store.rootdir / "batches" / "x.json"


def test_references_are_named_by_their_digest_and_never_rewritten(store):
    seen = observe(texture(1))
    store.write(batch(store), {"a": [seen], "b": [seen, observe(texture(2))]})
    refs = sorted(p.name for p in store.refs_dir(batch(store)).iterdir())
    assert len(refs) == 2, "one file for the same image in two entries"
    assert reference_name(seen.reference_png) in refs
    path = store.refs_dir(batch(store)) / reference_name(seen.reference_png)
    before = path.stat().st_mtime_ns
    store.write(batch(store), {"c": [seen]})
    assert path.stat().st_mtime_ns == before and path.read_bytes() == seen.reference_png
    entry = store.load(batch(store))["c"][0]
    assert store.side_file(batch(store), entry.reference) == path


def test_an_update_removes_the_references_no_entry_names(store):
    store.write(batch(store), {"a": [observe(texture(1))], "b": [observe(texture(2))]})
    store.write(batch(store), {"b": [observe(texture(3))]}, remove={"a"})
    names = {p.name for p in store.refs_dir(batch(store)).iterdir()}
    assert names == {reference_name(observe(texture(3)).reference_png)}
    store.write(batch(store), {}, remove={"b"})
    assert not store.refs_dir(batch(store)).exists()


def test_a_stored_reference_is_compared_from_its_file(store):
    store.write(batch(store), {"a": [observe(texture(1))]})
    entries = store.load(batch(store))["a"]
    references = [store.side_file(batch(store), e.reference) for e in entries]
    ok = compare_all(entries, [observe(texture(1), thumbnail=False)], baseline_references=references)
    assert ok.status == "match" and "ssim 0 (" in ok.message
    patched = pixels(texture(1)).astype(np.float64)
    patched[10:25, 10:25] = 0
    bad = compare_all(entries, [observe(png(patched), thumbnail=False)], baseline_references=references)
    assert bad.status == "diff" and "ssim_tile distance" in bad.message


def test_an_unreadable_reference_fails_naming_git_lfs(store):
    store.write(batch(store), {"a": [observe(texture(1))]})
    entry = store.load(batch(store))["a"][0]
    path = store.side_file(batch(store), entry.reference)
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n")
    result = compare(entry, observe(texture(1), thumbnail=False), baseline_reference=path)
    assert result.status == "diff" and "is a Git LFS pointer: run `git lfs pull`" in result.message
    path.unlink()
    result = compare(entry, observe(texture(1), thumbnail=False), baseline_reference=path)
    assert result.status == "diff" and "cannot be read" in result.message


def test_worker_results_carry_references_not_pixels(store):
    results = SessionResults()
    results.record("batches/x.json", "a", [observe(texture(1), thumbnail=False)])
    kept = results.updates["batches/x.json"]["a"][0]
    assert kept.pixels is not None and not kept.thumbnail_png  # the PNGs are made when written, at the end
    sent = json.loads(json.dumps(results.to_json()))
    assert set(sent["updates"]["batches/x.json"]["a"][0]) == {"entry", "thumbnail_png", "reference_png"}
    merged = merge_worker_results([sent], Kinds.of())
    store.write(batch(store), merged.updates["batches/x.json"])
    assert store.load(batch(store))["a"][0].reference


def test_an_older_pending_result_without_a_reference_writes_an_entry_without_one(store):
    data = observe(texture(1)).to_json()
    data.pop("reference_png")
    store.write(batch(store), {"a": [Observation.from_json(data)]})
    assert store.load(batch(store))["a"][0].reference == ""
    assert base64.b64decode(data["thumbnail_png"])


# -- imports -------------------------------------------------------------------------------------


def test_scikit_image_is_imported_only_when_references_are_compared():
    code = ("import sys, io, numpy as np; from PIL import Image; from comfy_plugin.media.still.comparison import compare; from comfy_plugin.media.still.entries import observe\n"
            "def png(value):\n"
            "    out = io.BytesIO(); Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(out, format='PNG')\n"
            "    return out.getvalue()\n"
            "loaded = lambda: sorted({m.split('.')[0] for m in sys.modules} & {'skimage', 'scipy'})\n"
            "old, new = observe(png(9)), observe(png(12)); print(loaded())\n"
            "compare(old.entry, new); print(loaded())\n"
            "compare(old.entry.with_reference('r.png'), old, baseline_reference=old.pixels); print(loaded())\n"
            "compare(old.entry.with_reference('r.png'), new, baseline_reference=old.pixels); print(loaded())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split("\n")[:4] == ["[]", "[]", "[]", "['scipy', 'skimage']"]


def test_every_metric_threshold_can_be_set_in_a_batch_file():
    schema = json.loads((ROOT / "comfy_plugin" / "batchfile" / "batch.schema.json").read_text())
    keys = set(schema["$defs"]["baseline"]["properties"])
    assert set(threshold_keys().values()) <= keys


def test_identical_references_compute_no_map():
    """A CPU rerun gives the same pixels: the distances are 0 without scikit-image's work."""
    seen = observe(texture(1))
    pair = matched(seen.pixels, seen.pixels.copy())
    assert pair.identical
    assert [m.distance(pair) for m in REFERENCE_METRICS] == [0, 0, 0, 0]
    assert pair._maps == {}
