"""What the session keeps for its summary, and what a pytest-xdist worker hands to the controller.

All of it is plain data: a worker's ``WorkerPayload`` travels as JSON in ``workeroutput``
and the controller merges it into its own state, so the summary, the baselines and the HTML
report read the same whether one process ran the prompts or several did.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

PAYLOAD_KEY = "comfy_plugin"  # the key in pytest-xdist's workeroutput


@dataclass(frozen=True)
class PromptRecord:
    """What one prompt did, for the summary."""

    nodeid: str
    prompt_id: str
    drawn_seed: int | None
    saved: tuple[str, ...]
    execution_s: float | None
    queued_s: float | None = None
    peak_mem_mb: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PromptRecord:
        return cls(data["nodeid"], data["prompt_id"], data["drawn_seed"], tuple(data["saved"]), data["execution_s"],
                   data.get("queued_s"), data.get("peak_mem_mb"))


@dataclass(frozen=True)
class ServerInfo:
    """The server one process used: its URL, and the log of a launched one."""

    worker: str  # gw0, gw1, ... or "" without pytest-xdist
    url: str
    launched_from: str = ""  # the ComfyUI folder of --comfy-launch
    log_path: str = ""  # a launched server's log (kept only when it failed)
    launched: bool = False
    failed: bool = False  # the server died or could not be reached
    contacted: bool = True  # False: no prompt needed the server (all skipped, --comfy-check offline)


@dataclass
class WorkerPayload:
    """One worker's findings: its prompts, its server, its cancelled prompts, its baseline
    verdicts and results, and its HTML report entries."""

    server: ServerInfo | None = None
    failure: str = ""  # the full message of a server failure, once
    records: list[PromptRecord] = field(default_factory=list)
    queued: int = 0  # prompts actually sent to the server
    cancelled: list[str] = field(default_factory=list)
    not_cancelled: list[str] = field(default_factory=list)
    cancel_error: str = ""
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id -> Verdict.to_json()
    baseline_results: dict[str, Any] = field(default_factory=dict)  # Regression.results.to_json()
    report_entries: list[dict[str, Any]] = field(default_factory=list)  # report.html.Recorder.to_json()
    perf: dict[str, Any] = field(default_factory=dict)  # perf.PerfBaselines.to_json()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerPayload:
        server = data.get("server")
        return cls(
            server=ServerInfo(**server) if server else None,
            failure=data.get("failure", ""),
            records=[PromptRecord.from_json(r) for r in data.get("records", [])],
            queued=data.get("queued", 0),
            cancelled=list(data.get("cancelled", [])),
            not_cancelled=list(data.get("not_cancelled", [])),
            cancel_error=data.get("cancel_error", ""),
            verdicts=dict(data.get("verdicts", {})),
            baseline_results=dict(data.get("baseline_results", {})),
            report_entries=list(data.get("report_entries", [])),
            perf=dict(data.get("perf", {})),
        )


def saved_files(records: list[PromptRecord]) -> tuple[int, list[str]]:
    """How many files the prompts saved, and the folders they are in (strings: a path object
    for each of ten thousand files would weigh)."""
    return sum(len(r.saved) for r in records), sorted({os.path.dirname(p) or "." for r in records for p in r.saved})
