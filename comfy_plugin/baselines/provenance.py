"""What a baseline's provenance says about a comparison that fails.

Each prompt's entries keep where they were recorded (server/identity.py ``Provenance``). When
a comparison fails and this run's provenance differs, the verdict's message starts with one
line that says so (``recorded on ComfyUI 0.3.70, torch 2.4.1; this run on ComfyUI 0.3.75,
torch 2.5.1``), kept on the verdict for the report. A model file the prompt loads that is
another file than the one recorded (its fingerprint changed) makes a difference a changed
test, not a regression, as a changed parameter does. Model files unknown on either side (a
server given by URL) are not compared. No pytest here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..server.identity import Provenance
from .verdict import Verdict

#: What the line names, in its order: (field, how a value is shown).
SHOWN = (("comfyui", "ComfyUI {}"), ("torch", "torch {}"), ("device", "{}"), ("cpu", "CPU {}"),
         ("flags", "flags {}"), ("plugin", "plugin {}"))
CHANGED_MODEL_HINT = "a model file changed: a changed test, not necessarily a regression"


def _value(provenance: Provenance, name: str) -> str:
    value = getattr(provenance, name)
    if name == "flags":
        return " ".join(value) or "(none)"
    return str(value)


def changed_models(stored: Provenance, current: Provenance) -> list[str]:
    """Model files both sides fingerprinted under one name, whose fingerprints differ."""
    if stored.models is None or current.models is None:
        return []
    return sorted(name for name, mark in current.models.items()
                  if name in stored.models and stored.models[name] != mark)


def differences(stored: Provenance, current: Provenance) -> tuple[list[str], list[str]]:
    """The differing fields as each side shows them (a field one side does not know is skipped)."""
    then, now = [], []
    for name, shown in SHOWN:
        old, new = _value(stored, name), _value(current, name)
        if old != new and (name == "flags" or (old and new)):
            then.append(shown.format(old))
            now.append(shown.format(new))
    for name in changed_models(stored, current):
        then.append(f"model {name} {stored.models[name] if stored.models else ''}")
        now.append(f"model {name} {current.models[name] if current.models else ''}")
    return then, now


def provenance_line(stored: Provenance, current: Provenance) -> str:
    """``recorded on …; this run on …`` naming what differs; "" when nothing does."""
    then, now = differences(stored, current)
    return f"recorded on {', '.join(then)}; this run on {', '.join(now)}" if then else ""


def judged(verdict: Verdict, stored: Any, current: Provenance | None) -> Verdict:
    """``verdict`` with the provenance line first when the comparison fails and the baseline
    was recorded elsewhere (``stored``: the entry's provenance as the file holds it), and a
    difference under a changed model file turned into a changed test."""
    recorded = Provenance.from_json(stored)
    if recorded is None or current is None or verdict.status not in ("diff", "changed-test"):
        return verdict
    line = provenance_line(recorded, current)
    if not line:
        return verdict
    message = f"{line}\n{verdict.message}"
    status = verdict.status
    if changed_models(recorded, current):
        status = "changed-test"
        message += f"\n  {CHANGED_MODEL_HINT}"
    return replace(verdict, status=status, message=message, provenance=line)
