"""The test session's view of ComfyUI: which server, its client, and whether it failed.

Nothing happens until the first prompt runs, so collection never touches a server. A
server failure is recorded once; every later prompt fails at once with a short line and
the full message is printed once, in the summary.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .client import ComfyClient
from .errors import ServerUnavailable
from .launcher import LaunchedServer, default_python, launch
from .options import Settings


@dataclass
class PromptRecord:
    """What one prompt did, for the summary."""

    nodeid: str
    prompt_id: str
    drawn_seed: int | None
    saved: list[Path]
    execution_s: float | None


@dataclass
class ComfySession:
    settings: Settings
    rootdir: Path
    say: Callable[[str], None] = print
    rng: random.Random = field(default_factory=random.SystemRandom)
    server: LaunchedServer | None = None
    failure: ServerUnavailable | None = None
    records: list[PromptRecord] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)  # prompt ids queued ahead, then removed
    _client: ComfyClient | None = None
    _object_info: dict[str, Any] | None = None
    _uploads: dict[str, str] = field(default_factory=dict)  # content digest -> server-side name

    worker: int = 0  # the pytest-xdist worker number (gw3 -> 3), 0 without xdist

    @property
    def url(self) -> str:
        return self.server.url if self.server else self.settings.url_for_worker(self.worker)

    def client(self) -> ComfyClient:
        """The connected client, launching the server first when asked to."""
        if self.failure is not None:
            raise self.failure
        if self._client is None:
            try:
                self._client = self._start()
            except ServerUnavailable as exc:
                self.failure = exc
                raise
        return self._client

    def _start(self) -> ComfyClient:
        if self.settings.launch is not None:
            python = self.settings.python or default_python(self.rootdir)
            self.say(f"launching ComfyUI from {self.settings.launch} ...")
            self.server = launch(self.settings.launch, python, self.settings.launch_args,
                                 model_paths=self.settings.model_paths)
            self.say(f"ComfyUI launched at {self.server.url} (log: {self.server.log_path})")
        client = ComfyClient(self.url)
        client.system_stats()
        return client

    def object_info(self) -> dict[str, Any]:
        if self._object_info is None:
            self._object_info = self.client().object_info()
        return self._object_info

    def upload(self, path: Path) -> str:
        """Upload a local input image once per content digest; returns its server-side name."""
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._uploads:
            self._uploads[digest] = self.client().upload_image(data, f"comfy-plugin-{digest[:16]}{path.suffix.lower()}")
        return self._uploads[digest]

    def note_failure(self, exc: ServerUnavailable) -> None:
        if self.failure is None:
            self.failure = exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.server is not None:
            self.server.stop()
