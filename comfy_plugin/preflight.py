"""Checks of a patched workflow against the live server's ``/object_info``, before queueing.

What the server lacks (a node type, a model file) is not the batch file's fault: the
prompt is skipped with a reason naming it. Model names written with Windows separators
are sent in the server's spelling.
"""

from __future__ import annotations

from typing import Any, Mapping

from .errors import ModelMissing

MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")


def combo_options(spec: Any) -> list[str] | None:
    """The allowed values of a combo input: ``[[...], {...}]`` or ``["COMBO", {"options": [...]}]``."""
    if not isinstance(spec, list) or not spec:
        return None
    if isinstance(spec[0], list):
        return [str(o) for o in spec[0]]
    if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
        return [str(o) for o in spec[1].get("options", [])]
    return None


def input_spec(object_info: Mapping[str, Any], class_type: str, name: str) -> Any:
    inputs = object_info.get(class_type, {}).get("input", {})
    for section in ("required", "optional"):
        if name in inputs.get(section, {}):
            return inputs[section][name]
    return None


#: Loader inputs whose values are model files even without a known extension.
MODEL_INPUTS = frozenset({
    "ckpt_name", "vae_name", "lora_name", "unet_name", "clip_name", "clip_name1", "clip_name2",
    "clip_name3", "control_net_name", "model_name", "upscale_model_name", "style_model_name",
    "gligen_name", "hypernetwork_name", "audio_encoder_name",
})


def is_model_input(name: str, value: Any) -> bool:
    """A model file the server may simply lack (a skip), unlike a mistyped option (a failure)."""
    return isinstance(value, str) and (name in MODEL_INPUTS or value.lower().endswith(MODEL_EXTENSIONS))


def check(workflow: dict[str, Any], object_info: Mapping[str, Any]) -> None:
    """Raise ModelMissing for the first node type or model file the server lacks;
    rewrite ``a\\b.ckpt`` to the server's ``a/b.ckpt`` in place."""
    for node_id, node in workflow.items():
        class_type = node.get("class_type")
        if class_type not in object_info:
            raise ModelMissing(f"server lacks node type '{class_type}' (node {node_id}; a custom node not installed?)")
        for name, value in node.get("inputs", {}).items():
            options = combo_options(input_spec(object_info, class_type, name))
            if options is None or not is_model_input(name, value) or value in options:
                continue
            if "\\" in value and value.replace("\\", "/") in options:
                node["inputs"][name] = value.replace("\\", "/")
                continue
            raise ModelMissing(f"server lacks model '{value}' ({class_type} node {node_id}, input {name})")
