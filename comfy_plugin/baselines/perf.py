"""Time baselines: each fixed-seed prompt's execution time and peak memory, kept per device.

They live beside the image baselines (``baselines/x.perf.json`` for ``baselines/x.json``),
keyed by the device ``/system_stats`` names first, so a CPU figure is never compared with a
GPU figure. ``--comfy-update-baselines`` records a prompt's figures only when there are none
yet or when a figure left its tolerance: noise does not churn git. A later run compares: a
prompt slower than ``--comfy-time-tolerance`` (a factor, and at least 1 s slower) or using
more memory than ``--comfy-mem-tolerance`` is listed in the summary, and with
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
PERF_VERSION = 1


@dataclass(frozen=True)
class PerfVerdict:
    status: str  # ok | slower | hungrier | slower, hungrier | new | recorded | off
    message: str = ""
    failed: bool = False


def perf_path(baseline_file: Path) -> Path:
    return baseline_file.with_name(baseline_file.stem + ".perf.json")


@dataclass
class PerfBaselines:
    settings: BaselineSettings
    store: BaselineStore  # the image baselines' store: where a batch file's baselines live
    updates: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)  # key->device->id
    verdicts: dict[str, PerfVerdict] = field(default_factory=dict)  # node id -> verdict
    written: list[str] = field(default_factory=list)
    error: str = ""
    _stored: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self, nodeid: str, batch_file: Path, prompt_id: str, device: str,
              figures: dict[str, float]) -> PerfVerdict:
        verdict = self._check(batch_file, prompt_id, device, {k: v for k, v in figures.items() if v is not None})
        self.verdicts[nodeid] = verdict
        return verdict

    def _check(self, batch_file: Path, prompt_id: str, device: str, figures: dict[str, float]) -> PerfVerdict:
        if self.settings.perf == "off" or not figures:
            return PerfVerdict("off")
        try:
            key = self.store.key(batch_file)
            stored = self._load(key).get("devices", {}).get(device, {}).get(prompt_id)
        except ComfyError as exc:
            return PerfVerdict("off", str(exc))
        problems = compare(stored or {}, figures, self.settings.time_tolerance, self.settings.mem_tolerance)
        if self.settings.update:
            return self._update(key, prompt_id, device, figures, stored=stored, problems=problems)
        if stored is None:
            return PerfVerdict("new", f"no time baseline for {device} yet")
        if not problems:
            return PerfVerdict("ok")
        status = ", ".join(name for name in ("slower", "hungrier") if any(p.startswith(name) for p in problems))
        return PerfVerdict(status, f"{'; '.join(problems)} (on {device})", failed=self.settings.perf == "fail")

    def _update(self, key: str, prompt_id: str, device: str, figures: dict[str, float], *,
                stored: dict[str, float] | None, problems: list[str]) -> PerfVerdict:
        """--comfy-update-baselines: record only new figures and figures out of their tolerance,
        so that noise does not churn git."""
        faster = compare(figures, stored or {}, self.settings.time_tolerance, self.settings.mem_tolerance)
        if stored is None or problems or faster:
            self.updates.setdefault(key, {}).setdefault(device, {})[prompt_id] = figures
            return PerfVerdict("recorded", f"time baseline recorded for {device}")
        return PerfVerdict("ok", "time baseline within its tolerance: unchanged")

    def _path(self, key: str) -> Path:
        """The time baselines of the batch file stored under ``key``."""
        return perf_path(self.store.baseline_path(self.store.rootdir / key))

    def _load(self, key: str) -> dict[str, Any]:
        if key not in self._stored:
            path = self._path(key)
            try:
                self._stored[key] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            except (OSError, ValueError) as exc:
                raise BaselineError(f"{path}: cannot read the time baselines: {exc}") from None
        return self._stored[key]

    # -- pytest-xdist and the end of the session ----------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"updates": self.updates, "verdicts": {k: vars(v) for k, v in self.verdicts.items()}}

    def absorb(self, data: dict[str, Any]) -> None:
        for key, devices in data.get("updates", {}).items():
            for device, prompts in devices.items():
                self.updates.setdefault(key, {}).setdefault(device, {}).update(prompts)
        self.verdicts.update({k: PerfVerdict(**v) for k, v in data.get("verdicts", {}).items()})

    def finish(self) -> None:
        """Write the recorded figures, each file once, merged into what it held."""
        from .store import atomic_write

        try:
            for key, devices in sorted(self.updates.items()):
                document = dict(self._load(key)) or {"version": PERF_VERSION, "devices": {}}
                for device, prompts in devices.items():
                    document.setdefault("devices", {}).setdefault(device, {}).update(prompts)
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
