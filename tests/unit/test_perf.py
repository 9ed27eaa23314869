"""The time-baseline rule: a factor and at least one second slower; memory by a factor."""

from __future__ import annotations

from comfy_plugin.baselines.perf import compare


def test_slower_needs_the_factor_and_a_second() -> None:
    assert compare({"execution_s": 1.0}, {"execution_s": 1.9}, 1.5, 1.25) == []  # x1.9 but only 0.9 s
    assert compare({"execution_s": 1.0}, {"execution_s": 2.1}, 1.5, 1.25) == [
        "slower: 2.10 s against 1.00 s (limit x1.5)"]
    assert compare({"execution_s": 10.0}, {"execution_s": 14.0}, 1.5, 1.25) == []  # 4 s slower, x1.4


def test_hungrier_by_the_memory_factor() -> None:
    assert compare({"peak_mem_mb": 100.0}, {"peak_mem_mb": 124.0}, 1.5, 1.25) == []
    assert compare({"peak_mem_mb": 100.0}, {"peak_mem_mb": 126.0}, 1.5, 1.25) == [
        "hungrier: 126 MB against 100 MB (limit x1.25)"]
