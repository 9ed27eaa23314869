"""Calls run in the background in the order given (client/background.py): the prompts queued
ahead are sent and waited for there, so order and every outcome must reach the caller."""

from __future__ import annotations

import threading

import pytest

from comfy_plugin.client.background import InOrder
from comfy_plugin.errors import ComfyError


def test_calls_run_in_order_on_one_thread_and_hand_back_their_results() -> None:
    runner = InOrder("test-in-order")
    seen: list[tuple[int, str]] = []
    gate = threading.Event()
    def note(n: int, wait: bool = False) -> int:
        if wait:
            gate.wait(5)
        seen.append((n, threading.current_thread().name))
        return n

    first = runner.call(lambda: note(0, wait=True))
    rest = [runner.call(lambda n=n: note(n)) for n in range(1, 5)]
    assert not rest[-1].done()  # held behind the first call
    gate.set()
    assert [f.result(5) for f in [first, *rest]] == [0, 1, 2, 3, 4]
    assert seen == [(n, "test-in-order") for n in range(5)]
    runner.close()


def test_an_exception_reaches_the_caller_and_the_next_call_still_runs() -> None:
    runner = InOrder("test-in-order")

    def refused() -> None:
        raise ComfyError("the server refused the prompt")

    failed, after = runner.call(refused), runner.call(lambda: "next")
    with pytest.raises(ComfyError, match="refused the prompt"):
        failed.result(5)
    assert after.result(5) == "next"
    runner.close()
