"""The terminal summary: the server, what was saved, seeds drawn, and a server failure once."""

from __future__ import annotations

import time

from .regression import Regression
from .session import ComfySession


def summary(tr, session: ComfySession, recorder=None) -> None:
    counts = recorder.counts() if recorder is not None else {}
    written = recorder.written if recorder is not None else None
    error = recorder.error if recorder is not None else ""
    if not session.records and session.failure is None and not session.cancelled and not counts \
            and not written and not error:
        return
    tr.write_sep("-", "ComfyUI")
    if session.server is not None:
        tr.write_line(f"server: {session.url} (launched; log: {session.server.log_path})")
    elif session.settings.launch is not None:
        tr.write_line(f"server: to be launched from {session.settings.launch}")
    else:
        tr.write_line(f"server: {session.url}")
    if counts:
        ran = sum(n for outcome, n in counts.items() if outcome not in ("skipped", "not run"))
        order = ("passed", "failed", "skipped", "xfailed", "xpassed", "not run")
        tr.write_line(f"prompts: {ran} run; " + ", ".join(
            f"{counts.get(o, 0)} {o}" for o in order if o in ("passed", "failed", "skipped") or counts.get(o)))
    saved = [p for r in session.records for p in r.saved]
    if saved:
        folders = sorted({str(p.parent) for p in saved})
        tr.write_line(f"{len(saved)} file(s) saved in {', '.join(folders)}")
    drawn = [r for r in session.records if r.drawn_seed is not None]
    if drawn:
        tr.write_line("random seeds drawn:")
        for r in drawn:
            tr.write_line(f"  {r.nodeid}  seed {r.drawn_seed}")
    busy = [r.execution_s for r in session.records if r.execution_s is not None]
    if busy:
        wall = time.monotonic() - session.started_at
        tr.write_line(f"server execution time: {sum(busy):.2f} s over {len(busy)} prompt(s); "
                      f"wall time {wall:.2f} s")
    if session.cancelled:
        tr.write_line(f"removed {len(session.cancelled)} prompt(s) of tests that did not run or were interrupted: "
                      + ", ".join(session.cancelled))
    if written:
        tr.write_line(f"report: {written}")
    if error:
        tr.write_line(f"report not written: {error}", red=True)
    if session.failure is not None:
        tr.write_line("")
        tr.write_line(str(session.failure), red=True, bold=True)


def baseline_summary(tr, regression: Regression) -> None:
    """Compared prompts, the worst distances, what was written, and stale entries."""
    verdicts = regression.verdicts
    if not verdicts and not regression.written and not regression.stale and not regression.error:
        return
    tr.write_sep("-", "baselines")
    counts: dict[str, int] = {}
    for verdict in verdicts.values():
        counts[verdict.status] = counts.get(verdict.status, 0) + 1
    if counts:
        tr.write_line("prompts: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    worst = sorted(((max(d for d in v.distances if d is not None), v.threshold, nodeid)
                    for nodeid, v in verdicts.items() if any(d is not None for d in v.distances)), reverse=True)
    for distance, threshold, nodeid in worst[:5]:
        tr.write_line(f"  hash distance {distance} (threshold {threshold})  {nodeid}")
    for path in regression.written:
        tr.write_line(f"wrote {path}")
    for key, ids in regression.stale.items():
        tr.write_line(f"stale baselines in {key} (no such prompt any more): {', '.join(ids)}", yellow=True)
    if regression.stale:
        tr.write_line("  remove them with: pytest --comfy-update-baselines --comfy-prune-baselines")
    if regression.error:
        tr.write_line(f"baselines not written: {regression.error}", red=True)
