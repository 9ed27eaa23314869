"""Collection: which JSON files are batch files, and a batch file as a ``pytest.File``.

A broken batch file becomes one failing item (``x.json::batch``), so the other files still run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import BatchFileError, InternalError
from .failure import FailureRepr
from .registry import comfy_state

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle  # (types pytest does not export)

    from ..batchfile.batch import Batch
    from ..batchfile.known_info import KnownInfo
    from ..server.session import ComfySession
    from .state import ComfyPlugin, Parts


class BatchFile(pytest.File):
    """One batch JSON file: one item per prompt."""

    def collect(self) -> list[pytest.Item]:
        """The file's prompts; a file that cannot be read, or that the plugin fails on (a bug:
        the safety net), is one failing item, and the other files still run."""
        plugin: ComfyPlugin = comfy_state(self.config)
        parts = plugin.activate()  # (a usage error stops the session, as it should)
        shown_as = self.nodeid or self.path.name
        try:
            return list(self._prompts(plugin, parts, shown_as))
        except BatchFileError as exc:
            return [BrokenBatchItem.from_parent(self, name="batch", error=exc, shown_as=shown_as)]
        except Exception as exc:  # the safety net: reported, never silent
            return [BrokenBatchItem.from_parent(self, name="batch", error=InternalError(shown_as, exc),
                                                shown_as=shown_as)]

    def _prompts(self, plugin: ComfyPlugin, parts: Parts, shown_as: str) -> Iterator[pytest.Item]:
        from ..batchfile.batch import load_batch  # (heavy: only once a batch file is collected)
        from .item import PromptItem

        cache = getattr(self.config, "cache", None)  # None with -p no:cacheprovider
        batch = load_batch(self.path, shown_as, self.config.invocation_params.dir, parts.validator, cache=cache,
                           known=lambda: known_object_info(self.config, parts.session), limits=plugin.settings.limits)
        if batch.source is not None and cache is not None:
            parts.session.info_store = cache  # a UI-format workflow: the /object_info read is kept for the next run
        register_tags(self.config, batch)
        parts.regression.collected(batch)
        for spec in batch.prompts:
            yield PromptItem.from_parent(self, name=spec.id, batch=batch, spec=spec)


_KNOWN = pytest.StashKey["KnownInfo | None"]()


def known_object_info(config: pytest.Config, session: ComfySession) -> KnownInfo | None:
    """The server's /object_info kept by an earlier run (``batchfile/known_info.py``), read once per
    session: a UI-format workflow's input names are checked with it at collection."""
    if _KNOWN not in config.stash:
        from ..batchfile.known_info import known, server_of

        cache = getattr(config, "cache", None)
        config.stash[_KNOWN] = known(cache, server_of(session.settings, session.worker)) if cache else None
    return config.stash[_KNOWN]


class BrokenBatchItem(pytest.Item):
    """Stands for a batch file that cannot be read (or that the plugin failed on): fails with
    the file's error."""

    def __init__(self, *, error: BatchFileError | InternalError, shown_as: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error
        self.shown_as = shown_as

    def runtest(self) -> None:
        raise self.error

    def repr_failure(  # type: ignore[override]  # pytest shows any longrepr that has toterminal
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None,
    ) -> str | TerminalRepr | FailureRepr:
        if isinstance(excinfo.value, InternalError):
            return FailureRepr.of_internal(excinfo.value, self.config.option.verbose > 0)
        if isinstance(excinfo.value, BatchFileError):
            return FailureRepr.of_text(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.shown_as} (batch file)"


def register_tags(config: pytest.Config, batch: Batch) -> None:
    """Tags are markers; registering them keeps ``--strict-markers`` and -m working."""
    known = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    for tag in sorted({t for spec in batch.prompts for t in spec.tags} - known):
        config.addinivalue_line("markers", f"{tag}: tag from a batch file")


@dataclass
class _Places:
    """Where the session's JSON files lie, as strings (no ``Path`` built per file): the paths
    named on the command line, and whether each folder met so far is under a batch folder."""

    named: frozenset[str]
    folders: dict[str, bool]


_PLACES = pytest.StashKey[_Places]()


def batch_file_at(file_path: Path, parent: pytest.Collector) -> BatchFile | None:
    """The JSON file as a batch file, or None. Cheap for the many JSON files that are not:
    a folder's place is resolved once a folder (not once a file), and a file outside the
    batch folders, not named on the command line, costs one small read (``looks_like_batch``)."""
    plugin: ComfyPlugin = comfy_state(parent.config)
    places = parent.config.stash.get(_PLACES, None)
    if places is None:
        places = parent.config.stash[_PLACES] = _Places(frozenset(map(str, plugin.named_paths)), {})
    text = str(file_path)
    folder = os.path.dirname(text)
    under = places.folders.get(folder)
    if under is None:
        under = places.folders[folder] = under_batch_dir(Path(folder).resolve(), plugin)
    if is_batch_candidate(file_path, text in places.named, under, plugin.settings.limits.file_bytes):
        return BatchFile.from_parent(parent, path=file_path)
    return None


def under_batch_dir(folder: Path, plugin: ComfyPlugin) -> bool:
    """Whether the (resolved) folder is or lies under one of ``comfy_batch_dirs`` (a one-part
    name also matches a folder of that name anywhere, as it always has)."""
    inside = (folder, *folder.parents)
    return any(batch in inside or (len(Path(entry).parts) == 1 and any(p.name == entry for p in inside))
               for batch, entry in plugin.batch_folders)


def is_batch_candidate(path: Path, named: bool, under_batch_dir: bool, max_bytes: int) -> bool:
    """Named on the command line or under a batch folder: always a batch file (so a broken
    one is reported), unless it is recognisably a workflow. Elsewhere only JSON holding
    top-level ``parameters`` and ``prompts`` is, and only a file whose first bytes name one of
    them is parsed to see (``looks_like_batch``): JSON data files cost one small read each.
    A file over ``max_bytes`` is not read."""
    from ..batchfile.reading import Source, looks_like_batch, read_json

    if not (named or under_batch_dir) and not looks_like_batch(path):
        return False
    from ..batchfile.workflow import is_workflow

    try:
        data = read_json(path, Source(path.name), max_bytes).data
    except BatchFileError:  # unreadable, too big, not UTF-8, not JSON: reported if it is meant as a batch
        return named or under_batch_dir
    except Exception:  # the safety net: a bug here must not drop the file, nor its folder
        return True  # collected, its own collection reports what is wrong
    if is_workflow(data):
        return False
    if named or under_batch_dir:
        return True
    return isinstance(data, dict) and "parameters" in data and "prompts" in data


def invalid_prompts(items: list[pytest.Item]) -> list[tuple[str, str]]:
    """(node id, message) of each collected prompt or batch file that cannot run as written."""
    found = []
    for item in items:
        error = getattr(item, "error", None) if isinstance(item, BrokenBatchItem) else \
            getattr(getattr(item, "spec", None), "error", None)
        if error is not None:
            found.append((item.nodeid, str(error)))
    return found
