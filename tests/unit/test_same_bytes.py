"""An output whose bytes are the ones its baseline entry recorded (the entry's ``sha256``)
matches without being decoded: the normal rerun on a CPU. Other bytes, and entries recorded
before digests, are decoded as before; an update does not churn the files."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from comfy_plugin.media.still import entries

from .test_regression import ROOT, noise_png, regression, run


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """batches/b.json on the noise workflow, as in test_regression.py."""
    shutil.copy(ROOT / "workflows-files" / "noise-image-api.json", tmp_path / "wf.json")
    (tmp_path / "batches").mkdir()
    (tmp_path / "batches" / "b.json").write_text(json.dumps({
        "parameters": {"workflow_file": "../wf.json",
                       "workflow_items": {"positive_prompt": "3,inputs,value", "seed": "2,inputs,seed"}},
        "prompts": [{"id": "fixed", "seed": 5, "positive_prompt": "a fox"}]}))
    return tmp_path


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the decodes of output images (``entries.observe``'s decoder)."""
    counted: list[int] = []
    real = entries.decode

    def counting(data: bytes) -> entries.DecodedImage:
        counted.append(len(data))
        return real(data)

    monkeypatch.setattr(entries, "decode", counting)
    return counted


def recorded(project: Path) -> tuple[Path, str]:
    reg = regression(project, missing="write")
    assert run(reg, project, "fixed", seed=1).status in ("missing", "recorded")
    reg.finish()
    path = project / "baselines" / "b.json"
    return path, path.read_text()


def test_the_entry_keeps_the_digest_of_the_bytes(proj: Path) -> None:
    path, _ = recorded(proj)
    entry = json.loads(path.read_text())["baselines"]["fixed"][0]
    assert entry["sha256"] == hashlib.sha256(noise_png(1)).hexdigest()


def test_a_byte_identical_rerun_is_not_decoded(proj: Path, decodes: list[int]) -> None:
    recorded(proj)
    decodes.clear()
    verdict = run(regression(proj, missing="fail"), proj, "fixed", seed=1)
    assert verdict.status == "match" and decodes == []
    assert "not decoded" in verdict.message
    assert {"hash", "colour", "sharpness", "ssim", "ciede2000"} <= set(verdict.readings)
    assert all(values in ((0.0,), (0,)) for values, _ in verdict.readings.values()), verdict.readings


def test_other_bytes_are_decoded(proj: Path, decodes: list[int]) -> None:
    recorded(proj)
    decodes.clear()
    assert run(regression(proj, missing="fail"), proj, "fixed", seed=2).status == "diff"
    assert len(decodes) == 1


def test_an_entry_without_a_digest_is_decoded_and_not_rewritten(proj: Path, decodes: list[int]) -> None:
    path, _ = recorded(proj)
    document = json.loads(path.read_text())
    del document["baselines"]["fixed"][0]["sha256"]  # as an older version wrote it
    path.write_text(json.dumps(document, indent=2))
    before = path.read_text()
    decodes.clear()
    assert run(regression(proj, missing="fail"), proj, "fixed", seed=1).status == "match"
    assert len(decodes) == 1
    update = regression(proj, update=True)
    assert run(update, proj, "fixed", seed=1).status == "unchanged"
    update.finish()
    assert path.read_text() == before


def test_an_update_of_the_same_bytes_does_not_churn(proj: Path, decodes: list[int]) -> None:
    path, before = recorded(proj)
    files = sorted(p.relative_to(proj) for p in (proj / "baselines").rglob("*"))
    decodes.clear()
    update = regression(proj, update=True)
    assert run(update, proj, "fixed", seed=1).status == "unchanged"
    update.finish()
    assert decodes == [] and path.read_text() == before
    assert sorted(p.relative_to(proj) for p in (proj / "baselines").rglob("*")) == files


def test_changed_parameters_with_the_same_bytes_record_the_stored_files(proj: Path, decodes: list[int]) -> None:
    """A changed test whose output is byte-identical: an update records the new parameters with
    the thumbnail and reference it already had, still without a decode."""
    path, _ = recorded(proj)
    batch = proj / "batches" / "b.json"
    document = json.loads(batch.read_text())
    document["prompts"][0]["positive_prompt"] = "a fox, renamed"
    batch.write_text(json.dumps(document))
    decodes.clear()
    update = regression(proj, update=True)
    assert run(update, proj, "fixed", seed=1).status == "recorded"
    update.finish()
    entry = json.loads(path.read_text())["baselines"]["fixed"][0]
    assert decodes == [] and entry["params"]["positive_prompt"] == "a fox, renamed"
    assert (path.parent / entry["thumbnail"]).is_file() and (path.parent / entry["reference"]).is_file()


def test_the_report_card_links_the_saved_file_and_the_reference(proj: Path, decodes: list[int]) -> None:
    """A passing image's part of the card embeds nothing: the report links both files."""
    recorded(proj)
    decodes.clear()
    reg = replace(regression(proj, missing="fail"), report=True)
    assert run(reg, proj, "fixed", seed=1).status == "match" and decodes == []
    (card,) = reg.cards["batches/b.json::fixed"]
    image, comparison = card["images"][0], card["comparisons"][0]
    assert image["path"] == "fixed.png" and Path(comparison["baseline_path"]).is_file()
    assert "/b.refs/" in comparison["baseline_path"] and comparison["status"] == "match"
    assert "thumb" not in image and "diff" not in comparison, "no picture made for a passing image"
