"""A batch file's prompts as specs: ids, lines, values (with variables), local files to upload,
and each prompt's own problems. Part of reading a batch file (batch.py), kept apart for size."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePath
from typing import Any

from ..errors import BatchFileError, Problem, UnresolvedTarget
from ..settings import REGRESSION_MARKER
from . import reading
from . import variables as variables_mod
from .checks import RANDOM, SEED_KEYS, check_keys, check_values
from .workflow import Addresses, Target, resolve


@dataclass(frozen=True)
class LocalFile:
    """A prompt value that names a local file, and the node inputs its key writes ((class type,
    input name) each): the file is uploaded when the server's /object_info marks one of those
    inputs an upload input (``run.steps.upload_input``), and its server-side name sent instead."""

    key: str
    path: Path
    inputs: tuple[tuple[str, str], ...]


#: The loaders of ComfyUI 0.3.75 whose input /object_info marks for upload (``image_upload``,
#: ``video_upload``, ``audio_upload``). Only for reporting, before any server is asked, a local
#: path that is not there; what is uploaded is decided by the server's /object_info.
KNOWN_LOADERS = frozenset({("LoadImage", "image"), ("LoadImageMask", "image"), ("LoadVideo", "file"),
                           ("LoadAudio", "audio")})


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
    local_files: tuple[LocalFile, ...] = ()  # local files named by the prompt, uploaded to loaders
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

    def space_end(pos: int) -> int:
        found = ws.match(text, pos)  # (it matches the empty string too: always found)
        return found.end() if found else pos

    def skip(pos: int, char: str = "") -> int:
        pos = space_end(pos)
        if char and text.startswith(char, pos):
            pos = space_end(pos + 1)
        return pos

    try:
        pos = skip(text.find("{") + 1)
        counted, newlines = 0, 0  # newlines before ``counted``: one pass over the text, not one per prompt
        while pos < len(text) and text[pos] != "}":
            key, pos = decoder.raw_decode(text, pos)
            pos = skip(pos, ":")
            if key != "prompts":
                _, pos = decoder.raw_decode(text, pos)
                pos = skip(pos, ",")
                continue
            lines, pos = [], skip(pos + 1)
            while text[pos] != "]":
                newlines += text.count("\n", counted, pos)
                counted = pos
                lines.append(newlines)
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
        if reading.exists(c):
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
    explicit: dict[str, int] = {}
    for i, p in enumerate(prompts):
        given = p.get("id", p.get("name"))
        if given is not None:
            given = str(given)
            if given in explicit:
                raise BatchFileError(shown_as, f"duplicate prompt id '{given}' (also prompts[{explicit[given]}])",
                                     f"prompts[{i}]", "give each prompt a unique 'id'")
            explicit[given] = i
    taken = set(explicit)
    suffixes: dict[str, int] = {}  # base -> the last suffix tried: 32,000 equal texts stay linear
    for i, p in enumerate(prompts):
        given = p.get("id", p.get("name"))
        if given is not None:
            ids.append(str(given))
            continue
        text = p.get("positive_prompt")
        base = slugify(text) if isinstance(text, str) else ""
        base = base or f"prompt-{i + 1}"
        ids.append(_unique_id(base, taken, suffixes, partial(_numbered, base)))
    return ids


def _numbered(base: str, n: int) -> str:
    return f"{base}-{n}"


def _unique_id(base: str, taken: set[str], suffixes: dict[str, int], form: Callable[[int], str]) -> str:
    """``base``, else the first free ``form(n)`` (``base-2``...); marks it taken."""
    candidate, n = base, suffixes.get(base, 1)
    while candidate in taken:
        n += 1
        candidate = form(n)
    suffixes[base] = n
    taken.add(candidate)
    return candidate


def _reason(value: Any) -> str | None:
    """``skip``/``xfail``: true, or a string giving the reason."""
    if value is None or value is False:
        return None
    return value if isinstance(value, str) else "marked in the batch file"


def file_keys_of(addresses: Addresses, targets: dict[str, list[Target]]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Each key and the node inputs it writes, (class type, input name): a local file named
    there is uploaded when the server marks one of them an upload input (any loader)."""
    keys: dict[str, tuple[tuple[str, str], ...]] = {}
    for key, ts in targets.items():
        inputs: list[tuple[str, str]] = []
        for t in ts:
            try:
                places = resolve(addresses, t)
            except UnresolvedTarget:
                continue
            inputs += [(addresses.nodes[p.node].class_type, p.field) for p in places]
        if inputs:
            keys[key] = tuple(dict.fromkeys(inputs))
    return keys


_PATH_STARTS = ("./", "../", "/", ".\\", "..\\")


def _may_name_file(value: Any) -> bool:
    """A value worth looking for on disk: one line with a file suffix (a prompt's text is not)."""
    return isinstance(value, str) and len(value) <= 4096 and "\n" not in value and bool(PurePath(value).suffix)


def _local_files(values: dict[str, Any], keys: dict[str, tuple[tuple[str, str], ...]], path: Path, cwd: Path,
                 place: str) -> tuple[list[LocalFile], list[Problem]]:
    """The prompt's values that name a local file (the run uploads those a loader takes); a
    path written for a known loader that is not there is the prompt's problem."""
    found, problems = [], []
    for key in sorted(set(keys) & set(values)):
        value = values[key]
        if not _may_name_file(value):
            continue
        what = "image" if all(name == "image" for _, name in keys[key]) else "input"
        loader = any(i in KNOWN_LOADERS for i in keys[key])
        problem = reading.path_problem(value)
        if problem:
            if loader and value.startswith(_PATH_STARTS):
                problems.append(Problem(f"{place}.{key}", f"{what} file {value!r:.80} cannot be looked for: {problem}"))
            continue  # else a name on the server: the server says whether it has it
        local, looked = resolve_relative(value, path, cwd)
        if reading.is_file(local):
            found.append(LocalFile(key, local, keys[key]))
        elif loader and value.startswith(_PATH_STARTS):
            problems.append(Problem(f"{place}.{key}", f"{what} file '{value}' not found; looked at "
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
    declared: dict[str, list[str]]  # variable name -> its lines (variables.load_declared)
    per_prompt: dict[int, list[Problem]] = field(default_factory=dict)  # schema problems by prompt index
    file_keys: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # file_keys_of
    timeout: Any = None  # the batch file's timeout, as written (checked per prompt)


def build_specs(raw_prompts: list[Any], lines: list[int], ctx: SpecContext) -> list[PromptSpec]:
    """One spec per prompt (one per combination of its variables); a prompt's own problems
    are kept on its spec, so only that prompt fails."""
    prompts = [p if isinstance(p, dict) else {} for p in raw_prompts]
    specs: list[PromptSpec] = []
    base_ids = prompt_ids(prompts, ctx.shown_as)
    taken: set[str] = set(base_ids)  # variant ids are unique in the whole file
    suffixes: dict[str, int] = {}
    for i, (base_id, p) in enumerate(zip(base_ids, prompts, strict=True)):
        place = f"prompts[{i}]"
        own = ctx.per_prompt.get(i, []) + check_keys(p, ctx.targets, place) + _tag_problems(p.get("tags"), place)
        for assignment, values in variables_mod.expand({**ctx.generic, **p}, ctx.declared):
            reported = {problem.place for problem in own}
            problems = own + [q for q in check_values(ctx.workflow, ctx.addresses, ctx.targets, values, place)
                              if q.place not in reported]
            local, image_problems = _local_files(values, ctx.file_keys, ctx.path, ctx.cwd, place)
            specs.append(_spec(p, i, spec_id=_variant_id(base_id, assignment, taken, suffixes), values=values,
                               assignment=assignment, local=local, problems=problems + image_problems,
                               lines=lines, ctx=ctx))
    return specs


def _spec(p: dict[str, Any], index: int, *, spec_id: str, values: dict[str, Any], assignment: dict[str, str],
          local: list[LocalFile], problems: list[Problem], lines: list[int], ctx: SpecContext) -> PromptSpec:
    return PromptSpec(
        id=spec_id,
        index=index,
        values=values,
        line=lines[index] if index < len(lines) else 0,
        tags=_tags(p.get("tags")),
        skip=_reason(p.get("skip")),
        xfail=_reason(p.get("xfail")),
        timeout_s=_timeout(p.get("timeout", ctx.timeout)),
        variables=tuple(assignment.items()),
        local_files=tuple(local),
        error=BatchFileError(ctx.shown_as, problems=_unique(problems)) if problems else None,
    )


#: Markers pytest (or this plugin) gives a meaning: as a tag, "skip" would skip the prompt
#: without a reason. The prompt's own ``skip`` and ``xfail`` keys say that instead.
RESERVED_TAGS = frozenset({"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings",
                           "tryfirst", "trylast", "comfy", REGRESSION_MARKER})
#: What pytest takes as a marker name (one that starts with "_" it refuses).
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: The longest wait a prompt may ask for (the schema's ``timeout`` maximum): longer ones
#: overflow the waits of threads and sockets.
MAX_TIMEOUT_S = 1_000_000


def _tag_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else value if isinstance(value, list) else []


def _tags(value: Any) -> tuple[str, ...]:
    """The tags that can be markers; the others are reported (schema, ``_tag_problems``)."""
    return tuple(t for t in _tag_list(value) if isinstance(t, str) and _TAG.fullmatch(t) and t not in RESERVED_TAGS)


def _tag_problems(value: Any, place: str) -> list[Problem]:
    return [Problem(f"{place}.tags", f"'{t}' is one of pytest's own markers, with its own meaning",
                    "use the prompt's 'skip' or 'xfail' key, or another tag")
            for t in _tag_list(value) if isinstance(t, str) and t in RESERVED_TAGS]


def _timeout(value: Any) -> float | None:
    """Seconds, when the value is a usable timeout (the schema reports the others)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_S:
        return None
    return float(value)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _variant_id(base: str, assignment: dict[str, str], taken: set[str], suffixes: dict[str, int]) -> str:
    """``a-cat[standing-smiling]``: the values of the prompt's variables, readable and unique
    in the whole file (an explicit id ``a-cat[standing-smiling]`` elsewhere keeps its own)."""
    if not assignment:
        return base
    label = "-".join(slugify(v, 24) or "x" for v in assignment.values())
    return _unique_id(f"{base}[{label}]", taken, suffixes, lambda n: f"{base}[{label}-{n}]")
