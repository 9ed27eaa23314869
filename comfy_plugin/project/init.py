"""Command: a new project in one step, never overwriting a file.

    python -m comfy_plugin init [DIR] [--url URL | --launch COMFYUI_DIR [--python PATH] [--launch-args ARGS]]

Writes, in DIR (default: here), each file only where none is: ``pytest.ini`` (the comfy ini
keys; left out where pytest.ini, pyproject.toml, tox.ini or setup.cfg already configure pytest,
since a new pytest.ini would take their place), ``batch.schema.json`` (what the example's
``$schema`` names, for editors), ``workflows/`` and ``batches/`` (an example per workflow the
server offers: offer.py), ``.github/workflows/comfy.yml`` (the CI form) and ``.gitignore``.
One line per file says "wrote" or "kept existing". Exit codes: 0 done; 2 bad arguments or a file
that cannot be written; 3 the server cannot be read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..batchfile.schema import SCHEMA_PATH
from ..files import write_atomically
from ..urls import without_credentials
from .offer import Offer, OfferError, Workflow, from_server, offline

EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
SCHEMA_FILE = "batch.schema.json"
EXAMPLE_PROMPTS = ({"positive_prompt": "a lighthouse on a cliff at dusk, oil painting", "seed": 1},
                   {"positive_prompt": "a bowl of fruit on a wooden table", "seed": 2})
#: Where pytest reads its ini keys besides pytest.ini: a file, and the header that makes it count.
OTHER_CONFIGS = (("pyproject.toml", r"^\[tool\.pytest\.ini_options\]"), ("tox.ini", r"^\[pytest\]"),
                 ("setup.cfg", r"^\[tool:pytest\]"))


@dataclass
class Planned:
    """One file init writes (relative to the project), unless one is there."""

    path: str
    text: str


def _ini(args: argparse.Namespace) -> str:
    lines = ["[pytest]", "# Written by `python -m comfy_plugin init`. Every comfy option has an ini key: "
             "see the plugin's README.", "testpaths = batches"]
    if args.launch:
        lines += ["# Your ComfyUI folder, launched for each session with its models, custom nodes and",
                  "# extra_model_paths.yaml (outputs go to a temporary folder):",
                  f"comfy_launch = {Path(args.launch).expanduser().resolve()}"]
        if args.python:
            lines.append(f"comfy_python = {Path(args.python).expanduser().absolute()}")
        if args.launch_args:
            lines.append(f"comfy_launch_args = {args.launch_args}")
    else:
        url = without_credentials(args.url) if args.url else "http://127.0.0.1:8188"
        lines += ["# The ComfyUI the batches run on (or `comfy_launch = /path/to/ComfyUI`: launched for each",
                  "# session from your folder, with its models and custom nodes):", f"comfy_url = {url}"]
    lines += ["# The models CI downloads for a launch (folder, file, url, sha256 each; .github/workflows/comfy.yml):",
              "# comfy_models = comfy-models.json",
              "# One HTML report of every prompt, with the review that accepts new images:",
              "comfy_report = reports/comfy.html", ""]
    return "\n".join(lines)


def _batch(workflow: Workflow) -> dict[str, object]:
    """The example batch of one workflow: its keys with two fixed-seed prompts, or run as saved."""
    parameters: dict[str, object] = {
        "workflow_file": f"../workflows/{workflow.name}.json",
        "workflow_items": workflow.items,
        "save_images": {"output_directory": f"./images/{workflow.name}/", "filename_prefix": workflow.name},
    }
    prompts: list[dict[str, object]] = [{"id": "as-saved"}]
    if "positive_prompt" in workflow.items:
        parameters["generic_prompts"] = {k: v for k, v in {
            "negative_prompt": "blurry, watermark", "steps": 20, "width": 512, "height": 512, **workflow.values,
        }.items() if k in workflow.items}
        prompts = [dict(p) for p in EXAMPLE_PROMPTS]
    return {"$schema": f"../{SCHEMA_FILE}", "description": f"An example made by init from {workflow.source}.",
            "parameters": parameters, "prompts": prompts}


def _json(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def plan(args: argparse.Namespace, offer: Offer) -> list[Planned]:
    """Every file of the new project, with its text."""
    files = [Planned("pytest.ini", _ini(args)),
             Planned(SCHEMA_FILE, SCHEMA_PATH.read_text(encoding="utf-8"))]
    for workflow in offer.workflows:
        files.append(Planned(f"workflows/{workflow.name}.json", _json(workflow.graph)))
        files.append(Planned(f"batches/{workflow.name}.json", _json(_batch(workflow))))
    ci = resources.files(__package__).joinpath("files/comfy.yml").read_text(encoding="utf-8")
    files.append(Planned(".github/workflows/comfy.yml", ci))
    files.append(Planned(".gitignore", "images/\nreports/\n"))
    return files


def configured_elsewhere(root: Path) -> str | None:
    """The file that already gives pytest its ini keys (then no pytest.ini is written)."""
    for name, header in OTHER_CONFIGS:
        path = root / name
        try:
            if path.is_file() and re.search(header, path.read_text(encoding="utf-8", errors="replace"), re.M):
                return name
        except OSError:
            continue
    return None


def write(root: Path, files: list[Planned]) -> list[str]:
    """Write each planned file where none is; the lines to print."""
    lines = []
    elsewhere = configured_elsewhere(root)
    for planned in files:
        path = root / planned.path
        if planned.path == "pytest.ini" and elsewhere and not path.exists():
            keys = [line for line in planned.text.splitlines() if line and line[0].isalpha()]
            lines.append(f"kept existing {root / elsewhere}: it configures pytest (a pytest.ini would replace it); "
                         f"add there: {'; '.join(keys)}")
            continue
        if path.exists() or path.is_symlink():
            lines.append(f"kept existing {path}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, planned.text.encode("utf-8"))
        lines.append(f"wrote {path}")
    return lines


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m comfy_plugin init",
        description="Start a project: pytest.ini, an example batch per workflow the server offers, the batch "
                    "schema and a CI workflow. Never overwrites a file.")
    ap.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the project's folder (default: here)")
    ap.add_argument("--url", help="a running ComfyUI, e.g. http://127.0.0.1:8188: its default graph, its custom "
                    "nodes' example workflows and its checkpoints make the examples")
    ap.add_argument("--ca-bundle", metavar="PATH", help="CA certificates that verify an https --url")
    ap.add_argument("--launch", metavar="COMFYUI_DIR", help="write comfy_launch: each session launches this "
                    "ComfyUI folder (with its models and custom nodes) instead of using a running server")
    ap.add_argument("--python", metavar="PATH", help="with --launch: the Python that runs it (comfy_python)")
    ap.add_argument("--launch-args", metavar="ARGS", help="with --launch: its extra arguments, e.g. '--cpu'")
    return ap


def _joined(argv: Sequence[str]) -> list[str]:
    """``--launch-args "--cpu"`` as written: argparse takes a lone dashed value for an option, so
    it is joined to its flag (``--launch-args=--cpu``)."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--launch-args" and arg.startswith("-"):
            out[-1] = f"--launch-args={arg}"
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(_joined(sys.argv[1:] if argv is None else argv))
    if (args.python or args.launch_args) and not args.launch:
        print("error: --python and --launch-args go with --launch", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        offer = from_server(args.url, args.ca_bundle) if args.url else offline()
    except OfferError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    root = Path(args.dir)
    try:
        lines = write(root, plan(args, offer))
    except OSError as exc:
        print(f"error: {getattr(exc, 'filename', None) or root}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print("\n".join(lines + [f"note: {note}" for note in offer.notes]))
    print(f"next: cd {root} && python -m pytest --comfy-check, then python -m pytest")
    return 0
