"""The connection to ComfyUI: which server (launched or given), its client, and whether it failed.

Nothing happens until the first prompt runs, so collection never touches a server. A
server failure is recorded once; every later prompt fails at once with a short line and
the full message is printed once, in the summary. What the summary reports about prompts
is kept by the plugin's state, not here.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..batchfile.known_info import keep as keep_object_info
from ..batchfile.known_info import server_of, writes
from ..batchfile.schema import Cache
from ..batchfile.ui_addressing import Conversions
from ..client import ComfyClient, OutputFile
from ..errors import ComfyError, LaunchFailed, ModelFetchFailed, ModelManifestError, ServerUnavailable
from ..settings import Settings
from .identity import ModelFiles, Provenance, model_folders, server_provenance
from .launcher import LaunchedServer, default_python, launch
from .measure import Timings, device_memory_mb
from .models import manifest_folders

#: How often --comfy-restart-on-crash launches a server again in one session.
MAX_RESTARTS = 3


@dataclass
class ComfySession:
    settings: Settings
    rootdir: Path
    say: Callable[[str], None] = print
    rng: random.Random = field(default_factory=random.SystemRandom)
    server: LaunchedServer | None = None
    failure: ServerUnavailable | None = None
    listeners: list[Callable[[str, str, dict], None]] = field(default_factory=list)  # given to every client
    _client: ComfyClient | None = None
    _object_info: dict[str, Any] | None = None
    _uploads: dict[str, str] = field(default_factory=dict)  # content digest -> server-side name

    worker: int = 0  # the pytest-xdist worker number (gw3 -> 3), 0 without xdist
    fresh: bool = False  # clear the server's cache when connecting (--comfy-fresh)
    restarts: int = 0  # relaunches after a crash (--comfy-restart-on-crash)
    output_root: Path = field(default_factory=Path.cwd)  # relative output folders: the invocation directory
    writable: set[str] = field(default_factory=set)  # output folders a probe file proved writable
    run_mark: str | None = None  # marks this run's prompts (every xdist worker's) in the server's queue
    device: str = ""  # the server's device identity (server/identity.py; set on connecting)
    machine: Provenance = field(default_factory=Provenance)  # what /system_stats tells (set on connecting)
    _models: ModelFiles | None = None  # a launched server's model files, each fingerprinted once
    comfyui_version: str | None = None  # as /system_stats says (set on connecting); named in UI-format errors
    #: Where the last /object_info is kept between runs (pytest's cache, given by the pytest
    #: layer when a UI-format workflow is collected): the next run's collection checks that
    #: workflow's input names with it.
    info_store: Cache | None = None
    _conversions: Conversions | None = None  # UI-format workflows, converted once per session
    timings: Timings = field(init=False)  # time and memory of each prompt, from the socket's messages

    def __post_init__(self) -> None:
        self.timings = Timings(pid=self._server_pid, sample=self._device_memory)
        self.listeners.append(self.timings.listener)

    def _server_pid(self) -> int | None:
        return self.server.process.pid if self.server is not None else None

    def _device_memory(self) -> float | None:
        """Device memory in use, from /system_stats (a remote server's memory, sampled)."""
        try:
            return device_memory_mb(self.client().system_stats())
        except ComfyError:
            return None

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
            try:
                folders = manifest_folders(self.settings, self.say)  # --comfy-fetch-models downloads first
            except (ModelManifestError, ModelFetchFailed) as exc:
                raise LaunchFailed(str(self.settings.launch), f"not launched: {exc}") from None
            self.say(f"launching ComfyUI from {self.settings.launch} ...")
            self.server = launch(self.settings.launch, python, self.settings.launch_args,
                                 model_paths=self.settings.model_paths, model_folders=folders)
            self.say(f"ComfyUI launched at {self.server.url} (log: {self.server.log_path})")
        client = ComfyClient(self.settings.connect_url(self.url), headers=dict(self.settings.headers),
                             run_mark=self.run_mark, ca_bundle=self.settings.ca_bundle)
        client.listeners.extend(self.listeners)
        stats = client.system_stats()
        self.machine = server_provenance(stats, here=self.server is not None, plugin=__version__)
        self.device = self.machine.device
        system = stats.get("system") if isinstance(stats, dict) else None
        version = system.get("comfyui_version") if isinstance(system, dict) else None
        self.comfyui_version = str(version) if version else None
        if self.fresh:
            client.free()  # --comfy-fresh: an identical prompt must really run again
        return client

    def provenance(self, workflow: dict[str, Any]) -> Provenance:
        """Where this prompt is computed: the server's provenance and, for a server launched
        here, the fingerprints of the model files the workflow names (its folders asked once,
        from ``/experiment/models``); a server given by URL: model files unknown."""
        client = self.client()
        if self.server is None:
            return self.machine
        if self._models is None:
            try:
                self._models = ModelFiles(model_folders(client.get_json("/experiment/models")))
            except ComfyError:
                self._models = ModelFiles()  # an older server: no model file found, none fingerprinted
        return self.machine.with_models(self._models.fingerprints(workflow))

    def local_output(self, file: OutputFile) -> Path | None:
        """The output file in the folder of the server this session launched (on this machine),
        so that it is taken from there instead of downloaded again; None for a server given by
        URL, or when the file is not there."""
        server = self.server
        return server.local_file(file.type, file.subfolder, file.filename) if server is not None else None

    @property
    def contacted(self) -> bool:
        """Whether this session has talked to (or tried to reach, or launched) a server."""
        return self._client is not None or self.failure is not None or self.server is not None

    def holds(self, prompt_id: str) -> bool:
        """Whether the prompt is on the current server (not one that crashed and was replaced)."""
        return self._client is not None and self._client.knows(prompt_id)

    def recover(self, exc: ServerUnavailable) -> bool:
        """After ``exc``: True when the prompt may be queued again, on a server that runs now.

        Only with ``--comfy-restart-on-crash`` and a launched server: a server that died (or
        stopped answering) is launched again, at most MAX_RESTARTS times; a failure that came
        from a server already replaced needs no restart."""
        old = self.server
        if not self.settings.restart_on_crash or old is None:
            return False  # nothing launched, or the last launch itself failed
        if exc.url != old.url and self.failure is None:
            return True  # the prompt was queued on a server that has since been replaced
        if old.process.poll() is None and self._client is not None and self._client.answers():
            return False  # the server runs and answers: not a crash
        if self.restarts >= MAX_RESTARTS:
            if self.failure is None:  # said once: later prompts find the failure recorded
                self.say(f"ComfyUI at {old.url} died during the run (log: {old.log_path}); not launched again: "
                         f"it was restarted {MAX_RESTARTS} times already, the most --comfy-restart-on-crash allows")
            return False
        self.restarts += 1
        if self._client is not None:
            self._client.close()
        old.stop()
        self.server, self._client, self._object_info, self.failure = None, None, None, None
        self._uploads.clear()
        self.say(f"ComfyUI at {old.url} died during the run (log: {old.log_path}); launching it again "
                 f"(restart {self.restarts} of at most {MAX_RESTARTS})")
        self.client()
        return True

    def object_info(self) -> dict[str, Any]:
        if self._object_info is None:
            self._object_info = self.client().object_info()
            if self.info_store is not None and writes(self.settings, self.worker):
                keep_object_info(self.info_store, server_of(self.settings, self.worker), self._object_info)
        return self._object_info

    def conversions(self) -> Conversions:
        """UI-format workflows converted with this session's /object_info, each file once (a
        server launched again after a crash is asked again)."""
        info = self.object_info()
        if self._conversions is None or self._conversions.object_info is not info:
            self._conversions = Conversions(info, self.comfyui_version, self.settings.limits.nodes)
        return self._conversions

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
