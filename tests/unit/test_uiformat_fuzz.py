"""A small fixed fuzzing budget on every unit run: hypothesis draws mutations (bench/fuzz_ui.py's
``Op``) of real editor workflows (tests/ui_fixtures/ always, the installed templates when
ComfyUI is set up) and of generated hostile ones; only a prompt or a ``UIFormatError`` may
come out. bench/fuzz_ui.py runs the long campaign."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from fuzz_ui import GROW, KINDS, ODD, Fuzzer, Op, run

BUDGET = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow])

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
VALUES = st.sampled_from(ODD) | st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)
OPS = st.builds(Op, st.sampled_from(KINDS), st.integers(0, 1 << 16), st.integers(0, 1 << 16), VALUES)


@cache
def fuzzer() -> Fuzzer:
    return Fuzzer()


def test_the_fuzzer_always_has_workflows_to_mutate() -> None:
    """The fixtures are always there; the templates join them once ComfyUI is installed."""
    names = {name for name, _ in fuzzer().sources}
    assert {"nested-subgraphs.json", "reroutes.json", "primitive-in-subgraph.json"} <= names


@BUDGET
@given(index=st.integers(0, 1 << 16), ops=st.lists(OPS, min_size=1, max_size=4))
def test_mutated_editor_workflows_end_in_a_prompt_or_a_ui_format_error(index: int, ops: list[Op]) -> None:
    assert fuzzer().case(index, ops) in ("accepted", "error")


@settings(BUDGET, max_examples=8)
@given(kind=st.sampled_from(GROW), size=st.integers(0, 1 << 16), then=st.lists(OPS, max_size=1))
def test_generated_deep_wide_and_long_workflows_end_in_a_prompt_or_an_error(kind: str, size: int,
                                                                           then: list[Any]) -> None:
    assert fuzzer().case(0, [Op(kind, size), *then]) in ("accepted", "error")


def test_the_campaign_reports_counts_and_no_crash() -> None:
    result = run(40, seed=3)
    assert result["crashes"] == {}
    assert result["cases"] == 40 == result["errors"] + result["accepted"]
