"""What a session will record waits in a spill file, not in memory (baselines/results.py):
a run of 10,000 prompts keeps no 10,000 thumbnails and references until its end."""

from __future__ import annotations

from comfy_plugin.baselines.results import SessionResults, Spilled
from comfy_plugin.media.kinds import Kinds
from comfy_plugin.media.still.entries import observe

from .test_regression import noise_png


def test_observations_are_kept_on_disk_and_read_back_whole() -> None:
    results = SessionResults()
    seen = [observe(noise_png(seed)) for seed in (1, 2)]
    results.record("batches/a.json", "p1", seen, {"device": "cpu"})
    results.record("batches/a.json", "p2", [])  # no output: nothing to spill, still an update
    kept = results.updates["batches/a.json"]["p1"]
    assert isinstance(kept, Spilled) and len(kept) == 2
    back = list(kept)
    assert [o.to_json() for o in back] == [o.settled().to_json() for o in seen]
    assert back[0].thumbnail_png and back[0].reference_png  # the files the store writes
    assert kept[1].to_json() == back[1].to_json()
    assert results.updates["batches/a.json"]["p2"] == []
    assert results.origins["batches/a.json"]["p1"] == {"device": "cpu"}


def test_a_workers_results_reach_the_controller_through_json() -> None:
    worker = SessionResults()
    worker.record("batches/a.json", "p1", [observe(noise_png(3))])
    worker.collected("batches/a.json", ["p1", "p2"])
    merged = SessionResults()
    merged.merge(SessionResults.from_json(worker.to_json(), Kinds.of()))
    assert merged.to_json() == worker.to_json()
    assert isinstance(merged.updates["batches/a.json"]["p1"], Spilled)
