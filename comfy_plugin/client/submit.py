"""POST /prompt, idempotent: a prompt is never queued twice.

The client chooses the prompt id, so after a connection cut mid-request it can ask the
server whether the prompt arrived, and sends it again only when the server lacks it.
ComfyUI itself would queue a second copy of the same id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..errors import ConnectionCut, HttpError
from .answers import rejection
from .endpoints import Endpoints

#: After a cut POST /prompt, how long the server may take to finish validating and queue
#: it before the client concludes that it never arrived and sends it again.
SUBMIT_SETTLE_S = 0.5
#: How often, within that time, the client asks whether the prompt arrived.
SETTLE_POLL_S = 0.1


def post_prompt(api: Endpoints, body: Mapping[str, Any], workflow: Mapping[str, Any],
                settle_s: float = SUBMIT_SETTLE_S) -> None:
    """Queue ``body`` (which holds its ``prompt_id``). PromptRejected when the server refuses
    the prompt, HttpError for an answer that is not ComfyUI's, ServerUnavailable when the
    server cannot be reached (or the connection broke twice)."""
    try:
        status, answer = api.http.post_json("/prompt", body, retry=False)
    except ConnectionCut:
        if arrived(api, str(body["prompt_id"]), settle_s):
            return
        status, answer = api.http.post_json("/prompt", body, retry=False)
    if status == 200:
        return
    if isinstance(answer, dict) and "error" in answer:
        raise rejection(status, answer, workflow)
    raise HttpError("POST", api.url + "/prompt", status, str(answer or "")[:300])


def arrived(api: Endpoints, prompt_id: str, settle_s: float) -> bool:
    """Whether the server has the prompt, asked until ``settle_s`` has passed."""
    deadline = time.monotonic() + settle_s
    while True:
        if api.known_to_server(prompt_id):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(SETTLE_POLL_S)
