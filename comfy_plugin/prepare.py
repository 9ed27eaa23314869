"""Turn one prompt of a batch into the workflow to queue: draw seeds, patch, then write
model names in the server's spelling. What ``prepare`` returns is final: preflight only
reads it, and the prompt sent is exactly the one checked.

One value is drawn per prompt and used for each of its ``"random"`` keys, so
``--comfy-seed N`` reproduces a failed run exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping

from .batch import Batch, PromptSpec
from .errors import UnresolvedTarget
from .preflight import input_spec, normalised
from .workflow import patch, resolve

#: Exact in JSON and JavaScript, and accepted by every ComfyUI seed input.
SEED_LIMIT = 2**53 - 1


@dataclass(frozen=True)
class PreparedPrompt:
    """The prompt to queue; nothing changes ``workflow`` after ``prepare`` built it."""

    workflow: dict[str, Any]
    values: dict[str, Any]  # what was written, seeds resolved
    drawn_seed: int | None  # the value that replaced "random", if any


def seed_limit(batch: Batch, keys: list[str], object_info: Mapping[str, Any] | None) -> int:
    """2^53-1, or less when a target input declares a smaller max."""
    limit = SEED_LIMIT
    for key in keys:
        for target in batch.targets.get(key, ()):
            try:
                places = resolve(batch.addresses, target)
            except UnresolvedTarget:
                continue
            for place in places:
                spec = input_spec(object_info or {}, batch.addresses.nodes[place.node].class_type, place.field)
                if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict):
                    declared = spec[1].get("max")
                    if isinstance(declared, int) and declared < limit:
                        limit = declared
    return limit


def prepare(batch: Batch, spec: PromptSpec, object_info: Mapping[str, Any] | None,
            fixed_seed: int | None, rng: random.Random, overrides: Mapping[str, Any] | None = None) -> PreparedPrompt:
    """``overrides`` replace values outright (server-side names of uploaded images)."""
    keys = spec.random_keys()
    drawn = None
    values = {**spec.values, **(overrides or {})}
    if keys:
        drawn = fixed_seed if fixed_seed is not None else rng.randint(0, seed_limit(batch, keys, object_info))
        values.update({k: drawn for k in keys})
    workflow = patch(batch.workflow, batch.targets, values, batch.addresses)
    return PreparedPrompt(normalised(workflow, object_info or {}), values, drawn)
