"""What the editor builds for each node class, read from the server's ``/object_info``.

The editor never trusts a saved file for widget names: it creates a node's sockets and
widgets from the server's definition and then pours ``widgets_values`` into them by
position. This module derives the same two lists (input slots, widgets) per class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Input types the editor shows as a widget (its ComfyWidgets table and the core
#: extensions' custom widgets). A list spec (combo) is "COMBO".
WIDGET_TYPES = frozenset({
    "INT", "FLOAT", "BOOLEAN", "STRING", "COMBO", "MARKDOWN", "COLOR", "IMAGECOMPARE", "CHART",
    "GALLERIA", "TEXTAREA", "IMAGEUPLOAD", "WEBCAM", "LOAD_3D", "LOAD_3D_ANIMATION", "PREVIEW_3D",
    "PREVIEW_3D_ANIMATION", "AUDIO_UI", "AUDIO_RECORD",
})
#: Integer inputs that get a seed control widget when the spec does not say.
SEED_NAMES = ("seed", "noise_seed")
#: Inputs and widgets that the editor's own extensions add to some classes: (name, type,
#: saved in widgets_values). Their values are sent; the server ignores inputs it lacks.
EXTENSION_WIDGETS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "SaveGLB": (("image", "PREVIEW_3D", True),),
    "Preview3D": (("image", "PREVIEW_3D", True),),
    "PreviewAny": (("preview", "MARKDOWN", False),),
    **{name: (("audioUI", "AUDIO_UI", True),)
       for name in ("LoadAudio", "SaveAudio", "PreviewAudio", "SaveAudioMP3", "SaveAudioOpus")},
}
#: Widgets that are a bare DOM element (an audio player, a recorder): their value is always "",
#: whatever the file saved in their place (a recording lives in the browser, not in the file).
VALUELESS_KINDS = frozenset({"AUDIO_UI", "AUDIO_RECORD"})
#: Options that give a combo the editor's upload button (a widget saved after all inputs).
UPLOAD_FLAGS = ("image_upload", "video_upload", "animated_image_upload")
CONTROL_VALUES = frozenset({"fixed", "increment", "decrement", "randomize"})


class _Undefined:
    """JavaScript's ``undefined``: a widget without a value, left out of the prompt."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Any = _Undefined()


@dataclass(frozen=True)
class Widget:
    """One widget as the editor creates it. ``sent`` is False for the extra widgets the editor
    saves in ``widgets_values`` but never queues (seed control, filter list, upload button)."""

    name: str
    kind: str  # INT, FLOAT, BOOLEAN, STRING, COMBO, CONTROL, FILTER, UPLOAD or a custom type
    default: Any
    sent: bool = True
    options: tuple[Any, ...] | None = None
    multi: bool = False
    saved: bool = True  # takes a place in widgets_values


@dataclass(frozen=True)
class Slot:
    """One input socket of a node, in the editor's order (sockets first, then widget inputs)."""

    name: str
    type: str
    widget: bool


@dataclass(frozen=True)
class NodeClass:
    name: str
    display_name: str
    slots: tuple[Slot, ...]
    widgets: tuple[Widget, ...]
    outputs: tuple[str, ...]
    force_inputs: frozenset[str]  # inputs marked forceInput (old editors saved a dummy value for them)

    def widget(self, name: str) -> Widget | None:
        return next((w for w in self.widgets if w.name == name and w.sent), None)

    def slot_index(self, name: str) -> int:
        return next((i for i, s in enumerate(self.slots) if s.name == name), -1)


def spec_type(spec: Any) -> str:
    """The editor's type for an input spec: a list of options is a combo."""
    first = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
    return "COMBO" if isinstance(first, (list, tuple)) else str(first)


def spec_options(spec: Any) -> dict[str, Any]:
    return spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict) else {}


def _ordered_inputs(info: Mapping[str, Any]) -> list[tuple[str, Any, bool]]:
    """(name, spec, optional) in ``input_order`` (required, then optional), then the rest."""
    sections = info.get("input") or {}
    order = info.get("input_order") or {}
    seen: set[str] = set()
    out: list[tuple[str, Any, bool]] = []
    for section, optional in (("required", False), ("optional", True)):
        specs = sections.get(section) or {}
        for name in order.get(section) or []:
            if name in specs and name not in seen:
                out.append((name, specs[name], optional))
                seen.add(name)
    for section, optional in (("required", False), ("optional", True)):
        for name, spec in (sections.get(section) or {}).items():
            if name not in seen:
                out.append((name, spec, optional))
                seen.add(name)
    return out


def _default(kind: str, spec: Any, opts: Mapping[str, Any]) -> Any:
    if kind == "COMBO":
        values = spec[0] if isinstance(spec[0], (list, tuple)) else opts.get("options") or []
        value = opts["default"] if opts.get("default") else values[0] if values else \
            "Loading..." if opts.get("remote") else UNDEFINED
        if any(opts.get(f) for f in UPLOAD_FLAGS):
            value = str(value) if value is not UNDEFINED else "undefined"  # the upload widget's own string
            if opts.get("image_folder"):
                value += f" [{opts['image_folder']}]"
        return value
    fallback = {"INT": 0, "FLOAT": 0, "STRING": "", "BOOLEAN": False}.get(kind, UNDEFINED)
    return opts.get("default", fallback)


def _widgets_for(name: str, spec: Any, kind: str) -> list[Widget]:
    opts = spec_options(spec)
    options = None
    if kind == "COMBO":
        values = spec[0] if isinstance(spec[0], (list, tuple)) else opts.get("options")
        options = tuple(values) if isinstance(values, (list, tuple)) else None
    main = Widget(name, kind, _default(kind, spec, opts), options=options, multi=bool(opts.get("multi_select")))
    out = [main]
    remote = opts.get("remote")
    if kind == "COMBO" and isinstance(remote, Mapping) and remote.get("refresh_button"):
        out.append(Widget("refresh", "BUTTON", "refresh"))
    control = opts.get("control_after_generate")
    if kind == "INT" and (control if control is not None else name in SEED_NAMES):
        out.append(Widget(control if isinstance(control, str) else "control_after_generate", "CONTROL",
                          "randomize", sent=False))
    elif kind == "AUDIO_RECORD":  # its record button, saved after it
        out.append(Widget(name, "BUTTON", "", sent=False))
    elif kind == "COMBO" and control:
        out.append(Widget(control if isinstance(control, str) else "control_after_generate", "CONTROL",
                          "randomize", sent=False))
        out.append(Widget("control_filter_list", "FILTER", "", sent=False))
    return out


def node_class(name: str, info: Mapping[str, Any]) -> NodeClass:
    sockets: list[Slot] = []
    widget_slots: list[Slot] = []
    widgets: list[Widget] = []
    force: set[str] = set()
    upload = False
    for input_name, spec, optional in _ordered_inputs(info):
        kind = spec_type(spec)
        opts = spec_options(spec)
        if kind in WIDGET_TYPES and not opts.get("forceInput"):
            widget_slots.append(Slot(input_name, kind, True))
            widgets.extend(_widgets_for(input_name, spec, kind))
            upload = upload or (kind == "COMBO" and not optional and any(opts.get(f) for f in UPLOAD_FLAGS))
            # The audio upload button: only for a required input named "audio".
            upload = upload or (input_name == "audio" and not optional and opts.get("audio_upload") is True)
        else:
            sockets.append(Slot(input_name, kind, False))
        if opts.get("forceInput"):
            force.add(input_name)
    for extra, kind, saved in EXTENSION_WIDGETS.get(name, ()):
        widget_slots.append(Slot(extra, kind, True))
        widgets.append(Widget(extra, kind, "", saved=saved))
    if upload:
        widgets.append(Widget("upload", "UPLOAD", "image", sent=False))
    outputs = tuple(str(t) if not isinstance(t, list) else "COMBO" for t in info.get("output") or [])
    return NodeClass(name, str(info.get("display_name") or name), tuple(sockets + widget_slots),
                     tuple(widgets), outputs, frozenset(force))


class Catalog:
    """The classes of one ``/object_info``, each derived once, when first needed."""

    def __init__(self, object_info: Mapping[str, Any]) -> None:
        self.object_info = object_info
        self._classes: dict[str, NodeClass] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.object_info

    def get(self, name: str) -> NodeClass | None:
        found = self._classes.get(name)
        if found is None and name in self.object_info:
            found = self._classes[name] = node_class(name, self.object_info[name])
        return found
