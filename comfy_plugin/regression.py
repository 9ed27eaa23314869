"""The regression suite: fixed-seed prompts compared with their baselines during a session.

Decides which prompts are compared (those with no ``"random"`` value), with which hash and
thresholds (prompt > batch file > command line > ini > default), and what
``--comfy-update-baselines`` records. Results are written once, at the end, by the one
process that writes (the plain session, or the pytest-xdist controller after merging its
workers' results). No pytest here; hashing and storage live in baselines.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .baselines import (BaselineError, BaselineStore, HashSpec, SessionResults, Thresholds, compare_all, default_threshold,
                        merge_worker_results, observe, stale_entries, updated_entries, workflow_digest)
from .batch import HARNESS_KEYS, RANDOM, Batch, PromptSpec
from .errors import ComfyError
from .settings import BaselineSettings
from .prepare import PreparedPrompt
from .runner import SavedOutput

MARKER = "comfy_regression"


class BaselineMismatch(ComfyError):
    """An output image differs from its baseline beyond the threshold (or has none)."""


@dataclass(frozen=True)
class Verdict:
    """What the baseline check says about one prompt."""

    status: str  # match | diff | changed-test | missing | recorded | unchanged | not-compared
    message: str
    distances: tuple[int | None, ...] = ()
    threshold: int | None = None
    skip: bool = False

    @property
    def failed(self) -> bool:
        return self.status in ("diff", "changed-test", "missing") and not self.skip


def is_compared(spec: PromptSpec) -> bool:
    """A prompt is a regression test unless one of its values is drawn at random."""
    return not any(value == RANDOM for value in spec.values.values())


@dataclass
class Regression:
    settings: BaselineSettings
    store: BaselineStore
    results: SessionResults = field(default_factory=SessionResults)
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # node id -> verdict
    written: list[str] = field(default_factory=list)  # baseline files written at the end
    stale: dict[str, list[str]] = field(default_factory=dict)  # batch key -> ids with no prompt left
    error: str = ""  # why writing failed, if it did
    _stored: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: BaselineSettings, rootdir: Path, batch_dir: str) -> Regression:
        HashSpec.parse(settings.hash)  # a bad --comfy-hash fails at start, not per prompt
        return cls(settings, BaselineStore(settings.root, rootdir, settings.env, batch_dir))

    def _key(self, batch: Batch) -> str | None:
        """The batch file's key in the store; None for a file outside the rootdir (no baselines)."""
        try:
            return self.store.key(batch.path)
        except BaselineError:
            return None

    def collected(self, batch: Batch) -> None:
        """Every prompt id of a batch file read in full: what stale entries are measured against."""
        key = self._key(batch)
        if key is not None:
            self.results.collected(key, [spec.id for spec in batch.prompts])

    def hash_settings(self, batch: Batch, spec: PromptSpec) -> tuple[HashSpec, Thresholds]:
        own: Mapping[str, Any] = spec.values.get("baseline") or {}
        layers = [own, batch.baseline]
        hash_text = next((layer["hash"] for layer in layers if "hash" in layer), self.settings.hash)
        hash_spec = HashSpec.parse(hash_text)
        threshold = next((layer["threshold"] for layer in layers if "threshold" in layer),
                         self.settings.threshold if self.settings.threshold is not None
                         else default_threshold(hash_spec))
        defaults = Thresholds()
        colour = next((layer["colour_threshold"] for layer in layers if "colour_threshold" in layer), defaults.colour)
        sharp = next((layer["sharpness_threshold"] for layer in layers if "sharpness_threshold" in layer),
                     defaults.sharpness)
        return hash_spec, Thresholds(threshold, colour, sharp)

    def _entries(self, batch: Batch, prompt_id: str):
        key = self.store.key(batch.path)
        if key not in self._stored:
            self._stored[key] = self.store.load(batch.path)
        return self._stored[key].get(prompt_id)

    def check(self, nodeid: str, batch: Batch, spec: PromptSpec, prepared: PreparedPrompt,
              outputs: list[SavedOutput]) -> Verdict:
        verdict = self._check(batch, spec, prepared, outputs)
        self.verdicts[nodeid] = verdict
        return verdict

    def _check(self, batch: Batch, spec: PromptSpec, prepared: PreparedPrompt,
               outputs: list[SavedOutput]) -> Verdict:
        if not is_compared(spec):
            return Verdict("not-compared", 'not compared with a baseline: a value is "random"')
        key = self._key(batch)
        if key is None:
            return Verdict("not-compared", f"not compared: the batch file lies outside the rootdir "
                           f"{self.store.rootdir}, which baselines/ mirrors")
        hash_spec, thresholds = self.hash_settings(batch, spec)
        values = {k: v for k, v in prepared.values.items() if k not in HARNESS_KEYS}
        digest = workflow_digest(prepared.workflow)
        seed = values.get("seed", values.get("noise_seed"))
        images = [o for o in outputs if o.is_still_image]
        observed = [observe(o.data, hash_spec, seed=seed if isinstance(seed, int) else None,
                            workflow_digest=digest, params=values) for o in images]
        entries = self._entries(batch, spec.id)
        result = compare_all(
            entries, observed, thresholds,
            baseline_images=[str(self.store.thumbnail_path(batch.path, e) or "") for e in entries or []],
            new_images=[str(o.path or o.file.filename) for o in images],
        )
        distances = tuple(c.distance for c in result.images)
        if self.settings.update:
            update = updated_entries(result)
            self.results.record(key, spec.id, update)
            if update is None:
                return Verdict("unchanged", "baseline unchanged: " + result.message, distances, thresholds.hash)
            return Verdict("recorded", f"baseline recorded ({len(observed)} image(s))", distances, thresholds.hash)
        if result.status == "missing":
            if self.settings.missing == "write":
                self.results.record(key, spec.id, list(observed))
                return Verdict("recorded", f"no baseline yet: recorded ({len(observed)} image(s))")
            return Verdict("missing", result.message, skip=self.settings.missing == "skip")
        return Verdict(result.status, result.message, distances, thresholds.hash)

    def baseline_thumbnails(self, batch: Batch, spec: PromptSpec) -> list[Path | None]:
        """The stored thumbnails of a prompt's baseline images, by index (for reports)."""
        try:
            entries = self._entries(batch, spec.id) if self._key(batch) is not None else None
        except ComfyError:
            return []
        return [self.store.thumbnail_path(batch.path, e) for e in entries or []]

    # -- the end of the session -------------------------------------------------------------

    def absorb(self, worker_payload: Mapping[str, Any]) -> None:
        """A pytest-xdist worker's results, merged by the controller."""
        merged = merge_worker_results([self.results.to_json(), worker_payload])
        self.results = merged

    def finish(self) -> None:
        """Write what was recorded and find stale entries (``written``, ``stale``, ``error``)."""
        try:
            self._finish()
        except ComfyError as exc:
            self.error = str(exc)

    def _finish(self) -> None:
        rootdir = self.store.rootdir
        for key, ids in sorted(self.results.ids.items()):
            found = stale_entries(self.store.load(rootdir / key), ids)
            if found:
                self.stale[key] = found
        prune = self.settings.update and self.settings.prune
        for key in sorted(set(self.results.updates) | (set(self.stale) if prune else set())):
            path = self.store.write(rootdir / key, self.results.updates.get(key, {}),
                                    remove=self.stale.get(key, []) if prune else ())
            self.written.append(str(path))
        if prune:
            self.stale = {}
