"""Run one prompt end to end: prepare, preflight, submit, wait, download, save.

Submitting and finishing are separate steps so that a scheduler can queue prompts ahead
of the test that waits for them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..batchfile.batch import Batch, PromptSpec
from ..batchfile.prompt_specs import LocalFile
from ..client import ComfyClient, OutputFile, PromptResult
from ..client.background import Later
from ..errors import OutputError
from ..files import check_writable, extension_of, link_new, output_name, timestamp, write_new
from ..media.kind import SavedOutput
from ..media.kinds import Kinds
from ..server.session import ComfySession
from .preflight import check, input_spec
from .prepare import PreparedPrompt, prepare


@dataclass
class PromptRun:
    """A prompt on its way: prepared and submitted; ``finish`` waits and saves."""

    batch: Batch
    spec: PromptSpec
    prepared: PreparedPrompt
    prompt_id: str
    later: Later | None = None  # queued ahead: sent and waited for in the background


@dataclass(frozen=True)
class PromptOutcome:
    prompt_id: str
    prepared: PreparedPrompt
    result: PromptResult
    outputs: list[SavedOutput]


def checked(session: ComfySession, batch: Batch, spec: PromptSpec, seed: int | None = None) -> PreparedPrompt:
    """The prompt as it would be queued, checked against the server's /object_info (a UI-format
    workflow converted first; a local file named for a loader's upload input is uploaded, by
    content). ``seed`` replaces a "random" seed (a retry keeps the seed of the first try). An
    output directory that cannot be written fails here."""
    if batch.save.enabled:
        check_writable(session.output_root / batch.save.output_directory, session.writable)
    object_info = session.object_info()
    converted = None
    if batch.source is not None:  # a UI-format workflow: converted once per session, with this server's classes
        converted = session.conversions().get(str(batch.workflow_path.resolve()), batch.source, batch.source_shown)
    uploaded = {f.key: session.upload(f.path) for f in to_upload(spec, object_info)}
    fixed = seed if seed is not None else session.settings.seed
    prepared = prepare(batch, spec, object_info, fixed, session.rng, overrides=uploaded, converted=converted)
    check(prepared.workflow, object_info, uploaded=set(uploaded.values()))
    return prepared


#: The options by which /object_info marks a loader's input as a file the editor uploads
#: (``/upload/image``, into the input folder): LoadImage, LoadImageMask, LoadVideo, LoadAudio.
UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload")


def to_upload(spec: PromptSpec, object_info: Mapping[str, Any]) -> list[LocalFile]:
    """The prompt's local files that go to a loader's upload input (any loader the server has)."""
    return [f for f in spec.local_files if any(upload_input(object_info, c, name) for c, name in f.inputs)]


def upload_input(object_info: Mapping[str, Any], class_type: str, name: str) -> bool:
    """Whether the server's /object_info marks this input as an upload into its input folder
    (``LoadImageOutput``, which reads the output folder, and ``file_upload`` of 3D models,
    which go to a subfolder, are not)."""
    spec = input_spec(object_info, class_type, name)
    options = spec[1] if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict) else {}
    return any(options.get(flag) is True for flag in UPLOAD_FLAGS) and options.get("image_folder", "input") == "input"


def start(session: ComfySession, batch: Batch, spec: PromptSpec, seed: int | None = None, *,
          ahead: bool = False) -> PromptRun:
    """Prepare, check and queue the prompt: nothing is queued that fails a check. ``ahead``
    (a prompt queued for a later test): sent and waited for in the background, the server's
    refusal kept in ``later.posted`` for its own test."""
    prepared = checked(session, batch, spec, seed)
    client = session.client()
    prompt_id = str(uuid.uuid4())  # known before the POST, so no message of the prompt goes unseen
    session.timings.submitted(prompt_id, time.monotonic())
    if ahead:
        later = client.submit_later(prepared.workflow, prompt_id, _timeout(session, spec),
                                    session.settings.queue_timeout_s)
        return PromptRun(batch, spec, prepared, prompt_id, later)
    return PromptRun(batch, spec, prepared, client.submit(prepared.workflow, prompt_id=prompt_id))


def _timeout(session: ComfySession, spec: PromptSpec) -> float:
    return spec.timeout_s if spec.timeout_s is not None else session.settings.timeout_s


def finish(session: ComfySession, run: PromptRun, kinds: Kinds) -> PromptOutcome:
    """Wait for the prompt (its timeout counts from its execution start; the queue timeout
    only while other people's prompts are ahead of it) and save its outputs, each recognised
    by its kind."""
    client = session.client()
    result = client.result(run.prompt_id, _timeout(session, run.spec), queue_timeout=session.settings.queue_timeout_s)
    outputs = save_outputs(client, result, run.batch, run.spec, output_root=session.output_root, kinds=kinds,
                           local=session.local_output)
    return PromptOutcome(run.prompt_id, run.prepared, result, outputs)


def save_outputs(client: ComfyClient, result: PromptResult, batch: Batch, spec: PromptSpec, *,
                 output_root: Path, kinds: Kinds,
                 local: Callable[[OutputFile], Path | None] | None = None) -> list[SavedOutput]:
    """Keep every output file's bytes exactly as ComfyUI produced them. ``local`` finds a file
    in the folder of a server launched on this machine: it is read there and saved as a hard
    link to it (a copy where no link can be made), never transferred a second time; any other
    file is downloaded."""
    save = batch.save
    directory = output_root / save.output_directory
    stamp = timestamp()
    saved = []
    for index, file in enumerate(result.files):
        source = local(file) if local is not None else None
        data = _read_local(source) if source is not None else None
        if data is None:
            source, data = None, client.download(file)
        if not data:
            raise OutputError(f"the server returned an empty file for {file.filename!r}")
        path = None
        if save.enabled:
            name = output_name(save.filename_prefix, spec.id, stamp, index, extension_of(file.filename))
            path = (source and link_new(directory, name, source)) or write_new(directory, name, data)
        saved.append(kinds.saved(file, path, data))
    for n, (node_id, text) in enumerate(result.texts):
        file = OutputFile(node_id, "text", f"text-{n}.txt", "", "text")
        path = None
        if save.enabled:
            name = output_name(save.filename_prefix, spec.id, stamp, len(result.files) + n, ".txt")
            path = write_new(directory, name, text.encode("utf-8"))
        saved.append(kinds.saved(file, path, text.encode("utf-8")))
    return saved


def _read_local(path: Path) -> bytes | None:
    """The bytes of a file in the launched server's folder; None when it cannot be read (then
    it is downloaded)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


@dataclass(frozen=True)
class WorkflowRun:
    """What the ``comfy`` fixture returns: the server's result and each output file's bytes."""

    prompt_id: str
    result: PromptResult
    files: list[tuple[OutputFile, bytes]]

    @property
    def images(self) -> list[bytes]:
        return [data for file, data in self.files if file.kind == "images"]


@dataclass
class WorkflowRunner:
    """Runs an API-format workflow on the session's server, for ordinary Python tests."""

    session: ComfySession

    @property
    def client(self) -> ComfyClient:
        return self.session.client()

    def run(self, workflow: dict, timeout: float | None = None) -> WorkflowRun:
        client = self.client
        prompt_id = client.submit(workflow)
        result = client.wait(prompt_id, timeout or self.session.settings.timeout_s)
        return WorkflowRun(prompt_id, result, [(f, client.download(f)) for f in result.files])
