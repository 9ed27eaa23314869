"""A batch file, read into dataclasses: settings, workflow mappings and prompts with stable ids.

This step reads files only (``--collect-only`` never touches a server). Values stay as the
file wrote them; ``"random"`` seeds are drawn later, when a prompt runs (see prepare.py).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BatchFileError, WorkflowError
from .workflow import Target, load_workflow, node_id_for, parse_targets

#: Keys that the harness reads itself; they are never written into the workflow.
HARNESS_KEYS = frozenset({"id", "name", "tags", "skip", "xfail"})
#: The keys whose value ``"random"`` draws a seed (the two the seed's own script recognises).
SEED_KEYS = frozenset({"seed", "noise_seed"})
RANDOM = "random"
DEFAULT_OUTPUT_DIRECTORY = "./images/"
DEFAULT_FILENAME_PREFIX = "CFYUI-BP"


@dataclass(frozen=True)
class SaveSettings:
    enabled: bool
    output_directory: str  # as written; resolved against the working directory when saving
    filename_prefix: str


@dataclass(frozen=True)
class PromptSpec:
    """One prompt: ``values`` is generic_prompts overlaid with the prompt's own keys."""

    id: str
    index: int
    values: dict[str, Any]
    line: int = 0  # 0-based line of the prompt in the batch file
    tags: tuple[str, ...] = ()
    skip: str | None = None
    xfail: str | None = None

    def random_keys(self) -> list[str]:
        return [k for k in SEED_KEYS if self.values.get(k) == RANDOM]


@dataclass
class Batch:
    """A loaded batch file. Items share it, so the workflow is held once per file."""

    path: Path
    shown_as: str
    workflow_path: Path
    workflow: dict[str, Any]
    targets: dict[str, list[Target]]
    save: SaveSettings
    generic: dict[str, Any]
    prompts: list[PromptSpec] = field(default_factory=list)


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


def read_json(path: Path, shown_as: str) -> Any:
    """Parse a JSON file, reporting encoding and syntax errors with their position."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BatchFileError(shown_as, f"cannot read the file: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchFileError(shown_as, f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})",
                             hint="save the file as UTF-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatchFileError(shown_as, f"invalid JSON: {exc.msg}", f"line {exc.lineno}, column {exc.colno}")


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


def _object(value: Any, shown_as: str, place: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BatchFileError(shown_as, f"must be an object, found {type(value).__name__}", place)
    return value


def _reason(value: Any) -> str | None:
    """``skip``/``xfail``: true, or a string giving the reason."""
    if value is None or value is False:
        return None
    return value if isinstance(value, str) else "marked in the batch file"


def check_target(workflow: dict[str, Any], target: Target, wf_path: Path, shown_as: str, place: str) -> None:
    """The node a mapping names must exist in the workflow (a near miss is suggested)."""
    try:
        node_id_for(workflow, target)
    except KeyError:
        names = list(workflow) + [n.get("_meta", {}).get("title", "") for n in workflow.values()]
        close = difflib.get_close_matches(target.node, [n for n in names if n], n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"the workflow's node ids: {', '.join(workflow)}"
        what = "no node titled" if target.by_title else "no node with id"
        raise BatchFileError(shown_as, f"{what} '{target.node}' in workflow {wf_path}", place, hint) from None


def load_batch(path: Path, shown_as: str, cwd: Path) -> Batch:
    data = read_json(path, shown_as)
    lines = prompt_lines(path.read_text(encoding="utf-8-sig")) if isinstance(data, dict) else []
    if not isinstance(data, dict):
        raise BatchFileError(shown_as, f"the top level must be an object with 'parameters' and 'prompts', found {type(data).__name__}")
    params = _object(data.get("parameters"), shown_as, "parameters") if "parameters" in data else None
    if params is None:
        raise BatchFileError(shown_as, "missing 'parameters'", hint="see the batch format in README.md")
    prompts = data.get("prompts")
    if not isinstance(prompts, list):
        raise BatchFileError(shown_as, "'prompts' must be a list of objects", "prompts")
    if not prompts:
        raise BatchFileError(shown_as, "'prompts' is empty: nothing to run", "prompts")

    wf_name = params.get("workflow_file")
    if not isinstance(wf_name, str) or not wf_name:
        raise BatchFileError(shown_as, "missing 'workflow_file'", "parameters.workflow_file")
    wf_path, looked = resolve_relative(wf_name, path, cwd)
    if not wf_path.exists():
        raise WorkflowError(shown_as, f"workflow file '{wf_name}' not found; looked at "
                            + " and ".join(str(p) for p in looked), "parameters.workflow_file")
    workflow = load_workflow(wf_path, shown_as)

    targets: dict[str, list[Target]] = {}
    for key, spec in _object(params.get("workflow_items", {}), shown_as, "parameters.workflow_items").items():
        try:
            targets[key] = parse_targets(spec)
        except ValueError as exc:
            raise BatchFileError(shown_as, str(exc), f"parameters.workflow_items.{key}")
        for target in targets[key]:
            check_target(workflow, target, wf_path, shown_as, f"parameters.workflow_items.{key}")

    save_raw = _object(params.get("save_images", {}), shown_as, "parameters.save_images")
    save = SaveSettings(
        enabled=bool(save_raw.get("enabled", True)),
        output_directory=str(save_raw.get("output_directory", DEFAULT_OUTPUT_DIRECTORY)),
        filename_prefix=str(save_raw.get("filename_prefix", DEFAULT_FILENAME_PREFIX)),
    )
    generic = _object(params.get("generic_prompts", {}), shown_as, "parameters.generic_prompts")

    for i, p in enumerate(prompts):
        _object(p, shown_as, f"prompts[{i}]")
    specs = []
    for i, (pid, p) in enumerate(zip(prompt_ids(prompts, shown_as), prompts)):
        tags = p.get("tags", [])
        specs.append(PromptSpec(
            id=pid,
            index=i,
            values={**generic, **p},
            line=lines[i] if i < len(lines) else 0,
            tags=tuple(tags) if isinstance(tags, list) else (str(tags),),
            skip=_reason(p.get("skip")),
            xfail=_reason(p.get("xfail")),
        ))
    return Batch(path, shown_as, wf_path, workflow, targets, save, generic, specs)
