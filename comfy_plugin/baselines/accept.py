"""Review without a rerun: ``--comfy-accept accepted.json``.

A run leaves, for each compared prompt whose outputs differ from its baseline (or that has
none), a pending result (``pending.py``): what ``--comfy-update-baselines`` would have
recorded for it, and its time figures. A reviewer ticks prompts in the
HTML report, downloads ``accepted.json`` (the test ids, as pytest prints them) and runs
``pytest --comfy-accept accepted.json``: those prompts' pending results become their
baselines. No server is needed, and nothing runs. No pytest here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BaselineError, ComfyError
from .pending import Pending, PendingStore

if TYPE_CHECKING:
    from ..media.kinds import Kinds
    from ..settings import BaselineSettings

def _counted(observations: list[dict[str, Any]]) -> str:
    """``2 image(s)``: the accepted outputs by kind (an observation without one is an image)."""
    kinds = [str(o.get("kind", "image")) if isinstance(o, dict) else "image" for o in observations]
    return ", ".join(f"{kinds.count(k)} {k}(s)" for k in dict.fromkeys(kinds)) or "0 image(s)"


@dataclass
class Accepted:
    """What ``--comfy-accept`` did: lines to print and the exit code."""

    lines: list[str] = field(default_factory=list)
    code: int = 0


def read_ids(path: Path) -> list[str]:
    """``accepted.json``: a JSON array of test node ids."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(i, str) for i in data):
        raise BaselineError(f'{path}: expected a JSON array of test ids, e.g. ["batches/x.json::blue-hour"]')
    return list(dict.fromkeys(data))


def accept(ids: list[str], store: PendingStore, record: Callable[[Pending], None],
           finish: Callable[[], list[str]]) -> Accepted:
    """Write the pending results of ``ids`` as baselines (``record`` each, then ``finish``
    writes the files and returns their paths). An id without a pending result writes nothing
    at all: the reviewer fixes the list and runs again."""
    out = Accepted()
    pending = store.all()
    unknown = [i for i in ids if i not in pending]
    if unknown and not pending:  # the folder, not the runs, is what is wrong
        out.code = 2
        state = "is empty" if store.root.is_dir() else "does not exist"
        out.lines += [f"no pending results at all: {store.root} {state}, so none of the {len(ids)} listed "
                      "prompt(s) can be accepted",
                      "  a run leaves them there (--comfy-pending, relative to the project's pytest configuration "
                      "file); run from inside the project, or point --comfy-pending at the folder of the run "
                      "whose report you reviewed (e.g. a CI run's images/comfy-pending artifact)"]
        return out
    if unknown:
        out.code = 2
        out.lines += [f"no pending result for {i} in {store.root} (did its last run differ from its baseline?)"
                      for i in unknown]
        out.lines.append("nothing accepted: fix the list and run again")
        return out
    for nodeid in ids:
        _path, result = pending[nodeid]
        record(result)
        out.lines.append(f"accepted {nodeid}: {_counted(result.observations)} as its baseline "
                         f"(was {result.status}: {result.message.splitlines()[0] if result.message else ''})"
                         + (f"; time baseline on {result.perf['device']}" if result.perf else ""))
    try:
        written = finish()
    except ComfyError as exc:
        out.code = 1
        out.lines.append(f"baselines not written: {exc}")
        return out
    out.lines += [f"wrote {p}" for p in written]
    for nodeid in ids:
        pending[nodeid][0].unlink(missing_ok=True)  # accepted: no longer pending
    return out


def run(settings: BaselineSettings, rootdir: Path, batch_dir: str, ids_file: Path,
        kinds: Kinds | None = None) -> Accepted:
    """``pytest --comfy-accept FILE``: accept the listed prompts' pending results (of the
    built-in output kinds and ``kinds``, a project's)."""
    from .perf import PerfBaselines  # (heavy: only for an accept)
    from .regression import Regression

    try:
        ids = read_ids(ids_file)
        regression = Regression.create(settings, rootdir, batch_dir, kinds)
    except ComfyError as exc:
        return Accepted([str(exc)], 2)
    perf = PerfBaselines(settings, regression.store)

    def record(pending: Pending) -> None:
        observations = [regression.kinds.of_json(o).read_observed(o) for o in pending.observations]
        # with its provenance: --comfy-baseline-env=auto writes it to the set of the device it ran on
        regression.results.record(pending.batch_key, pending.prompt_id, observations, pending.provenance)
        if pending.perf:
            perf.record(pending.batch_key, pending.perf["device"], "cold" if pending.perf.get("cold") else "warm",
                        pending.prompt_id, dict(pending.perf["figures"]), provenance=pending.provenance)

    def finish() -> list[str]:
        regression.finish()
        perf.finish()
        if regression.error or perf.error:
            raise BaselineError(regression.error or perf.error)
        return regression.written + perf.written

    try:
        return accept(ids, PendingStore(settings.pending), record, finish)
    except ComfyError as exc:
        return Accepted([str(exc)], 2)
