"""How many prompts are queued ahead: a fixed --comfy-prefetch, or "auto" by execution time."""

from __future__ import annotations

import pytest

from comfy_plugin.run.pipeline import AUTO_LEAST, AUTO_MOST, Depth


def test_a_fixed_depth_is_kept_whatever_prompts_take() -> None:
    depth = Depth(5)
    for seconds in (0.001, 0.001, 30.0):
        depth.executed(seconds)
    assert depth.now() == 5
    assert Depth(0).now() == 0


def test_auto_starts_at_two_until_an_execution_time_is_known() -> None:
    depth = Depth(None)
    assert depth.now() == AUTO_LEAST == 2
    depth.executed(None)
    assert depth.now() == 2
    depth.executed(0.001)
    assert depth.now() == AUTO_MOST == 16


@pytest.mark.parametrize(("seconds", "expected"), [
    (0.005, 16),  # 20 would fit in 0.1 s: capped
    (0.02, 5),
    (0.03, 4),  # ceil(0.1 / 0.03)
    (0.1, 2),
    (2.5, 2),
    (0.0, 16),  # wholly cached prompts take no time
])
def test_auto_queues_what_the_server_runs_in_a_tenth_of_a_second(seconds: float, expected: int) -> None:
    depth = Depth(None)
    for _ in range(3):
        depth.executed(seconds)
    assert depth.now() == expected


def test_auto_goes_by_the_median_of_recent_prompts_and_ignores_unknown_times() -> None:
    depth = Depth(None)
    for seconds in (0.01, 0.01, 5.0, None, -1.0):
        depth.executed(seconds)
    assert depth.now() == 10, "one slow prompt does not empty the queue"
    for _ in range(16):
        depth.executed(1.0)
    assert depth.now() == AUTO_LEAST, "only the last 16 count: slow prompts bring it back to two"
