"""Turn one prompt of a batch into the workflow to queue: draw seeds, patch, then write
model names in the server's spelling. What ``prepare`` returns is final: preflight only
reads it, and the prompt sent is exactly the one checked.

One value is drawn per prompt and used for each of its ``"random"`` keys, so
``--comfy-seed N`` reproduces a failed run exactly. A UI-format workflow is patched after its
conversion (``Converted``, made once per session with the server's /object_info): its
mappings are then checked with the server's input names and display titles.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..batchfile.batch import Batch, PromptSpec
from ..batchfile.checks import check_target
from ..batchfile.workflow import Addresses, api_shape_problem, patch, resolve
from ..errors import BatchFileError, UnresolvedTarget, WorkflowError
from .preflight import input_spec, normalised

if TYPE_CHECKING:
    from ..batchfile.ui_addressing import Converted

#: Exact in JSON and JavaScript, and accepted by every ComfyUI seed input.
SEED_LIMIT = 2**53 - 1


@dataclass(frozen=True)
class PreparedPrompt:
    """The prompt to queue; nothing changes ``workflow`` after ``prepare`` built it."""

    workflow: dict[str, Any]
    values: dict[str, Any]  # what was written, seeds resolved
    drawn_seed: int | None  # the value that replaced "random", if any


def seed_limit(batch: Batch, keys: list[str], object_info: Mapping[str, Any] | None,
               addresses: Addresses | None = None) -> int:
    """2^53-1, or less when a target input declares a smaller max (``addresses``: those of the
    converted workflow, default the batch's)."""
    book = addresses or batch.addresses
    limit = SEED_LIMIT
    for key in keys:
        for target in batch.targets.get(key, ()):
            try:
                places = resolve(book, target)
            except UnresolvedTarget:
                continue
            for place in places:
                spec = input_spec(object_info or {}, book.nodes[place.node].class_type, place.field)
                if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict):
                    declared = spec[1].get("max")
                    if isinstance(declared, int) and declared < limit:
                        limit = declared
    return limit


def base(batch: Batch, converted: Converted | None) -> tuple[dict[str, Any], Addresses]:
    """The workflow to patch and its addresses. For a UI-format workflow, every mapping is
    checked first with what only the server tells (input names, display titles), so that a
    wrong one fails the prompt with the same hints as an API file's at collection."""
    if batch.source is None:
        return batch.workflow, batch.addresses
    if converted is None:
        raise WorkflowError(batch.shown_as, f"{batch.source_shown} is a UI-format workflow: it is converted with "
                            "the server's /object_info, which is not known here", "parameters.workflow_file")
    problems = [problem for key, targets in batch.targets.items() for target in targets
                for problem in check_target(converted.addresses, target, f"parameters.workflow_items.{key}")]
    if problems:
        raise BatchFileError(batch.shown_as, problems=problems)
    return converted.prompt, converted.addresses


def prepare(batch: Batch, spec: PromptSpec, object_info: Mapping[str, Any] | None,
            fixed_seed: int | None, rng: random.Random, *, overrides: Mapping[str, Any] | None = None,
            converted: Converted | None = None) -> PreparedPrompt:
    """``overrides`` replace values outright (server-side names of uploaded images);
    ``converted`` is the batch's UI-format workflow converted for this session."""
    workflow, addresses = base(batch, converted)
    keys = spec.random_keys()
    drawn = None
    values = {**spec.values, **(overrides or {})}
    if keys:
        drawn = fixed_seed if fixed_seed is not None else rng.randint(0, seed_limit(batch, keys, object_info,
                                                                                     addresses))
        values.update({k: drawn for k in keys})
    workflow = patch(workflow, batch.targets, values, addresses)
    problem = api_shape_problem(workflow)
    if problem:  # preflight and the server read the prompt by this shape: checked once, here
        raise WorkflowError(batch.shown_as, f"the prompt to send is not a usable API-format workflow: {problem}",
                            "parameters.workflow_file")
    return PreparedPrompt(normalised(workflow, object_info or {}), values, drawn)
