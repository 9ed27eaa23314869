"""Checks of a patched workflow against the live server's ``/object_info``, before queueing.

What the server lacks (a node type, a model file) is not the batch file's fault: the
prompt is skipped with a reason naming it (``--comfy-missing=fail`` makes it a failure).
A value the server's spec forbids (out of range, wrong type, not one of the options, a
near miss of a model name) fails the prompt. Model names written with Windows separators
are sent in the server's spelling (``normalised``, applied by ``prepare``: a check never
changes what it checks).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from ..errors import ModelMissing, PreflightError

MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")
#: Loader inputs whose values are model files even without a known extension.
MODEL_INPUTS = frozenset({
    "ckpt_name", "vae_name", "lora_name", "unet_name", "clip_name", "clip_name1", "clip_name2",
    "clip_name3", "control_net_name", "model_name", "upscale_model_name", "style_model_name",
    "gligen_name", "hypernetwork_name", "audio_encoder_name",
})


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


def is_model_input(name: str, value: Any) -> bool:
    """A model file the server may simply lack (a skip), unlike a mistyped option (a failure)."""
    return isinstance(value, str) and (name in MODEL_INPUTS or value.lower().endswith(MODEL_EXTENSIONS))


def _near(value: str, options: list[str], cutoff: float = 0.8) -> str | None:
    """A close option: at 0.8 a model name is a typo rather than a model the server lacks."""
    close = difflib.get_close_matches(value, options, n=1, cutoff=cutoff)
    return close[0] if close else None


def server_spelling(value: Any, options: list[str] | None) -> Any:
    """``SD1.5\\model.ckpt`` as the server lists it (``SD1.5/model.ckpt``), and back; any
    other value unchanged."""
    if not isinstance(value, str) or ("\\" not in value and "/" not in value) or not options or value in options:
        return value
    for candidate in (value.replace("\\", "/"), value.replace("/", "\\")):
        if candidate in options:
            return candidate
    return value


def normalised(workflow: Mapping[str, Any], object_info: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow with model names in the server's spelling. A new mapping: the input is
    left as it was (a changed node is copied, the others are shared)."""
    result = dict(workflow)
    for node_id, node in workflow.items():
        inputs = node.get("inputs", {})
        class_type = node.get("class_type", "")
        fixed = {}
        for name, value in inputs.items():
            spelled = server_spelling(value, combo_options(input_spec(object_info, class_type, name)))
            if spelled != value:
                fixed[name] = spelled
        if fixed:
            result[node_id] = {**node, "inputs": {**inputs, **fixed}}
    return result


def _number_problem(value: Any, kind: str, opts: Mapping[str, Any]) -> str | None:
    if kind == "INT" and (not isinstance(value, int) or isinstance(value, bool)):
        return f"{value!r} is not an integer"
    if kind == "FLOAT" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        return f"{value!r} is not a number"
    low, high = opts.get("min"), opts.get("max")
    if isinstance(low, (int, float)) and value < low:
        return f"{value!r} is below the minimum {low}"
    if isinstance(high, (int, float)) and value > high:
        return f"{value!r} is above the maximum {high}"
    return None


def value_problem(name: str, value: Any, spec: Any) -> tuple[str, str] | None:
    """(message, hint) when the server's spec forbids ``value``; links are not checked."""
    if isinstance(value, list) or not isinstance(spec, list) or not spec:
        return None
    options = combo_options(spec)
    if options is not None:
        return _combo_problem(value, options)
    kind = spec[0]
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if kind in ("INT", "FLOAT"):
        problem = _number_problem(value, kind, opts)
        return (problem, "") if problem else None
    if kind == "STRING" and not isinstance(value, str):
        return f"{value!r} is not a string", ""
    if kind == "BOOLEAN" and not isinstance(value, bool):
        return f"{value!r} is not true or false", ""
    return None


def _combo_problem(value: Any, options: list[str]) -> tuple[str, str] | None:
    """(message, hint) when ``value`` is not one of a list input's options (none: anything goes)."""
    if str(value) in options or not options:
        return None
    near = _near(str(value), options, 0.6) if isinstance(value, str) else None
    shown = ", ".join(options[:8]) + (" ..." if len(options) > 8 else "")
    return f"{value!r} is not one of the server's options", (f'did you mean "{near}"?' if near else f"options: {shown}")


def check(workflow: Mapping[str, Any], object_info: Mapping[str, Any], uploaded: Collection[str] = ()) -> None:
    """Raise PreflightError for what the server forbids (the batch is wrong: that wins), else
    ModelMissing for what it lacks. Reads only: the prompt checked is the prompt sent
    (``prepare`` already wrote model names in the server's spelling, see ``normalised``).
    ``uploaded``: names of files uploaded this session, which the server has although the
    /object_info kept since the session's start does not list them."""
    failures: list[str] = []
    missing: list[str] = []
    for node_id, node in workflow.items():
        class_type = node.get("class_type")
        if class_type not in object_info:
            missing.append(f"server lacks node type '{class_type}' (node {node_id}; a custom node not installed?)")
            continue
        for name, value in node.get("inputs", {}).items():
            if isinstance(value, str) and value in uploaded:
                continue
            spec = input_spec(object_info, class_type, name)
            options = combo_options(spec)
            if options is not None and is_model_input(name, value) and value not in options \
                    and _near(value, options) is None:
                missing.append(f"server lacks model '{value}' ({class_type} node {node_id}, input {name})")
                continue
            problem = value_problem(name, value, spec)
            if problem is not None:
                message, hint = problem
                failures.append(f"node {node_id} ({class_type}) input '{name}': {message}"
                                + (f"\n  hint: {hint}" if hint else ""))
    if failures:
        raise PreflightError("the server's /object_info forbids:\n" + "\n".join(f"- {f}" for f in failures))
    if missing:
        raise ModelMissing("; ".join(missing))
