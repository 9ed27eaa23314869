"""Which exception a failed request raises: each network condition made for real with a
local socket (a closed port, a listener that never answers, one that hangs up)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from comfy_plugin.client import ComfyClient
from comfy_plugin.client.transport import Transport
from comfy_plugin.errors import (
    ConnectionCut,
    ConnectionRefused,
    NoAnswer,
    ServerUnavailable,
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def listener(hang_up: bool) -> Iterator[tuple[str, list[bytes]]]:
    """A local server that takes connections and either hangs up after reading the request
    (``hang_up``) or never answers. Yields its URL and the requests it read."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    seen: list[bytes] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.settimeout(5)
            seen.append(conn.recv(65536))
            if hang_up:
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()


def test_nothing_listening_is_connection_refused_saying_cannot_connect():
    transport = Transport(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ConnectionRefused) as info:
        transport.get_json("/system_stats")
    assert isinstance(info.value, ServerUnavailable)
    assert "cannot connect (" in str(info.value) and "--comfy-url" in str(info.value)


def test_refused_after_the_server_answered_says_it_went_away():
    transport = Transport(f"http://127.0.0.1:{closed_port()}")
    transport.answered = True  # as after any earlier answer
    with pytest.raises(ConnectionRefused, match="the server went away during the run"):
        transport.get_json("/queue")


def test_a_silent_server_is_no_answer_after_the_timeout():
    with listener(hang_up=False) as (url, seen):
        client = ComfyClient(url, http_timeout=0.3)
        with pytest.raises(NoAnswer, match=r"no answer within 0\.3 s"):
            client.system_stats()
    assert len(seen) == 1, "a silent server is not asked twice"


def test_a_hang_up_is_a_cut_tried_once_more():
    with listener(hang_up=True) as (url, seen):
        with pytest.raises(ConnectionCut) as info:
            Transport(url).get_json("/queue")
        assert info.value.reason, "the cut's reason is kept for messages"
    assert [r.split(b"\r\n", 1)[0] for r in seen] == [b"GET /queue HTTP/1.1"] * 2


def test_a_hang_up_without_retry_is_asked_once():
    with listener(hang_up=True) as (url, seen):
        with pytest.raises(ConnectionCut):
            Transport(url).post_json("/prompt", {"prompt": {}}, retry=False)
    assert len(seen) == 1


def test_cancel_on_a_server_that_cannot_be_reached_raises_instead_of_reporting_removals():
    client = ComfyClient(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ConnectionRefused):
        client.cancel(["a", "b"])


def test_an_unquoted_path_is_the_callers_error_and_no_request_is_made():
    with listener(hang_up=True) as (url, seen):
        with pytest.raises(http.client.InvalidURL):
            Transport(url).get_json("/view?filename=a b.png")
    assert seen == []
