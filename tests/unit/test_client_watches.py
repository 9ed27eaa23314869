"""Socket messages filed per prompt, and failures inside the reader reported once.

A real ComfyUI cannot be made to send garbage or to make a listener fail; the reader's
real path over a real server is in tests/test_client.py and tests/test_faults.py."""

from __future__ import annotations

import json

from comfy_plugin.client.watches import Watches
from comfy_plugin.errors import ExecutionFailed, ExecutionInterrupted, ReaderFailed


def message(kind: str, **data) -> str:
    return json.dumps({"type": kind, "data": data})


def test_messages_reach_the_watch_and_every_listener():
    watches, heard = Watches(), []
    watches.listeners.append(lambda pid, kind, data: heard.append((pid, kind)))
    watch = watches.add("p")
    watches.dispatch(message("execution_start", prompt_id="p"))
    watches.dispatch(message("execution_cached", prompt_id="p", nodes=[1, "2"]))
    watches.dispatch(message("executing", prompt_id="p", node="5"))
    assert watch.started_at is not None and watch.cached_nodes == ["1", "2"] and not watch.done.is_set()
    watches.dispatch(message("executing", prompt_id="p", node=None))
    assert watch.done.is_set() and watch.error is None
    assert [kind for _, kind in heard] == ["execution_start", "execution_cached", "executing", "executing"]


def test_error_and_interrupt_end_the_wait_with_their_failure():
    watches = Watches()
    failed, stopped = watches.add("a"), watches.add("b")
    watches.dispatch(message("execution_error", prompt_id="a", node_id="2", node_type="ImageAddNoise",
                             exception_type="ValueError", exception_message="bad"))
    watches.dispatch(message("execution_interrupted", prompt_id="b"))
    assert isinstance(failed.error, ExecutionFailed) and failed.done.is_set()
    assert isinstance(stopped.error, ExecutionInterrupted) and stopped.done.is_set()


def test_text_that_is_not_a_message_is_counted_and_ignored():
    watches = Watches()
    watch = watches.add("p")
    for text in ["not json", "[1, 2]", '"a string"', '{"data": {}}', "[" * 100_000]:
        watches.dispatch(text)
    watches.dispatch(message("status", status={"exec_info": {"queue_remaining": 0}}))  # a message, about no prompt
    assert watches.malformed == 5 and watches.failures == 0
    assert watches.take_failure() is None and not watch.done.is_set()


def test_a_failing_listener_is_reported_once_and_dropped():
    watches, heard = Watches(), []

    def broken(prompt_id, kind, data):
        raise KeyError("value")

    watches.listeners.extend([broken, lambda pid, kind, data: heard.append(kind)])
    watch = watches.add("p")
    watches.dispatch(message("progress", prompt_id="p", value=1, max=4))
    watches.dispatch(message("executing", prompt_id="p", node=None))
    assert heard == ["progress", "executing"], "the other listener still hears every message"
    assert len(watches.listeners) == 1 and watch.done.is_set()
    failure = watches.take_failure()
    assert isinstance(failure, ReaderFailed)
    assert str(failure).startswith("the client's socket reader failed in the listener "
                                   "test_a_failing_listener_is_reported_once_and_dropped.<locals>.broken on a "
                                   "'progress' message of prompt p: KeyError: 'value' (at ")
    assert watches.take_failure() is None, "reported once"
    assert watches.failures == 1


def test_only_the_first_of_several_failures_is_raised_but_all_are_counted():
    watches = Watches()
    watches.listeners.append(lambda pid, kind, data: 1 / 0)
    watches.listeners.append(lambda pid, kind, data: [][1])
    watches.dispatch(message("progress", prompt_id="p"))
    assert watches.failures == 2 and watches.listeners == []
    assert "ZeroDivisionError" in str(watches.take_failure())
    assert watches.take_failure() is None


def test_fail_all_ends_every_wait_but_keeps_an_earlier_error():
    watches = Watches()
    first, second = watches.add("a"), watches.add("b")
    watches.dispatch(message("execution_interrupted", prompt_id="a"))
    gone = ReaderFailed("gone")
    watches.fail_all(gone)
    assert isinstance(first.error, ExecutionInterrupted) and second.error is gone and second.done.is_set()
