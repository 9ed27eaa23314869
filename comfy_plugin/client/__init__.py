"""ComfyUI's HTTP + WebSocket API, in parts. No pytest here.

- ``transport``: HTTP requests, the one retry of a cut connection, one error type per failure;
- ``access``: TLS verification and authentication, and the errors that say which of the two
  failed (credentials in a URL are taken out by ``comfy_plugin.urls``: basic auth, never shown);
- ``endpoints``: one method per endpoint (stats, object_info, free, interrupt, queue, history,
  upload, download) and cancel, which reports what it really removed;
- ``submit``: POST /prompt, sent again after a cut only when the server lacks the prompt;
- ``reader``: the socket's thread, and reconnection after a drop;
- ``watches``: socket messages filed per prompt; failures inside the reader reported once;
- ``waiting``: the wait for one prompt, its execution timeout and its queue timeout;
- ``background``: the threads that send and wait for the prompts queued ahead, in order;
- ``answers``: the server's answers turned into data (pure functions);
- ``comfy_client``: ComfyClient, the one object the rest of the plugin uses.
"""

from ..urls import without_credentials
from .answers import (
    RUN_MARK_KEY,
    OutputFile,
    PromptResult,
    QueueEntry,
    QueueSnapshot,
    failure_from_history,
    failure_from_message,
    rejection,
    result_from_history,
)
from .comfy_client import ComfyClient
from .transport import START_HINT
from .watches import Listener

__all__ = [
    "RUN_MARK_KEY", "START_HINT", "ComfyClient", "Listener", "OutputFile", "PromptResult", "QueueEntry",
    "QueueSnapshot", "failure_from_history", "failure_from_message", "rejection", "result_from_history",
    "without_credentials",
]
