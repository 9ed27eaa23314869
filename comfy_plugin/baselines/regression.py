"""The regression suite: fixed-seed prompts compared with their baselines during a session.

Decides which prompts are compared (those whose seeds are fixed), what a missing baseline
means (``--comfy-missing-baseline``: pass, fail, skip or write) and what
``--comfy-update-baselines`` records. Each output kind (``media/``) observes and compares its
own outputs; this module puts their verdicts together. Results are written once, at the end,
by the one process that writes (the plain session, or the pytest-xdist controller after
merging its workers' results and verdicts). No pytest here.

Importing this module is cheap: the kinds load what they read outputs with when the first
batch file is collected (``collected``), so a pytest run without batch files never loads them.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..batchfile.checks import HARNESS_KEYS
from ..errors import BaselineError, ComfyError
from ..media.kind import CompareContext, KindVerdict, Readings, Recordable, SavedOutput, Stored, worst
from ..media.kinds import Kinds
from ..media.still.spec import DEFAULT_REFERENCE_SIDE, HashSpec, parse_reference_side
from ..settings import BaselineSettings
from .verdict import REVIEWABLE, Verdict, listed

if TYPE_CHECKING:
    from ..batchfile.batch import Batch, PromptSpec
    from ..run.prepare import PreparedPrompt
    from ..server.identity import Provenance
    from .results import SessionResults
    from .store import BaselineStore

MISSING_POLICIES = ("pass", "fail", "skip", "write")
WARM_UP_SAMPLE = 50  # prompts whose entries tell each kind what to load before the first prompt runs
MISSING_HINT = "record one with --comfy-update-baselines (or --comfy-missing-baseline=write)"


def is_compared(spec: PromptSpec) -> bool:
    """A prompt is a regression test unless a seed is drawn at random. Only seed keys can mean
    random: a text that says "random" is a text."""
    return not spec.random_keys()


@dataclass(frozen=True)
class Combined:
    """Every kind's verdict of one prompt put together."""

    status: str
    message: str
    readings: Readings
    observed: list[Recordable]
    update: list[Recordable] | None  # what an update records; None: the stored entries stay


def counted(observed: list[Recordable], kinds: Kinds) -> str:
    """``2 image(s)``, ``1 image(s), 1 text(s)``: what a prompt's observations are."""
    names = list(dict.fromkeys(seen.kind for seen in observed))
    return ", ".join(f"{sum(s.kind == n for s in observed)} {kinds.named(n).noun}(s)" for n in names) or "0 image(s)"


def uncompared_name(output: SavedOutput) -> str:
    """How the summary names an output no kind compares: its suffix (".glb"), else its key."""
    return Path(output.file.filename).suffix.lower() or output.file.kind


def combine(verdicts: list[KindVerdict], kinds: Kinds, has_baseline: bool) -> Combined:
    """One status (the most telling), the failing kinds' messages (all of them when all
    match), the readings under each kind's prefix, and what an update would record."""
    observed = [seen for v in verdicts for seen in v.observed]
    readings = {kinds.named(v.kind).prefix + name: value for v in verdicts for name, value in v.readings.items()}
    if not has_baseline:
        return Combined("missing", f"no baseline for this prompt ({counted(observed, kinds)})\n  {MISSING_HINT}",
                        readings, observed, observed)
    status = worst([v.status for v in verdicts])
    failing = [v.message for v in verdicts if v.failed]
    message = "\n".join(failing or [v.message for v in verdicts]) or "the prompt has no output to compare"
    unchanged = all(v.unchanged for v in verdicts)
    return Combined(status, message, readings, observed, None if unchanged else observed)


@dataclass
class Regression:
    settings: BaselineSettings
    store: BaselineStore
    results: SessionResults
    kinds: Kinds
    report: bool = False  # the HTML report wants each kind's part of the cards
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # node id -> verdict
    reviewable: dict[str, tuple[str, str, list[Recordable]]] = field(default_factory=dict)  # node id -> (key, id, seen)
    cards: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # node id -> each kind's part of its card
    workflow_maps: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id -> its reviewable workflow's map
    written: list[str] = field(default_factory=list)  # baseline files written at the end
    removed: list[str] = field(default_factory=list)  # baseline files removed at the end (no entry left)
    stale: dict[str, list[str]] = field(default_factory=dict)  # batch key -> ids with no prompt left
    error: str = ""  # why writing failed, if it did
    reference_side: int | None = DEFAULT_REFERENCE_SIDE  # --comfy-reference-side (None: full)
    _stored: dict[str, Mapping[str, list[Stored]]] = field(default_factory=dict)  # read a prompt at a time
    _origins: dict[str, Mapping[str, dict[str, Any]]] = field(default_factory=dict)  # key -> id -> provenance

    @classmethod
    def create(cls, settings: BaselineSettings, rootdir: Path, batch_dir: str, kinds: Kinds | None = None,
               report: bool = False) -> Regression:
        HashSpec.parse(settings.hash)  # a bad --comfy-hash fails at start, not per prompt
        if settings.missing not in MISSING_POLICIES:
            raise BaselineError(f"--comfy-missing-baseline {settings.missing!r}: expected one of "
                                f"{', '.join(MISSING_POLICIES)}")
        side = parse_reference_side(settings.reference_side)  # a bad value fails at start
        from .results import SessionResults
        from .store import BaselineStore

        kinds = kinds or Kinds.of()
        store = BaselineStore(settings.root, rootdir, settings.env, batch_dir, kinds)
        return cls(settings, store, SessionResults(), kinds, report, reference_side=side)

    def batch_key(self, batch: Batch) -> str | None:
        """The batch file's key in the store; None for a file outside the rootdir (no baselines)."""
        try:
            return self.store.key(batch.path)
        except BaselineError:
            return None

    def collected(self, batch: Batch) -> None:
        """Every prompt id of a batch file read in full: what stale entries are measured against.
        Each kind loads what it reads outputs with now, before the first prompt runs."""
        key = self.batch_key(batch)
        stored: list[Stored] = []
        if key is not None:
            self.results.collected(key, [spec.id for spec in batch.prompts])
            with contextlib.suppress(ComfyError):  # the prompt's own check reports a broken baseline file
                sample = itertools.islice(self._entries_of(batch).values(), WARM_UP_SAMPLE)
                stored = [e for entries in sample for e in entries]
        for kind in self.kinds.all:
            kind.warm_up([e for e in stored if e.kind == kind.name])

    def _entries_of(self, batch: Batch) -> Mapping[str, list[Stored]]:
        key = self.store.key(batch.path)
        if key not in self._stored:
            self._stored[key], self._origins[key] = self.store.load_all(batch.path)
        return self._stored[key]

    def _use_device(self, provenance: Provenance | None) -> None:
        """--comfy-baseline-env=auto: the device's own set is read first once the device is
        known (entries read before, at collection, came from the shared set alone)."""
        if provenance is not None and self.store.auto and self.store.device != provenance.device:
            self.store.use_device(provenance.device)
            self._stored.clear()
            self._origins.clear()

    def check(self, nodeid: str, batch: Batch, spec: PromptSpec, prepared: PreparedPrompt,
              outputs: list[SavedOutput], *, provenance: Provenance | None = None) -> Verdict:
        """``provenance``: where this run computed the outputs (kept with what is recorded, and
        compared with the baseline's when the comparison fails)."""
        self._use_device(provenance)
        verdict = self._check(nodeid, batch, spec, prepared, outputs, provenance=provenance)
        self.keep(nodeid, verdict)
        return verdict

    def keep(self, nodeid: str, verdict: Verdict) -> None:
        """A prompt's verdict as the session's summary reads it (``Verdict.summarised``)."""
        self.verdicts[nodeid] = verdict.summarised()

    def pending_provenance(self, nodeid: str, provenance: Mapping[str, Any]) -> dict[str, Any]:
        """A reviewable prompt's provenance as its pending result keeps it: with the map of its
        workflow, so that a baseline accepted later names what changed in the workflow."""
        from .workflow_changes import KEY

        found = self.workflow_maps.pop(nodeid, None)
        return {**provenance, KEY: found} if provenance and found is not None else dict(provenance)

    def _may_record(self, entries: list[Stored] | None) -> bool:
        """Whether this prompt's observations may be written: only then are thumbnails made."""
        return self.settings.update or (entries is None and self.settings.missing == "write")

    def _not_compared(self, nodeid: str, outputs: list[SavedOutput], message: str,
                      uncompared: tuple[str, ...] = ()) -> Verdict:
        if self.report:
            self.cards[nodeid] = [{"kind": kind.name, **kind.preview(outs)} for kind in self.kinds.all
                                  if (outs := [o for o in outputs if o.kind == kind.name])]
        return Verdict("not-compared", message, uncompared=uncompared)

    def _check(self, nodeid: str, batch: Batch, spec: PromptSpec, prepared: PreparedPrompt,
               outputs: list[SavedOutput], *, provenance: Provenance | None) -> Verdict:
        if not is_compared(spec):
            keys = " and ".join(spec.random_keys())
            return self._not_compared(nodeid, outputs, f'not compared with a baseline: {keys} is "random"')
        key = self.batch_key(batch)
        if key is None:
            return self._not_compared(nodeid, outputs, f"not compared: the batch file lies outside the rootdir "
                                      f"{self.store.rootdir}, which baselines/ mirrors")
        from ..media.kind import workflow_digest

        values = {k: v for k, v in prepared.values.items() if k not in HARNESS_KEYS}
        seed = values.get("seed", values.get("noise_seed"))
        entries = self._entries_of(batch).get(spec.id)
        context = CompareContext(
            self.settings, (spec.values.get("baseline") or {}, batch.baseline),
            seed if isinstance(seed, int) else None, workflow_digest(prepared.workflow), values,
            self._may_record(entries), self.reference_side, lambda name: self.store.side_file(batch.path, name),
            self.report)
        verdicts = []
        for kind in self.kinds.all:
            outs = [o for o in outputs if o.kind == kind.name]
            stored = None if entries is None else [e for e in entries if e.kind == kind.name]
            if outs or stored:
                verdicts.append(kind.compare(stored, outs, context))
        uncompared = tuple(uncompared_name(o) for o in outputs if not o.kind)
        if not verdicts:  # no output any kind compares and no entry: nothing compared, nothing to record
            why = f"no output kind compares {listed(uncompared)}" if uncompared else "the prompt produced no output"
            return self._not_compared(nodeid, outputs, f"not compared: {why}", uncompared)
        if self.report:
            self.cards[nodeid] = [{"kind": v.kind, **v.card} for v in verdicts if v.card]
        from .provenance import judged
        from .workflow_changes import KEY, described, node_inputs

        result = combine(verdicts, self.kinds, entries is not None)
        recorded = self._origins.get(key, {}).get(spec.id)
        result = replace(result, message=described(result.message, recorded, prepared.workflow))
        origin = provenance.to_json() if provenance is not None else None
        if origin is not None:  # kept with what is recorded: a later change names its nodes and inputs
            origin[KEY] = node_inputs(prepared.workflow)
        verdict = replace(self._decide(nodeid, key, spec.id, result, origin), uncompared=uncompared)
        verdict = judged(verdict, recorded, provenance)
        if verdict.status in REVIEWABLE and not self.settings.update:
            # what a reviewer may accept later (--comfy-accept): recorded as an update would be
            self.reviewable[nodeid] = (key, spec.id, result.observed)
            self.workflow_maps[nodeid] = node_inputs(prepared.workflow)
        return verdict

    def _decide(self, nodeid: str, key: str, prompt_id: str, result: Combined,
                origin: dict[str, Any] | None) -> Verdict:
        """The verdict for a comparison, recording what the settings ask to record (with
        ``origin``, this run's provenance)."""
        count = counted(result.observed, self.kinds)
        if self.settings.update:
            return self._update(key, prompt_id, result, origin)
        if result.status != "missing":
            return Verdict(result.status, result.message, readings=result.readings)
        if self.settings.missing == "write":
            self.results.record(key, prompt_id, list(result.observed), origin)
            return Verdict("recorded", f"no baseline yet: recorded ({count})")
        if self.settings.missing == "pass":
            return Verdict("missing", f"no baseline yet for this prompt ({count}); record one with: "
                           f"pytest {nodeid} --comfy-update-baselines", accepted=True)
        return Verdict("missing", result.message, skip=self.settings.missing == "skip")

    def _update(self, key: str, prompt_id: str, result: Combined, origin: dict[str, Any] | None) -> Verdict:
        """--comfy-update-baselines: what is recorded, and a verdict that says only that."""
        self.results.record(key, prompt_id, result.update, origin)
        if result.update is None:
            return Verdict("unchanged", "baseline unchanged: " + result.message, readings=result.readings)
        if not result.update:  # the entries go: the prompt produced nothing a kind compares
            return Verdict("removed", "baseline removed: the prompt produced no output to compare; "
                           + result.message, readings=result.readings)
        return Verdict("recorded", f"baseline recorded ({counted(result.update, self.kinds)})",
                       readings=result.readings)

    # -- the end of the session -------------------------------------------------------------

    def absorb(self, worker_payload: Mapping[str, Any]) -> None:
        """A pytest-xdist worker's ``results.to_json()``, merged by the controller."""
        from .results import SessionResults

        self.results.merge(SessionResults.from_json(worker_payload, self.kinds))

    def finish(self) -> None:
        """Write what was recorded and find stale entries (``written``, ``stale``, ``error``)."""
        try:
            self._finish()
        except ComfyError as exc:
            self.error = str(exc)

    def _finish(self) -> None:
        rootdir = self.store.rootdir
        for key, ids in sorted(self.results.ids.items()):
            recorded = self._stored[key] if key in self._stored else self.store.load(rootdir / key)
            found = sorted(set(recorded) - set(ids))
            if found:
                self.stale[key] = found
        prune = self.settings.update and self.settings.prune
        for key in sorted(set(self.results.updates) | (set(self.stale) if prune else set())):
            origins = self.results.origins_of(key)
            for label, updates in self.store.sets_of(self.results.updates.get(key, {}), origins).items():
                target = self.store.baseline_path(rootdir / key, label)
                existed = target.is_file()
                path = self.store.write(rootdir / key, updates, remove=self.stale.get(key, []) if prune else (),
                                        provenance=origins, label=label)
                if path is not None:
                    self.written.append(str(path))
                elif existed:
                    self.removed.append(str(target))
        if prune:
            self.stale = {}
