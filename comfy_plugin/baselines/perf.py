"""Time baselines: each fixed-seed prompt's execution time and peak memory, kept per device.

They live beside the image baselines (``baselines/x.perf.json`` for ``baselines/x.json``),
keyed by the device identity (``server/identity.py``: the GPU's name, or a CPU's model and
core count), so figures of two machines are never compared. A prompt that loaded a model
(a loader node ran rather than came from the cache: the first prompt of a session, say) is
a cold one: its figures are kept and compared apart from the warm ones, so a first prompt's
model load is never taken for a slowdown. ``--comfy-update-baselines`` records a prompt's
figures only when there are none yet or when a figure left its tolerance: noise does not
churn git; the device's provenance is written with them. A later run compares: a prompt
slower than ``--comfy-time-tolerance`` (a factor, and at least 1 s slower) or using more
memory than ``--comfy-mem-tolerance`` is listed in the summary, and with
``--comfy-perf=fail`` it fails. No pytest here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BaselineError, ComfyError
from ..settings import BaselineSettings

if TYPE_CHECKING:
    from .store import BaselineStore

MIN_SLOWER_S = 1.0  # a prompt must also be this much slower to count as slower
PERF_VERSION = 2  # 2: per device, "warm" and "cold" figures apart and the device's provenance
STATES = ("warm", "cold")

#: batch key -> device -> "warm" | "cold" -> prompt id -> figures
Figures = dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]]


@dataclass(frozen=True)
class PerfVerdict:
    status: str  # ok | slower | hungrier | slower, hungrier | new | recorded | off
    message: str = ""
    failed: bool = False


def perf_path(baseline_file: Path) -> Path:
    return baseline_file.with_name(baseline_file.stem + ".perf.json")


def _as_current(document: dict[str, Any]) -> dict[str, Any]:
    """A version 1 file (one set of figures per device, cold and warm mixed) read as warm figures."""
    if document.get("version", PERF_VERSION) >= PERF_VERSION:
        return document
    devices = {device: {"warm": prompts} for device, prompts in document.get("devices", {}).items()}
    return {"version": PERF_VERSION, "devices": devices}


@dataclass
class PerfBaselines:
    settings: BaselineSettings
    store: BaselineStore  # the image baselines' store: where a batch file's baselines live
    updates: Figures = field(default_factory=dict)
    provenance: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # key -> device -> provenance
    verdicts: dict[str, PerfVerdict] = field(default_factory=dict)  # node id -> verdict
    written: list[str] = field(default_factory=list)
    error: str = ""
    _stored: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self, nodeid: str, batch_file: Path, prompt_id: str, device: str, figures: dict[str, float], *,
              cold: str = "", provenance: dict[str, Any] | None = None) -> PerfVerdict:
        """``cold``: why the prompt's figures are cold ones ("" when warm): they are compared
        with the cold figures only. ``provenance``: written with recorded figures."""
        verdict = self._check(batch_file, prompt_id, device, {k: v for k, v in figures.items() if v is not None},
                              cold=cold, provenance=provenance)
        self.verdicts[nodeid] = verdict
        return verdict

    def _check(self, batch_file: Path, prompt_id: str, device: str, figures: dict[str, float], *, cold: str,
               provenance: dict[str, Any] | None) -> PerfVerdict:
        if self.settings.perf == "off" or not figures:
            return PerfVerdict("off")
        state = "cold" if cold else "warm"
        where = f"{device}, cold: {cold}" if cold else device
        try:
            key = self.store.key(batch_file)
            stored = self._load(key).get("devices", {}).get(device, {}).get(state, {}).get(prompt_id)
        except ComfyError as exc:
            return PerfVerdict("off", str(exc))
        problems = compare(stored or {}, figures, self.settings.time_tolerance, self.settings.mem_tolerance)
        if self.settings.update:
            return self._update(key, device, state, prompt_id, figures, stored=stored, problems=problems,
                                provenance=provenance)
        if stored is None:
            return PerfVerdict("new", f"no {state} time baseline for {where} yet")
        if not problems:
            return PerfVerdict("ok")
        status = ", ".join(name for name in ("slower", "hungrier") if any(p.startswith(name) for p in problems))
        return PerfVerdict(status, f"{'; '.join(problems)} (on {where})", failed=self.settings.perf == "fail")

    def _update(self, key: str, device: str, state: str, prompt_id: str, figures: dict[str, float], *,
                stored: dict[str, float] | None, problems: list[str], provenance: dict[str, Any] | None) -> PerfVerdict:
        """--comfy-update-baselines: record only new figures and figures out of their tolerance,
        so that noise does not churn git."""
        faster = compare(figures, stored or {}, self.settings.time_tolerance, self.settings.mem_tolerance)
        if stored is not None and not problems and not faster:
            return PerfVerdict("ok", f"{state} time baseline within its tolerance: unchanged")
        self.record(key, device, state, prompt_id, figures, provenance=provenance)
        return PerfVerdict("recorded", f"{state} time baseline recorded for {device}")

    def record(self, key: str, device: str, state: str, prompt_id: str, figures: dict[str, float], *,
               provenance: dict[str, Any] | None = None) -> None:
        """Figures to write at the end (an update, or an accepted pending result)."""
        self.updates.setdefault(key, {}).setdefault(device, {}).setdefault(state, {})[prompt_id] = dict(figures)
        if provenance:
            self.provenance.setdefault(key, {})[device] = dict(provenance)

    def _path(self, key: str) -> Path:
        """The time baselines of the batch file stored under ``key`` (in the shared set: they
        are kept per device already)."""
        return perf_path(self.store.shared_path(self.store.rootdir / key))

    def _load(self, key: str) -> dict[str, Any]:
        if key not in self._stored:
            path = self._path(key)
            try:
                document = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            except (OSError, ValueError) as exc:
                raise BaselineError(f"{path}: cannot read the time baselines: {exc}") from None
            self._stored[key] = _as_current(document) if isinstance(document, dict) else {}
        return self._stored[key]

    # -- pytest-xdist and the end of the session ----------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"updates": self.updates, "provenance": self.provenance,
                "verdicts": {k: vars(v) for k, v in self.verdicts.items()}}

    def absorb(self, data: dict[str, Any]) -> None:
        for key, devices in data.get("updates", {}).items():
            for device, states in devices.items():
                for state, prompts in states.items():
                    for prompt_id, figures in prompts.items():
                        self.record(key, device, state, prompt_id, figures)
        for key, devices in data.get("provenance", {}).items():
            self.provenance.setdefault(key, {}).update(devices)
        self.verdicts.update({k: PerfVerdict(**v) for k, v in data.get("verdicts", {}).items()})

    def finish(self) -> None:
        """Write the recorded figures, each file once, merged into what it held; a device's
        provenance only with its figures."""
        from .store import atomic_write

        try:
            for key, devices in sorted(self.updates.items()):
                document = dict(self._load(key)) or {"devices": {}}
                document["version"] = PERF_VERSION
                for device, states in devices.items():
                    kept = document.setdefault("devices", {}).setdefault(device, {})
                    for state, prompts in states.items():
                        kept.setdefault(state, {}).update(prompts)
                    if device in self.provenance.get(key, {}):
                        kept["provenance"] = self.provenance[key][device]
                path = self._path(key)
                atomic_write(path, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8"))
                self.written.append(str(path))
        except ComfyError as exc:
            self.error = str(exc)


def compare(stored: dict[str, float], new: dict[str, float], time_tolerance: float, mem_tolerance: float) -> list[str]:
    """What left its tolerance: ``slower: 3.10 s against 1.20 s (limit x1.5)``, ``hungrier: ...``."""
    problems = []
    old_s, new_s = stored.get("execution_s"), new.get("execution_s")
    if old_s is not None and new_s is not None and new_s > old_s * time_tolerance and new_s - old_s >= MIN_SLOWER_S:
        problems.append(f"slower: {new_s:.2f} s against {old_s:.2f} s (limit x{time_tolerance:g})")
    old_mb, new_mb = stored.get("peak_mem_mb"), new.get("peak_mem_mb")
    if old_mb is not None and new_mb is not None and new_mb > old_mb * mem_tolerance:
        problems.append(f"hungrier: {new_mb:.0f} MB against {old_mb:.0f} MB (limit x{mem_tolerance:g})")
    return problems
