"""--comfy-confirm-failures N: a prompt that differs from its baseline is run again, uncached,
up to N times, to tell a regression from a workflow that is not reproducible (a node that
draws its own randomness, a GPU kernel that is not deterministic).

Every run is compared with the first by the same kind comparisons and thresholds as a
baseline: a rerun that differs makes the verdict ``nondeterministic`` (no baseline can hold
such outputs); when all agree, the regression is confirmed.

**Uncached.** ComfyUI reuses a node's output when the node's signature (its class, its inputs
and its ancestors') was seen before. ``POST /free`` with ``free_memory`` does clear that cache
(``PromptExecutor.reset()``), but the server's worker applies the flag only after a prompt
finishes or its queue wakes, so a prompt queued right after it may still be served from the
cache; it also clears every other client's cache and unloads the models. Instead each rerun
adds one input to every node, ``comfy_plugin_rerun``, with a new value: the signature covers
every input the prompt gives, so nothing matches a cached entry, while a node is called only
with the inputs its class declares, so it computes exactly what it computed before. Whether
a rerun really ran is read from the server's ``execution_cached`` message.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..baselines.verdict import Verdict
from ..media.kind import CompareContext, KindVerdict, SavedOutput, Stored
from . import steps

if TYPE_CHECKING:
    from ..baselines.regression import Regression
    from ..server.session import ComfySession

#: The input each rerun adds to every node: no node declares it, so none reads it.
RERUN_INPUT = "comfy_plugin_rerun"
NONDETERMINISTIC = "nondeterministic"
POLICIES = ("fail", "skip", "pass")
HINT = ("look for a node that draws its own randomness (an unseeded generator, a seed input left "
        "\"randomize\") or a GPU kernel that is not deterministic; harmless differences: looser "
        "thresholds in \"baseline\"")


def uncached(workflow: Mapping[str, Any], token: str) -> dict[str, Any]:
    """The workflow with ``RERUN_INPUT: token`` among every node's inputs."""
    return {node_id: {**node, "inputs": {**node.get("inputs", {}), RERUN_INPUT: token}}
            if isinstance(node, Mapping) else node for node_id, node in workflow.items()}


@dataclass(frozen=True)
class Rerun:
    prompt_id: str
    outputs: list[SavedOutput]
    cached_nodes: tuple[str, ...]  # nodes the server did not run again (none, normally)
    differences: str  # how its outputs differ from the first run's; "" when they match


@dataclass(frozen=True)
class Confirmation:
    """The reruns of one failing prompt; ``nondeterministic`` when one differs from the first run."""

    reruns: tuple[Rerun, ...]

    @property
    def nondeterministic(self) -> bool:
        return any(r.differences for r in self.reruns)

    @property
    def outcome(self) -> str:
        return NONDETERMINISTIC if self.nondeterministic else "regression confirmed"

    @property
    def prompt_ids(self) -> list[str]:
        return [r.prompt_id for r in self.reruns]

    def verdict(self, first: Verdict, policy: str) -> Verdict:
        """The prompt's verdict: ``nondeterministic`` (failing, skipped or passing by
        ``policy``), or the first run's ``diff`` with the reruns that confirm it."""
        cached = "".join(f"\n  rerun {n} was partly served from ComfyUI's cache (nodes {', '.join(r.cached_nodes)})"
                         for n, r in enumerate(self.reruns, 1) if r.cached_nodes)
        if not self.nondeterministic:
            return replace(first, message=f"{first.message}\nregression confirmed: {len(self.reruns)} uncached "
                           f"rerun(s) gave the first run's outputs again{cached}", reruns=len(self.reruns))
        n, rerun = next((n, r) for n, r in enumerate(self.reruns, 1) if r.differences)
        message = (f"nondeterministic: the prompt's outputs change from run to run, so no baseline can hold them\n"
                   f"  rerun {n} (uncached) differs from the first run: {rerun.differences}\n"
                   f"  the first run against its baseline: {first.message.splitlines()[0]}{cached}\n  {HINT}")
        return Verdict(NONDETERMINISTIC, message, skip=policy == "skip", accepted=policy == "pass",
                       readings=first.readings, uncompared=first.uncompared, reruns=len(self.reruns))


class _Folder:
    """Side files of the first run's entries, in a temporary folder (``media.kind.SideFiles``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def named(self, prompt_id: str, index: int, suffix: str, data: bytes) -> str:
        return self.by_digest(data, f"-{index}{suffix}")

    def by_digest(self, data: bytes, suffix: str) -> str:
        name = f"{uuid.uuid4().hex}{suffix}"
        (self.root / name).write_bytes(data)
        return name


class FirstRun:
    """The first run's outputs kept as baseline entries of their kinds (in a temporary folder),
    so that a rerun is compared with them exactly as a run is compared with its baseline."""

    def __init__(self, regression: Regression, layers: tuple[Mapping[str, Any], ...], outputs: list[SavedOutput],
                 root: Path) -> None:
        self.kinds = regression.kinds
        self.context = CompareContext(regression.settings, layers, None, "", {}, False, regression.reference_side,
                                      lambda name: root / name)
        files = _Folder(root)
        self.stored: dict[str, list[Stored]] = {}
        for kind in self.kinds.all:
            outs = [o for o in outputs if o.kind == kind.name]
            if outs:
                seen = kind.compare(None, outs, replace(self.context, record=True)).observed
                self.stored[kind.name] = [kind.keep(s, files, "first", i) for i, s in enumerate(seen)]

    def differences(self, outputs: list[SavedOutput]) -> str:
        """What differs between these outputs and the first run's, "" when nothing does."""
        found = []
        for kind in self.kinds.all:
            outs, stored = [o for o in outputs if o.kind == kind.name], self.stored.get(kind.name, [])
            if outs or stored:
                verdict = kind.compare(stored, outs, self.context)
                if verdict.status != "match":
                    found.append(self._described(verdict))
        return "; ".join(found)

    def _described(self, verdict: KindVerdict) -> str:
        """The readings beyond their thresholds, else the comparison's first line."""
        prefix = self.kinds.named(verdict.kind).prefix
        beyond = [f"{prefix}{name} {max(v for v in values if v is not None):.4g} > {limit:g}"
                  for name, (values, limit) in verdict.readings.items()
                  if limit is not None and any(v is not None and v > limit for v in values)]
        return ", ".join(beyond) or verdict.message.splitlines()[0]


def confirm(session: ComfySession, run: steps.PromptRun, first: list[SavedOutput], regression: Regression, *,
            times: int, on_queued: Callable[[str], None] = lambda _: None) -> Confirmation:
    """Rerun the prompt uncached up to ``times`` times, stopping at the first rerun that
    differs from the first run."""
    layers = (run.spec.values.get("baseline") or {}, run.batch.baseline)
    reruns: list[Rerun] = []
    with tempfile.TemporaryDirectory(prefix="comfy-confirm-") as folder:
        compared = FirstRun(regression, layers, first, Path(folder))
        for _ in range(times):
            outcome = rerun(session, run, regression, on_queued)
            reruns.append(Rerun(outcome.prompt_id, outcome.outputs, tuple(outcome.result.cached_nodes),
                                compared.differences(outcome.outputs)))
            if reruns[-1].differences:
                break
    return Confirmation(tuple(reruns))


def rerun(session: ComfySession, run: steps.PromptRun, regression: Regression,
          on_queued: Callable[[str], None]) -> steps.PromptOutcome:
    """The prepared prompt queued again with a fresh ``RERUN_INPUT``, waited for and saved."""
    workflow = uncached(run.prepared.workflow, uuid.uuid4().hex)
    prompt_id = str(uuid.uuid4())
    session.timings.submitted(prompt_id, time.monotonic())
    session.client().submit(workflow, prompt_id=prompt_id)
    on_queued(prompt_id)
    again = steps.PromptRun(run.batch, run.spec, replace(run.prepared, workflow=workflow), prompt_id)
    return steps.finish(session, again, regression.kinds)
