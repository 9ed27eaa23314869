"""The regression suite: fixed-seed prompts compared with their baselines during a session.

Decides which prompts are compared (those whose seeds are fixed), with which hash and
thresholds (prompt > batch file > command line > ini > default), what a missing baseline
means (``--comfy-missing-baseline``: pass, fail, skip or write) and what
``--comfy-update-baselines`` records. Results are written once, at the end, by the one
process that writes (the plain session, or the pytest-xdist controller after merging its
workers' results and verdicts). No pytest here; images and files are the baselines package's.

Importing this module is cheap: the modules that read pixels (numpy, Pillow, imagehash) are
loaded when the first batch file is collected (``collected``), so a pytest run without batch
files never loads them and the first image does not pay for them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .spec import DEFAULT_REFERENCE_SIDE, HashSpec, parse_reference_side
from ..batchfile.checks import HARNESS_KEYS
from ..errors import BaselineError, ComfyError
from ..settings import REGRESSION_MARKER, BaselineSettings

if TYPE_CHECKING:
    from .entries import BaselineEntry
    from .results import SessionResults
    from .store import BaselineStore
    from ..batchfile.batch import Batch, PromptSpec
    from ..run.prepare import PreparedPrompt
    from ..run.steps import SavedOutput

MARKER = REGRESSION_MARKER
#: Verdicts whose new images a reviewer may accept as the baseline (--comfy-accept).
REVIEWABLE = ("diff", "changed-test", "missing")
MISSING_POLICIES = ("pass", "fail", "skip", "write")
_FAILING = ("diff", "changed-test", "missing")


#: metric name -> (its distance for each image, None where not measured; its threshold, None: off)
Readings = dict[str, tuple[tuple["float | None", ...], "float | None"]]


@dataclass(frozen=True)
class Verdict:
    """What the baseline check says about one prompt. ``distances`` are hash distances, one
    per image; ``readings`` every metric's distances and threshold (the hash's among them);
    ``accepted``: the policy lets this status pass (a missing baseline, by default)."""

    status: str  # match | diff | changed-test | missing | recorded | unchanged | not-compared
    message: str
    distances: tuple[int | None, ...] = ()
    threshold: int | None = None
    skip: bool = False
    accepted: bool = False
    readings: Readings = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status in _FAILING and not self.skip and not self.accepted

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, for a pytest-xdist worker's payload to the controller."""
        data = asdict(self)
        data["distances"] = list(self.distances)
        data["readings"] = {name: [list(values), limit] for name, (values, limit) in self.readings.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        try:
            readings = {str(name): (tuple(values), limit) for name, (values, limit) in data.get("readings", {}).items()}
            return cls(str(data["status"]), str(data["message"]), tuple(data.get("distances", ())),
                       data.get("threshold"), bool(data.get("skip", False)), bool(data.get("accepted", False)),
                       readings)
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"not a baseline verdict: {exc}") from None


def readings_of(result: Any) -> Readings:
    """Every metric's distances (one per image, None where it was not measured) and threshold,
    in the order the metrics are named, for a ``PromptComparison`` that compared anything."""
    names = [name for name in result.thresholds if any(name in c.distances for c in result.images)]
    return {name: (tuple(c.distances.get(name) for c in result.images), result.thresholds.get(name))
            for name in names}


def is_compared(spec: PromptSpec) -> bool:
    """A prompt is a regression test unless a seed is drawn at random. Only seed keys can mean
    random: a text that says "random" is a text."""
    return not spec.random_keys()


@dataclass
class Regression:
    settings: BaselineSettings
    store: BaselineStore
    results: SessionResults
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # node id -> verdict
    reviewable: dict[str, tuple[str, str, list]] = field(default_factory=dict)  # node id -> (key, id, observations)
    written: list[str] = field(default_factory=list)  # baseline files written at the end
    stale: dict[str, list[str]] = field(default_factory=dict)  # batch key -> ids with no prompt left
    error: str = ""  # why writing failed, if it did
    reference_side: int | None = DEFAULT_REFERENCE_SIDE  # --comfy-reference-side (None: full)
    _stored: dict[str, dict[str, list[BaselineEntry]]] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: BaselineSettings, rootdir: Path, batch_dir: str) -> Regression:
        HashSpec.parse(settings.hash)  # a bad --comfy-hash fails at start, not per prompt
        if settings.missing not in MISSING_POLICIES:
            raise BaselineError(f"--comfy-missing-baseline {settings.missing!r}: expected one of "
                                f"{', '.join(MISSING_POLICIES)}")
        side = parse_reference_side(getattr(settings, "reference_side", None))  # a bad value fails at start
        from .results import SessionResults
        from .store import BaselineStore

        store = BaselineStore(settings.root, rootdir, settings.env, batch_dir)
        return cls(settings, store, SessionResults(), reference_side=side)

    def batch_key(self, batch: Batch) -> str | None:
        """The batch file's key in the store; None for a file outside the rootdir (no baselines)."""
        try:
            return self.store.key(batch.path)
        except BaselineError:
            return None

    def collected(self, batch: Batch) -> None:
        """Every prompt id of a batch file read in full: what stale entries are measured against.
        Loads the modules that read pixels now, before the first prompt runs."""
        from . import comparison  # noqa: F401  (numpy, Pillow, imagehash: loaded now)
        from .entries import warm_up

        warm_up()
        key = self.batch_key(batch)
        if key is not None:
            self.results.collected(key, [spec.id for spec in batch.prompts])
            self._warm_up_references(batch)

    def _warm_up_references(self, batch: Batch) -> None:
        """Load scikit-image before the first prompt when this file's baselines have references
        to compare (a session that records, or has only older baselines, never loads it)."""
        try:
            stored = self._entries_of(batch)
        except ComfyError:
            return  # the prompt's own check reports a broken baseline file
        if any(e.reference for entries in stored.values() for e in entries):
            from .comparison import warm_up_references

            warm_up_references()

    def hash_settings(self, batch: Batch, spec: PromptSpec) -> tuple[HashSpec, dict[str, float | None]]:
        """The prompt's hash and the thresholds it sets (by metric name; the rest take their defaults)."""
        from .metrics import threshold_keys

        keys = threshold_keys()
        layers: list[Mapping[str, Any]] = [spec.values.get("baseline") or {}, batch.baseline]
        hash_text = next((layer["hash"] for layer in layers if "hash" in layer), self.settings.hash)
        given: dict[str, float | None] = {}
        if self.settings.threshold is not None:  # --comfy-threshold: the hash's
            given["hash"] = self.settings.threshold
        for name, threshold_key in keys.items():
            chosen = next((layer for layer in layers if threshold_key in layer), None)
            if chosen is not None:
                given[name] = chosen[threshold_key]
        return HashSpec.parse(hash_text), given

    def _entries_of(self, batch: Batch) -> dict[str, list[BaselineEntry]]:
        key = self.store.key(batch.path)
        if key not in self._stored:
            self._stored[key] = self.store.load(batch.path)
        return self._stored[key]

    def _entries(self, batch: Batch, prompt_id: str) -> list[BaselineEntry] | None:
        return self._entries_of(batch).get(prompt_id)

    def check(self, nodeid: str, batch: Batch, spec: PromptSpec, prepared: PreparedPrompt,
              outputs: list[SavedOutput]) -> Verdict:
        verdict = self._check(nodeid, batch, spec, prepared, outputs)
        self.verdicts[nodeid] = verdict
        return verdict

    def _may_record(self, entries: list[BaselineEntry] | None) -> bool:
        """Whether this prompt's observations may be written: only then are thumbnails made."""
        return self.settings.update or (entries is None and self.settings.missing == "write")

    def _check(self, nodeid: str, batch: Batch, spec: PromptSpec, prepared: PreparedPrompt,
               outputs: list[SavedOutput]) -> Verdict:
        if not is_compared(spec):
            keys = " and ".join(spec.random_keys())
            return Verdict("not-compared", f'not compared with a baseline: {keys} is "random"')
        key = self.batch_key(batch)
        if key is None:
            return Verdict("not-compared", f"not compared: the batch file lies outside the rootdir "
                           f"{self.store.rootdir}, which baselines/ mirrors")
        from . import comparison
        from . import entries as entries_mod
        hash_spec, thresholds = self.hash_settings(batch, spec)
        values = {k: v for k, v in prepared.values.items() if k not in HARNESS_KEYS}
        digest = entries_mod.workflow_digest(prepared.workflow)
        seed = values.get("seed", values.get("noise_seed"))
        entries = self._entries(batch, spec.id)
        images = [o for o in outputs if o.is_still_image]

        observed = [entries_mod.observe(o.data, hash_spec, seed=seed if isinstance(seed, int) else None,
                                        workflow_digest=digest, params=values, thumbnail=self._may_record(entries),
                                        reference_side=self.reference_side) for o in images]
        result = comparison.compare_all(
            entries, observed, thresholds,
            baseline_images=[str(self.store.thumbnail_path(batch.path, e) or "") for e in entries or []],
            new_images=[str(o.path or o.file.filename) for o in images],
            baseline_references=[self.store.reference_path(batch.path, e) for e in entries or []],
        )
        verdict = self._decide(nodeid, key, spec.id, result, comparison.updated_entries(result))
        if verdict.status in REVIEWABLE and not self.settings.update:
            # what a reviewer may accept later (--comfy-accept): recorded as an update would be
            # (Observation.to_json makes the thumbnail and reference PNGs from the reference pixels)
            self.reviewable[nodeid] = (key, spec.id, observed)
        return verdict

    def _decide(self, nodeid: str, key: str, prompt_id: str, result: Any, update: list | None) -> Verdict:
        """The verdict for a comparison, recording what the settings ask to record."""
        distances = tuple(c.distance for c in result.images)
        threshold = result.thresholds.get("hash")
        readings = readings_of(result)
        count = len(result.observed)
        if self.settings.update:
            self.results.record(key, prompt_id, update)
            if update is None:
                return Verdict("unchanged", "baseline unchanged: " + result.message, distances, threshold,
                               readings=readings)
            return Verdict("recorded", f"baseline recorded ({count} image(s))", distances, threshold,
                           readings=readings)
        if result.status != "missing":
            return Verdict(result.status, result.message, distances, threshold, readings=readings)
        if self.settings.missing == "write":
            self.results.record(key, prompt_id, list(result.observed))
            return Verdict("recorded", f"no baseline yet: recorded ({count} image(s))")
        if self.settings.missing == "pass":
            return Verdict("missing", f"no baseline yet for this prompt ({count} image(s)); record one with: "
                           f"pytest {nodeid} --comfy-update-baselines", accepted=True)
        return Verdict("missing", result.message, skip=self.settings.missing == "skip")

    def baseline_thumbnails(self, batch: Batch, spec: PromptSpec) -> list[Path | None]:
        """The stored thumbnails of a prompt's baseline images, by index (for reports)."""
        try:
            entries = self._entries(batch, spec.id) if self.batch_key(batch) is not None else None
        except ComfyError:
            return []
        return [self.store.thumbnail_path(batch.path, e) for e in entries or []]

    def baseline_references(self, batch: Batch, spec: PromptSpec) -> list[Path | None]:
        """The stored reference images of a prompt's baseline images, by index (None: an entry
        recorded before references; for reports that show the baseline larger than its thumbnail)."""
        try:
            entries = self._entries(batch, spec.id) if self.batch_key(batch) is not None else None
        except ComfyError:
            return []
        return [self.store.reference_path(batch.path, e) for e in entries or []]

    # -- the end of the session -------------------------------------------------------------

    def absorb(self, worker_payload: Mapping[str, Any]) -> None:
        """A pytest-xdist worker's ``results.to_json()``, merged by the controller."""
        self.results.merge(type(self.results).from_json(worker_payload))

    def absorb_verdicts(self, verdicts: Mapping[str, Verdict]) -> None:
        """A pytest-xdist worker's verdicts (node id -> Verdict), so the controller's summary
        counts every prompt and names the worst distances."""
        self.verdicts.update(verdicts)

    def finish(self) -> None:
        """Write what was recorded and find stale entries (``written``, ``stale``, ``error``)."""
        try:
            self._finish()
        except ComfyError as exc:
            self.error = str(exc)

    def _finish(self) -> None:
        rootdir = self.store.rootdir
        if self.results.ids:  # only a session that collected batch files reads pixels
            from .comparison import stale_entries

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
