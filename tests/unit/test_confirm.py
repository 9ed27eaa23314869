"""--comfy-confirm-failures without a server: the rerun input on every node, the verdicts the
reruns give, and the verdict's rerun count through a pytest-xdist payload (the real-server
test is tests/test_confirm_failures.py)."""

from __future__ import annotations

from comfy_plugin.baselines.verdict import REVIEWABLE, Verdict
from comfy_plugin.run.confirm import RERUN_INPUT, Confirmation, Rerun, uncached

FIRST = Verdict("diff", "image 0 differs from its baseline: phash-8 distance 9 > 6\n  more",
                readings={"hash": ((9.0,), 6.0)})


def test_every_node_gets_the_rerun_input_and_nothing_else_changes() -> None:
    workflow = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8}, "_meta": {"title": "x"}},
                "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}
    salted = uncached(workflow, "t1")
    assert salted["1"] == {"class_type": "EmptyImage", "inputs": {"width": 8, RERUN_INPUT: "t1"},
                           "_meta": {"title": "x"}}
    assert salted["2"]["inputs"] == {"images": ["1", 0], RERUN_INPUT: "t1"}
    assert RERUN_INPUT not in workflow["1"]["inputs"], "the prepared workflow is left as it was"


def test_a_rerun_that_differs_makes_the_prompt_nondeterministic() -> None:
    confirmation = Confirmation((Rerun("r1", [], (), "hash 30 > 6"),))
    verdict = confirmation.verdict(FIRST, "fail")
    assert (verdict.status, verdict.failed, verdict.reruns) == ("nondeterministic", True, 1)
    assert verdict.message.splitlines()[:3] == [
        "nondeterministic: the prompt's outputs change from run to run, so no baseline can hold them",
        "  rerun 1 (uncached) differs from the first run: hash 30 > 6",
        "  the first run against its baseline: image 0 differs from its baseline: phash-8 distance 9 > 6"]
    assert verdict.status not in REVIEWABLE
    assert confirmation.verdict(FIRST, "skip").skip
    assert not confirmation.verdict(FIRST, "pass").failed
    assert Verdict.from_json(verdict.to_json()) == verdict


def test_reruns_that_agree_confirm_the_regression() -> None:
    confirmation = Confirmation((Rerun("r1", [], (), ""), Rerun("r2", [], ("5",), "")))
    verdict = confirmation.verdict(FIRST, "fail")
    assert (confirmation.outcome, verdict.status, verdict.failed, verdict.reruns) == \
        ("regression confirmed", "diff", True, 2)
    assert verdict.message.startswith(FIRST.message)
    assert "regression confirmed: 2 uncached rerun(s) gave the first run's outputs again" in verdict.message
    assert "rerun 2 was partly served from ComfyUI's cache (nodes 5)" in verdict.message
    assert confirmation.prompt_ids == ["r1", "r2"]
