"""regression.py without a server: which prompts are compared, what a missing baseline means,
and verdicts that travel from pytest-xdist workers to the controller as JSON."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comfy_plugin.baselines.regression import Regression, is_compared
from comfy_plugin.baselines.verdict import Verdict, merge_verdicts
from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.client import OutputFile
from comfy_plugin.errors import BaselineError
from comfy_plugin.media.kind import CompareContext, SavedOutput
from comfy_plugin.media.still.kind import StillImages
from comfy_plugin.run.prepare import PreparedPrompt
from comfy_plugin.settings import BaselineSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = BaselineSettings(update=False, prune=False, root=Path("baselines"), env=None, missing="pass",
                            hash="phash-8", threshold=None, fresh=False)


def noise_png(seed: int, side: int = 32) -> bytes:
    array = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def tmp_project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "workflows-files" / "noise-image-api.json", tmp_path / "wf.json")
    (tmp_path / "batches").mkdir()
    batch = {
        "parameters": {"workflow_file": "../wf.json",
                       "workflow_items": {"positive_prompt": "3,inputs,value", "seed": "2,inputs,seed"}},
        "prompts": [{"id": "fixed", "seed": 5, "positive_prompt": "a fox"},
                    {"id": "says-random", "seed": 6, "positive_prompt": "random"},
                    {"id": "drawn", "seed": "random", "positive_prompt": "a fox"}],
    }
    (tmp_path / "batches" / "b.json").write_text(json.dumps(batch))
    return tmp_path


def regression(tmp_project: Path, **changes) -> Regression:
    settings = replace(SETTINGS, root=tmp_project / "baselines", **changes)
    return Regression.create(settings, tmp_project, "batches")


def run(reg: Regression, tmp_project: Path, prompt_id: str, seed: int = 1, node: str = "") -> Verdict:
    """Check one prompt of batches/b.json as if the server had produced a noise image from ``seed``."""
    batch = load_batch(tmp_project / "batches" / "b.json", "batches/b.json", tmp_project)
    reg.collected(batch)
    spec = next(s for s in batch.prompts if s.id == prompt_id)
    prepared = PreparedPrompt(batch.workflow, dict(spec.values), None)
    output = SavedOutput(OutputFile("5", "images", f"{prompt_id}.png", "", "output"), None, noise_png(seed), "image", "32x32")
    return reg.check(node or f"batches/b.json::{prompt_id}", batch, spec, prepared, [output])


def test_a_prompt_whose_text_is_the_word_random_is_still_compared(tmp_project):
    """Only seed keys may mean random: before, any value "random" left the regression set."""
    batch = load_batch(tmp_project / "batches" / "b.json", "batches/b.json", tmp_project)
    compared = {spec.id: is_compared(spec) for spec in batch.prompts}
    assert compared == {"fixed": True, "says-random": True, "drawn": False}
    verdict = run(regression(tmp_project), tmp_project, "says-random")
    assert verdict.status == "missing"
    assert (run(regression(tmp_project), tmp_project, "drawn").message
            == 'not compared with a baseline: seed is "random"')


def test_a_missing_baseline_passes_by_default_and_says_how_to_record_it(tmp_project):
    verdict = run(regression(tmp_project), tmp_project, "fixed")
    assert (verdict.status, verdict.failed, verdict.skip) == ("missing", False, False)
    assert verdict.message == ("no baseline yet for this prompt (1 image(s)); record one with: "
                               "pytest batches/b.json::fixed --comfy-update-baselines")
    assert not (tmp_project / "baselines").exists()


@pytest.mark.parametrize("missing, status, failed, skip", [
    ("fail", "missing", True, False), ("skip", "missing", False, True), ("write", "recorded", False, False)])
def test_the_other_missing_baseline_policies(tmp_project, missing, status, failed, skip):
    reg = regression(tmp_project, missing=missing)
    verdict = run(reg, tmp_project, "fixed")
    assert (verdict.status, verdict.failed, verdict.skip) == (status, failed, skip)
    reg.finish()
    assert bool(reg.written) == (missing == "write")


def test_an_unknown_missing_policy_is_refused_at_start(tmp_project):
    with pytest.raises(BaselineError, match="--comfy-missing-baseline 'maybe'"):
        regression(tmp_project, missing="maybe")


def test_a_recorded_baseline_matches_and_another_image_fails(tmp_project):
    reg = regression(tmp_project, missing="write")
    run(reg, tmp_project, "fixed", seed=1)
    reg.finish()
    again = regression(tmp_project, missing="fail")
    assert run(again, tmp_project, "fixed", seed=1).status == "match"
    other = run(again, tmp_project, "fixed", seed=2)
    distances, threshold = other.readings["hash"]
    assert other.failed and other.status == "diff" and threshold == 6
    assert distances[0] is not None and distances[0] > 6
    # --comfy-threshold
    loose = run(regression(tmp_project, threshold=64, missing="fail"), tmp_project, "fixed", seed=2)
    assert loose.readings["hash"][1] == 64
    assert "phash-8 distance" not in loose.message.splitlines()[0], "the hash is within 64 bits"


def test_verdicts_travel_as_json():
    verdicts = [Verdict("diff", "image 0 differs", readings={"hash": ((12, None), 6)}), Verdict("missing", "no baseline", skip=True),
                Verdict("missing", "no baseline yet", accepted=True), Verdict("not-compared", "random")]
    for verdict in verdicts:
        data = json.loads(json.dumps(verdict.to_json()))
        assert Verdict.from_json(data) == verdict
        assert Verdict.from_json(data).failed == verdict.failed
    with pytest.raises(BaselineError, match="not a baseline verdict"):
        Verdict.from_json({"message": "no status"})


def test_the_controller_counts_every_workers_verdicts_and_writes_once(tmp_project):
    """Prompts of one file on two workers: the controller gets both verdicts and both records."""
    workers = [regression(tmp_project, missing="write"), regression(tmp_project, missing="write")]
    run(workers[0], tmp_project, "fixed", seed=1)
    run(workers[1], tmp_project, "says-random", seed=2)
    controller = regression(tmp_project, missing="write")
    for worker in workers:
        controller.absorb(json.loads(json.dumps(worker.results.to_json())))
        merge_verdicts(controller.verdicts, json.loads(json.dumps({n: v.to_json() for n, v in worker.verdicts.items()})))
    assert sorted(controller.verdicts) == ["batches/b.json::fixed", "batches/b.json::says-random"]
    assert {v.status for v in controller.verdicts.values()} == {"recorded"}
    controller.finish()
    assert controller.written == [str(tmp_project / "baselines" / "b.json")]
    stored = json.loads((tmp_project / "baselines" / "b.json").read_text())["baselines"]
    assert sorted(stored) == ["fixed", "says-random"]


def test_verdicts_carry_every_metric_reading_through_json(tmp_project):
    reg = regression(tmp_project, missing="write")
    run(reg, tmp_project, "fixed", seed=1)
    reg.finish()
    verdict = run(regression(tmp_project, missing="fail"), tmp_project, "fixed", seed=2)
    assert list(verdict.readings) == ["hash", "colour", "sharpness", "ssim", "ssim_tile", "ciede2000", "ciede2000_tile"]
    distances, threshold = verdict.readings["ssim"]
    assert len(distances) == 1 and distances[0] > threshold > 0
    hashes, hash_threshold = verdict.readings["hash"]
    assert len(hashes) == 1 and hash_threshold == 6
    back = Verdict.from_json(json.loads(json.dumps(verdict.to_json())))
    assert back == verdict


def test_an_update_adds_references_to_entries_recorded_before_them(tmp_project):
    reg = regression(tmp_project, missing="write")
    run(reg, tmp_project, "fixed", seed=1)
    reg.finish()
    path = tmp_project / "baselines" / "b.json"
    document = json.loads(path.read_text())
    del document["baselines"]["fixed"][0]["reference"]  # as an older version wrote it
    path.write_text(json.dumps(document))
    shutil.rmtree(tmp_project / "baselines" / "b.refs")
    verdict = run(regression(tmp_project, missing="fail"), tmp_project, "fixed", seed=1)
    assert verdict.status == "match" and "the baseline has no reference image" in verdict.message
    assert "ssim" not in verdict.readings
    update = regression(tmp_project, update=True)
    assert run(update, tmp_project, "fixed", seed=1).status == "recorded"
    update.finish()
    entry = json.loads(path.read_text())["baselines"]["fixed"][0]
    assert (path.parent / entry["reference"]).is_file()
    assert run(regression(tmp_project, update=True), tmp_project, "fixed", seed=1).status == "unchanged"


def test_reference_thresholds_come_from_the_batch_file_and_the_side_from_the_settings(tmp_project):
    reg = regression(tmp_project, missing="write", reference_side="16")
    run(reg, tmp_project, "fixed", seed=1)
    reg.finish()
    entry = json.loads((tmp_project / "baselines" / "b.json").read_text())["baselines"]["fixed"][0]
    with Image.open(tmp_project / "baselines" / entry["reference"]) as ref:
        assert ref.size == (16, 16)
    batch = load_batch(tmp_project / "batches" / "b.json", "batches/b.json", tmp_project)
    batch.baseline.update(ssim_threshold=None, ciede2000_tile_threshold=7.5)
    spec = next(s for s in batch.prompts if s.id == "fixed")
    reg = regression(tmp_project)
    context = CompareContext(reg.settings, (spec.values.get("baseline") or {}, batch.baseline), None, "", {}, False,
                             None, Path)
    _, given = StillImages().settings(context)
    assert given == {"ssim": None, "ciede2000_tile": 7.5}
    with pytest.raises(BaselineError, match="reference side 'huge'"):
        regression(tmp_project, reference_side="huge")


def test_a_result_kept_for_review_carries_its_reference(tmp_project):
    reg = regression(tmp_project, missing="write")
    run(reg, tmp_project, "fixed", seed=1)
    reg.finish()
    reg = regression(tmp_project, missing="fail")
    run(reg, tmp_project, "fixed", seed=2)
    _, _, observations = reg.reviewable["batches/b.json::fixed"]
    data = json.loads(json.dumps(observations[0].to_json()))
    assert data["reference_png"] and data["thumbnail_png"]
