"""Write workflows-files/object-info.json: the part of the development ComfyUI's
``/object_info`` that the example UI-format workflows use, so that the README's converter
example runs in a fresh clone with no server (``--object-info``).

    .venv/bin/python scripts/example_object_info.py              # launches .comfyui/ComfyUI (CPU)
    .venv/bin/python scripts/example_object_info.py --url URL    # or reads a running server
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from comfy_plugin.client import ComfyClient
from comfy_plugin.server.launcher import default_python, launch

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "workflows-files" / "object-info.json"


def node_types(workflow: dict[str, Any]) -> set[str]:
    """The node classes of a UI-format workflow and of its subgraphs (not the subgraph instances)."""
    graphs = [workflow, *workflow.get("definitions", {}).get("subgraphs", [])]
    subgraph_ids = {g.get("id") for g in graphs[1:]}
    return {n["type"] for g in graphs for n in g.get("nodes", []) if n["type"] not in subgraph_ids}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running ComfyUI 0.3.75 (default: launch the development install)")
    args = ap.parse_args()
    wanted: set[str] = set()
    for path in sorted((ROOT / "workflows-files").glob("*-ui.json")):
        wanted |= node_types(json.loads(path.read_text(encoding="utf-8")))
    server = None
    if args.url is None:
        server = launch(ROOT / ".comfyui" / "ComfyUI", default_python(ROOT), ["--cpu", "--disable-all-custom-nodes"],
                        model_paths=ROOT / ".comfyui" / "extra_model_paths.yaml")
    try:
        info = ComfyClient(args.url or server.url).object_info()  # type: ignore[union-attr]
    finally:
        if server is not None:
            server.stop()
    missing = sorted(wanted - set(info))
    if missing:
        raise SystemExit(f"the server lacks {', '.join(missing)}")
    part = {name: info[name] for name in sorted(wanted)}
    TARGET.write_text(json.dumps(part, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}: {', '.join(sorted(wanted))}")


if __name__ == "__main__":
    main()
