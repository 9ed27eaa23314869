"""A batch file's prompts as specs: ids, lines, values (with variables), local images, and
each prompt's own problems. Part of reading a batch file (batch.py), kept apart for size."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import variables as variables_mod
from .checks import RANDOM, SEED_KEYS, check_keys, check_values
from ..errors import BatchFileError, Problem, UnresolvedTarget
from .workflow import Addresses, Target, resolve


@dataclass(frozen=True)
class PromptSpec:
    """One test: ``values`` is generic_prompts overlaid with the prompt's own keys (and, for a
    prompt using variables, one combination of their values)."""

    id: str
    index: int
    values: dict[str, Any]
    line: int = 0  # 0-based line of the prompt in the batch file
    tags: tuple[str, ...] = ()
    skip: str | None = None
    xfail: str | None = None
    timeout_s: float | None = None  # the prompt's, else the batch file's
    variables: tuple[tuple[str, str], ...] = ()
    local_images: tuple[tuple[str, Path], ...] = ()  # key -> local file to upload (LoadImage)
    error: BatchFileError | None = None  # a problem of this prompt alone: the item fails with it

    def random_keys(self) -> list[str]:
        """The seed keys whose value is drawn when the prompt runs: only a seed key's
        ``"random"`` means that (a prompt text may be the word "random")."""
        return [k for k in SEED_KEYS if self.values.get(k) == RANDOM]


def prompt_lines(text: str) -> list[int]:
    """0-based line of each element of the top-level ``prompts`` list, for report locations.

    Walks the top level with the standard decoder; returns [] for anything unexpected."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")

    def skip(pos: int, char: str = "") -> int:
        pos = ws.match(text, pos).end()
        if char and text.startswith(char, pos):
            pos = ws.match(text, pos + 1).end()
        return pos

    try:
        pos = skip(text.find("{") + 1)
        while pos < len(text) and text[pos] != "}":
            key, pos = decoder.raw_decode(text, pos)
            pos = skip(pos, ":")
            if key != "prompts":
                _, pos = decoder.raw_decode(text, pos)
                pos = skip(pos, ",")
                continue
            lines, pos = [], skip(pos + 1)
            while text[pos] != "]":
                lines.append(text.count("\n", 0, pos))
                _, pos = decoder.raw_decode(text, pos)
                pos = skip(pos, ",")
            return lines
    except (ValueError, IndexError):
        pass
    return []


def resolve_relative(name: str, batch_path: Path, cwd: Path) -> tuple[Path, list[Path]]:
    """A relative path in a batch file: the batch file's folder first, then the working
    directory (where the seed's script resolved it). Returns the hit (or the first
    candidate) and every place looked at."""
    p = Path(name)
    candidates = [p] if p.is_absolute() else [batch_path.parent / p, cwd / p]
    for c in candidates:
        if c.exists():
            return c, candidates
    return candidates[0], candidates


_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(text: str, limit: int = 48) -> str:
    slug = _SLUG_STRIP.sub("-", text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] or slug[:limit]
    return slug


def prompt_ids(prompts: list[dict[str, Any]], shown_as: str) -> list[str]:
    """Stable, readable ids: ``id`` or ``name`` when given, else a slug of ``positive_prompt``
    (a numeric suffix only when two share it), else ``prompt-N`` by position."""
    ids: list[str] = []
    explicit = {}
    for i, p in enumerate(prompts):
        given = p.get("id", p.get("name"))
        if given is not None:
            given = str(given)
            if given in explicit:
                raise BatchFileError(shown_as, f"duplicate prompt id '{given}' (also prompts[{explicit[given]}])",
                                     f"prompts[{i}]", "give each prompt a unique 'id'")
            explicit[given] = i
    taken = set(explicit)
    for i, p in enumerate(prompts):
        given = p.get("id", p.get("name"))
        if given is not None:
            ids.append(str(given))
            continue
        text = p.get("positive_prompt")
        base = slugify(text) if isinstance(text, str) else ""
        base = base or f"prompt-{i + 1}"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        ids.append(candidate)
    return ids


def _reason(value: Any) -> str | None:
    """``skip``/``xfail``: true, or a string giving the reason."""
    if value is None or value is False:
        return None
    return value if isinstance(value, str) else "marked in the batch file"


def image_keys_of(addresses: Addresses, targets: dict[str, list[Target]]) -> set[str]:
    """Keys written to a LoadImage's ``image``: a local file there is uploaded first."""
    keys = set()
    for key, ts in targets.items():
        for t in ts:
            try:
                places = resolve(addresses, t)
            except UnresolvedTarget:
                continue
            if any(p.field == "image" and addresses.nodes[p.node].class_type == "LoadImage" for p in places):
                keys.add(key)
    return keys


def _local_images(values: dict[str, Any], keys: set[str], path: Path, cwd: Path,
                  place: str) -> tuple[list[tuple[str, Path]], list[Problem]]:
    found, problems = [], []
    for key in sorted(keys & set(values)):
        value = values[key]
        if not isinstance(value, str):
            continue
        local, looked = resolve_relative(value, path, cwd)
        if local.is_file():
            found.append((key, local))
        elif value.startswith(("./", "../", "/", ".\\", "..\\")):
            problems.append(Problem(f"{place}.{key}", f"image file '{value}' not found; looked at "
                                    + " and ".join(str(p) for p in looked)))
    return found, problems


@dataclass(frozen=True)
class SpecContext:
    """What every prompt of one batch file is checked and built against."""

    shown_as: str
    path: Path
    cwd: Path
    workflow: dict[str, Any]
    addresses: Addresses
    targets: dict[str, list[Target]]
    generic: dict[str, Any]
    declared: Any  # variables.load_declared's result
    per_prompt: dict[int, list[Problem]] = field(default_factory=dict)  # schema problems by prompt index
    image_keys: set[str] = field(default_factory=set)
    timeout: Any = None  # the batch file's timeout


def build_specs(raw_prompts: list[Any], lines: list[int], ctx: SpecContext) -> list[PromptSpec]:
    """One spec per prompt (one per combination of its variables); a prompt's own problems
    are kept on its spec, so only that prompt fails."""
    prompts = [p if isinstance(p, dict) else {} for p in raw_prompts]
    specs: list[PromptSpec] = []
    for i, (base_id, p) in enumerate(zip(prompt_ids(prompts, ctx.shown_as), prompts)):
        place = f"prompts[{i}]"
        own = ctx.per_prompt.get(i, []) + check_keys(p, ctx.targets, place)
        taken: set[str] = set()
        for assignment, values in variables_mod.expand({**ctx.generic, **p}, ctx.declared):
            reported = {problem.place for problem in own}
            problems = own + [q for q in check_values(ctx.workflow, ctx.addresses, ctx.targets, values, place)
                              if q.place not in reported]
            local, image_problems = _local_images(values, ctx.image_keys, ctx.path, ctx.cwd, place)
            specs.append(_spec(p, i, _variant_id(base_id, assignment, taken), values, assignment, local,
                               problems + image_problems, lines, ctx))
    return specs


def _spec(p: dict[str, Any], index: int, spec_id: str, values: dict[str, Any], assignment: dict[str, str],
          local: list[tuple[str, Path]], problems: list[Problem], lines: list[int], ctx: SpecContext) -> PromptSpec:
    tags = p.get("tags", [])
    timeout = p.get("timeout", ctx.timeout)
    return PromptSpec(
        id=spec_id,
        index=index,
        values=values,
        line=lines[index] if index < len(lines) else 0,
        tags=(tags,) if isinstance(tags, str) else tuple(t for t in tags if isinstance(t, str)),
        skip=_reason(p.get("skip")),
        xfail=_reason(p.get("xfail")),
        timeout_s=float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else None,
        variables=tuple(assignment.items()),
        local_images=tuple(local),
        error=BatchFileError(ctx.shown_as, problems=_unique(problems)) if problems else None,
    )


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _variant_id(base: str, assignment: dict[str, str], taken: set[str]) -> str:
    """``a-cat[standing-smiling]``: the values of the prompt's variables, readable and unique."""
    if not assignment:
        return base
    label = "-".join(slugify(v, 24) or "x" for v in assignment.values())
    candidate, n = f"{base}[{label}]", 1
    while candidate in taken:
        n += 1
        candidate = f"{base}[{label}-{n}]"
    taken.add(candidate)
    return candidate
