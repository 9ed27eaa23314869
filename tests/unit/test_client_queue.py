"""The queue clock's arithmetic: which prompts count as ahead, and when the bound passes.

The same rules run against a real ComfyUI in tests/test_client.py; here each rule is
checked alone, on /queue answers of the shape ComfyUI sends."""

from __future__ import annotations

from comfy_plugin.client import RUN_MARK_KEY, QueueEntry, QueueSnapshot
from comfy_plugin.client.answers import queue_from_answer
from comfy_plugin.client.waiting import HISTORY_POLL_S, queue_poll_s
from comfy_plugin.client.watches import QueueClock

ME, OTHER = "client-me", "client-other"


def item(number: float, prompt_id: str, client_id: str = OTHER, mark: str | None = None) -> list:
    extra = {"client_id": client_id, "create_time": 1}
    if mark is not None:
        extra[RUN_MARK_KEY] = mark
    return [number, prompt_id, {"1": {"class_type": "EmptyImage"}}, extra, ["1"]]


def snapshot(running: list, pending: list) -> QueueSnapshot:
    return queue_from_answer({"queue_running": running, "queue_pending": pending})


def test_queue_answer_parsed_with_extra_data():
    queue = snapshot([item(3, "r")], [item(5, "p", ME, "m"), item(4, "q")])
    assert queue.running == (QueueEntry(3.0, "r", {"client_id": OTHER, "create_time": 1}),)
    assert queue.ids() == {"r", "p", "q"} and queue.ids(running_only=True) == {"r"}
    assert queue.is_running("r") and not queue.is_running("p")
    assert queue.pending_entry("p").extra_data[RUN_MARK_KEY] == "m"


def test_malformed_queue_entries_are_left_out():
    queue = queue_from_answer({"queue_running": [[1], "x", [2, 7], [None, "ok"]],
                               "queue_pending": {"not": "a list"}})
    assert [e.prompt_id for e in queue.running] == ["ok"]
    assert queue.running[0].number == float("inf") and queue.pending == ()
    assert queue_from_answer(["not", "an", "object"]) == QueueSnapshot()


def test_foreign_prompts_ahead_are_running_ones_and_lower_numbers():
    queue = snapshot([item(1, "running")], [item(2, "before"), item(3, "mine", ME), item(4, "after")])
    assert queue.foreign_ahead("mine", ME, None) == 2  # the running one and number 2, not number 4


def test_front_prompts_have_negative_numbers_and_count_as_ahead():
    queue = snapshot([], [item(7, "mine", ME), item(-8, "front")])
    assert queue.foreign_ahead("mine", ME, None) == 1


def test_own_prompts_never_count_by_client_id_or_by_run_mark():
    queue = snapshot([item(1, "own-running", ME)],
                     [item(2, "same-run", "worker-2", "run-1"), item(3, "other-run", OTHER, "run-2"),
                      item(4, "mine", ME, "run-1")])
    assert queue.foreign_ahead("mine", ME, "run-1") == 1  # only the prompt of another run
    assert queue.foreign_ahead("mine", ME, None) == 2  # without a mark, only this client's own are ours


def test_a_prompt_that_is_not_pending_has_nothing_ahead():
    queue = snapshot([item(1, "mine", ME)], [item(0, "front")])
    assert queue.foreign_ahead("mine", ME, None) == 0
    assert queue.foreign_ahead("unknown", ME, None) == 0


def test_clock_runs_only_between_looks_that_saw_others_ahead():
    clock = QueueClock(submitted_at=0.0)
    clock.observe(10.0, 0)  # time before the first look does not count
    clock.observe(11.0, 2)  # nothing ahead from 10 to 11
    clock.observe(13.5, 1)  # 2.5 s behind others
    clock.observe(14.0, 0)  # 0.5 s more
    clock.observe(20.0, 3)  # our own prompts only, 14 to 20
    assert clock.waited_s == 3.0 and clock.ahead == 3


def test_clock_expires_only_with_a_bound_and_others_still_ahead():
    clock = QueueClock(submitted_at=0.0)
    clock.observe(0.0, 1)
    clock.observe(5.0, 1)
    assert clock.expired(5.0) and not clock.expired(5.1)
    assert not clock.expired(0.0), "0 means no bound"
    clock.observe(6.0, 0)
    assert clock.waited_s == 6.0 and not clock.expired(5.0), "nobody else ahead now: it will run next"


def test_queue_is_looked_at_no_more_than_twice_a_second_and_no_less_than_the_backstop():
    assert queue_poll_s(0.5) == queue_poll_s(1.0) == 0.5
    assert queue_poll_s(4.0) == 1.0
    assert queue_poll_s(1800.0) == HISTORY_POLL_S == 2.0
