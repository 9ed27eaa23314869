"""ComfyUI's HTTP endpoints, one method each, over a Transport.

Nothing here keeps state about prompts: submitting, waiting and cancelling build on these.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

from ..errors import BadAnswer, ConnectionCut, OutputError
from .answers import OutputFile, QueueSnapshot, queue_from_answer
from .transport import Transport

#: How often cancel() looks whether the prompts it removed have left the queue.
CANCEL_POLL_S = 0.1


class Endpoints:
    def __init__(self, http: Transport) -> None:
        self.http = http

    @property
    def url(self) -> str:
        return self.http.url

    def system_stats(self) -> dict[str, Any]:
        return self._object("/system_stats")

    def object_info(self) -> dict[str, Any]:
        return self._object("/object_info")

    def free(self) -> None:
        """Unload models and clear the result cache, so identical prompts run again."""
        self.http.post_ok("/free", {"unload_models": True, "free_memory": True})

    def interrupt(self, prompt_id: str) -> None:
        """Interrupt the prompt if it is the one running (the server ignores it otherwise)."""
        self.http.post_ok("/interrupt", {"prompt_id": prompt_id})

    def delete_queued(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts (a running one is not touched: see interrupt)."""
        self.http.post_ok("/queue", {"delete": list(prompt_ids)})

    def upload_image(self, data: bytes, filename: str) -> str:
        """Upload an input image (``/upload/image``); returns the name a LoadImage takes."""
        answer = self.http.post_file("/upload/image", "image", filename, data, {"overwrite": "true"})
        if not isinstance(answer, dict):
            raise BadAnswer("POST", self.url + "/upload/image", f"{type(answer).__name__} instead of an object")
        name = str(answer.get("name", filename))
        return f"{answer['subfolder']}/{name}" if answer.get("subfolder") else name

    def queue(self) -> QueueSnapshot:
        """The server's queue now (``GET /queue``)."""
        return queue_from_answer(self._object("/queue"))

    def queued_ids(self, running_only: bool = False) -> set[str]:
        """Ids of the prompts running (and pending) on the server."""
        return self.queue().ids(running_only)

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The finished prompt's history entry, or None while it is pending or unknown."""
        answer = self._object(f"/history/{urllib.parse.quote(prompt_id)}")
        entry = answer.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    def known_to_server(self, prompt_id: str) -> bool:
        """Whether the server has the prompt: queued, running or finished. The queue is asked
        first: ComfyUI moves a prompt from its queue to /history in one step, so a prompt
        missing from the queue is either in /history already or unknown."""
        return prompt_id in self.queued_ids() or self.history(prompt_id) is not None

    def download(self, file: OutputFile) -> bytes:
        """The file's bytes, complete: a download cut short is tried once more, and one that
        breaks off twice while the server still answers is an OutputError (nothing is saved)."""
        query = urllib.parse.urlencode({"filename": file.filename, "subfolder": file.subfolder, "type": file.type})
        try:
            # ComfyUI itself answers 403 to a subfolder outside its folders: only a 401 is the credentials'
            status, raw = self.http.request("GET", f"/view?{query}", denials=(401,))
        except ConnectionCut as exc:
            if not self.http.answers():
                raise
            raise OutputError(f"downloading {file.filename!r} broke off twice ({exc.reason}); "
                              "nothing was saved") from None
        if status != 200:
            raise OutputError(f"GET /view for {file.filename!r} answered HTTP {status}")
        return raw

    def cancel(self, prompt_ids: list[str], wait_s: float = 30.0) -> list[str]:
        """Delete the pending ones of ``prompt_ids`` and interrupt a running one, then wait
        (up to ``wait_s``) until they have left the queue; an interrupt acts at the next node
        or sampler step. Returns the ids that were on the queue and have left it, in the
        given order; ids that were not queued (finished, unknown) are not in it."""
        wanted = list(dict.fromkeys(prompt_ids))
        seen: set[str] = set()
        interrupted: set[str] = set()
        deadline = time.monotonic() + wait_s
        while True:
            queue = self.queue()
            present = queue.ids() & set(wanted)
            seen |= present
            if not present or time.monotonic() >= deadline:
                return [pid for pid in wanted if pid in seen - present]
            pending = [pid for pid in wanted if pid in present and not queue.is_running(pid)]
            if pending:
                self.delete_queued(pending)
            for pid in sorted(present - set(pending) - interrupted):
                self.interrupt(pid)  # a pending one that started since is interrupted at the next look
                interrupted.add(pid)
            time.sleep(CANCEL_POLL_S)

    def _object(self, path: str) -> dict[str, Any]:
        answer = self.http.get_json(path)
        if not isinstance(answer, dict):
            raise BadAnswer("GET", self.url + path, f"{type(answer).__name__} instead of a JSON object")
        return answer
