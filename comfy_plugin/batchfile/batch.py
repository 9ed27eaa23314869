"""A batch file, read into dataclasses: settings, workflow mappings and prompts with stable ids.

This step reads files only (``--collect-only`` never touches a server). Values stay as the
file wrote them; ``"random"`` seeds are drawn later, when a prompt runs (see prepare.py). A
UI-format workflow is checked as far as the file tells (and an ``/object_info`` kept from an
earlier run); it is converted when a prompt runs, with the server's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BatchFileError, Problem, UIFormatError, WorkflowError
from ..settings import BatchLimits
from . import reading
from . import variables as variables_mod
from .checks import HARNESS_KEYS, RANDOM, SEED_KEYS, check_keys, check_target, check_values
from .prompt_specs import PromptSpec, SpecContext, build_specs, file_keys_of, prompt_lines, resolve_relative
from .reading import Read, Source
from .schema import Cache, closest, make_validator, prompt_index, validate_cached
from .workflow import Addresses, Target, is_ui_workflow, load_workflow, parse_targets

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from .known_info import KnownInfo
    from .ui_addressing import Collected

__all__ = ["HARNESS_KEYS", "RANDOM", "SEED_KEYS", "Batch", "PromptSpec", "SaveSettings", "load_batch"]

DEFAULT_OUTPUT_DIRECTORY = "./images/"
DEFAULT_FILENAME_PREFIX = "CFYUI-BP"


@dataclass(frozen=True)
class SaveSettings:
    enabled: bool
    output_directory: str  # as written; resolved against the working directory when saving
    filename_prefix: str


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
    #: What workflow_items may name. None (filled in by __post_init__): the API workflow's own nodes.
    addresses: Addresses = None  # type: ignore[assignment]  # never None once constructed
    #: A UI-format workflow as saved by the editor (``workflow`` is then empty until a prompt
    #: runs and it is converted with the server's /object_info), and how messages name its file.
    source: dict[str, Any] | None = None
    source_shown: str = ""

    def __post_init__(self) -> None:
        if self.addresses is None:
            self.addresses = Addresses.of_api(self.workflow)

    @functools.cached_property
    def node_classes(self) -> dict[str, str]:
        """Node id -> class (``KSampler``) of every node the prompt sends, for reports and
        progress; a UI-format file's flattened ids (``10:3``) included. Built once per file:
        live progress asks for it on every socket message."""
        classes = {node: entry.class_type for node, entry in self.addresses.nodes.items() if entry.class_type}
        classes.update({node: entry["class_type"] for node, entry in self.workflow.items()
                        if isinstance(entry, dict) and isinstance(entry.get("class_type"), str)})
        return classes

    def node_label(self, node: str) -> str:
        """``KSampler 3``, or ``node 3`` when the class is not known."""
        kind = self.node_classes.get(str(node))
        return f"{kind} {node}" if kind else f"node {node}"


def read_json(path: Path, shown_as: str, limits: BatchLimits | None = None) -> Read:
    """Read and parse the batch file itself (see ``reading``: bounded, every fault placed)."""
    return reading.read_json(path, Source(shown_as), (limits or BatchLimits()).file_bytes)


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


def _read_workflow(name: str, path: Path, shown_as: str, cwd: Path, *,
                   known: Callable[[], KnownInfo | None] | None, max_bytes: int, max_nodes: int) -> _Workflow:
    """Find and read the workflow; a UI-format file's structural faults fail the whole file."""
    problem = reading.path_problem(name)
    if problem:
        raise WorkflowError(shown_as, f"workflow file {name!r:.80} cannot be looked for: {problem}",
                            "parameters.workflow_file")
    wf_path, looked = resolve_relative(name, path, cwd)
    if not reading.exists(wf_path):
        raise WorkflowError(shown_as, f"workflow file '{name}' not found; looked at "
                            + " and ".join(str(p) for p in looked), "parameters.workflow_file",
                            near_miss(name, looked))
    data = load_workflow(wf_path, shown_as, max_bytes)
    if not is_ui_workflow(data):
        return _Workflow(wf_path, data, Addresses.of_api(data))
    from .ui_addressing import collected  # (only for UI-format workflows)

    shown = _shown(wf_path, cwd)
    try:
        ui = collected(data, shown, known() if known is not None else None, max_nodes)
    except UIFormatError as exc:
        raise WorkflowError(shown_as, f"{shown}: {exc.place + ': ' if exc.place else ''}{exc.message}",
                            "parameters.workflow_file", exc.hint) from None
    return _Workflow(wf_path, {}, ui.addresses, data, shown, ui)


def _validated(data: Any, raw: bytes, shown_as: str, validator: Validator | None,
               cache: Cache | None) -> dict[int, list[Problem]]:
    """Schema problems: those outside any prompt fail the whole file (raised); the rest are
    returned by prompt index, for those prompts alone to fail."""
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
    return per_prompt


def _save_problems(save: dict[str, Any]) -> list[Problem]:
    """An output folder no file system can create fails the file now, not each prompt later."""
    folder = save.get("output_directory")
    problem = reading.path_problem(folder) if isinstance(folder, str) else ""
    return [Problem("parameters.save_images.output_directory", f"{folder!r} cannot be a folder: {problem}")] \
        if problem else []


def _targets(items: dict[str, Any], wf: _Workflow) -> tuple[dict[str, list[Target]], list[Problem]]:
    """``workflow_items`` parsed, each target checked against what the workflow file tells."""
    targets: dict[str, list[Target]] = {}
    problems: list[Problem] = []
    for key, spec in items.items():
        place = f"parameters.workflow_items.{key}"
        try:
            targets[key] = parse_targets(spec)
        except ValueError as exc:
            problems.append(Problem(place, str(exc)))
            continue
        for target in targets[key]:
            problems += wf.problems(target, place)
    return targets, problems


def load_batch(path: Path, shown_as: str, cwd: Path, validator: Validator | None = None, *,
               cache: Cache | None = None, known: Callable[[], KnownInfo | None] | None = None,
               limits: BatchLimits | None = None) -> Batch:
    """Read and check a batch file. Structural problems raise BatchFileError (the whole file
    fails); a problem inside one prompt is kept on that prompt's spec (only it fails).
    ``cache`` (pytest's) remembers schema validation by file digest; ``known`` gives the
    server's ``/object_info`` kept from an earlier run (called only for a UI-format workflow);
    ``limits`` bound the files read and the prompts built."""
    limits = limits or BatchLimits()
    read = read_json(path, shown_as, limits)
    text, raw, data = read.text, read.raw, read.data
    per_prompt = _validated(data, raw, shown_as, validator, cache)
    params = data["parameters"]
    wf = _read_workflow(params["workflow_file"], path, shown_as, cwd, known=known, max_bytes=limits.file_bytes,
                        max_nodes=limits.nodes)
    workflow, addresses = wf.workflow, wf.addresses
    targets, structural = _targets(params.get("workflow_items", {}), wf)
    generic = params.get("generic_prompts", {})
    structural += check_keys(generic, targets, "parameters.generic_prompts")
    structural += check_values(workflow, addresses, targets, generic, "parameters.generic_prompts")
    declared, problems = variables_mod.load_declared(data.get("variables", {}),
                                                     lambda name: resolve_relative(name, path, cwd),
                                                     limits.file_bytes, shown_as)
    structural += problems + _save_problems(params.get("save_images", {}))
    if structural:
        raise BatchFileError(shown_as, problems=structural)
    expanded = variables_mod.count(data["prompts"], generic, declared)
    if expanded > limits.prompts:
        raise BatchFileError(shown_as, f"the file expands to {expanded:,} prompts, more than the {limits.prompts:,} "
                             "allowed", "prompts", "each variable multiplies the prompts using it; raise the "
                             "limit with --comfy-max-prompts (ini comfy_max_prompts) if it is meant")

    save_raw = params.get("save_images", {})
    save = SaveSettings(
        enabled=bool(save_raw.get("enabled", True)),
        output_directory=str(save_raw.get("output_directory", DEFAULT_OUTPUT_DIRECTORY)),
        filename_prefix=str(save_raw.get("filename_prefix", DEFAULT_FILENAME_PREFIX)),
    )
    file_keys = file_keys_of(wf.ui.best if wf.ui else addresses, targets)
    specs = build_specs(data["prompts"], prompt_lines(text), SpecContext(
        shown_as, path, cwd, workflow, addresses, targets, generic, declared, per_prompt, file_keys,
        params.get("timeout")))
    return Batch(path, shown_as, wf.path, workflow, targets, save, generic, specs, params.get("baseline", {}),
                 addresses, wf.source, wf.source_shown)
