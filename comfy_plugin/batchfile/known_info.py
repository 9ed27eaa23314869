"""The last ``/object_info`` of a server, kept between runs, so that input names of a
UI-format workflow can be checked when the batch file is collected (no server then).

Kept in a key-value store with pytest's cache interface (``get``, ``set``); the pytest layer
passes ``config.cache``. A server is known by its URL; a launched one by its ComfyUI folder,
arguments and version (its URL changes with each launch).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..uiformat.catalog import Catalog
from .schema import Cache

if TYPE_CHECKING:
    from ..settings import Settings

KEY_PREFIX = "comfy_plugin/object_info/"
_VERSION = re.compile(r"""__version__\s*=\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class Server:
    """How the store knows a server (``identity``) and how messages name it (``shown``)."""

    identity: str
    shown: str

    @property
    def key(self) -> str:
        return KEY_PREFIX + hashlib.sha256(self.identity.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class KnownInfo:
    """An ``/object_info`` read in an earlier run, and where and when it came from."""

    object_info: Mapping[str, Any]
    origin: str  # "/object_info of http://127.0.0.1:8188 cached 2026-12-01 23:40"
    catalog: Catalog = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "catalog", Catalog(self.object_info))

    def note(self) -> str:
        return f"input names checked against {self.origin}; pytest --cache-clear forgets it"


def launched_version(folder: Path) -> str:
    """The version a ComfyUI folder holds (``comfyui_version.py``), without starting it."""
    try:
        found = _VERSION.search((folder / "comfyui_version.py").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return "unknown version"
    return found.group(1) if found else "unknown version"


def server_of(settings: Settings, worker: int = 0) -> Server:
    """The server a session (or pytest-xdist worker ``worker``) uses."""
    if settings.launch is not None:
        version = launched_version(settings.launch)
        return Server(f"launch {settings.launch} {version} {settings.launch_args}",
                      f"the ComfyUI launched from {settings.launch} ({version})")
    url = settings.url_for_worker(worker)
    return Server(f"url {url}", url)


def writes(settings: Settings, worker: int) -> bool:
    """One writer per server: pytest-xdist workers that share one would write the same file."""
    return worker == 0 if settings.launch is not None else worker < len(settings.urls)


def keep(store: Cache, server: Server, object_info: Mapping[str, Any], now: datetime | None = None) -> None:
    """Remember ``object_info`` as the server's, with the time it was read."""
    when = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    store.set(server.key, {"identity": server.identity, "shown": server.shown, "saved": when,
                           "object_info": dict(object_info)})


def known(store: Cache, server: Server) -> KnownInfo | None:
    """The server's ``/object_info`` as last kept, if any (and not damaged)."""
    entry = store.get(server.key, None)
    if not isinstance(entry, dict) or entry.get("identity") != server.identity:
        return None
    info = entry.get("object_info")
    if not isinstance(info, dict) or not info or not all(isinstance(v, dict) for v in info.values()):
        return None
    return KnownInfo(info, f"/object_info of {entry.get('shown', server.shown)} cached {entry.get('saved', '?')}")
