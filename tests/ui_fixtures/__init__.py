"""UI-format fixtures and helpers shared by the UI-format tests: where the installed image
templates are, the fixtures of this folder, and how two prompts differ."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
COMFY_PYTHON = ROOT / ".comfyui" / "venv" / "bin" / "python"
OBJECT_INFO = HERE / "object_info.json"
EDITOR_OUTPUTS = HERE / "editor_outputs.json"
#: Fixtures the editor's output is compared with (bad/ holds the broken files).
FIXTURES = sorted(p for p in HERE.glob("*.json") if p.name not in ("object_info.json", "editor_outputs.json"))
#: The UI-format examples in workflows-files/.
EXAMPLES = sorted((ROOT / "workflows-files").glob("*-ui.json"))
TEMPLATES_PACKAGE = "comfyui_workflow_templates_media_image"
TEMPLATES_COUNT = 44
_FIND = ("import importlib.util, os; spec = importlib.util.find_spec('%s'); "
         "print(os.path.join(os.path.dirname(spec.origin), 'templates') if spec else '')" % TEMPLATES_PACKAGE)


def templates() -> list[Path]:
    """The image templates installed with ComfyUI's requirements (empty before setup)."""
    if not COMFY_PYTHON.exists():
        return []
    found = subprocess.run([str(COMFY_PYTHON), "-c", _FIND], capture_output=True, text=True, timeout=60)
    folder = found.stdout.strip()
    return sorted(Path(folder).glob("*.json")) if found.returncode == 0 and folder else []


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def differences(ours: dict[str, Any], editor: dict[str, Any]) -> list[str]:
    """Each node whose class_type or inputs differ, one line per difference."""
    lines = []
    for node_id in sorted(set(ours) | set(editor)):
        a, b = ours.get(node_id), editor.get(node_id)
        if a is None or b is None:
            which = "only the converter" if b is None else "only the editor"
            lines.append(f"node {node_id} ({(a or b)['class_type']}): sent by {which}")
            continue
        if a["class_type"] != b["class_type"]:
            lines.append(f"node {node_id}: class_type {a['class_type']!r} != editor's {b['class_type']!r}")
        for name in sorted(set(a["inputs"]) | set(b["inputs"])):
            x, y = a["inputs"].get(name, "<absent>"), b["inputs"].get(name, "<absent>")
            if x != y:
                lines.append(f"node {node_id} ({a['class_type']}) input {name!r}: {str(x)[:80]} != editor's "
                             f"{str(y)[:80]}")
    return lines
