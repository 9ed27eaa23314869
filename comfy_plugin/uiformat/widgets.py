"""A node's widget values: the saved ``widgets_values`` poured into the server's widgets.

The editor maps ``widgets_values`` by position onto the widgets it creates from the
server's definition (extra control widgets included); trailing values are display-only.
A value whose type no widget of that kind can hold means the file and the server disagree
on the inputs (a newer editor or node version): that is reported, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import WidgetValuesMismatch
from .catalog import CONTROL_VALUES, SEED_NAMES, VALUELESS_KINDS, NodeClass, Widget, spec_options
from .fields import brief
from .graph import Node, Workflow

#: Nodes whose old files the editor migrates on load (``sample_`` prefixes, boolean controls).
SAMPLERS = ("KSampler", "KSamplerAdvanced")
_VERSION = re.compile(r"v?[0-9]{1,9}(\.[0-9]{1,9}){0,5}")


def _fits(widget: Widget, value: Any) -> bool:  # noqa: PLR0911  (one answer per widget kind)
    """Whether a saved value can be this widget's: only the JSON type is checked (a combo may
    name a model the server lacks, which preflight reports)."""
    if value is None:
        return True
    kind = widget.kind
    if kind in ("INT", "FLOAT"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "BOOLEAN":
        return isinstance(value, bool)
    if kind == "STRING":
        return isinstance(value, str)
    if kind == "COMBO":
        return isinstance(value, list) if widget.multi else isinstance(value, (str, int, float, bool))
    if kind == "CONTROL":
        return (isinstance(value, str) and value in CONTROL_VALUES) or isinstance(value, bool)
    return True


def _versions(workflow: Workflow, node: Node, server_version: str | None) -> str:
    parts = []
    if workflow.frontend_version:
        parts.append(f"editor (frontend) {workflow.frontend_version}")
    ver = node.properties.get("ver")
    if ver:
        parts.append(f"node version {brief(ver) if not isinstance(ver, str) else ver[:40]}")
    text = f"the file was saved with {' and '.join(parts)}" if parts else \
        "the file does not say which versions saved it"
    if server_version:
        core = node.properties.get("cnr_id") == "comfy-core"  # a custom node's version is its own
        newer = core and isinstance(ver, str) and _version(ver) > _version(server_version) > ()
        text += f"; the server runs ComfyUI {server_version}" + (", older than the node's version" if newer else "")
    return text


def _version(text: str) -> tuple[int, ...]:
    """"0.3.75" as (0, 3, 75); () when it is not a plain dotted version (ASCII digits only: a
    file's "version" may be anything)."""
    return tuple(int(p) for p in text.strip().lstrip("v").split(".")) if _VERSION.fullmatch(text.strip()) else ()


def _mismatch(workflow: Workflow, node: Node, where: str, what: str, *, server_version: str | None,
              names: list[str]) -> WidgetValuesMismatch:
    versions = _versions(workflow, node, server_version)
    return WidgetValuesMismatch(
        workflow.source,
        f"{what}; the server's widgets for {node.type} are: {', '.join(names)}; {versions}",
        where,
        "the file was probably saved by a newer ComfyUI or node version than the server's: update the server, "
        "or open and save the file with the server's own editor",
    )


def _migrate_force_inputs(cls: NodeClass, object_info: Mapping[str, Any], values: list[Any]) -> list[Any]:
    """Old editors saved a dummy value for inputs marked ``forceInput``; the editor drops them
    when the count says so (each widget input, two for one with a control, and the forced ones)."""
    if not cls.force_inputs:
        return values
    widget_names = {w.name for w in cls.widgets}
    info = object_info.get(cls.name) or {}
    ordered = [(name, spec_options(spec)) for section in ("required", "optional")
               for name, spec in ((info.get("input") or {}).get(section) or {}).items()
               if name in widget_names or name in cls.force_inputs]
    count = sum(2 if opts.get("control_after_generate") or name in SEED_NAMES else 1 for name, opts in ordered)
    if count != len(values):
        return values
    # Like the editor, zip inputs with values one to one (the tail, past the inputs, is kept).
    return [v for i, v in enumerate(values) if i >= len(ordered) or ordered[i][0] not in cls.force_inputs]


def widget_values(workflow: Workflow, node: Node, cls: NodeClass, object_info: Mapping[str, Any],
                  where: str, *, server_version: str | None = None, at_root: bool = False) -> dict[str, Any]:
    """The value of every widget of ``node`` (sent or not), as the editor holds it after load."""
    values = {w.name: w.default for w in cls.widgets}
    saved = node.widgets_values
    names = [w.name for w in cls.widgets]
    if isinstance(saved, Mapping):
        for name, value in saved.items():
            widget = next((w for w in cls.widgets if w.name == name), None)
            if widget is None:
                raise _mismatch(workflow, node, where, f"widgets_values names '{name}', an input the server's "
                                f"{node.type} does not have", server_version=server_version, names=names)
            if not _fits(widget, value):
                raise _mismatch(workflow, node, where, f"widgets_values['{name}'] = {brief(value)} cannot be the "
                                f"{widget.kind} widget '{name}'", server_version=server_version, names=names)
            values[name] = value
    elif isinstance(saved, list):
        saved = _migrate_force_inputs(cls, object_info, saved)
        for i, (widget, value) in enumerate(zip([w for w in cls.widgets if w.saved], saved, strict=False)):
            if not _fits(widget, value):
                raise _mismatch(workflow, node, where, f"widgets_values[{i}] = {brief(value)} cannot be the "
                                f"{widget.kind} widget '{widget.name}'", server_version=server_version, names=names)
            values[widget.name] = value
    values.update({w.name: "" for w in cls.widgets if w.kind in VALUELESS_KINDS})
    if at_root and node.type in SAMPLERS:
        sampler = values.get("sampler_name")
        if isinstance(sampler, str) and sampler.startswith("sample_"):
            values["sampler_name"] = sampler[len("sample_"):]
    return values

