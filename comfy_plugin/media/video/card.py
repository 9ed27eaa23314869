"""The video kind's part of a report card: the baseline and the new video side by side (a
muted ``<video>`` with controls, or an ``<img>`` for an animated image, linked by relative
path), and a strip of the sampled frames with each frame's distances. The frames' thumbnails
come from the pixels the comparison already decoded."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..html import img_tag
from .decode import PILLOW_FORMATS

if TYPE_CHECKING:
    import numpy as np

FRAME_SIDE = 128  # the long side of a frame's thumbnail in the strip
_HREF = re.compile(r'href="([^"]*)"')


def thumb(pixels: np.ndarray | None, side: int = FRAME_SIDE) -> str:
    """A base64 PNG thumbnail of decoded pixels ("" for none)."""
    if pixels is None:
        return ""
    from ..still.image import thumbnail_png

    return base64.b64encode(thumbnail_png(pixels, side)).decode("ascii")


def frame_part(index: int, time: float, new: np.ndarray | None, *, baseline: np.ndarray | None = None,
               distances: Mapping[str, float] | None = None, failed: bool = False) -> dict[str, Any]:
    return {"index": index, "time": time, "new": thumb(new), "baseline": thumb(baseline) if baseline is not None
            else None, "distances": dict(distances or {}), "failed": failed}


def video_part(label: str, fmt: str, path: str, baseline_path: str, frames: list[dict[str, Any]], *,
               status: str = "") -> dict[str, Any]:
    poster = frames[0]["new"] if frames else ""
    return {"label": label, "format": fmt, "path": path, "baseline_path": baseline_path, "poster": poster,
            "status": status, "frames": frames}


def _href(link: Callable[[str, str], str], path: str) -> str:
    """The relative address the report gives a saved file ("" when there is no file to link):
    read from the report's own link, so that this kind and the still images agree."""
    found = _HREF.search(link("", path)) if path else None
    return html.unescape(found.group(1)) if found else ""


def _player(fmt: str, path: str, link: Callable[[str, str], str], alt: str) -> str:
    href = _href(link, path)
    if not href:
        return f'<div class="noimg">{html.escape(alt)}: no file kept</div>'
    src = html.escape(href, quote=True)
    if fmt in PILLOW_FORMATS:
        return link(f'<img src="{src}" alt="{html.escape(alt, quote=True)}" class="animation">', path)
    return f'<video muted controls loop preload="metadata" src="{src}" title="{html.escape(path, quote=True)}"></video>'


def _distances(distances: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {value:.3g}" for name, value in distances.items() if isinstance(value, (int, float)))


def _strip(frames: list[Mapping[str, Any]]) -> str:
    figures = []
    for frame in frames:
        caption = f'frame {frame["index"]} ({frame["time"]:.2f} s)'
        shown = _distances(frame.get("distances") or {})
        pictures = img_tag(frame.get("new"), f"frame {frame['index']}")
        if frame.get("baseline") is not None:
            pictures = img_tag(frame.get("baseline"), f"baseline frame {frame['index']}") + pictures
        cls = ' class="failed"' if frame.get("failed") else ""
        figures.append(f'<figure{cls}>{pictures}<figcaption>{html.escape(caption)}'
                       f'{"<br>" + html.escape(shown) if shown else ""}</figcaption></figure>')
    return '<div class="row frames">' + "".join(figures) + "</div>"


def card_html(card: Mapping[str, Any], link: Callable[[str, str], str]) -> str:
    parts = []
    for video in card.get("videos") or []:
        fmt = str(video.get("format", ""))
        row = ""
        if video.get("baseline_path") is not None and video.get("status"):
            row += (f'<figure>{_player(fmt, video.get("baseline_path") or "", link, "baseline")}'
                    f'<figcaption>baseline</figcaption></figure>')
        row += f'<figure>{_player(fmt, video.get("path") or "", link, "new")}<figcaption>new</figcaption></figure>'
        parts.append(f'<div class="compare video"><div class="label">{html.escape(str(video.get("label", "")))}'
                     f'</div><div class="row">{row}</div>{_strip(video.get("frames") or [])}</div>')
    return "\n".join(parts)
