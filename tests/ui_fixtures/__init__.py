"""UI-format fixtures and helpers shared by the UI-format tests: where the installed local
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
#: The local template packages ComfyUI's requirements install, and how many templates each
#: holds (media-api's templates call paid web services: they are not local).
TEMPLATES_PACKAGES = {"comfyui_workflow_templates_media_image": 44, "comfyui_workflow_templates_media_video": 33,
                      "comfyui_workflow_templates_media_other": 34}
TEMPLATES_COUNT = sum(TEMPLATES_PACKAGES.values())
#: Templates no bare ComfyUI can convert, and why: (reason, the node types it lacks). The oracle
#: checks each: the converter refuses naming exactly these types, and the editor, lacking them
#: too, sends exactly the nodes of these types without a class_type (no server queues that).
NEEDS_CUSTOM_NODES = {
    "video_wan2_2_14B_animate.json": (
        "custom node packs: comfyui_controlnet_aux (DWPreprocessor, PixelPerfectResolution), comfyui-kjnodes "
        "(BlockifyMask, DrawMaskOnImage, PointsEditor), ComfyUI-segment-anything-2 (DownloadAndLoadSAM2Model, "
        "Sam2Segmentation)",
        {"BlockifyMask", "DWPreprocessor", "DownloadAndLoadSAM2Model", "DrawMaskOnImage", "PixelPerfectResolution",
         "PointsEditor", "Sam2Segmentation"}),
}
_FIND = (f"import importlib.util, os\nfor name in {sorted(TEMPLATES_PACKAGES)!r}:\n"
         " spec = importlib.util.find_spec(name)\n"
         " print(name, os.path.join(os.path.dirname(spec.origin), 'templates') if spec else '')")


def templates_by_package() -> dict[str, list[Path]]:
    """Each local template package's templates (none before setup); its index*.json files
    list the templates and are none."""
    if not COMFY_PYTHON.exists():
        return {}
    found = subprocess.run([str(COMFY_PYTHON), "-c", _FIND], capture_output=True, text=True, timeout=60,
                           check=False)
    if found.returncode != 0:
        return {}
    folders = dict([*line.split(" ", 1), ""][:2] for line in found.stdout.splitlines())
    return {name: sorted(p for p in Path(folder).glob("*.json") if not p.name.startswith("index"))
            for name, folder in folders.items() if folder}


def templates() -> list[Path]:
    """The templates of every local template package, sorted by file name."""
    return sorted((p for paths in templates_by_package().values() for p in paths), key=lambda p: p.name)


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
