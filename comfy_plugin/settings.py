"""The session's settings as plain data, with no pytest: what the run-time modules read.

``options.py`` builds them from the command line, the environment and the ini file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    prefetch: int
    batch_dirs: tuple[str, ...]
    restart_on_crash: bool = False
    queue_timeout_s: float = 1800.0  # time queued behind other people's prompts; 0: no bound
    check: bool = False  # --comfy-check: validate the prompts, queue nothing
    server_named: bool = False  # a server was named (URL) or is to be launched: check mode asks it
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # values are secrets: never shown

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
