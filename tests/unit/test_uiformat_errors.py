"""comfy_plugin.uiformat: bad UI-format files give one clear message naming the file and the
node, as a specific exception type (never a traceback)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from ui_fixtures import HERE, OBJECT_INFO, load

from comfy_plugin.errors import (
    BrokenLink,
    ComfyError,
    LegacyGroupNode,
    MissingSubgraph,
    ModelMissing,
    RecursiveSubgraph,
    UIFormatError,
    UnknownNodeType,
    WidgetValuesMismatch,
)
from comfy_plugin.uiformat import convert

INFO = load(OBJECT_INFO)
BAD = HERE / "bad"


def error_for(name: str, workflow: dict[str, Any] | None = None, **kwargs: Any) -> UIFormatError:
    path = BAD / name
    with pytest.raises(UIFormatError) as caught:
        convert(workflow if workflow is not None else load(path), INFO, str(path), **kwargs)
    assert isinstance(caught.value, ComfyError)
    return caught.value


def test_a_legacy_group_node_is_rejected_with_what_to_do() -> None:
    err = error_for("group-node.json")
    assert isinstance(err, LegacyGroupNode)
    assert str(err).startswith(f"{BAD / 'group-node.json'}: node 4 (workflow>Blur twice): ")
    assert "legacy group node" in err.message and "Convert to subgraph" in err.hint


def test_widget_values_that_do_not_fit_name_the_node_class_input_and_versions() -> None:
    err = error_for("widget-values.json")
    assert isinstance(err, WidgetValuesMismatch)
    assert err.place == "node 2 (ImageBlur)"
    assert "widgets_values[0] = 'gaussian' cannot be the INT widget 'blur_radius'" in err.message
    assert "blur_radius, sigma" in err.message
    assert "editor (frontend) 1.99.0" in err.message and "node version 0.9.1" in err.message
    assert "newer" in err.hint


def test_the_servers_version_is_named_when_known() -> None:
    err = error_for("widget-values.json", server_version="0.3.75")
    assert "the server runs ComfyUI 0.3.75, older than the node's version" in err.message
    err = error_for("widget-values.json", server_version="1.0.0")
    assert err.message.endswith("the server runs ComfyUI 1.0.0")


def test_a_keyed_value_for_an_input_the_server_lacks_is_named() -> None:
    workflow = load(BAD / "widget-values.json")
    blur = next(n for n in workflow["nodes"] if n["id"] == 2)
    blur["widgets_values"] = {"blur_radius": 2, "sigma": 1.0, "mode": "gaussian"}
    err = error_for("widget-values.json", workflow)
    assert isinstance(err, WidgetValuesMismatch)
    assert "widgets_values names 'mode', an input the server's ImageBlur does not have" in err.message


def test_a_link_from_a_node_that_does_not_exist() -> None:
    err = error_for("link-origin.json")
    assert isinstance(err, BrokenLink)
    assert err.place == "node 2 (ImageBlur)"
    assert err.message == "input 'image' is linked (link 1) to node 99, which does not exist"


def test_an_input_using_a_link_the_file_does_not_hold() -> None:
    workflow = load(BAD / "link-origin.json")
    workflow["links"] = workflow["links"][1:]
    err = error_for("link-origin.json", workflow)
    assert isinstance(err, BrokenLink)
    assert err.message == "input 'image' is connected by link 1, which the file does not hold"


def test_a_missing_subgraph_definition() -> None:
    err = error_for("missing-definition.json")
    assert isinstance(err, MissingSubgraph)
    assert err.place == "node 4 (subgraph instance 'Never saved')"
    assert re.fullmatch(r"the definition of subgraph [0-9a-f-]{36} is not in the file \(definitions.subgraphs\)",
                        err.message)


def test_a_subgraph_that_contains_itself() -> None:
    err = error_for("recursive-subgraph.json")
    assert isinstance(err, RecursiveSubgraph)
    assert err.place == "node 1 (subgraph instance 'Russian doll') in subgraph 'Russian doll'"
    assert "subgraph 'Russian doll' contains an instance of itself" in err.message


def test_a_node_type_the_server_lacks_skips_like_a_missing_model() -> None:
    err = error_for("unknown-type.json")
    assert isinstance(err, UnknownNodeType) and isinstance(err, ModelMissing)
    assert err.types == ["FancyUpscaler"]
    assert err.place == "node 4 (FancyUpscaler)" and "no node type 'FancyUpscaler'" in err.message


def test_unknown_types_inside_a_subgraph_are_found() -> None:
    workflow = load(HERE / "nested-subgraphs.json")
    broken = copy.deepcopy(workflow)
    broken["definitions"]["subgraphs"][0]["nodes"][1]["type"] = "ImageBlurPro"
    err = error_for("nested.json", broken)
    assert isinstance(err, UnknownNodeType)
    assert err.place == "node 2 (ImageBlurPro) in subgraph 'Noise and blur'"


def test_a_muted_or_bypassed_node_of_an_unknown_type_does_not_matter() -> None:
    workflow = load(BAD / "unknown-type.json")
    node = next(n for n in workflow["nodes"] if n["type"] == "FancyUpscaler")
    node["mode"] = 2
    assert "4" not in convert(workflow, INFO)
    node["mode"] = 4
    workflow["nodes"].append({"id": 5, "type": "ImageInvert", "mode": 0, "inputs": [
        {"name": "image", "type": "IMAGE", "link": 50}], "outputs": []})
    workflow["links"].append([50, 4, 0, 5, 0, "IMAGE"])
    node["outputs"] = [{"name": "IMAGE", "type": "IMAGE", "links": [50]}]
    assert convert(workflow, INFO)["5"]["inputs"] == {"image": ["2", 0]}, "bypassed: its IMAGE input passes"


def test_not_a_ui_workflow() -> None:
    err = error_for("api.json", {"1": {"class_type": "EmptyImage", "inputs": {}}})
    assert "not a UI-format workflow" in err.message


def test_a_node_without_a_type() -> None:
    err = error_for("typeless.json", {"nodes": [{"id": 3}], "links": []})
    assert "a node without an id or a type" in err.message
