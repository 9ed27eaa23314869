"""A baseline file read a prompt at a time (baselines/walk.py) reads exactly what ``json.loads``
reads, whatever the layout, and a broken file fails as ``json`` words it; what the store read
waits in its spill file, not in memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comfy_plugin.baselines.store import BaselineStore
from comfy_plugin.baselines.walk import WALKED, NotWalkable, walk
from comfy_plugin.errors import BaselineError
from comfy_plugin.media.still.entries import observe

from .test_regression import noise_png

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=8)


def rebuilt(text: str) -> dict[str, Any]:
    """The document as the walk gives it, put back together."""
    found: dict[str, Any] = {}
    for name, key, value in walk(text):
        if name is not None:
            found.setdefault(name, {})[key] = value
        elif value is WALKED:
            found.setdefault(key, {})
        else:
            found[key] = value
    return found


@settings(max_examples=150, deadline=None)
@given(baselines=st.dictionaries(st.text(), JSON, max_size=5), provenance=JSON,
       others=st.dictionaries(st.text(), JSON, max_size=3), indent=st.sampled_from([None, 0, 2, "\t", " \r\n "]),
       compact=st.booleans())
def test_any_layout_reads_as_json_loads_reads_it(baselines: dict[str, Any], provenance: Any, others: dict[str, Any],
                                                 indent: Any, compact: bool) -> None:
    document = {**others, "baselines": baselines, "provenance": provenance}
    separators = (",", ":") if compact else None
    text = json.dumps(document, indent=indent, separators=separators, ensure_ascii=bool(indent))
    if isinstance(indent, str) and indent.strip() == "":
        text = text.replace("\n", "\r\n")
    assert rebuilt(text) == json.loads(text)


@pytest.mark.parametrize("text", ['{"baselines": {"a": [1]', '{"baselines": {"a": [1]}} x', "[1, 2]",
                                  '{"baselines" {}}', '{1: 2}', "", '{"a": 1,}'])
def test_what_is_not_an_object_of_members_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        list(walk(text))


def test_text_after_the_object_is_refused() -> None:
    with pytest.raises(NotWalkable, match="extra data"):
        list(walk('{"format": 1} {}'))


def test_what_the_store_read_waits_in_its_spill_file(store: tuple[BaselineStore, Path]) -> None:
    baselines, batch = store
    path = baselines.write(batch, {f"p{n}": [observe(noise_png(n))] for n in range(3)},
                           provenance={"p1": {"device": "cpu", "workflow": {"1": {"class": "X", "inputs": {}}}}})
    assert path is not None
    entries, origins = baselines.load_all(batch)
    assert sorted(entries) == ["p0", "p1", "p2"] and list(origins) == ["p1"]
    assert entries["p1"] is not entries["p1"], "read back from the spill file each time"
    assert entries["p1"][0].to_json()["sha256"] == observe(noise_png(1)).entry.to_json()["sha256"]
    assert origins["p1"]["device"] == "cpu" and "p0" not in origins


def test_a_compact_hand_written_file_reads(store: tuple[BaselineStore, Path]) -> None:
    baselines, batch = store
    path = baselines.write(batch, {"a": [observe(noise_png(4))]})
    assert path is not None
    document = json.loads(path.read_text())
    path.write_text(json.dumps(dict(reversed(document.items())), separators=(",", ":")))  # one line, other order
    written = json.loads(path.read_text())["baselines"]["a"]
    assert [e.to_json() for e in baselines.load(batch)["a"]] == written


@pytest.mark.parametrize(("text", "said"), [
    ('{"baselines": {"a": []', "line 1, column 23: invalid JSON"),
    ("[]", "not a baseline file"),
    ('{"baselines": [], "format": 1}', "not a baseline file"),
    ('{"baselines": {"a": 3}, "format": 99}', "baseline format 99"),
    ('{"baselines": {"a": 3}, "format": 1}', "baselines.a: expected a list of entries"),
])
def test_a_broken_file_is_one_line_that_says_why(store: tuple[BaselineStore, Path], text: str, said: str) -> None:
    baselines, batch = store
    path = baselines.baseline_path(batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    with pytest.raises(BaselineError, match=said):
        baselines.load(batch)
