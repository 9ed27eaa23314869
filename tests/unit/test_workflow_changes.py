"""The compact map of a workflow that a baseline's provenance keeps, and the changes it names."""

from __future__ import annotations

from comfy_plugin.baselines.workflow_changes import CHANGED, changes, described, node_inputs

BEFORE = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "color": 3355443}, "_meta": {"title": "Canvas"}},
    "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 0}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a long prompt " * 10}},
}


def test_the_map_keeps_short_values_links_and_a_digest_of_long_ones() -> None:
    kept = node_inputs(BEFORE)
    assert kept["1"] == {"class": "EmptyImage", "inputs": {"color": 3355443, "width": 64}}
    assert kept["2"]["inputs"]["image"] == ["1", 0]
    assert kept["6"]["inputs"]["text"].startswith("sha256:") and len(kept["6"]["inputs"]["text"]) == 19


def test_changes_name_each_node_and_input_in_node_order() -> None:
    after = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 96, "color": 3355443, "batch_size": 2}},
        "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "another long prompt " * 10}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}},
    }
    assert changes(node_inputs(BEFORE), node_inputs(after)) == [
        "node 1 (EmptyImage) input batch_size added: 2",
        "node 1 (EmptyImage) input width: 64 -> 96",
        "node 2: ImageAddNoise -> ImageBlur",
        "node 6 (CLIPTextEncode) input text: (a long value) -> (a long value)",
        "node 10 (SaveImage) added",
    ]
    assert changes(node_inputs(after), node_inputs(BEFORE))[-1] == "node 10 (SaveImage) removed"


def test_described_only_with_a_kept_map() -> None:
    message = f"image 0 differs\n  but {CHANGED}: a changed test"
    after = {**BEFORE, "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "color": 0}}}
    named = described(message, {"device": "cpu", "workflow": node_inputs(BEFORE)}, after)
    assert named == f"image 0 differs\n  but {CHANGED}: node 1 (EmptyImage) input color: 3355443 -> 0: a changed test"
    assert described(message, {"device": "cpu"}, after) == message, "an older baseline: as before"
    assert described("image 0 differs", {"workflow": node_inputs(BEFORE)}, after) == "image 0 differs"
