"""Structure-aware fuzzing of batch files: the repository's own batch files, mutated at the
JSON level, fed to what collection and ``--comfy-check`` run without a server.

A case takes a batch file of ``batches/``, applies a few mutations to its parsed document
(replace, delete or insert values of odd types, deep nesting, huge integers, NaN, long
strings, lone surrogates, NUL, odd paths; sometimes on the API workflow it names too), writes
it as text (sometimes with the text itself damaged) and runs the sniffing of collection,
``load_batch``, and for each valid prompt ``prepare`` and the preflight against a stored
``/object_info``. A clear error is a ``ComfyError`` (each has a place and a message for the
user); anything else is a crash, counted by its signature (exception type and innermost
frame of the project). ``run`` is what ``bench/fuzz.py`` calls; the unit fuzz test drives
``mutate`` and ``run_case`` through hypothesis.
"""

from __future__ import annotations

import copy
import json
import random
import re
import shutil
import tempfile
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _seeds() -> list[Path]:
    """The repository's batch files that are whole (a broken one someone is working on is skipped)."""
    found = []
    for path in sorted((ROOT / "batches").glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("parameters"), dict) and "prompts" in doc:
            found.append(path)
    return found


SEEDS = _seeds()
OBJECT_INFO = ROOT / "tests" / "ui_fixtures" / "object_info.json"
HUGE_INT = "__fuzz_huge_int__"  # written as 5,000 digits (json.dumps refuses to)
DEEP = "__fuzz_deep__"  # followed by a depth: written as that many nested lists

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, -0.0, 2**64, 10**400, HUGE_INT, float("nan"), float("inf"), 1e308,
    "", " ", "x" * 70_000, "\ud800", "\udc00x", "a\x00b", "\x00", "/dev/zero", "/", ".", "..",
    "../" * 40, "a" * 300 + ".json", "./" + "b" * 260 + ".png", "./missing.png", "$mood", "$$", "$nope",
    "random", "skip", "xfail", "_hidden", "::", "a::b", "\n", "é", "tags", [], {}, [None], {"": None},
    [1, "a", None], {"node": 3, "input": []}, "3,inputs,seed", "99,inputs,x", ",,", "1e400",
]
KEYS = ["tags", "skip", "xfail", "timeout", "id", "name", "seed", "noise_seed", "baseline", "variables",
        "workflow_items", "generic_prompts", "save_images", "output_directory", "filename_prefix",
        "workflow_file", "positive_prompt", "steps", "width", "_comment", "prompts", "parameters", "mood"]


def odd_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.08:
        return _nested(rng.choice([10, 70, 200, 1500]), rng)
    if roll < 0.12:
        return [odd_value(rng) for _ in range(rng.randint(1, 4))]
    if roll < 0.16:
        return {rng.choice(KEYS): odd_value(rng) for _ in range(rng.randint(1, 3))}
    return copy.deepcopy(rng.choice(ODD_VALUES))


def _nested(depth: int, rng: random.Random) -> Any:
    """A value ``depth`` levels deep; past 100 a marker that ``render`` writes as brackets
    (json.dumps itself would run out of recursion)."""
    if depth > 100:
        return f"{DEEP}{depth}"
    value: Any = rng.choice([1, "x", None])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


def _places(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of the document, iteratively (the document may be deep)."""
    found: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack and len(found) < 5_000:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            found.append((node, key))
            if isinstance(value, (dict, list)):
                stack.append(value)
    return found


def _containers(doc: Any) -> list[Any]:
    return [doc] + [c[k] for c, k in _places(doc) if isinstance(c[k], (dict, list))]


def mutate(doc: Any, rng: random.Random) -> Any:
    """One structural mutation of the document (a new document is returned when the top
    level itself is replaced)."""
    kind = rng.random()
    places = _places(doc)
    if kind < 0.4 and places:
        container, key = rng.choice(places)
        container[key] = odd_value(rng)
    elif kind < 0.55 and places:
        container, key = rng.choice(places)
        del container[key]
    elif kind < 0.8:
        target = rng.choice(_containers(doc))
        if isinstance(target, dict):
            target[rng.choice([*KEYS, f"k{rng.randint(0, 9)}"])] = odd_value(rng)
        elif isinstance(target, list):
            target.insert(rng.randint(0, len(target)), odd_value(rng))
    elif kind < 0.88 and places:
        container, key = rng.choice(places)
        container[key] = rng.choice([[container[key]], {"x": container[key]}, str(container[key])[:50]])
    elif kind < 0.98:
        prompts = doc.get("prompts") if isinstance(doc, dict) else None
        if isinstance(prompts, list) and prompts:
            prompts.extend(copy.deepcopy(rng.choice(prompts)) for _ in range(rng.choice([2, 50, 400])))
    else:
        return odd_value(rng) if rng.random() < 0.5 else [doc]
    return doc


def render(doc: Any, rng: random.Random) -> bytes:
    """The document as the bytes of a file: ASCII escapes or raw text, sometimes damaged."""
    ascii_only = rng.random() < 0.7
    text = json.dumps(doc, ensure_ascii=ascii_only, indent=rng.choice([None, 2]))
    text = text.replace(f'"{HUGE_INT}"', "1" + "0" * 5000)
    text = re.sub(rf'"{DEEP}(\d+)"', lambda m: "[" * int(m.group(1)) + "1" + "]" * int(m.group(1)), text)
    raw = text.encode("utf-8", "surrogatepass")
    roll = rng.random()
    if roll < 0.03:
        raw = raw[: rng.randint(0, len(raw))]
    elif roll < 0.06 and raw:
        at = rng.randrange(len(raw))
        raw = raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1:]
    elif roll < 0.08:
        raw = b"\xef\xbb\xbf" + raw
    return raw


@dataclass
class Project:
    """A scratch copy of the repository's batches/ and workflows-files/ a case runs in."""

    root: Path
    object_info: dict[str, Any]
    validator: Any
    conversions: Any = None  # the UI-format workflows' conversions, each file once

    @classmethod
    def create(cls) -> Project:
        from comfy_plugin.batchfile.schema import make_validator

        root = Path(tempfile.mkdtemp(prefix="comfy-fuzz-"))
        shutil.copytree(ROOT / "batches", root / "batches")
        shutil.copytree(ROOT / "workflows-files", root / "workflows-files")
        (root / "batches" / "workflows-files").symlink_to(root / "workflows-files")
        return cls(root, json.loads(OBJECT_INFO.read_text(encoding="utf-8")), make_validator())

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def make_case(rng: random.Random) -> tuple[str, bytes, bytes | None]:
    """(seed file name, batch file bytes, mutated workflow bytes or None)."""
    seed = rng.choice(SEEDS)
    doc: Any = json.loads(seed.read_text(encoding="utf-8"))
    workflow = None
    name = doc["parameters"]["workflow_file"]
    found = seed.parent / name if (seed.parent / name).is_file() else ROOT / name
    if rng.random() < 0.15 and not name.endswith("-ui.json"):  # (UI-format files: bench/fuzz_ui.py)
        wf_doc = json.loads(found.read_text(encoding="utf-8"))
        for _ in range(rng.randint(1, 3)):
            wf_doc = mutate(wf_doc, rng)
        workflow = render(wf_doc, rng)
        doc["parameters"]["workflow_file"] = "./fuzzed-workflow.json"
    for _ in range(rng.randint(1, 4)):
        doc = mutate(doc, rng)
    return seed.name, render(doc, rng), workflow


def run_case(project: Project, batch: bytes, workflow: bytes | None, name: str = "fuzzed.json") -> str:
    """Run one case: "accepted" (every prompt built, each checked) or "error" (a clear error
    somewhere); any other exception propagates (a crash)."""
    import pytest

    from comfy_plugin.batchfile.batch import load_batch
    from comfy_plugin.errors import ComfyError
    from comfy_plugin.plugin.collect import is_batch_candidate
    from comfy_plugin.run import preflight
    from comfy_plugin.run.prepare import prepare
    from comfy_plugin.settings import BatchLimits

    path = project.root / "batches" / name
    path.write_bytes(batch)
    if workflow is not None:
        (project.root / "batches" / "fuzzed-workflow.json").write_bytes(workflow)
    limits = BatchLimits(file_mb=2.0, prompts=2_000)
    is_batch_candidate(path, False, True, limits.file_bytes)
    try:
        loaded = load_batch(path, f"batches/{name}", project.root, project.validator, limits=limits)
    except ComfyError:
        return "error"
    outcome = "accepted"
    rng = random.Random(0)
    for spec in loaded.prompts[:50]:
        with warnings.catch_warnings():  # (an unregistered marker only warns)
            warnings.simplefilter("ignore")
            for tag in spec.tags:
                getattr(pytest.mark, tag)  # pytest refuses some names: they must not reach it
        if spec.error is not None:
            outcome = "error"
            continue
        try:
            converted = _converted(project, loaded)
            prepared = prepare(loaded, spec, project.object_info, None, rng, converted=converted)
            preflight.check(prepared.workflow, project.object_info)
        except ComfyError:
            outcome = "error"
    return outcome


def _converted(project: Project, batch: Any) -> Any:
    if batch.source is None:
        return None
    from comfy_plugin.batchfile.ui_addressing import Conversions

    if project.conversions is None:
        project.conversions = Conversions(project.object_info, None)
    return project.conversions.get(str(batch.workflow_path.resolve()), batch.source, batch.source_shown)


def signature(exc: BaseException) -> str:
    """``RecursionError at comfy_plugin/batchfile/schema.py:42 inline_refs``: the exception's
    type and the innermost frame of the project."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/comfy_plugin/" in f.filename]
    if not frames:
        return f"{type(exc).__name__} (outside comfy_plugin)"
    last = frames[-1]
    return f"{type(exc).__name__} at {last.filename.split('/comfy_plugin/')[-1]}:{last.lineno} {last.name}"


def run(cases: int, seed: int) -> dict[str, Any]:
    """``cases`` random cases from ``seed``: {"cases", "errors", "accepted", "crashes":
    {signature: count}}, the shape bench/fuzz_ui.py returns too."""
    rng = random.Random(seed)
    project = Project.create()
    counts: Counter[str] = Counter()
    crashes: Counter[str] = Counter()
    try:
        for _ in range(cases):
            _, batch, workflow = make_case(rng)
            try:
                counts[run_case(project, batch, workflow)] += 1
            except Exception as exc:  # a crash: what this bench counts
                crashes[signature(exc)] += 1
    finally:
        project.close()
    return {"cases": cases, "errors": counts["error"], "accepted": counts["accepted"], "crashes": dict(crashes)}
