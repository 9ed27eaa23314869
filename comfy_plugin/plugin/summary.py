"""The terminal summary: the servers, the prompts' outcomes, what was saved, seeds drawn, a
server failure once, and the baselines (counts, worst distances, files written, stale entries)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from . import lacks
from .records import PromptRecord, ServerInfo, WorkerPayload, saved_files

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..baselines.perf import PerfBaselines
    from ..baselines.regression import Regression
    from ..baselines.verdict import Verdict
    from .state import ComfyPlugin

OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed")


def write(tr: pytest.TerminalReporter, plugin: ComfyPlugin) -> None:
    parts = plugin.activate()
    findings = plugin.findings()
    _invalid(tr, plugin.invalid)
    _prompts(tr, plugin, findings)
    lacks.write(tr, plugin)  # --comfy-check: what the server lacks, in one block
    _baselines(tr, parts.regression)
    _perf(tr, parts.perf)
    _no_config(tr, plugin.config)


def _no_config(tr: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Once a session, without a pytest configuration file: where the files went, what to add."""
    from .paths import no_config_lines

    lines = no_config_lines(config)
    if lines:
        tr.write_sep("-", "where the files are")
        tr.write_line(lines[0], yellow=True)
        for line in lines[1:]:
            tr.write_line(line)


def _invalid(tr: pytest.TerminalReporter, invalid: list[tuple[str, str]]) -> None:
    """--collect-only: the prompts that would fail as written, each with its message and hint."""
    if not invalid:
        return
    tr.write_sep("-", f"{len(invalid)} prompt(s) cannot run as written")
    for nodeid, message in invalid:
        tr.write_line(nodeid, red=True, bold=True)
        for line in message.splitlines():
            tr.write_line(f"  {line}")


def _prompts(tr: pytest.TerminalReporter, plugin: ComfyPlugin, findings: list[WorkerPayload]) -> None:
    recorder = plugin.activate().recorder
    records = [r for f in findings for r in f.records]
    cancelled = [i for f in findings for i in f.cancelled]
    left = [i for f in findings for i in f.not_cancelled]
    failures = list(dict.fromkeys(f.failure for f in findings if f.failure))
    if not (records or plugin.outcomes or cancelled or left or failures or recorder.written or recorder.error):
        return
    tr.write_sep("-", "ComfyUI")
    for server in _servers(findings):
        tr.write_line(_server_line(server))
    if plugin.outcomes:
        counts = {o: list(plugin.outcomes.values()).count(o) for o in OUTCOMES}
        queued = sum(f.queued for f in findings)
        head = "prompts checked, none queued: " if plugin.settings.check else f"prompts: {queued} run; "
        tr.write_line(head + ", ".join(
            f"{counts[o]} {o}" for o in OUTCOMES if o in ("passed", "failed", "skipped") or counts[o]))
    saved, folders = saved_files(records)
    if saved:
        tr.write_line(f"{saved} file(s) saved in {', '.join(folders)}")
    drawn = [r for r in records if r.drawn_seed is not None]
    if drawn:
        tr.write_line("random seeds drawn:")
        for r in drawn:
            tr.write_line(f"  {r.nodeid}  seed {r.drawn_seed}")
    busy = [r.execution_s for r in records if r.execution_s is not None]
    if busy:
        tr.write_line(f"server execution time: {sum(busy):.2f} s over {len(busy)} prompt(s); "
                      f"wall time {time.monotonic() - plugin.started_at:.2f} s")
        _per_server(tr, findings)
        _slowest(tr, records)
    if cancelled:
        tr.write_line(f"removed {len(cancelled)} prompt(s) of tests that did not run or were interrupted: "
                      + ", ".join(cancelled))
    if left:
        why = "; ".join(dict.fromkeys(f.cancel_error for f in findings if f.cancel_error))
        tr.write_line(f"could not remove {len(left)} prompt(s) of tests that did not run: {', '.join(left)}"
                      + (f" ({why})" if why else ""), yellow=True)
    if recorder.written:
        tr.write_line(f"report: {recorder.written}")
    if recorder.error:
        tr.write_line(f"report not written: {recorder.error}", red=True)
    for failure in failures:
        tr.write_line("")
        tr.write_line(failure, red=True, bold=True)


def _per_server(tr: pytest.TerminalReporter, findings: list[WorkerPayload]) -> None:
    """With several servers: how many prompts and how much execution time each one took."""
    if len(findings) < 2:
        return
    for f in findings:
        busy = [r.execution_s for r in f.records if r.execution_s is not None]
        url = f.server.url if f.server is not None else "?"
        tr.write_line(f"  {url}: {len(f.records)} prompt(s), {sum(busy):.2f} s of execution")


def _slowest(tr: pytest.TerminalReporter, records: list[PromptRecord]) -> None:
    timed = sorted((r for r in records if r.execution_s is not None), key=lambda r: -(r.execution_s or 0.0))[:3]
    if len(timed) < 2:
        return
    tr.write_line("slowest prompts: " + "; ".join(
        f"{r.nodeid} {r.execution_s:.2f} s" + (f", {r.peak_mem_mb:.0f} MB" if r.peak_mem_mb is not None else "")
        for r in timed))


def _servers(findings: list[WorkerPayload]) -> list[ServerInfo]:
    return [f.server for f in findings if f.server is not None]


def _server_line(server: ServerInfo) -> str:
    who = f"{server.worker}: " if server.worker else ""
    if server.launched:
        log = f"; log kept: {server.log_path}" if server.failed else ""
        return f"{who}server: {server.url} (launched from {server.launched_from}{log})"
    if server.launched_from:
        return f"{who}server: none launched (no prompt ran; would launch from {server.launched_from})"
    if not server.contacted:
        return f"{who}server: {server.url} (not contacted: no prompt needed it)"
    return f"{who}server: {server.url}"


def _baselines(tr: pytest.TerminalReporter, regression: Regression) -> None:
    """Compared prompts, the worst distances, outputs no kind compares, what was written (only
    files that exist), and stale entries."""
    from ..baselines.verdict import listed
    verdicts = regression.verdicts
    if not (verdicts or regression.written or regression.removed or regression.stale or regression.error):
        return
    tr.write_sep("-", "baselines")
    counts: dict[str, int] = {}
    for verdict in verdicts.values():
        counts[verdict.status] = counts.get(verdict.status, 0) + 1
    if counts:
        tr.write_line("prompts: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    _reruns(tr, verdicts)
    # the prompts whose readings came nearest to (or went past) their thresholds, any output kind
    nearest = sorted(((value / limit if limit else float("inf"), name, value, limit, nodeid)
                      for nodeid, v in verdicts.items()
                      if (found := v.worst_reading()) is not None for name, value, limit in [found]), reverse=True)
    for _ratio, name, value, limit, nodeid in [w for w in nearest if w[2] > 0][:5]:
        tr.write_line(f"  {name} distance {value:.4g} (threshold {limit:.4g})  {nodeid}")
    new = [nodeid for nodeid, v in verdicts.items() if v.status == "missing" and not v.failed and not v.skip]
    if new:
        files = " ".join(sorted({nodeid.split("::")[0] for nodeid in new}))
        tr.write_line(f"{len(new)} prompt(s) have no baseline yet: record them with: "
                      f"pytest {files} --comfy-update-baselines", yellow=True)
    uncompared = [name for v in verdicts.values() for name in v.uncompared]
    if uncompared:
        tr.write_line(f"not compared: {listed(uncompared)} (no output kind compares them; "
                      "none of them recorded)", yellow=True)
    for path in regression.written:
        tr.write_line(f"wrote {path}")
    for path in regression.removed:
        tr.write_line(f"removed {path} (no baseline entry left in it)")
    if regression.settings.update and not (regression.written or regression.removed or regression.error):
        unchanged = counts.get("unchanged", 0)
        tr.write_line("nothing recorded: no baseline file written" + (f" ({unchanged} unchanged)" if unchanged else ""),
                      yellow=not unchanged)
    for key, ids in regression.stale.items():
        tr.write_line(f"stale baselines in {key} (no such prompt any more): {', '.join(ids)}", yellow=True)
    if regression.stale:
        tr.write_line("  remove them with: pytest --comfy-update-baselines --comfy-prune-baselines")
    if regression.error:
        tr.write_line(f"baselines not written: {regression.error}", red=True)


def _reruns(tr: pytest.TerminalReporter, verdicts: Mapping[str, Verdict]) -> None:
    """--comfy-confirm-failures: the prompts whose uncached reruns differ from each other, and
    the regressions the reruns confirmed."""
    for nodeid, verdict in verdicts.items():
        if verdict.status == "nondeterministic":
            tr.write_line(f"nondeterministic (its outputs change from run to run): {nodeid}", yellow=True)
    confirmed = [nodeid for nodeid, v in verdicts.items() if v.status == "diff" and v.reruns]
    if confirmed:
        tr.write_line(f"{len(confirmed)} regression(s) confirmed by uncached reruns: {', '.join(confirmed)}")


def _perf(tr: pytest.TerminalReporter, perf: PerfBaselines) -> None:
    """Prompts slower or hungrier than their time baselines, and the time baselines written."""
    worse = {nodeid: v for nodeid, v in perf.verdicts.items() if v.status in ("slower", "hungrier", "slower, hungrier")}
    if not worse and not perf.written and not perf.error:
        return
    tr.write_sep("-", "time baselines")
    for nodeid, verdict in sorted(worse.items()):
        tr.write_line(f"{verdict.status}: {nodeid}: {verdict.message}", red=verdict.failed, yellow=not verdict.failed)
    if worse and not any(v.failed for v in worse.values()):
        tr.write_line("  (reported only: --comfy-perf=fail fails such prompts; --comfy-update-baselines records "
                      "the new figures)")
    for path in perf.written:
        tr.write_line(f"wrote {path}")
    if perf.error:
        tr.write_line(f"time baselines not written: {perf.error}", red=True)
