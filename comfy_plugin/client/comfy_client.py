"""ComfyClient: one object for the rest of the plugin, built from the client's parts.

Submit, wait and fetch are separate calls, so a caller can queue prompts ahead of the test
that waits for them. One background thread reads the socket and files each message under
its prompt id; a waiter that misses its messages (socket dropped and reconnected) recovers
the result from ``/history``.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ComfyError
from .answers import RUN_MARK_KEY, OutputFile, PromptResult, QueueSnapshot, result_from_history
from .background import InOrder, Later
from .endpoints import Endpoints
from .submit import post_prompt
from .transport import Transport
from .waiting import Bounds, Waiting
from .watches import Listener, Watches

if TYPE_CHECKING:
    from .reader import SocketReader


class ComfyClient:
    def __init__(self, url: str, headers: Mapping[str, str] | None = None, http_timeout: float = 60.0,
                 run_mark: str | None = None, ca_bundle: str | os.PathLike[str] | None = None) -> None:
        """``run_mark``: put into every prompt's ``extra_data``; prompts of other clients with
        the same mark (the run's other xdist workers) never count against a queue timeout.
        ``headers`` go with every request and the WebSocket upgrade; ``user:password@`` in the
        URL is sent as basic auth and never shown (``url`` is without it). ``ca_bundle``: the
        CA certificates that verify an https server (default: the system's, or SSL_CERT_FILE)."""
        self.http = Transport(url, headers, http_timeout, ca_bundle)
        self.api = Endpoints(self.http)
        self.client_id = uuid.uuid4().hex
        self.run_mark = run_mark
        parts = urllib.parse.urlsplit(self.url)
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        self.ws_url = f"{ws_scheme}://{parts.netloc}{parts.path}/ws?clientId={self.client_id}"
        self._watches = Watches()
        self.listeners: list[Listener] = self._watches.listeners
        self._reader: SocketReader | None = None  # made at the first submit (it imports websocket-client)
        self._posting = InOrder("comfy-post")  # submit_later: the POSTs, in order
        self._waiting = InOrder("comfy-wait")  # submit_later: the waits, in the same order
        self._later: dict[str, Later] = {}  # submitted in the background, result not yet taken

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def headers(self) -> dict[str, str]:
        return self.http.headers

    @property
    def drops(self) -> int:
        """Socket drops and reconnects so far: each one sends waiters to /history."""
        return self._reader.drops if self._reader is not None else 0

    @property
    def reader_failures(self) -> int:
        """Failures inside the socket reader so far (the first one is raised by a wait)."""
        return self._watches.failures

    # -- endpoints ------------------------------------------------------------------------

    def get_json(self, path: str) -> Any:
        return self.http.get_json(path)

    def system_stats(self) -> dict[str, Any]:
        return self.api.system_stats()

    def answers(self, timeout: float = 5.0) -> bool:
        """Whether the server answers HTTP now (one try, no retry)."""
        return self.http.answers(timeout)

    def object_info(self) -> dict[str, Any]:
        return self.api.object_info()

    def free(self) -> None:
        """Unload models and clear the result cache, so identical prompts run again."""
        self.api.free()

    def interrupt(self, prompt_id: str) -> None:
        self.api.interrupt(prompt_id)

    def delete_queued(self, prompt_ids: list[str]) -> None:
        self.api.delete_queued(prompt_ids)

    def upload_image(self, data: bytes, filename: str) -> str:
        """Upload an input image; returns the name a LoadImage takes."""
        return self.api.upload_image(data, filename)

    def queue(self) -> QueueSnapshot:
        return self.api.queue()

    def queued_ids(self, running_only: bool = False) -> set[str]:
        return self.api.queued_ids(running_only)

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        return self.api.history(prompt_id)

    def download(self, file: OutputFile) -> bytes:
        return self.api.download(file)

    def known_to_server(self, prompt_id: str) -> bool:
        """Whether the server has the prompt: queued, running or finished."""
        return self.api.known_to_server(prompt_id)

    # -- prompts --------------------------------------------------------------------------

    def submit(self, workflow: Mapping[str, Any], prompt_id: str | None = None) -> str:
        """Queue a prompt; returns its id. The socket is open before, so no message is missed."""
        reader = self._socket()
        reader.check_gone()
        reader.ensure_started()
        prompt_id = prompt_id or str(uuid.uuid4())
        self._watches.add(prompt_id)
        body: dict[str, Any] = {"prompt": workflow, "client_id": self.client_id, "prompt_id": prompt_id}
        if self.run_mark is not None:
            body["extra_data"] = {RUN_MARK_KEY: self.run_mark}
        try:
            post_prompt(self.api, body, workflow)
        except ComfyError:
            self._watches.forget(prompt_id)
            raise
        return prompt_id

    def submit_later(self, workflow: Mapping[str, Any], prompt_id: str, timeout: float,
                     queue_timeout: float = 0.0) -> Later:
        """Queue the prompt and wait for it in the background (one thread each, in submission
        order); ``result`` hands the outcome over. The caller's thread goes on at once: the
        server's slow answers while it is busy are not waited for one by one."""
        self._watches.add(prompt_id)  # known at once (``knows``), before its POST
        posted = self._posting.call(lambda: self._post_later(workflow, prompt_id))
        waited = self._waiting.call(lambda: (posted.result(), self.wait(prompt_id, timeout, queue_timeout))[1])
        later = self._later[prompt_id] = Later(posted, waited)
        return later

    def _post_later(self, workflow: Mapping[str, Any], prompt_id: str) -> str:
        try:
            return self.submit(workflow, prompt_id)
        except BaseException:
            self._later.pop(prompt_id, None)  # refused: nothing on the server to wait for or cancel
            raise

    def result(self, prompt_id: str, timeout: float, queue_timeout: float = 0.0) -> PromptResult:
        """The prompt's result: the background wait's (``submit_later``), else waited for now."""
        later = self._later.get(prompt_id)
        if later is None:
            return self.wait(prompt_id, timeout, queue_timeout)
        try:
            result: PromptResult = later.waited.result()
        finally:
            self._later.pop(prompt_id, None)
        return result

    def knows(self, prompt_id: str) -> bool:
        """Whether this client submitted the prompt and nobody has taken its result yet."""
        return prompt_id in self._watches or prompt_id in self._later

    def wait(self, prompt_id: str, timeout: float, queue_timeout: float = 0.0) -> PromptResult:
        """Block until the prompt finished; raise its failure. ``timeout`` counts from the
        prompt's execution start; on expiry the prompt is interrupted (PromptTimeout).
        ``queue_timeout`` (0: no bound) counts while the prompt is pending behind prompts that
        are not this run's; on expiry it is removed from the queue (QueueTimeout). A failure
        inside the socket reader is raised once, by the first wait that ends after it."""
        watch = self._watches.get(prompt_id)
        if watch is None:
            raise ComfyError(f"prompt {prompt_id} was not submitted by this client")
        waiting = Waiting(self.api, self._socket(), self._watches, self.client_id, self.run_mark)
        try:
            entry = waiting.wait(prompt_id, watch, Bounds(timeout, queue_timeout))
        finally:
            self._watches.forget(prompt_id)
        failure = self._watches.take_failure()
        if failure is not None:
            raise failure
        return result_from_history(prompt_id, entry, watch.cached_nodes)

    def cancel(self, prompt_ids: list[str], wait_s: float = 30.0) -> list[str]:
        """Remove pending prompts and interrupt a running one; returns the ids that were on
        the server's queue and have left it (verified with /queue). ServerUnavailable (or a
        subclass) when the server cannot be reached."""
        return self.api.cancel(prompt_ids, wait_s)

    def close(self) -> None:
        self._posting.close()
        self._waiting.close()
        if self._reader is not None:
            self._reader.close()

    def _socket(self) -> SocketReader:
        if self._reader is None:
            from .reader import SocketReader

            self._reader = SocketReader(self.http, self.ws_url, self._watches)
        return self._reader
