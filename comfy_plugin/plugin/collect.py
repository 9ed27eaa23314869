"""Collection: which JSON files are batch files, and a batch file as a ``pytest.File``.

A broken batch file becomes one failing item (``x.json::batch``), so the other files still run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import BatchFileError
from .failure import FailureRepr

from .registry import comfy_state

if TYPE_CHECKING:
    from .state import ComfyPlugin


class BatchFile(pytest.File):
    """One batch JSON file: one item per prompt."""

    def collect(self):
        from ..batchfile.batch import load_batch  # (heavy: only once a batch file is collected)
        from .item import PromptItem

        plugin: ComfyPlugin = comfy_state(self.config)
        parts = plugin.activate()
        shown_as = self.nodeid or self.path.name
        cache = getattr(self.config, "cache", None)  # None with -p no:cacheprovider
        try:
            batch = load_batch(self.path, shown_as, self.config.invocation_params.dir, parts.validator, cache,
                               lambda: known_object_info(self.config, parts.session))
        except BatchFileError as exc:
            yield BrokenBatchItem.from_parent(self, name="batch", error=exc)
            return
        if batch.source is not None and cache is not None:
            parts.session.info_store = cache  # a UI-format workflow: the /object_info read is kept for the next run
        register_tags(self.config, batch)
        parts.regression.collected(batch)
        for spec in batch.prompts:
            yield PromptItem.from_parent(self, name=spec.id, batch=batch, spec=spec)


_KNOWN = pytest.StashKey[Any]()


def known_object_info(config: pytest.Config, session: Any) -> Any:
    """The server's /object_info kept by an earlier run (``uiformat.known``), read once per
    session: a UI-format workflow's input names are checked with it at collection."""
    if _KNOWN not in config.stash:
        from ..uiformat.known import known, server_of

        cache = getattr(config, "cache", None)
        config.stash[_KNOWN] = known(cache, server_of(session.settings, session.worker)) if cache else None
    return config.stash[_KNOWN]


class BrokenBatchItem(pytest.Item):
    """Stands for a batch file that cannot be read: fails with the file's error."""

    def __init__(self, *, error: BatchFileError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, BatchFileError):
            return FailureRepr.of_text(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"{self.error.path} (batch file)"


def register_tags(config: pytest.Config, batch) -> None:
    """Tags are markers; registering them keeps ``--strict-markers`` and -m working."""
    known = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    for tag in sorted({t for spec in batch.prompts for t in spec.tags} - known):
        config.addinivalue_line("markers", f"{tag}: tag from a batch file")


def is_batch_candidate(path: Path, named: bool, under_batch_dir: bool) -> bool:
    """Named on the command line or under a batch folder: always a batch file (so a broken
    one is reported), unless it is recognisably a workflow. Elsewhere only JSON holding
    top-level ``parameters`` and ``prompts`` is."""
    from ..batchfile.workflow import is_workflow

    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON: reported if it is meant as a batch
        return named or under_batch_dir
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
