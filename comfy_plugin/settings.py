"""The session's settings as plain data, with no pytest: what the run-time modules read.

``options.py`` builds them from the command line, the environment and the ini file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .urls import without_credentials

#: The marker of fixed-seed prompts, which are compared with their baselines (``-m comfy_regression``).
REGRESSION_MARKER = "comfy_regression"
#: The most nodes a UI-format workflow may expand to once its subgraph instances are flattened.
MAX_UI_NODES = 10_000


@dataclass(frozen=True)
class BatchLimits:
    """Bounds on the work one batch file can ask for at collection: the size of each file it
    brings (itself, its workflow, its variable files) and the prompts it may expand to."""

    file_mb: float = 16.0  # --comfy-max-file-mb
    prompts: int = 50_000  # --comfy-max-prompts: after variables are expanded
    nodes: int = MAX_UI_NODES  # --comfy-max-nodes: a UI-format workflow's, once its subgraphs are expanded

    @property
    def file_bytes(self) -> int:
        return int(self.file_mb * 1_000_000)


@dataclass(frozen=True)
class Settings:
    urls: tuple[str, ...]
    launch: Path | None
    python: str | None
    launch_args: str
    seed: int | None
    model_paths: Path | None
    timeout_s: float
    missing: str
    prefetch: int | None  # prompts queued ahead; None: "auto" (run/pipeline.py Depth)
    batch_dirs: tuple[str, ...]
    restart_on_crash: bool = False
    queue_timeout_s: float = 1800.0  # time queued behind other people's prompts; 0: no bound
    check: bool = False  # --comfy-check: validate the prompts, queue nothing
    server_named: bool = False  # a server was named (URL) or is to be launched: check mode asks it
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # values are secrets: never shown
    ca_bundle: Path | None = None  # --comfy-ca-bundle: CAs that verify an https server (None: the system's)
    limits: BatchLimits = BatchLimits()  # what one batch file may make collection read and build
    #: (URL as shown, URL with its user:password): filled from ``urls``, which keep no credentials.
    models: Path | None = None  # --comfy-models: the manifest of the model files the suite needs
    model_cache: Path | None = None  # --comfy-model-cache (None: ~/.cache/comfy-plugin/models)
    fetch_models: bool = False  # --comfy-fetch-models: download the manifest's missing models before a launch
    credentials: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        """A URL's ``user:password@`` (sent as basic auth) moves to ``credentials``, so that
        every URL the plugin shows (summary, errors) comes from ``urls`` without a secret."""
        shown = tuple(without_credentials(url) for url in self.urls)
        moved = tuple((clean, url) for clean, url in zip(shown, self.urls, strict=True) if clean != url)
        object.__setattr__(self, "urls", shown)
        object.__setattr__(self, "credentials", self.credentials + moved)

    def connect_url(self, url: str) -> str:
        """The URL to give the client: with the credentials it was given with, if any."""
        return dict(self.credentials).get(url, url)

    @property
    def url(self) -> str:
        return self.urls[0]

    def url_for_worker(self, worker: int) -> str:
        """pytest-xdist worker N uses the N-th server, round robin."""
        return self.urls[worker % len(self.urls)]


@dataclass(frozen=True)
class BaselineSettings:
    update: bool
    prune: bool
    root: Path
    env: str | None
    missing: str
    hash: str
    threshold: int | None
    fresh: bool
    pending: Path = Path("images/comfy-pending")  # results waiting for review (--comfy-accept reads them)
    perf: str = "warn"  # time baselines: warn | fail | off
    time_tolerance: float = 1.5  # slower than this factor (and at least 1 s) is a regression
    mem_tolerance: float = 1.25  # more peak memory than this factor is a regression
    reference_side: str = "256"  # long side of the reference image beside each baseline entry, or "full"
    confirm_failures: int = 0  # uncached reruns of a prompt that differs from its baseline (run/confirm.py)
    nondeterministic: str = "fail"  # a prompt whose reruns differ from each other: fail | skip | pass
