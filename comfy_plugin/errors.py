"""Exception types with structured fields.

Every module raises these; only the pytest layer (collect.py) renders them, once, as
plain text instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ComfyError(Exception):
    """Base class: ``str(err)`` is the full, human-readable message."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a batch file: where (``prompts[3].seed``), what, and what to do."""

    place: str
    message: str
    hint: str = ""

    def render(self, path: str) -> str:
        where = f"{path}: {self.place}" if self.place else str(path)
        text = f"{where}: {self.message}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


class BatchFileError(ComfyError):
    """A batch file (or one prompt of it) cannot be used as written: one or more problems."""

    def __init__(self, path: str, message: str = "", place: str = "", hint: str = "",
                 problems: list[Problem] | None = None) -> None:
        self.path = path
        self.problems = problems or [Problem(place, message, hint)]
        super().__init__(self.render())

    @property
    def place(self) -> str:
        return self.problems[0].place

    @property
    def message(self) -> str:
        return self.problems[0].message

    @property
    def hint(self) -> str:
        return self.problems[0].hint

    def render(self) -> str:
        return "\n".join(p.render(self.path) for p in self.problems)


class InternalError(ComfyError):
    """An unexpected exception while the plugin handled one batch file or prompt: a bug of the
    plugin (a fault of the input has its own error type). Caught only at the safety nets
    (collecting a file, checking or running a prompt), so that file or prompt fails alone with
    one line asking for a report; ``original`` keeps the exception for ``-v``."""

    def __init__(self, where: str, original: BaseException) -> None:
        self.where = where
        self.original = original
        super().__init__(f"{where}: internal error of comfy_plugin: {type(original).__name__}: "
                         f"{str(original)[:300]}\n  please report it with this line and the file "
                         "(run with -v to see the traceback)")


class WorkflowError(BatchFileError):
    """The workflow a batch file names is missing, unreadable or cannot be patched."""


class UnresolvedTarget(ComfyError):
    """A ``workflow_items`` target names no node, several nodes, or a node whose values are
    never sent. ``server_can_tell``: the file alone cannot decide (a title a UI-format file
    does not store is the class's display name, known from ``/object_info`` only)."""

    def __init__(self, message: str, hint: str = "", server_can_tell: bool = False) -> None:
        self.message = message
        self.hint = hint
        self.server_can_tell = server_can_tell
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))


@dataclass
class NodeError:
    """One rejected input of one node, as ComfyUI's 400 response describes it."""

    node_id: str
    class_type: str
    title: str
    input_name: str
    message: str
    details: str = ""
    error_type: str = ""
    received: object = None

    def render(self) -> str:
        title = f" '{self.title}'" if self.title and self.title != self.class_type else ""
        where = f"node {self.node_id} ({self.class_type}{title})"
        if self.input_name:
            where += f" input '{self.input_name}'"
        text = f"{where}: {self.message}"
        if self.details and self.details not in self.message:
            text += f" ({self.details})"
        return text


class PromptRejected(ComfyError):
    """ComfyUI answered POST /prompt with an error (usually 400 with node_errors)."""

    def __init__(self, error_type: str, message: str, node_errors: list[NodeError]) -> None:
        self.error_type = error_type
        self.message = message
        self.node_errors = node_errors
        lines = [f"ComfyUI rejected the prompt: {message}" + (f" [{error_type}]" if error_type else "")]
        lines += [f"  - {e.render()}" for e in node_errors]
        super().__init__("\n".join(lines))


@dataclass
class ExecutionFailure:
    node_id: str
    node_type: str
    exception_type: str
    exception_message: str
    traceback: list[str] = field(default_factory=list)


class ExecutionFailed(ComfyError):
    """The prompt was accepted but a node raised while executing."""

    def __init__(self, failure: ExecutionFailure) -> None:
        self.failure = failure
        f = failure
        super().__init__(
            f"node {f.node_id} ({f.node_type}) failed: {f.exception_type}: {f.exception_message.strip()}"
        )


class ExecutionInterrupted(ComfyError):
    """The prompt was interrupted on the server (someone pressed cancel, or a timeout)."""


class ServerUnavailable(ComfyError):
    """ComfyUI cannot be reached, did not start, or went away during the run."""

    def __init__(self, url: str, what: str, how_to_fix: str = "") -> None:
        self.url = url
        self.what = what
        self.how_to_fix = how_to_fix
        text = f"ComfyUI at {url}: {what}"
        if how_to_fix:
            text += f"\n  {how_to_fix}"
        super().__init__(text)

    def short(self) -> str:
        return f"ComfyUI at {self.url} is not available (details in the session summary)"


class LaunchFailed(ServerUnavailable):
    """--comfy-launch could not start ComfyUI (no main.py, an interpreter that cannot run, a
    server that exited while starting): recorded once, like an unreachable server."""


class ModelManifestError(ComfyError):
    """The model manifest (``comfy_models``) cannot be used: unreadable, or an entry that is not
    a folder, a file name inside it, an http(s) URL and a sha256."""


class ModelFetchFailed(ComfyError):
    """A model of the manifest could not be downloaded, or its digest is not the manifest's:
    nothing of it is kept. One line, naming the file."""


class PromptTimeout(ComfyError):
    """No result arrived within the allowed time."""


class OutputError(ComfyError):
    """An output could not be downloaded or written."""


class PreflightError(ComfyError):
    """The server's /object_info says a value of the prompt cannot work: fail before queueing."""


class ModelMissing(ComfyError):
    """The server lacks a model file or a node type the workflow needs; the prompt is skipped."""


class UIFormatError(WorkflowError):
    """A UI-format workflow (saved by the ComfyUI editor) cannot be turned into a prompt;
    ``place`` names the node."""


class LegacyGroupNode(UIFormatError):
    """The file holds a legacy group node (``workflow>Name``), which current editors replaced
    with subgraphs."""


class WidgetValuesMismatch(UIFormatError):
    """A node's ``widgets_values`` cannot fit the server's inputs for its class (usually a file
    saved by a newer editor or node version than the server's)."""


class BrokenLink(UIFormatError):
    """A link starts at, or points to, a node or link the file does not hold."""


class MissingSubgraph(UIFormatError):
    """A node is an instance of a subgraph whose definition the file does not hold."""


class RecursiveSubgraph(UIFormatError):
    """A subgraph contains an instance of itself (directly or through other subgraphs)."""


class TooManyNodes(UIFormatError):
    """Expanding the subgraph instances would make more nodes than the limit allows
    (``--comfy-max-nodes``): each instance copies its definition, so a small file can nest
    into millions."""


class UnknownNodeType(UIFormatError, ModelMissing):
    """The server's ``/object_info`` lacks a node type the workflow uses: the prompt is skipped,
    as for an API-format workflow. ``types`` lists the missing types."""

    def __init__(self, path: str, types: list[str], message: str = "", place: str = "", hint: str = "") -> None:
        self.types = types
        super().__init__(path, message, place, hint)


class PromptLost(ComfyError):
    """The server no longer knows a prompt it accepted: neither queued, running nor in /history
    (it restarted, or someone removed the prompt from its queue)."""


class BaselineError(ComfyError):
    """A baseline file or setting cannot be used: unreadable, malformed, or an invalid hash setting."""


class BaselineMismatch(ComfyError):
    """An output image differs from its baseline beyond the threshold (or has none)."""


class PerfRegression(ComfyError):
    """A prompt got slower or hungrier than its time baseline allows (--comfy-perf=fail)."""


class BaselineSkipped(ComfyError):
    """The baseline check asks to skip the prompt (--comfy-missing-baseline=skip)."""


class ConnectionRefused(ServerUnavailable):
    """No connection could be made (refused, unknown host, no route): the request never
    reached the server, so it is safe to send again later."""


class ConnectionCut(ServerUnavailable):
    """The connection broke during a request (reset, truncated answer): the request may have
    reached the server, so a request that changes state is sent again only after asking."""

    def __init__(self, url: str, what: str, how_to_fix: str = "", reason: str = "") -> None:
        super().__init__(url, what, how_to_fix)
        self.reason = reason


class NoAnswer(ServerUnavailable):
    """The server took the connection but sent no answer within the HTTP timeout."""


class SocketUnavailable(ServerUnavailable):
    """The WebSocket (``/ws``) could not be opened, though HTTP may answer (a proxy that does
    not pass the upgrade, an upgrade refused for lack of credentials)."""


class AuthenticationFailed(ServerUnavailable):
    """The server, or a proxy in front of it, answered 401 or 403: the credentials sent (a
    header such as X-API-Key, user:password in the URL) are wrong or missing. Every later
    request would be refused alike, so it is recorded once, like an unreachable server. The
    message names the headers sent, never their values."""

    def short(self) -> str:
        return f"ComfyUI at {self.url}: authentication failed (details in the session summary)"


class TlsVerificationFailed(ServerUnavailable):
    """An https server's certificate could not be verified (signed by a CA this machine does
    not trust, for another name, expired). Verification cannot be turned off: the message says
    how to pass the CA's certificate."""

    def short(self) -> str:
        return f"ComfyUI at {self.url}: TLS verification failed (details in the session summary)"


class UpstreamUnavailable(ServerUnavailable):
    """A proxy answered 502, 503 or 504: ComfyUI behind it cannot be reached (ComfyUI itself
    never answers those). Recorded once, like an unreachable server."""


class HttpError(ComfyError):
    """The server answered a request with an HTTP status the client cannot use."""

    def __init__(self, method: str, url: str, status: int, body: str = "") -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        super().__init__(f"{method} {url} answered HTTP {status}" + (f": {body}" if body else ""))


class BadAnswer(ComfyError):
    """The server answered 200 with something that is not what the API promises (not JSON,
    or JSON of another shape): a proxy's error page, or another program on the port."""

    def __init__(self, method: str, url: str, problem: str) -> None:
        self.method = method
        self.url = url
        self.problem = problem
        super().__init__(f"{method} {url} answered {problem}")


class ReaderFailed(ComfyError):
    """The client's socket reader failed while handling a message (a bug in the client or in
    a listener given to it). Reported once, to one waiter, instead of being swallowed."""


class QueueTimeout(ComfyError):
    """The prompt waited in the server's queue behind prompts that are not this run's for
    longer than the queue timeout (``--comfy-queue-timeout``); it was removed from the queue."""

    def __init__(self, prompt_id: str, waited_s: float, queued_s: float, ahead: int, limit_s: float, *,
                 removed: bool = True) -> None:
        self.prompt_id = prompt_id
        self.waited_s = waited_s
        self.queued_s = queued_s
        self.ahead = ahead
        self.limit_s = limit_s
        self.removed = removed
        outcome = "it was removed from the queue" if removed else "removing it from the queue failed"
        super().__init__(
            f"queue timeout: prompt {prompt_id} waited {waited_s:.1f} s (limit {limit_s:g} s; {queued_s:.1f} s "
            f"in the queue in all) behind {ahead} prompt(s) that are not this run's, and {outcome}; "
            "the server is busy with other work: wait longer with --comfy-queue-timeout SECONDS (0: no bound)")
