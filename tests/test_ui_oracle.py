"""The editor is the oracle: for each template of the local template packages (image, video,
other: 111), each fixture of tests/ui_fixtures and each UI-format example, the converter's
prompt has the same nodes, class_type and inputs as the editor's own ``graphToPrompt().output``.

One ComfyUI (with its API nodes: tests/ui_fixtures/template_server.py) and one
headless Chromium showing its editor serve every comparison; the editor converts every file in
one evaluation, once. Chromium resolves nothing but loopback.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import (
    EDITOR_OUTPUTS,
    EXAMPLES,
    FIXTURES,
    NEEDS_CUSTOM_NODES,
    TEMPLATES_COUNT,
    TEMPLATES_PACKAGES,
    differences,
    load,
    templates,
    templates_by_package,
)
from ui_fixtures.editor import Editor, EditorError, chromium_binary
from ui_fixtures.template_server import require_audio_nodes, start_template_server

from comfy_plugin.errors import UnknownNodeType
from comfy_plugin.uiformat import Catalog, convert

TEMPLATES = templates()

#: Where the converter knowingly differs from the editor (frontend 1.32.9), and why. Each
#: entry is checked: the difference must still be exactly the one described.
KNOWN_DIFFERENCES = {
    "keyed-widgets.json": (
        "widgets_values saved as an object keyed by input name (newer editors): the editor 1.32.9 ignores "
        "them and sends every widget's default; the converter uses the names (design note, rule 4), so the "
        "values the user saved are sent"),
    "primitive-in-subgraph.json": (
        "a PrimitiveNode inside a subgraph: the editor 1.32.9 throws in PrimitiveNode.applyToGraph (it looks "
        "the subgraph's link up in the root graph) and cannot queue the workflow at all; the converter writes "
        "the primitive's value into the widget it feeds, as it does at the top level"),
}
#: Classes left out of the every-class comparison: their widgets upload a capture of the
#: browser's 3D view or camera when the prompt is built, which a headless page cannot give.
CAPTURING_CLASSES = {"Load3D", "Preview3D", "WebcamCapture"}
RECORD = os.environ.get("COMFY_RECORD_EDITOR_OUTPUTS") == "1"


class Oracle:
    def __init__(self, editor: Editor, object_info: dict[str, Any]) -> None:
        self.editor = editor
        self.object_info = object_info
        self.catalog = Catalog(object_info)
        self.outputs: dict[Path, dict[str, Any] | EditorError] = {}

    def editor_prompt(self, workflow: dict[str, Any]) -> dict[str, Any]:
        return self.editor.to_prompt(workflow)

    def convert_all(self, paths: list[Path]) -> None:
        """The editor's output for every file, in one evaluation, kept for ``editor_output``."""
        self.outputs.update(zip(paths, self.editor.to_prompts([load(p) for p in paths]), strict=True))

    def editor_output(self, path: Path) -> dict[str, Any]:
        found = self.outputs.get(path)
        if found is None:
            found = self.outputs[path] = self.editor_prompt(load(path))
        if isinstance(found, EditorError):
            raise found
        return found

    def compare(self, path: Path) -> list[str]:
        ours = convert(load(path), self.catalog, path.name)
        return differences(ours, self.editor_output(path))


def _object_info(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/object_info", timeout=60) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    if chromium_binary() is None:
        pytest.fail("no chromium: run scripts/setup.sh (it installs Debian's chromium package)", pytrace=False)
    server = start_template_server()
    editor = None
    try:
        # The first /object_info creates folders (input/3d) that later answers list: read it
        # once before the editor does, so that the editor and the converter see the same.
        require_audio_nodes(_object_info(server.url))
        editor = Editor(server.url, tmp_path_factory.mktemp("chromium") / "profile")
        oracle = Oracle(editor, _object_info(server.url))
        oracle.convert_all([*TEMPLATES, *EXAMPLES, *FIXTURES])
        yield oracle
    finally:
        if editor is not None:
            editor.close()
        server.stop()


def test_the_installed_local_templates_are_found() -> None:
    found = {name: len(paths) for name, paths in templates_by_package().items()}
    assert found == TEMPLATES_PACKAGES, "the local template packages are not installed: run scripts/setup.sh"
    assert len(TEMPLATES) == TEMPLATES_COUNT == 111


@pytest.mark.parametrize("template", [p for p in TEMPLATES if p.name not in NEEDS_CUSTOM_NODES],
                         ids=lambda p: p.stem)
def test_template_converts_as_the_editor_does(oracle: Oracle, template: Path) -> None:
    assert oracle.compare(template) == []


@pytest.mark.parametrize("name", sorted(NEEDS_CUSTOM_NODES))
def test_a_template_needing_custom_nodes_is_refused_as_the_editor_cannot_queue_it(oracle: Oracle, name: str) -> None:
    path = next(p for p in TEMPLATES if p.name == name)
    workflow = load(path)
    _reason, lacking = NEEDS_CUSTOM_NODES[name]
    assert lacking.isdisjoint(oracle.object_info)
    with pytest.raises(UnknownNodeType) as refused:
        convert(workflow, oracle.catalog, name)
    assert set(refused.value.types) == lacking
    editor = oracle.editor_output(path)
    classless = {node_id for node_id, node in editor.items() if "class_type" not in node}
    assert classless == {str(node["id"]) for node in workflow["nodes"] if node["type"] in lacking}


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_converts_as_the_editor_does(oracle: Oracle, example: Path) -> None:
    assert oracle.compare(example) == []


@pytest.mark.parametrize("fixture", [p for p in FIXTURES if p.name not in KNOWN_DIFFERENCES],
                         ids=lambda p: p.stem)
def test_fixture_converts_as_the_editor_does(oracle: Oracle, fixture: Path) -> None:
    assert oracle.compare(fixture) == []


def test_keyed_widget_values_are_used_where_the_editor_ignores_them(oracle: Oracle) -> None:
    path = next(p for p in FIXTURES if p.name == "keyed-widgets.json")
    workflow = load(path)
    editor = oracle.editor_prompt(workflow)
    ours = convert(workflow, oracle.catalog, path.name)
    assert editor["1"]["inputs"]["width"] == 512 and editor["3"]["inputs"]["filename_prefix"] == "ComfyUI"
    assert ours["1"]["inputs"] == {"width": 32, "height": 24, "batch_size": 2, "color": 255}
    assert ours["2"]["inputs"]["seed"] == 5 and ours["3"]["inputs"]["filename_prefix"] == "ui-keyed"
    assert {k: v["class_type"] for k, v in ours.items()} == {k: v["class_type"] for k, v in editor.items()}


def test_a_primitive_inside_a_subgraph_is_applied_where_the_editor_fails(oracle: Oracle) -> None:
    path = next(p for p in FIXTURES if p.name == "primitive-in-subgraph.json")
    workflow = load(path)
    with pytest.raises(EditorError, match="applyToGraph"):
        oracle.editor_prompt(workflow)
    ours = convert(workflow, oracle.catalog, path.name)
    assert ours["2:2"]["inputs"]["seed"] == 9


def test_every_class_gets_the_editors_default_widgets(oracle: Oracle) -> None:
    """One node of every class the server has, nothing saved: widget names, extra widgets
    added by the editor's extensions and default values all as the editor builds them."""
    names = sorted(set(oracle.object_info) - CAPTURING_CLASSES)
    workflow = {"last_node_id": len(names), "last_link_id": 0, "links": [], "groups": [], "config": {},
                "extra": {}, "version": 0.4,
                "nodes": [{"id": i + 1, "type": name, "pos": [0, 0], "size": [100, 100], "flags": {}, "order": i,
                           "mode": 0, "properties": {}} for i, name in enumerate(names)]}
    ours = convert(workflow, oracle.catalog, "every-class.json")
    assert differences(ours, oracle.editor_prompt(workflow)) == []


def test_recorded_editor_outputs_are_the_editors(oracle: Oracle) -> None:
    """tests/ui_fixtures/editor_outputs.json lets the unit tests compare offline; it must be
    what the editor gives now (COMFY_RECORD_EDITOR_OUTPUTS=1 writes it again)."""
    live: dict[str, Any] = {}
    for path in FIXTURES:
        try:
            live[path.name] = oracle.editor_output(path)
        except EditorError as exc:
            live[path.name] = {"__editor_error__": str(exc).split("\n")[0]}
    if RECORD:
        EDITOR_OUTPUTS.write_text(json.dumps(live, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    recorded = load(EDITOR_OUTPUTS)
    strip = {name: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in out.items()}
             if "__editor_error__" not in out else "error" for name, out in live.items()}
    kept = {name: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in out.items()}
            if "__editor_error__" not in out else "error" for name, out in recorded.items()}
    assert kept == strip, "the recorded editor outputs are stale: run with COMFY_RECORD_EDITOR_OUTPUTS=1"
