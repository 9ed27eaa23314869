"""A batch file, read into dataclasses: settings, workflow mappings and prompts with stable ids.

This step reads files only (``--collect-only`` never touches a server). Values stay as the
file wrote them; ``"random"`` seeds are drawn later, when a prompt runs (see prepare.py). A
UI-format workflow is checked as far as the file tells (and an ``/object_info`` kept from an
earlier run); it is converted when a prompt runs, with the server's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import variables as variables_mod
from .checks import HARNESS_KEYS, RANDOM, SEED_KEYS, check_keys, check_target, check_values
from .errors import BatchFileError, Problem, UIFormatError, UnresolvedTarget, WorkflowError
from .schema import Cache, closest, make_validator, prompt_index, validate_cached
from .workflow import Addresses, Target, is_ui_workflow, load_workflow, parse_targets, resolve

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

    from .uiformat.addressing import Collected
    from .uiformat.known import KnownInfo

__all__ = ["Batch", "PromptSpec", "SaveSettings", "load_batch", "HARNESS_KEYS", "RANDOM", "SEED_KEYS"]

DEFAULT_OUTPUT_DIRECTORY = "./images/"
DEFAULT_FILENAME_PREFIX = "CFYUI-BP"


@dataclass(frozen=True)
class SaveSettings:
    enabled: bool
    output_directory: str  # as written; resolved against the working directory when saving
    filename_prefix: str


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
    baseline: dict[str, Any] = field(default_factory=dict)  # parameters.baseline: hash and thresholds
    addresses: Addresses | None = None  # what workflow_items may name; None: the API workflow's own nodes
    #: A UI-format workflow as saved by the editor (``workflow`` is then empty until a prompt
    #: runs and it is converted with the server's /object_info), and how messages name its file.
    source: dict[str, Any] | None = None
    source_shown: str = ""

    def __post_init__(self) -> None:
        if self.addresses is None:
            self.addresses = Addresses.of_api(self.workflow)

    def node_classes(self) -> dict[str, str]:
        """Node id -> class (``KSampler``) of every node the prompt sends, for reports and
        progress; a UI-format file's flattened ids (``10:3``) included."""
        classes = {node: entry.class_type for node, entry in self.addresses.nodes.items() if entry.class_type}
        classes.update({node: entry["class_type"] for node, entry in self.workflow.items()
                        if isinstance(entry, dict) and isinstance(entry.get("class_type"), str)})
        return classes


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


def read_text(path: Path, shown_as: str) -> tuple[str, bytes]:
    """The file's text and bytes, reporting unreadable and non-UTF-8 files."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BatchFileError(shown_as, f"cannot read the file: {exc.strerror or exc}")
    try:
        return raw.decode("utf-8-sig"), raw
    except UnicodeDecodeError as exc:
        raise BatchFileError(shown_as, f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})",
                             hint="save the file as UTF-8")


def parse_json(text: str, shown_as: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatchFileError(shown_as, f"invalid JSON: {exc.msg}", f"line {exc.lineno}, column {exc.colno}")


def read_json(path: Path, shown_as: str) -> Any:
    """Parse a JSON file, reporting encoding and syntax errors with their position."""
    return parse_json(read_text(path, shown_as)[0], shown_as)


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


def near_miss(name: str, looked: list[Path], suffix: str = ".json") -> str:
    """For a file not found: a file with ``suffix``, in a folder looked in, whose name is
    close (``tiny-sd15-txt2img.json`` -> ``tiny-sd15-txt2img-api.json``), written as the
    batch file would name it; "" when there is none."""
    stems: set[str] = set()
    for candidate in looked:
        try:
            stems |= {p.stem for p in candidate.parent.iterdir() if p.suffix == suffix and p.is_file()}
        except OSError:
            continue  # a folder that does not exist holds no near miss
    wanted = Path(name)
    close = closest(wanted.stem, sorted(stems))
    if close is None:
        return ""
    return f'did you mean "{wanted.with_name(close + suffix).as_posix()}"?'


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


def _image_keys(addresses: Addresses, targets: dict[str, list[Target]]) -> set[str]:
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
class _Workflow:
    """The workflow a batch file names: an API prompt, or a UI-format graph (``source``,
    ``workflow`` empty) with what collection knows of it (``ui``)."""

    path: Path
    workflow: dict[str, Any]
    addresses: Addresses
    source: dict[str, Any] | None = None
    source_shown: str = ""
    ui: Collected | None = None

    def problems(self, target: Target, place: str) -> list[Problem]:
        return self.ui.problems(target, place) if self.ui else check_target(self.addresses, target, place)


def _shown(path: Path, cwd: Path) -> str:
    try:
        return path.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_workflow(name: str, path: Path, shown_as: str, cwd: Path,
                   known: Callable[[], KnownInfo | None] | None) -> _Workflow:
    """Find and read the workflow; a UI-format file's structural faults fail the whole file."""
    wf_path, looked = resolve_relative(name, path, cwd)
    if not wf_path.exists():
        raise WorkflowError(shown_as, f"workflow file '{name}' not found; looked at "
                            + " and ".join(str(p) for p in looked), "parameters.workflow_file",
                            near_miss(name, looked))
    data = load_workflow(wf_path, shown_as)
    if not is_ui_workflow(data):
        return _Workflow(wf_path, data, Addresses.of_api(data))
    from .uiformat.addressing import collected  # noqa: PLC0415  (only for UI-format workflows)

    shown = _shown(wf_path, cwd)
    try:
        ui = collected(data, shown, known() if known is not None else None)
    except UIFormatError as exc:
        raise WorkflowError(shown_as, f"{shown}: {exc.place + ': ' if exc.place else ''}{exc.message}",
                            "parameters.workflow_file", exc.hint) from None
    return _Workflow(wf_path, {}, ui.addresses, data, shown, ui)


def load_batch(path: Path, shown_as: str, cwd: Path, validator: Draft202012Validator | None = None,
               cache: Cache | None = None, known: Callable[[], KnownInfo | None] | None = None) -> Batch:
    """Read and check a batch file. Structural problems raise BatchFileError (the whole file
    fails); a problem inside one prompt is kept on that prompt's spec (only it fails).
    ``cache`` (pytest's) remembers schema validation by file digest; ``known`` gives the
    server's ``/object_info`` kept from an earlier run (called only for a UI-format workflow)."""
    text, raw = read_text(path, shown_as)
    data = parse_json(text, shown_as)
    if not isinstance(data, dict):
        raise BatchFileError(shown_as, "the top level must be an object with 'parameters' and 'prompts', "
                             f"found {type(data).__name__}", hint="see the batch format in README.md")
    structural: list[Problem] = []
    per_prompt: dict[int, list[Problem]] = {}
    for error_path, problem in validate_cached(validator or make_validator(), data, raw, cache):
        index = prompt_index(error_path)
        (structural if index is None else per_prompt.setdefault(index, [])).append(problem)
    if structural:
        raise BatchFileError(shown_as, problems=structural)

    params = data["parameters"]
    wf = _read_workflow(params["workflow_file"], path, shown_as, cwd, known)
    workflow, addresses = wf.workflow, wf.addresses

    targets: dict[str, list[Target]] = {}
    for key, spec in params.get("workflow_items", {}).items():
        place = f"parameters.workflow_items.{key}"
        try:
            targets[key] = parse_targets(spec)
        except ValueError as exc:
            structural.append(Problem(place, str(exc)))
            continue
        for target in targets[key]:
            structural += wf.problems(target, place)
    generic = params.get("generic_prompts", {})
    structural += check_keys(generic, targets, "parameters.generic_prompts")
    structural += check_values(workflow, addresses, targets, generic, "parameters.generic_prompts")
    declared, problems = variables_mod.load_declared(data.get("variables", {}),
                                                     lambda name: resolve_relative(name, path, cwd))
    structural += problems
    if structural:
        raise BatchFileError(shown_as, problems=structural)

    save_raw = params.get("save_images", {})
    save = SaveSettings(
        enabled=bool(save_raw.get("enabled", True)),
        output_directory=str(save_raw.get("output_directory", DEFAULT_OUTPUT_DIRECTORY)),
        filename_prefix=str(save_raw.get("filename_prefix", DEFAULT_FILENAME_PREFIX)),
    )
    prompts = [p if isinstance(p, dict) else {} for p in data["prompts"]]
    lines = prompt_lines(text)
    image_keys = _image_keys(wf.ui.best if wf.ui else addresses, targets)
    specs: list[PromptSpec] = []
    for i, (base_id, p) in enumerate(zip(prompt_ids(prompts, shown_as), prompts)):
        place = f"prompts[{i}]"
        own = per_prompt.get(i, []) + check_keys(p, targets, place)
        tags = p.get("tags", [])
        timeout = p.get("timeout", params.get("timeout"))
        combos = list(variables_mod.expand({**generic, **p}, declared))
        taken: set[str] = set()
        for assignment, values in combos:
            reported = {problem.place for problem in own}
            problems = own + [q for q in check_values(workflow, addresses, targets, values, place)
                              if q.place not in reported]
            local, image_problems = _local_images(values, image_keys, path, cwd, place)
            problems += image_problems
            specs.append(PromptSpec(
                id=_variant_id(base_id, assignment, taken),
                index=i,
                values=values,
                line=lines[i] if i < len(lines) else 0,
                tags=(tags,) if isinstance(tags, str) else tuple(t for t in tags if isinstance(t, str)),
                skip=_reason(p.get("skip")),
                xfail=_reason(p.get("xfail")),
                timeout_s=float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else None,
                variables=tuple(assignment.items()),
                local_images=tuple(local),
                error=BatchFileError(shown_as, problems=_unique(problems)) if problems else None,
            ))
    return Batch(path, shown_as, wf.path, workflow, targets, save, generic, specs, params.get("baseline", {}),
                 addresses, wf.source, wf.source_shown)


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
