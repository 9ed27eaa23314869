"""What a session keeps a prompt until its end stays small, so ten thousand prompts cost little
more memory than a thousand (bench/scale.py's RSS figure): provenance waits in the spill file,
prompts that agree stage one reference, nothing is kept for a report nobody asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfy_plugin.baselines.results import SessionResults, SpilledMap
from comfy_plugin.baselines.store import BaselineStore
from comfy_plugin.baselines.verdict import Verdict
from comfy_plugin.files import StagedWrites
from comfy_plugin.media.kinds import Kinds
from comfy_plugin.media.still.entries import observe
from comfy_plugin.plugin.records import PromptRecord, saved_files
from comfy_plugin.report.html import Recorder

from .test_regression import noise_png

WORKFLOW = {str(n): {"class_type": "KSampler", "inputs": {"seed": n, "steps": 20, "cfg": 7.5}} for n in range(30)}


def test_provenance_with_its_workflow_waits_in_the_spill_file() -> None:
    results = SessionResults()
    provenance = {"device": "cpu", "workflow": WORKFLOW}
    results.record("batches/a.json", "p1", [observe(noise_png(1))], provenance)
    kept = results.origins["batches/a.json"]
    assert isinstance(kept, SpilledMap)
    assert kept["p1"] == provenance
    assert kept["p1"] is not kept["p1"], "read back from the file each time, not held"
    assert list(kept) == ["p1"] and len(kept) == 1
    assert results.origins_of("batches/b.json") == {}


def test_a_workers_provenance_reaches_the_controller() -> None:
    worker = SessionResults()
    worker.record("batches/a.json", "p1", [observe(noise_png(2))], {"device": "cpu", "workflow": WORKFLOW})
    merged = SessionResults()
    merged.merge(SessionResults.from_json(worker.to_json(), Kinds.of()))
    assert merged.to_json() == worker.to_json()
    assert merged.origins_of("batches/a.json")["p1"]["workflow"] == WORKFLOW


def test_prompts_that_agree_stage_their_reference_once(store: tuple[BaselineStore, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    baselines, batch = store
    staged: list[str] = []
    add = StagedWrites.add

    def counted(self: StagedWrites, path: Path, data: bytes) -> None:
        staged.append(path.parent.name)
        add(self, path, data)

    monkeypatch.setattr(StagedWrites, "add", counted)
    same = noise_png(3)
    path = baselines.write(batch, {f"p{n}": [observe(same)] for n in range(20)})
    assert path is not None
    refs = baselines.refs_dir(batch).name
    assert staged.count(refs) == 1, "one reference for twenty identical outputs"
    assert staged.count(baselines.thumbs_dir(batch).name) == 20
    entries, _ = baselines.load_all(batch)
    named = {name for es in entries.values() for e in es for name in e.side_files() if name.startswith(refs)}
    assert [f"{refs}/{p.name}" for p in baselines.refs_dir(batch).iterdir()] == sorted(named)


def test_spilled_provenance_writes_the_same_file_as_a_dict(store: tuple[BaselineStore, Path],
                                                           tmp_path: Path) -> None:
    baselines, batch = store
    results = SessionResults()
    observed = {f"p{n}": [observe(noise_png(10 + n))] for n in range(3)}
    for prompt_id, seen in observed.items():
        results.record("batches/x.json", prompt_id, seen, {"device": "cpu", "workflow": WORKFLOW, "n": prompt_id})
    path = baselines.write(batch, observed, provenance=results.origins_of("batches/x.json"))
    assert path is not None
    spilled = path.read_bytes()
    again = baselines.write(batch, observed, provenance={p: {"device": "cpu", "workflow": WORKFLOW, "n": p}
                                                         for p in observed})
    assert again is not None and again.read_bytes() == spilled
    _, origins = baselines.load_all(batch)
    assert origins["p2"] == {"device": "cpu", "workflow": WORKFLOW, "n": "p2"}


def test_nothing_is_kept_for_a_report_nobody_asked_for(tmp_path: Path) -> None:
    unused = Recorder(None)
    unused.outcome("batches/x.json::a", "passed", duration_s=0.1)
    assert unused.entries == {}
    for kept in (Recorder(tmp_path / "report.html"), Recorder(None, images=True)):  # a worker sends its entries
        kept.outcome("batches/x.json::a", "failed", "it differs")
        assert kept.entries["batches/x.json::a"]["outcome"] == "failed"


def test_the_summary_counts_saved_files_by_folder() -> None:
    records = [PromptRecord("b.json::a", "1", None, ("/out/cats/a_0.png", "/out/cats/a_1.png"), 0.1),
               PromptRecord("b.json::b", "2", None, ("/out/dogs/b_0.png",), 0.1),
               PromptRecord("b.json::c", "3", None, (), None)]
    assert saved_files(records) == (3, ["/out/cats", "/out/dogs"])
    assert saved_files([]) == (0, [])


def test_a_done_prompts_verdict_keeps_what_the_summary_reads() -> None:
    verdict = Verdict("diff", "image 0 differs from its baseline: hash distance 12 > 10",
                      readings={"hash": ((12, 3), 10), "ssim": ((0.05, None), 0.12), "colour": ((None,), None)},
                      uncompared=(".glb",), reruns=2)
    kept = verdict.summarised()
    assert kept.worst_reading() == verdict.worst_reading() == ("hash", 12, 10)
    assert (kept.status, kept.failed, kept.uncompared, kept.reruns) == ("diff", True, (".glb",), 2)
    assert kept.message == "" and len(kept.readings) == 1
    assert Verdict("recorded", "no baseline yet: recorded (1 image)").summarised().readings == {}
