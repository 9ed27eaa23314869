"""Time and memory of each prompt, from what the server really says.

- ``execution_s`` is the server's own ``execution_success`` minus ``execution_start``
  timestamps (in the client's ``PromptResult``).
- ``queued_s`` runs from the client's ``POST /prompt`` to the client's receipt of the
  prompt's ``execution_start`` message.
- Per-node times are the client's receive times of the ``executing`` messages: ComfyUI does
  not stamp those, so a node's time is the gap to the next message, as the client saw it.
- Peak memory of a launched server is exact: at execution start ``5`` is written to
  ``/proc/PID/clear_refs`` (which resets the peak resident set), and at the end ``VmHWM`` is
  read from ``/proc/PID/status`` (Linux only). For a remote server, device memory is sampled
  from ``/system_stats`` while the prompt runs, and labelled "sampled".

A ``Timings`` object listens to the client's socket messages (on the reader thread).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLE_EVERY_S = 1.0  # how often /system_stats is asked while a remote prompt runs


@dataclass(frozen=True)
class PromptTiming:
    """What was measured for one prompt."""

    queued_s: float | None = None
    node_s: tuple[tuple[str, float], ...] = ()  # (node id, seconds), in the order they ran
    peak_mem_mb: float | None = None
    mem_kind: str = ""  # "peak resident memory" (exact) or "device memory, sampled"


@dataclass
class _Seen:
    started: float | None = None  # client receive time of execution_start
    last: tuple[str, float] | None = None  # the node executing now and since when
    nodes: list[tuple[str, float]] = field(default_factory=list)
    peak_mb: float | None = None


class Timings:
    """Per prompt: when it was submitted, when its nodes ran, and its peak memory."""

    def __init__(self, pid: Callable[[], int | None] = lambda: None,
                 sample: Callable[[], float | None] | None = None) -> None:
        self._pid = pid  # the launched server's process, when there is one
        self._sample = sample  # device memory in MB from /system_stats, for a remote server
        self._lock = threading.Lock()
        self._submitted: dict[str, float] = {}
        self._seen: dict[str, _Seen] = {}
        self._sampling: dict[str, threading.Event] = {}

    def submitted(self, prompt_id: str, at: float) -> None:
        with self._lock:
            self._submitted[prompt_id] = at

    def listener(self, prompt_id: str, kind: str, data: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._lock:
            if prompt_id not in self._submitted:
                return  # not a prompt of this session
            seen = self._seen.setdefault(prompt_id, _Seen())
            if kind == "execution_start":
                seen.started = now
                self._start_memory(prompt_id, seen)
            elif kind == "executing":
                self._node_ended(seen, now)
                node = data.get("node")
                seen.last = (str(node), now) if node is not None else None
                if node is None:
                    self._end_memory(prompt_id, seen)
            elif kind in ("execution_success", "execution_error", "execution_interrupted"):
                self._node_ended(seen, now)
                seen.last = None
                self._end_memory(prompt_id, seen)

    def result(self, prompt_id: str) -> PromptTiming:
        """What was measured for a prompt (forgotten afterwards)."""
        with self._lock:
            seen = self._seen.pop(prompt_id, _Seen())
            submitted = self._submitted.pop(prompt_id, None)
            stop = self._sampling.pop(prompt_id, None)
        if stop is not None:
            stop.set()
        if seen.peak_mb is None and self._pid() is None and self._sample is not None:
            seen.peak_mb = self._sample()  # a prompt quicker than one sample: sampled at its end
        queued = seen.started - submitted if seen.started is not None and submitted is not None else None
        kind = "" if seen.peak_mb is None else ("peak resident memory" if self._pid() else "device memory, sampled")
        return PromptTiming(queued, tuple(seen.nodes), seen.peak_mb, kind)

    @staticmethod
    def _node_ended(seen: _Seen, now: float) -> None:
        if seen.last is not None:
            node, since = seen.last
            seen.nodes.append((node, now - since))

    # -- memory (under the lock) ------------------------------------------------------------

    def _start_memory(self, prompt_id: str, seen: _Seen) -> None:
        pid = self._pid()
        if pid is not None:
            reset_peak(pid)
        elif self._sample is not None and prompt_id not in self._sampling:
            stop = threading.Event()
            self._sampling[prompt_id] = stop
            threading.Thread(target=self._sample_until, args=(seen, stop), daemon=True,
                             name=f"comfy-memory-{prompt_id[:8]}").start()

    def _end_memory(self, prompt_id: str, seen: _Seen) -> None:
        pid = self._pid()
        if pid is not None and seen.peak_mb is None:
            seen.peak_mb = peak_mb(pid)
        stop = self._sampling.pop(prompt_id, None)
        if stop is not None:
            stop.set()

    def _sample_until(self, seen: _Seen, stop: threading.Event) -> None:
        """Ask /system_stats every SAMPLE_EVERY_S while the prompt runs (a prompt quicker than
        that is sampled once, at its end, by ``result``)."""
        sample = self._sample
        if sample is None:  # started only for a remote server, which has a sampler
            return
        while not stop.wait(SAMPLE_EVERY_S):
            value = sample()
            if value is not None:
                with self._lock:
                    seen.peak_mb = max(value, seen.peak_mb or 0.0)


def reset_peak(pid: int) -> bool:
    """Reset the process's peak resident set (Linux: ``echo 5 > /proc/PID/clear_refs``)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mb(pid: int) -> float | None:
    """The process's peak resident set since the last reset, in MB (``VmHWM``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def device_memory_mb(stats: dict[str, Any]) -> float | None:
    """Memory in use on the first device of ``/system_stats`` (total minus free), in MB."""
    devices = stats.get("devices") if isinstance(stats, dict) else None
    if not devices or not isinstance(devices[0], dict):
        return None
    total, free = devices[0].get("vram_total"), devices[0].get("vram_free")
    if not isinstance(total, (int, float)) or not isinstance(free, (int, float)):
        return None
    return (total - free) / 2**20


def cold_reason(workflow: dict[str, Any], cached_nodes: list[str]) -> str:
    """Why a prompt's time is a cold one ("" when warm): a loader node ran rather than came from
    the cache, so the prompt read a model file (the first prompt of a session, or one that
    switched models), which a warm prompt does not."""
    from .identity import model_loads

    loads = model_loads(workflow, cached_nodes)
    return f"it loaded a model (node {', '.join(loads)})" if loads else ""
