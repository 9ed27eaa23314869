"""The baselines package: metrics, the combined check, comparisons, the store and xdist merging."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from comfy_plugin.baselines.results import (
    FORMAT_VERSION,
    SessionResults,
    merge_worker_results,
)
from comfy_plugin.baselines.store import BaselineStore, reference_name, thumbnail_name
from comfy_plugin.errors import BaselineError, ComfyError
from comfy_plugin.media.kind import workflow_digest
from comfy_plugin.media.kinds import Kinds
from comfy_plugin.media.still.comparison import (
    NO_REFERENCE_HINT,
    Comparison,
    compare,
    compare_all,
    params_changes,
    stale_entries,
    updated_entries,
)
from comfy_plugin.media.still.entries import BaselineEntry, observe
from comfy_plugin.media.still.metrics import METRICS
from comfy_plugin.media.still.metrics.hash import (
    DEFAULT_THRESHOLD,
    default_threshold,
    hamming,
)
from comfy_plugin.media.still.spec import ALGORITHMS, HashSpec

SIDE = 256


# -- images ------------------------------------------------------------------------------------


def png(array: np.ndarray, **save: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(out, format="PNG", **save)
    return out.getvalue()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def rgb(colour: int) -> np.ndarray:
    return np.array([(colour >> 16) & 255, (colour >> 8) & 255, colour & 255], dtype=np.int16)


def noise_image(seed: int = 1, colour: int = 0x336699, side: int = SIDE, blur: float = 1.0) -> bytes:
    """Like the study's EmptyImage -> ImageAddNoise -> ImageBlur."""
    rng = np.random.default_rng(seed)
    array = rgb(colour) + rng.normal(0, 128, (side, side, 3))
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def flat_image(colour: int = 0x336699, side: int = SIDE, height: int | None = None) -> bytes:
    return png(np.broadcast_to(rgb(colour), (height or side, side, 3)).copy())


def with_noise(data: bytes, amplitude: int = 1, seed: int = 7) -> bytes:
    """Every channel of every pixel moved by at most ``amplitude``: a GPU rerun's nondeterminism."""
    array = pixels(data)
    return png(array + np.random.default_rng(seed).integers(-amplitude, amplitude + 1, array.shape))


def transformed(data: bytes, change) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    out = io.BytesIO()
    change(image).save(out, format="PNG")
    return out.getvalue()


def entry_of(data: bytes, **kwargs) -> BaselineEntry:
    return observe(data, **kwargs).entry


def compute_hash(data: bytes, spec: HashSpec = HashSpec()) -> str:
    return observe(data, spec, thumbnail=False).entry.features["hash"]


def distance(a_hex: str, b_hex: str, spec: HashSpec = HashSpec()) -> int:
    return hamming(a_hex, b_hex, spec)


# -- hashes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_hash_is_stable_for_identical_bytes_and_pixels(algorithm):
    spec = HashSpec(algorithm, 4 if algorithm == "colorhash" else 8)
    data = noise_image()
    first = compute_hash(data, spec)
    assert compute_hash(data, spec) == first
    assert compute_hash(png(pixels(data), compress_level=9), spec) == first  # other bytes, same pixels
    assert len(first) == -(-spec.bits // 4)
    assert distance(first, first, spec) == 0


def test_distances_are_hamming_distances_and_symmetric():
    a, b = compute_hash(noise_image(1)), compute_hash(noise_image(2))
    assert distance(a, b) == distance(b, a) == bin(int(a, 16) ^ int(b, 16)).count("1")
    assert distance(a, b) > 16  # two seeds: unrelated pictures


def test_colorhash_distance_uses_its_flat_layout():
    spec = HashSpec("colorhash", 3)
    red, blue = compute_hash(flat_image(0xFF0000), spec), compute_hash(flat_image(0x0000FF), spec)
    assert spec.bits == 42 and len(red) == 11
    assert distance(red, blue, spec) > 0
    assert distance(red, red, spec) == 0


def test_distance_rejects_hashes_of_another_setting():
    with pytest.raises(BaselineError, match="not a phash-8 hash"):
        distance("ab", "cd")
    with pytest.raises(BaselineError, match="not hexadecimal"):
        distance("zz" * 8, "00" * 8)


def test_phash_is_blind_to_flat_colour():
    """Why the colour check exists: phash reads luminance structure, a flat image has none."""
    assert distance(compute_hash(flat_image(0x336699)), compute_hash(flat_image(0xC04020))) == 0


@pytest.mark.parametrize("text, spec", [
    ("phash", HashSpec("phash", 8)),
    ("PHash-16", HashSpec("phash", 16)),
    (" dhash-12 ", HashSpec("dhash", 12)),
    ("colorhash-3", HashSpec("colorhash", 3)),
])
def test_hash_spec_parse(text, spec):
    assert HashSpec.parse(text) == spec
    assert HashSpec.parse(str(spec)) == spec


@pytest.mark.parametrize("make, message", [
    (lambda: HashSpec("md5"), "unknown hash algorithm 'md5'"),
    (lambda: HashSpec("phash", 1), "expected an integer in 2..64"),
    (lambda: HashSpec("whash", 12), "expected a power of 2"),
    (lambda: HashSpec("colorhash", 32), "expected 2..16"),
    (lambda: HashSpec.parse("phash-big"), "expected ALGORITHM or ALGORITHM-SIZE"),
])
def test_hash_spec_rejects_bad_settings(make, message):
    with pytest.raises(BaselineError, match=message):
        make()
    assert issubclass(BaselineError, ComfyError)


def test_default_threshold_scales_with_the_number_of_bits():
    assert default_threshold(HashSpec()) == DEFAULT_THRESHOLD
    assert default_threshold(HashSpec("phash", 16)) == 4 * DEFAULT_THRESHOLD
    assert default_threshold(HashSpec("phash", 2)) >= 1


def test_workflow_digest_is_canonical_and_ignores_titles():
    wf = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8}, "_meta": {"title": "A"}}}
    same = {"1": {"_meta": {"title": "B"}, "inputs": {"height": 8, "width": 8}, "class_type": "EmptyImage"}}
    other = {"1": {"class_type": "EmptyImage", "inputs": {"width": 9, "height": 8}}}
    assert workflow_digest(wf) == workflow_digest(same)
    assert workflow_digest(wf) != workflow_digest(other)
    assert len(workflow_digest(wf)) == 64


# -- the combined check --------------------------------------------------------------------------


def check(base: bytes, new: bytes) -> Comparison:
    return compare(entry_of(base), observe(new))


@pytest.mark.parametrize("amplitude", [1, 2])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reruns_with_pixel_noise_match(seed, amplitude):
    base = noise_image(seed)
    for noise_seed in range(3):
        assert check(base, with_noise(base, amplitude, noise_seed)).status == "match"


@pytest.mark.parametrize("amplitude", [1, 2])
@pytest.mark.parametrize("colour", [0x336699, 0x808080, 0x202020])
def test_flat_images_with_pixel_noise_match_although_their_hash_flips(colour, amplitude):
    base = flat_image(colour)
    results = [check(base, with_noise(base, amplitude, s)) for s in range(4)]
    assert all(r.status == "match" for r in results)
    assert "both images are flat" in results[0].message


@pytest.mark.parametrize("colour", [0x336699, 0x808080, 0xC04020])
def test_colour_shift_of_a_flat_image_fails(colour):
    base = pixels(flat_image(colour))
    shifted = base.copy()
    shifted[..., 2] += 8 if shifted[0, 0, 2] < 200 else -8
    result = check(flat_image(colour), png(shifted))
    assert result.status == "diff"
    assert result.distance == 0  # phash alone would pass it
    assert "colour distance 8 > 2" in result.message


def test_colour_shift_of_a_noise_image_fails():
    base = noise_image(1)
    result = check(base, png(pixels(base) + np.array([16, 0, 0])))
    assert result.status == "diff" and result.distances["colour"] > 8


def test_blur_fails_by_sharpness():
    base = noise_image(1)
    result = check(base, transformed(base, lambda im: im.filter(ImageFilter.GaussianBlur(1))))
    assert result.status == "diff"
    assert "sharpness" in result.message


def test_another_seed_fails_by_hash():
    result = check(noise_image(1), noise_image(2))
    assert result.status == "diff"
    assert result.distance > DEFAULT_THRESHOLD
    assert f"phash-8 distance {result.distance} > {DEFAULT_THRESHOLD}" in result.message


def test_five_percent_crop_scaled_back_fails():
    base = noise_image(1)
    inner = round(SIDE * 0.95)
    offset = (SIDE - inner) // 2
    zoom = transformed(base, lambda im: im.crop((offset, offset, offset + inner, offset + inner))
                       .resize((SIDE, SIDE), Image.BILINEAR))
    assert check(base, zoom).status == "diff"


@pytest.mark.parametrize("make", [
    lambda data: transformed(data, lambda im: im.resize((243, 243), Image.BILINEAR)),
    lambda data: transformed(data, lambda im: im.crop((6, 6, 249, 249))),
])
def test_another_size_fails_whatever_the_distances(make):
    base = flat_image(0x808080)
    result = check(base, make(base))
    assert result.status == "diff"
    assert "it is 243x243, the baseline 256x256" in result.message


def test_thresholds_can_turn_checks_off():
    base = flat_image(0x808080)
    brighter = flat_image(0x909090)
    assert compare(entry_of(base), observe(brighter)).status == "diff"
    assert compare(entry_of(base), observe(brighter), 0, {"colour": None}).status == "match"


def test_tiny_and_odd_images_have_signatures():
    for size in [(1, 1), (3, 2), (5, 7)]:
        data = png(np.full((size[1], size[0], 3), 100))
        entry = entry_of(data)
        assert (entry.width, entry.height) == size
        assert compare(entry, observe(data)).status == "match"


def test_an_unreadable_image_is_a_baseline_error():
    with pytest.raises(BaselineError, match="cannot read the image"):
        observe(b"not an image")


# -- comparisons and their messages ------------------------------------------------------------


def test_message_names_both_images_the_distance_and_the_threshold():
    result = compare(entry_of(noise_image(1)), observe(noise_image(2)), 1,
                     baseline_image="baselines/x.thumbs/a_1.png", new_image="images/x/P_a_20261124_01.png")
    assert result.failed and result.index == 1
    assert result.message.startswith("image 1 differs from its baseline: phash-8 distance")
    assert "baseline: baselines/x.thumbs/a_1.png" in result.message
    assert "new:      images/x/P_a_20261124_01.png" in result.message
    assert f"(threshold {DEFAULT_THRESHOLD})" in result.message
    assert "--comfy-update-baselines" in result.message


def test_missing_entry():
    result = compare(None, observe(flat_image()), new_image="images/a.png")
    assert result.status == "missing" and result.failed
    assert "no baseline" in result.message and "--comfy-missing-baseline=write" in result.message


def test_changed_parameters_are_a_changed_test():
    old = entry_of(noise_image(1), params={"seed": 1, "blur": 2}, workflow_digest="w1")
    new = observe(noise_image(2), params={"seed": 1, "blur": 3}, workflow_digest="w2")
    result = compare(old, new)
    assert result.status == "changed-test"
    assert "the prompt's parameters changed since the baseline was recorded (blur: 2 -> 3)" in result.message
    assert "a changed test, not necessarily a regression" in result.message


def test_changed_workflow_is_a_changed_test():
    old = entry_of(noise_image(1), params={"seed": 1}, workflow_digest="w1")
    result = compare(old, observe(noise_image(2), params={"seed": 1}, workflow_digest="w2"))
    assert result.status == "changed-test"
    assert "the workflow changed since the baseline was recorded" in result.message


def test_changed_test_within_threshold_matches_but_is_refreshed_on_update():
    old = entry_of(noise_image(1), params={"title": "a"}, workflow_digest="w1")
    seen = observe(noise_image(1), params={"title": "b"}, workflow_digest="w2")
    result = compare_all([old], [seen])
    assert result.status == "match"
    assert "parameters changed" in result.test_changed
    assert updated_entries(result) == [seen]


def test_unchanged_match_keeps_the_stored_entries_on_update():
    data = noise_image(1)
    stored = observe(data)
    entry = stored.entry.with_reference("x.refs/0.png")
    result = compare_all([entry], [observe(with_noise(data))], baseline_references=[stored.pixels])
    assert result.status == "match"
    assert updated_entries(result) is None


def test_a_match_without_a_reference_is_recorded_again_with_one():
    """A plain --comfy-update-baselines adds the references that older entries lack."""
    data = noise_image(1)
    result = compare_all([entry_of(data)], [observe(with_noise(data))])
    assert result.status == "match"
    assert NO_REFERENCE_HINT in result.message
    assert updated_entries(result) == result.observed


def test_another_hash_setting_cannot_be_compared():
    old = entry_of(noise_image(1), spec=HashSpec("dhash"))
    result = compare(old, observe(noise_image(1)))
    assert result.status == "changed-test"
    assert "recorded with dhash-8, this run uses phash-8" in result.message


def test_params_changes_lists_added_removed_and_changed_keys():
    assert params_changes({"a": 1, "b": "x", "c": [1]}, {"a": 2, "c": [1], "d": True}) == [
        "a: 1 -> 2", "removed b", "added d: true"]


def test_compare_all_compares_each_image_at_its_index():
    a, b = noise_image(1), noise_image(2)
    result = compare_all([entry_of(a), entry_of(b)], [observe(a), observe(a)],
                         baseline_images=["t0.png", "t1.png"], new_images=["n0.png", "n1.png"])
    assert [c.status for c in result.images] == ["match", "diff"]
    assert result.status == "diff"
    assert "image 1 differs" in result.message and "t1.png" in result.message and "n1.png" in result.message
    assert "image 0" not in result.message


def test_a_different_image_count_fails():
    a = noise_image(1)
    fewer = compare_all([entry_of(a), entry_of(a)], [observe(a)])
    assert fewer.status == "diff"
    assert "the prompt produced 1 image(s), its baseline holds 2" in fewer.message
    more = compare_all([entry_of(a)], [observe(a), observe(a)])
    assert more.status == "diff"
    assert "the prompt produced 2 image(s), its baseline holds 1" in more.message
    assert "no baseline" not in more.message


def test_a_different_image_count_after_a_parameter_change_is_a_changed_test():
    a = noise_image(1)
    result = compare_all([entry_of(a, params={"batch_size": 2})] * 2, [observe(a, params={"batch_size": 1})])
    assert result.status == "changed-test"
    assert "batch_size: 2 -> 1" in result.message


def test_no_baseline_for_the_prompt():
    result = compare_all(None, [observe(flat_image())])
    assert result.status == "missing" and result.expected is None
    assert "no baseline for this prompt (1 image(s))" in result.message
    assert updated_entries(result) == result.observed


def test_stale_entries():
    stored = {"a": [], "b": [], "gone": [], "also-gone": []}
    assert stale_entries(stored, {"a", "b", "new"}) == ["also-gone", "gone"]
    assert stale_entries({}, {"a"}) == []


# -- the store -----------------------------------------------------------------------------------


@pytest.fixture
def tmp_project(tmp_path: Path) -> Path:
    (tmp_path / "batches" / "sub").mkdir(parents=True)
    for rel in ["batches/x.json", "batches/sub/y.json", "other.json"]:
        (tmp_path / rel).write_text("{}")
    return tmp_path


def test_paths_mirror_the_batches_folder(tmp_project):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    assert store.baseline_path(tmp_project / "batches" / "x.json") == tmp_project / "baselines" / "x.json"
    assert store.baseline_path(tmp_project / "batches/sub/y.json") == tmp_project / "baselines" / "sub" / "y.json"
    assert store.thumbs_dir(tmp_project / "batches/sub/y.json") == tmp_project / "baselines" / "sub" / "y.thumbs"
    assert store.baseline_path(tmp_project / "other.json") == tmp_project / "baselines" / "_rootdir" / "other.json"
    assert store.key(tmp_project / "batches/sub/y.json") == "batches/sub/y.json"


def test_environment_label_keeps_a_separate_set(tmp_project):
    cpu = BaselineStore(tmp_project / "baselines", tmp_project, env="cpu")
    cuda = BaselineStore(tmp_project / "baselines", tmp_project, env="cuda")
    batch = tmp_project / "batches" / "x.json"
    assert cpu.baseline_path(batch) == tmp_project / "baselines" / "cpu" / "x.json"
    cpu.write(batch, {"a": [observe(flat_image())]})
    assert cpu.load(batch).keys() == {"a"}
    assert cuda.load(batch) == {}
    assert json.loads(cpu.baseline_path(batch).read_text())["environment"] == "cpu"


@pytest.mark.parametrize("env", ["", "../x", "a/b", "_rootdir", "c u d a"])
def test_unsafe_environment_labels_are_refused(tmp_project, env):
    with pytest.raises(BaselineError, match="environment label"):
        BaselineStore(tmp_project / "baselines", tmp_project, env=env)


def test_a_batch_file_outside_the_rootdir_is_refused(tmp_project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "z.json"
    with pytest.raises(BaselineError, match="outside"):
        BaselineStore(tmp_project / "baselines", tmp_project).baseline_path(outside)


def test_round_trip(tmp_project):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    images = [noise_image(1), noise_image(2)]
    seen = [observe(d, seed=42, workflow_digest="abc", params={"seed": 42, "text": "a cat"}) for d in images]
    path = store.write(batch, {"a-cat": seen})
    loaded = store.load(batch)
    assert list(loaded) == ["a-cat"]
    assert [e.features["hash"] for e in loaded["a-cat"]] == [o.entry.features["hash"] for o in seen]
    first = loaded["a-cat"][0]
    assert (first.seed, first.workflow_digest, first.params) == (42, "abc", {"seed": 42, "text": "a cat"})
    assert (first.features["algorithm"], first.features["hash_size"], first.width, first.height) == ("phash", 8, SIDE, SIDE)
    assert first.thumbnail == "x.thumbs/a-cat_0.png"
    assert first.reference == f"x.refs/{reference_name(seen[0].reference_png)}"
    references = [store.side_file(batch, e.reference) for e in loaded["a-cat"]]
    assert compare_all(loaded["a-cat"], seen, baseline_references=references).status == "match"
    document = json.loads(path.read_text())
    assert document["format"] == FORMAT_VERSION and document["batch_file"] == "batches/x.json"
    assert path.read_text() == json.dumps(document, sort_keys=True, indent=2) + "\n"  # diffable


def test_thumbnails_are_small_pngs_beside_the_file(tmp_project):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    store.write(batch, {"wide": [observe(flat_image(0xFF0000, side=512, height=256))]})
    entry = store.load(batch)["wide"][0]
    thumb = store.side_file(batch, entry.thumbnail)
    assert thumb == tmp_project / "baselines" / "x.thumbs" / "wide_0.png"
    with Image.open(thumb) as img:
        assert img.format == "PNG" and img.size == (128, 64)
        assert img.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_unsafe_prompt_ids_get_safe_distinct_thumbnail_names(tmp_project):
    assert thumbnail_name("a-cat", 0) == "a-cat_0.png"
    names = {thumbnail_name(pid, 1) for pid in ["a/b", "a-b", "a:b", "../../etc"]}
    assert len(names) == 4
    assert all("/" not in n and not n.startswith(".") for n in names)
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    store.write(batch, {"../../evil": [observe(flat_image())], "fox[happy]": [observe(flat_image())]})
    thumbs = sorted(p.name for p in store.thumbs_dir(batch).iterdir())
    assert len(thumbs) == 2 and all(p.startswith(("etc-", "evil-", "fox-happy-")) for p in thumbs)
    assert not (tmp_project / "evil").exists()


def test_write_merges_updates_and_removes(tmp_project):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    store.write(batch, {"a": [observe(noise_image(1))], "b": [observe(noise_image(2)), observe(noise_image(3))]})
    store.write(batch, {"b": [observe(noise_image(4))], "c": [observe(noise_image(5))]}, remove={"a"})
    loaded = store.load(batch)
    assert sorted(loaded) == ["b", "c"]
    assert loaded["b"][0].features["hash"] == compute_hash(noise_image(4)) and len(loaded["b"]) == 1
    thumbs = sorted(p.name for p in store.thumbs_dir(batch).iterdir())
    assert thumbs == ["b_0.png", "c_0.png"]  # a_0 and b_1 went with their entries


def test_a_prompt_without_images_gets_no_entry(tmp_project):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    store.write(batch, {"a": [observe(flat_image())], "b": [observe(flat_image())]})
    store.write(batch, {"a": []})
    assert sorted(store.load(batch)) == ["b"]


def test_removing_everything_removes_the_files(tmp_project):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    path = store.write(batch, {"a": [observe(flat_image())]})
    store.write(batch, {}, remove={"a"})
    assert not path.exists()
    assert not store.thumbs_dir(batch).exists()


def test_atomic_write_leaves_no_temporary_files(tmp_project):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    for n in range(3):
        store.write(batch, {f"p{n}": [observe(noise_image(n))]})
    leftovers = [p for p in (tmp_project / "baselines").rglob("*") if p.name.startswith(".") or p.suffix == ".part"]
    assert leftovers == []


def test_a_failed_write_keeps_the_previous_file(tmp_project, monkeypatch):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    path = store.write(batch, {"a": [observe(flat_image())]})
    before = path.read_bytes()

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(BaselineError, match="No space left on device"):
        store.write(batch, {"b": [observe(flat_image())]})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert not [p for p in (tmp_project / "baselines").rglob("*.part")]


@pytest.mark.parametrize("text, message", [
    ('{"format": 1, "baselines": {', "line 1, column"),
    ('[]', "not a baseline file"),
    ('{"format": 99, "baselines": {}}', "baseline format 99"),
    ('{"format": 1, "baselines": {"a": {}}}', "expected a list"),
    ('{"format": 1, "baselines": {"a": [{"hash": "00"}]}}', r"baselines.a\[0\]: not a baseline entry \(missing"),
])
def test_a_broken_baseline_file_is_reported_with_its_path(tmp_project, text, message):
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    batch = tmp_project / "batches" / "x.json"
    store.baseline_path(batch).parent.mkdir(parents=True)
    store.baseline_path(batch).write_text(text)
    with pytest.raises(BaselineError, match=message) as info:
        store.load(batch)
    assert str(store.baseline_path(batch)) in str(info.value)


def test_load_of_a_batch_without_baselines_is_empty(tmp_project):
    assert BaselineStore(tmp_project / "baselines", tmp_project).load(tmp_project / "batches" / "x.json") == {}


# -- pytest-xdist: workers report, the controller merges ---------------------------------------


def test_worker_results_merge_through_json(tmp_project):
    w1, w2 = SessionResults(), SessionResults()
    w1.record("batches/x.json", "a", [observe(noise_image(1))])
    w1.record("batches/x.json", "kept", None)  # matched: nothing to record
    w2.record("batches/x.json", "b", [observe(noise_image(2)), observe(noise_image(3))])
    w2.record("batches/sub/y.json", "c", [observe(flat_image())])
    w1.collected("batches/x.json", ["a", "b", "kept"])
    w2.collected("batches/x.json", ["a", "b", "kept"])
    payloads = [json.loads(json.dumps(w.to_json())) for w in (w1, w2)]  # what execnet carries
    merged = merge_worker_results(payloads, Kinds.of())
    assert sorted(merged.updates) == ["batches/sub/y.json", "batches/x.json"]
    assert sorted(merged.updates["batches/x.json"]) == ["a", "b"]
    assert len(merged.updates["batches/x.json"]["b"]) == 2
    assert merged.ids == {"batches/x.json": {"a", "b", "kept"}}
    original = w2.updates["batches/x.json"]["b"][1]
    assert merged.updates["batches/x.json"]["b"][1] == original  # thumbnails survive base64
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    for key, prompts in merged.updates.items():
        store.write(tmp_project / key, prompts)
    assert sorted(store.load(tmp_project / "batches/x.json")) == ["a", "b"]


def test_later_worker_result_wins_for_the_same_prompt():
    w1, w2 = SessionResults(), SessionResults()
    w1.record("x.json", "a", [observe(noise_image(1))])
    w2.record("x.json", "a", [observe(noise_image(2))])
    merged = merge_worker_results([w1.to_json(), w2.to_json()], Kinds.of())
    assert merged.updates["x.json"]["a"][0].entry.features["hash"] == compute_hash(noise_image(2))


def test_worker_results_of_another_format_are_refused():
    with pytest.raises(BaselineError, match="format"):
        merge_worker_results([{"format": 0}], Kinds.of())


# -- one decode, the metrics and their equivalence with imagehash ---------------------------------

ROOT = Path(__file__).resolve().parents[2]


def structured_images() -> list[tuple[str, bytes]]:
    """Images with structure (not flat): noise of several kinds, a gradient, stripes, and the
    thumbnails of the repository's own baselines (real SD1.5 and noise outputs)."""
    ramp = np.linspace(0, 255, SIDE)
    images = [(f"noise-{seed}-{blur}", noise_image(seed, blur=blur)) for seed in (1, 2, 3) for blur in (0, 1, 3)]
    images.append(("gradient", png(np.dstack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (SIDE, 1)),
                                              np.tile(ramp[:, None], (1, SIDE))]))))
    images.append(("stripes", png(np.tile(((np.arange(SIDE) // 8) % 2 * 255)[None, :, None], (SIDE, 1, 3)))))
    images.append(("odd-size", noise_image(4, side=77)))
    images += [(p.name, p.read_bytes()) for p in sorted(ROOT.glob("baselines/*.thumbs/*.png"))]
    return images


@pytest.mark.parametrize("spec", [HashSpec("phash", 8), HashSpec("phash", 16), HashSpec("ahash", 8),
                                  HashSpec("dhash", 12), HashSpec("whash", 8), HashSpec("colorhash", 3)],
                         ids=str)
def test_hashes_are_imagehash_bits(spec):
    """phash is computed here without scipy: its bits must stay imagehash's, or stored baselines break."""
    import imagehash

    reference = {"phash": imagehash.phash, "ahash": imagehash.average_hash, "dhash": imagehash.dhash,
                 "whash": imagehash.whash}
    for name, data in structured_images():
        rgb = Image.open(io.BytesIO(data)).convert("RGB")
        if spec.algorithm == "colorhash":
            expected = str(imagehash.colorhash(rgb, binbits=spec.size))
        else:
            expected = str(reference[spec.algorithm](rgb, hash_size=spec.size))
        assert compute_hash(data, spec) == expected, name


@pytest.mark.parametrize("spec", [HashSpec("phash", 8), HashSpec("colorhash", 3), HashSpec("dhash", 5)], ids=str)
def test_hamming_is_imagehash_difference(spec):
    import imagehash

    hashes = [compute_hash(data, spec) for _, data in structured_images()[:6]]
    for a in hashes:
        for b in hashes:
            if spec.algorithm == "colorhash":
                expected = imagehash.hex_to_flathash(a, spec.size) - imagehash.hex_to_flathash(b, spec.size)
            else:
                expected = imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b)
            assert hamming(a, b, spec) == expected


@pytest.mark.parametrize("size", [(SIDE, SIDE), (77, 45), (5, 7), (3, 2)])
def test_colour_and_sharpness_are_the_float_means(size):
    """The integer sums give what the float means of numpy.array_split cells gave before."""
    from comfy_plugin.media.still.metrics.colour import COLOUR_GRID

    array = np.random.default_rng(5).integers(0, 256, (size[1], size[0], 3))
    features = observe(png(array)).entry.features
    image = Image.open(io.BytesIO(png(array))).convert("RGB")
    if image.width < COLOUR_GRID or image.height < COLOUR_GRID:
        image = image.resize((max(image.width, COLOUR_GRID), max(image.height, COLOUR_GRID)), Image.NEAREST)
    pixels = np.asarray(image, dtype=np.float64)
    means = [cell.mean(axis=(0, 1)) for band in np.array_split(pixels, COLOUR_GRID, axis=0)
             for cell in np.array_split(band, COLOUR_GRID, axis=1)]
    assert features["colour"] == np.rint(np.concatenate(means) * 256).astype(">u2").tobytes().hex()
    grey = np.asarray(Image.open(io.BytesIO(png(array))).convert("L"), dtype=np.float64)
    steps = [np.abs(np.diff(grey, axis=axis)).mean() for axis in (0, 1) if grey.shape[axis] > 1]
    assert features["sharpness"] == round(float(np.mean(steps)), 2)


def test_an_image_is_decoded_once_for_every_metric_and_its_thumbnail(monkeypatch):
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    seen = observe(noise_image(1))
    assert len(opened) == 1
    assert seen.thumbnail_png and set(seen.entry.features) == {"algorithm", "hash_size", "hash", "contrast",
                                                                "structure", "colour", "sharpness"}


def test_the_thumbnail_is_made_only_when_asked_for(tmp_project):
    seen = observe(noise_image(1), thumbnail=False)
    assert seen.thumbnail_png == b"" and seen.reference_png == b""
    assert seen.entry == observe(noise_image(1)).entry
    assert seen.recordable() == observe(noise_image(1)), "made from the reference pixels when it is written"
    store = BaselineStore(tmp_project / "baselines", tmp_project)
    with pytest.raises(BaselineError, match="without its thumbnail"):
        store.write(tmp_project / "batches" / "x.json", {"a": [seen.without_pixels()]})


def test_metrics_are_one_list_of_one_interface():
    names = [m.name for m in METRICS]
    fields = [f for m in METRICS for f in m.fields]
    assert names == ["hash", "colour", "sharpness"]
    assert len(set(fields)) == len(fields), "each entry key belongs to one metric"
    assert not set(fields) & {"width", "height", "seed", "workflow_digest", "params", "thumbnail"}
    seen = observe(noise_image(1)).entry
    for metric in METRICS:
        values = seen.values(metric)
        metric.check(values)
        assert metric.distance(values, values) == 0
        reading = metric.describe(values, values, 0, metric.default_threshold(values))
        assert reading.figure and not reading.problem


def test_an_entry_recorded_before_a_metric_existed_is_compared_by_the_others():
    data = noise_image(1)
    stored = entry_of(data).to_json()
    del stored["sharpness"]  # as if sharpness had been added after this file was written
    old = BaselineEntry.from_json(stored, "x")
    result = compare(old, observe(transformed(data, lambda im: im.filter(ImageFilter.GaussianBlur(1)))))
    assert "sharpness not recorded in the baseline" in result.message
    assert "sharpness" not in result.distances
    with pytest.raises(BaselineError, match=r"x: not a baseline entry \(missing contrast, hash_size\)"):
        BaselineEntry.from_json({k: v for k, v in stored.items() if k not in ("contrast", "hash_size")}, "x")


def test_the_repository_baseline_files_read_and_write_back_unchanged(tmp_path):
    """Files recorded before the metrics became a package keep their exact form."""
    files = sorted(p for p in ROOT.glob("baselines/**/*.json") if not p.name.endswith(".perf.json"))  # time baselines: perf.py
    assert files, "the repository holds baseline files"
    for path in files:
        document = json.loads(path.read_text())
        rel = path.relative_to(ROOT / "baselines")
        store = BaselineStore(ROOT / "baselines", ROOT)
        loaded = store.load(ROOT / "batches" / rel)
        assert {pid: [e.to_json() for e in entries] for pid, entries in loaded.items()} == document["baselines"]


def test_the_package_imports_no_image_library_until_pixels_are_read():
    import subprocess
    import sys

    code = ("import sys, comfy_plugin.baselines.regression; from comfy_plugin.media.still.spec import HashSpec; "
            "HashSpec.parse('phash-8'); "
            "heavy = lambda: sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'PIL', 'imagehash', 'scipy'}); "
            "print(heavy()); from comfy_plugin.media.still.entries import observe; print(heavy())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "['PIL', 'imagehash', 'numpy']", "reading pixels never loads scipy"
