"""ComfyClient against the real ComfyUI: the queue timeout, what cancel reports, the resend
of a cut POST /prompt, which error is raised for which failure, and a failing listener.

A "long" prompt is EmptyImage -> ImageAddNoise -> ImageBlur at 1536x1536 with radius 31:
it keeps a CPU busy for several seconds, long enough to queue behind it.
"""

from __future__ import annotations

import copy
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tcp_proxy import TcpProxy

from comfy_plugin.client import RUN_MARK_KEY, ComfyClient, failure_from_history
from comfy_plugin.client.waiting import queue_poll_s
from comfy_plugin.errors import (
    BadAnswer,
    ConnectionCut,
    ExecutionInterrupted,
    HttpError,
    QueueTimeout,
    ReaderFailed,
    SocketUnavailable,
)
from comfy_plugin.server.launcher import LaunchedServer
from conftest import ROOT

NOISE = json.loads((ROOT / "workflows-files" / "noise-image-api.json").read_text())
BLUR = json.loads((ROOT / "workflows-files" / "blend-subgraph-api.json").read_text())


def unique() -> int:
    """A seed no earlier prompt used: the server's cache never serves the prompt."""
    return uuid.uuid4().int % 2**48


def noise() -> dict[str, Any]:
    workflow = copy.deepcopy(NOISE)
    workflow["1"]["inputs"].update(width=32, height=24)
    workflow["2"]["inputs"]["seed"] = unique()
    return workflow


def long_blur(size: int = 1536) -> dict[str, Any]:
    workflow = copy.deepcopy(BLUR)
    workflow["21:10"]["inputs"].update(width=size, height=size)
    workflow["21:11"]["inputs"]["seed"] = unique()
    workflow["21:12"]["inputs"]["blur_radius"] = 31
    return workflow


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what}"
        time.sleep(0.05)


def started_ms(entry: dict[str, Any]) -> float:
    return dict(entry["status"]["messages"])["execution_start"]["timestamp"]


@pytest.fixture
def connect(comfy_server: LaunchedServer) -> Iterator[Callable[..., ComfyClient]]:
    """Clients of the session's server; afterwards nothing of the test is left on its queue."""
    made: list[ComfyClient] = []

    def make(url: str | None = None, **kwargs: Any) -> ComfyClient:
        made.append(ComfyClient(url or comfy_server.url, **kwargs))
        return made[-1]

    yield make
    cleaner = ComfyClient(comfy_server.url)
    cleaner.cancel(sorted(cleaner.queued_ids()), wait_s=60)
    assert cleaner.queued_ids() == set(), "the test left prompts on the server"
    for client in made:
        client.close()


def run_long(client: ComfyClient, size: int = 1536) -> str:
    """Queue a long prompt and return once it runs."""
    prompt_id = client.submit(long_blur(size))
    wait_until(lambda: prompt_id in client.queued_ids(running_only=True), "the long prompt runs")
    return prompt_id


# -- the queue timeout ------------------------------------------------------------------------


def test_queue_timeout_behind_another_clients_prompt_removes_the_prompt_and_says_why(connect) -> None:
    foreign = connect()  # another user of the server: no run mark
    ours = connect(run_mark=f"run-{uuid.uuid4().hex}")
    long_id = run_long(foreign)
    prompt_id = ours.submit(noise())
    assert ours.queue().pending_entry(prompt_id).extra_data[RUN_MARK_KEY] == ours.run_mark
    began = time.monotonic()
    with pytest.raises(QueueTimeout) as info:
        ours.wait(prompt_id, timeout=120, queue_timeout=1.0)
    took = time.monotonic() - began
    queue = ours.queue()
    assert queue.is_running(long_id), "the other client's prompt still runs: the wait was spent behind it"
    assert prompt_id not in queue.ids() and ours.history(prompt_id) is None, "removed from the queue, never run"
    err = info.value
    assert (err.prompt_id, err.ahead, err.removed, err.limit_s) == (prompt_id, 1, True, 1.0)
    assert 1.0 <= err.waited_s <= took < 1.0 + 3 * queue_poll_s(1.0)
    assert re.fullmatch(
        rf"queue timeout: prompt {prompt_id} waited \d+\.\d s \(limit 1 s; \d+\.\d s in the queue in all\) "
        r"behind 1 prompt\(s\) that are not this run's, and it was removed from the queue; the server is busy "
        r"with other work: wait longer with --comfy-queue-timeout SECONDS \(0: no bound\)", str(err)), str(err)
    assert not ours.knows(prompt_id)

    # The other client, without a run mark, waits behind its own long prompt: its clock never runs.
    own_id = foreign.submit(noise())
    assert foreign.wait(own_id, timeout=120, queue_timeout=0.5).status == "success"
    waited_s = (started_ms(foreign.history(own_id)) - started_ms(foreign.history(long_id))) / 1000
    assert waited_s > 4 * 0.5, f"it queued {waited_s:.1f} s behind its own prompt, beyond the queue timeout"


def test_prompts_of_the_same_run_ahead_never_time_out(connect) -> None:
    """Two clients with one run mark, as two xdist workers of one run: the second waits far
    longer than its queue timeout behind the first one's prompt, and still runs."""
    mark = f"run-{uuid.uuid4().hex}"
    worker_1, worker_2 = connect(run_mark=mark), connect(run_mark=mark)
    long_id = run_long(worker_1)
    queued_at = time.time()
    prompt_id = worker_2.submit(noise())
    result = worker_2.wait(prompt_id, timeout=120, queue_timeout=0.5)
    assert result.status == "success" and len(result.files) == 1
    waited_s = started_ms(worker_2.history(prompt_id)) / 1000 - queued_at
    assert waited_s > 4 * 0.5, f"it queued {waited_s:.1f} s behind the run's other prompt"
    assert worker_1.wait(long_id, timeout=120).status == "success"


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_returns_only_the_prompts_it_removed_or_interrupted(connect) -> None:
    client = connect()
    finished = client.submit(noise())
    client.wait(finished, timeout=60)
    long_id = run_long(client, size=1024)
    pending = [client.submit(noise()), client.submit(noise())]
    removed = client.cancel([pending[0], long_id, finished, "not-a-prompt", pending[1]])
    assert removed == [pending[0], long_id, pending[1]]
    assert client.queued_ids() == set()
    assert isinstance(failure_from_history(client.history(long_id)), ExecutionInterrupted)
    assert client.history(pending[0]) is None and client.history(pending[1]) is None, "they never ran"
    assert client.cancel([finished, long_id]) == [], "nothing left to remove"


# -- the resend of a cut POST /prompt ---------------------------------------------------------


@pytest.mark.parametrize("delivered", [True, False], ids=["reached-the-server", "never-arrived"])
def test_cut_post_prompt_is_sent_again_only_when_the_server_lacks_the_prompt(
        comfy_server: LaunchedServer, connect, delivered: bool) -> None:
    with TcpProxy(comfy_server.url, lifetime_s=60) as proxy:
        client = connect(proxy.url)
        proxy.break_next(b"POST /prompt", deliver=delivered)
        prompt_id = client.submit(noise())
        result = client.wait(prompt_id, timeout=60)
        resent = proxy.requests_with(b"POST /prompt")
        broken = list(proxy.broken)
        history = client.get_json("/history")
    assert [d for _, d in broken] == [delivered], "exactly one POST /prompt was broken"
    if delivered:
        assert resent == [], "the server had queued the prompt: it was not sent again"
    else:
        assert len(resent) == 1 and prompt_id.encode() in resent[0], "the server lacked it: sent again, once"
    assert result.status == "success" and len(result.files) == 1
    assert [pid for pid, e in history.items() if e["prompt"][3].get("client_id") == client.client_id] == [prompt_id]


# -- which error for which failure ------------------------------------------------------------


def test_http_errors_and_answers_that_are_not_json_have_their_own_types(connect) -> None:
    client = connect()
    with pytest.raises(HttpError) as info:
        client.get_json("/no-such-endpoint")
    assert info.value.status == 404 and str(info.value).startswith(f"GET {client.url}/no-such-endpoint answered HTTP 404")
    result = client.wait(client.submit(noise()), timeout=60)
    [file] = result.files
    with pytest.raises(BadAnswer, match=r"answered something that is not JSON: '\ufffdPNG"):
        client.get_json("/view?" + urllib.parse.urlencode({"filename": file.filename, "type": file.type,
                                                           "subfolder": file.subfolder}))


def test_a_cut_request_is_tried_once_more_then_raised_as_connection_cut(comfy_server: LaunchedServer,
                                                                        connect) -> None:
    with TcpProxy(comfy_server.url, lifetime_s=60) as proxy:
        client = connect(proxy.url)
        proxy.break_next(b"GET /queue", deliver=True)
        assert isinstance(client.queued_ids(), set), "one cut: the second try answers"
        proxy.break_next(b"GET /queue", deliver=True)
        proxy.break_next(b"GET /queue", deliver=True)
        with pytest.raises(ConnectionCut, match="the server went away during the run"):
            client.queued_ids()
        assert len(proxy.broken) == 3


def test_a_socket_that_cannot_open_is_socket_unavailable_and_nothing_is_queued(comfy_server: LaunchedServer,
                                                                            connect) -> None:
    with TcpProxy(comfy_server.url, lifetime_s=60) as proxy:
        proxy.cut(refuse_ws_s=60)
        client = connect(proxy.url)
        with pytest.raises(SocketUnavailable, match="cannot open the WebSocket"):
            client.submit(noise())
        assert proxy.requests_with(b"POST /prompt") == [] and proxy.refused_ws == 1


# -- a failure inside the socket reader -------------------------------------------------------


def test_a_failing_listener_is_reported_once_to_the_waiter(connect) -> None:
    client = connect()
    heard: list[str] = []

    def broken(prompt_id: str, kind: str, data: dict[str, Any]) -> None:
        heard.append(kind)
        if kind == "executing":
            raise RuntimeError("a bug in the listener")

    client.listeners.append(broken)
    first = client.submit(noise())
    with pytest.raises(ReaderFailed) as info:
        client.wait(first, timeout=60)
    assert re.match(r"the client's socket reader failed in the listener "
                    r"test_a_failing_listener_is_reported_once_to_the_waiter\.<locals>\.broken on a 'executing' "
                    rf"message of prompt {first}: RuntimeError: a bug in the listener \(at .+\)$", str(info.value))
    assert broken not in client.listeners and client.reader_failures == 1
    assert client.history(first)["status"]["status_str"] == "success", "the prompt itself ran to its end"
    heard.clear()
    second = client.submit(noise())
    assert client.wait(second, timeout=60).status == "success", "reported once: the next wait is not failed"
    assert heard == [] and client.reader_failures == 1
