"""Speed of the UI-format converter on the image templates that ComfyUI 0.3.75 installs.

Converts each of the 44 templates of ``comfyui-workflow-templates-media-image`` (found in
the development ComfyUI's venv) with the server's ``/object_info`` as recorded in
tests/ui_fixtures/object_info.json, and prints milliseconds per template and templates per
second: the best of ``--repeat`` rounds, each with a fresh ``Catalog`` (as a session that
reads ``/object_info`` once and converts each file once would). Not a test: run it by hand.

    .venv/bin/python bench/convert_speed.py [--repeat 20] [--templates DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from comfy_plugin.uiformat import Catalog, convert  # noqa: E402

OBJECT_INFO = ROOT / "tests" / "ui_fixtures" / "object_info.json"
COMFY_PYTHON = ROOT / ".comfyui" / "venv" / "bin" / "python"
FIND = ("import importlib.util, os; "
        "print(os.path.join(os.path.dirname(importlib.util.find_spec('comfyui_workflow_templates_media_image')"
        ".origin), 'templates'))")


def templates_dir() -> Path:
    found = subprocess.run([str(COMFY_PYTHON), "-c", FIND], capture_output=True, text=True, check=True)
    return Path(found.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--templates", type=Path, help="folder of UI-format workflows (default: the installed templates)")
    args = ap.parse_args()
    folder = args.templates or templates_dir()
    info = json.loads(OBJECT_INFO.read_text())
    workflows = {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    rounds = []
    per_template: dict[str, list[float]] = {name: [] for name in workflows}
    for _ in range(args.repeat):
        catalog = Catalog(info)
        start = time.perf_counter()
        for name, workflow in workflows.items():
            t0 = time.perf_counter()
            convert(workflow, catalog, name)
            per_template[name].append(time.perf_counter() - t0)
        rounds.append(time.perf_counter() - start)
    best = min(rounds)
    slowest = max(workflows, key=lambda n: min(per_template[n]))
    print(f"{len(workflows)} templates from {folder}")
    print(f"best round: {best * 1000:.1f} ms for all; {best / len(workflows) * 1000:.2f} ms per template; "
          f"{len(workflows) / best:.0f} templates per second")
    print(f"median round: {statistics.median(rounds) * 1000:.1f} ms")
    print(f"slowest template: {slowest} ({min(per_template[slowest]) * 1000:.2f} ms, "
          f"{len(workflows[slowest]['nodes'])} top-level nodes)")


if __name__ == "__main__":
    main()
