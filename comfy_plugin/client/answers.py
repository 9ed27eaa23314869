"""ComfyUI's answers turned into data: a 400 from POST /prompt, a socket error message, a
/history entry, a /queue listing. Pure functions: no I/O, so each can be tested alone.

The server is untrusted input: anything not of the expected shape is left out rather than
allowed to raise (names are made safe later, by files.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ComfyError, ExecutionFailed, ExecutionFailure, ExecutionInterrupted, NodeError, PromptRejected

#: The ``extra_data`` key that carries a run's mark: ComfyUI keeps unknown keys and lists
#: them in /queue, so every prompt of one run (all its xdist workers) can be told apart.
RUN_MARK_KEY = "comfy_plugin_run"


@dataclass(frozen=True)
class OutputFile:
    """A file an output node produced, as /history lists it (names are untrusted)."""

    node_id: str
    kind: str  # the output key: images, gifs, audio, video, ...
    filename: str
    subfolder: str
    type: str
    #: the node's ``"animated": [flag]`` beside its files (None: not given, e.g. a one-frame animation)
    animated: bool | None = None


@dataclass
class PromptResult:
    prompt_id: str
    files: list[OutputFile]
    texts: list[tuple[str, str]]  # (node id, text) for text outputs
    cached_nodes: list[str]
    status: str
    execution_s: float | None  # from the server's own timestamps


@dataclass(frozen=True)
class QueueEntry:
    """One prompt of GET /queue: ``[number, prompt_id, prompt, extra_data, outputs]``."""

    number: float
    prompt_id: str
    extra_data: Mapping[str, Any] = field(default_factory=dict)

    def belongs_to(self, client_id: str, run_mark: str | None) -> bool:
        """Whether this client, or another client of the same run, queued the prompt."""
        if run_mark is not None and self.extra_data.get(RUN_MARK_KEY) == run_mark:
            return True
        return self.extra_data.get("client_id") == client_id


@dataclass(frozen=True)
class QueueSnapshot:
    """The server's queue at one moment."""

    running: tuple[QueueEntry, ...] = ()
    pending: tuple[QueueEntry, ...] = ()

    def ids(self, running_only: bool = False) -> set[str]:
        entries = self.running if running_only else self.running + self.pending
        return {entry.prompt_id for entry in entries}

    def is_running(self, prompt_id: str) -> bool:
        return any(entry.prompt_id == prompt_id for entry in self.running)

    def pending_entry(self, prompt_id: str) -> QueueEntry | None:
        return next((entry for entry in self.pending if entry.prompt_id == prompt_id), None)

    def foreign_ahead(self, prompt_id: str, client_id: str, run_mark: str | None) -> int:
        """How many prompts that are not this run's are ahead of a pending prompt: every
        running one, and every pending one with a lower number (the server runs the lowest
        number first). 0 when the prompt is not pending."""
        mine = self.pending_entry(prompt_id)
        if mine is None:
            return 0
        ahead = [e for e in self.running if e.prompt_id != prompt_id]
        ahead += [e for e in self.pending if e.number < mine.number]
        return sum(1 for e in ahead if not e.belongs_to(client_id, run_mark))


def queue_from_answer(answer: Any) -> QueueSnapshot:
    """GET /queue's answer as a snapshot; malformed entries are left out."""
    if not isinstance(answer, dict):
        return QueueSnapshot()
    return QueueSnapshot(_entries(answer.get("queue_running")), _entries(answer.get("queue_pending")))


def _entries(items: Any) -> tuple[QueueEntry, ...]:
    entries = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, list) or len(item) < 2 or not isinstance(item[1], str):
            continue
        number = item[0] if isinstance(item[0], (int, float)) and not isinstance(item[0], bool) else float("inf")
        extra = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
        entries.append(QueueEntry(float(number), item[1], extra))
    return tuple(entries)


def rejection(status: int, answer: Any, workflow: Mapping[str, Any]) -> PromptRejected:
    """A readable PromptRejected from POST /prompt's error answer, keeping every detail."""
    if not isinstance(answer, dict):
        return PromptRejected("", f"HTTP {status}: {str(answer)[:500]}", [])
    given = answer.get("error")
    error: dict[str, Any] = given if isinstance(given, dict) else {"message": str(answer.get("error", ""))}
    nodes: list[NodeError] = []
    for node_id, info in (answer.get("node_errors") or {}).items():
        nodes += _node_errors(str(node_id), info, workflow)
    message = str(error.get("message", "")) or f"HTTP {status}"
    details = str(error.get("details", ""))
    if details and details not in message:
        message += f": {details}"
    return PromptRejected(str(error.get("type", "")), message, nodes)


def _node_errors(node_id: str, info: Any, workflow: Mapping[str, Any]) -> list[NodeError]:
    """One node's entry of ``node_errors``: one NodeError per rejected input."""
    node = workflow.get(node_id, {}) if isinstance(workflow, Mapping) else {}
    node = node if isinstance(node, dict) else {}
    title = node.get("_meta", {}).get("title", "") if isinstance(node.get("_meta"), dict) else ""
    info = info if isinstance(info, dict) else {}
    class_type = str(info.get("class_type", node.get("class_type", "?")))
    found = []
    for entry in info.get("errors", []) if isinstance(info.get("errors"), list) else []:
        err: dict[str, Any] = entry if isinstance(entry, dict) else {"message": str(entry)}
        given = err.get("extra_info")
        extra: dict[str, Any] = given if isinstance(given, dict) else {}
        found.append(NodeError(
            node_id=node_id, class_type=class_type, title=title,
            input_name=str(extra.get("input_name", "")),
            message=str(err.get("message", "")),
            details=str(err.get("details", "")),
            error_type=str(err.get("type", "")),
            received=extra.get("received_value"),
        ))
    return found


def failure_from_message(data: Mapping[str, Any]) -> ExecutionFailure:
    """An ``execution_error`` message (socket or /history) as data."""
    trace = data.get("traceback")
    return ExecutionFailure(
        node_id=str(data.get("node_id", "?")),
        node_type=str(data.get("node_type", "?")),
        exception_type=str(data.get("exception_type", "?")),
        exception_message=str(data.get("exception_message", "")),
        traceback=[str(t) for t in trace] if isinstance(trace, list) else [],
    )


def _messages(status: Any) -> list[tuple[str, dict[str, Any]]]:
    """A history entry's ``status.messages`` as (kind, data) pairs, malformed ones left out."""
    messages = status.get("messages") if isinstance(status, dict) else None
    return [(str(m[0]), m[1]) for m in messages or [] if isinstance(m, (list, tuple)) and len(m) == 2
            and isinstance(m[1], dict)] if isinstance(messages, list) else []


def failure_from_history(entry: Mapping[str, Any]) -> ComfyError | None:
    """The failure a finished prompt's history entry records, or None when it succeeded."""
    status = entry.get("status")
    if not isinstance(status, dict) or status.get("status_str") != "error":
        return None
    for kind, data in _messages(status):
        if kind == "execution_error":
            return ExecutionFailed(failure_from_message(data))
        if kind == "execution_interrupted":
            return ExecutionInterrupted("the prompt was interrupted on the server")
    return ComfyError("the prompt ended with an error (no details in /history)")


def result_from_history(prompt_id: str, entry: Mapping[str, Any], cached_nodes: list[str]) -> PromptResult:
    """The prompt's outputs as /history lists them. Names stay untrusted: files.py makes
    the file names; anything that is not the expected shape is left out."""
    files, texts = _outputs(entry.get("outputs"))
    given = entry.get("status")
    status: dict[str, Any] = given if isinstance(given, dict) else {}
    messages = _messages(status)
    times = {kind: data.get("timestamp") for kind, data in messages}
    start, end = times.get("execution_start"), times.get("execution_success")
    execution_s = (end - start) / 1000.0 if isinstance(start, (int, float)) and isinstance(end, (int, float)) else None
    if not cached_nodes:
        for kind, data in messages:
            if kind == "execution_cached" and isinstance(data.get("nodes"), list):
                cached_nodes = [str(n) for n in data["nodes"]]
    return PromptResult(prompt_id, files, texts, cached_nodes, str(status.get("status_str", "")), execution_s)


def _outputs(outputs: Any) -> tuple[list[OutputFile], list[tuple[str, str]]]:
    """The files and texts of a history entry's ``outputs``."""
    files: list[OutputFile] = []
    texts: list[tuple[str, str]] = []
    for node_id, output in (outputs.items() if isinstance(outputs, dict) else ()):
        flags = output.get("animated") if isinstance(output, dict) else None
        animated = flags[0] if isinstance(flags, list) and flags and isinstance(flags[0], bool) else None
        for kind, items in (output.items() if isinstance(output, dict) else ()):
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("filename"), str):
                    files.append(OutputFile(str(node_id), str(kind), item["filename"],
                                            str(item.get("subfolder", "")), str(item.get("type", "output")),
                                            animated))
                elif isinstance(item, str) and kind == "text":
                    texts.append((str(node_id), item))
    return files, texts
