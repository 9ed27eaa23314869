"""The still images' part of a report card: a failing image's comparison view, a passing
image's compact line, an uncompared image's thumbnail.

Nothing here decodes or encodes a picture for a passing prompt: the new image is the saved
output, linked by a path relative to the report; the baseline is the reference (or, for an
older entry, the thumbnail) kept beside the baseline file, linked the same way. Only a failing
image carries a picture of its own, the amplified difference, made from the reference pixels
the comparison already decoded. The page's script (``report/assets/report.js``) switches the
view (side by side, slider, overlay); the worst tile's zoom is CSS over the same files.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..html import img_tag

#: "row 3, column 5 of 8x8": where ssim_tile and ciede2000_tile found their worst tile.
TILE = re.compile(r"(ssim_tile|ciede2000_tile)[^()\n>]*( > )?[^()\n]*\([^)\n]*?row (\d+), column (\d+) of (\d+)x(\d+)")
_HREF = re.compile(r'href="([^"]*)"')
COMPACT_SIDE = 128  # CSS pixels of a passing or uncompared image's picture

Link = Callable[[str, str], str]


def worst_tile(message: str) -> dict[str, Any] | None:
    """The worst tile a comparison's message names: the first failing tile metric's, else the
    first named (``{"metric", "row", "column", "rows", "columns"}``, 1-based)."""
    found = list(TILE.finditer(message))
    chosen = next((m for m in found if m.group(2)), found[0] if found else None)
    if chosen is None:
        return None
    metric, _over, row, column, rows, columns = chosen.groups()
    return {"metric": metric, "row": int(row), "column": int(column), "rows": int(rows), "columns": int(columns)}


def href(link: Link, path: str) -> str:
    """The relative address the report gives a saved file ("" when there is none on disk)."""
    found = _HREF.search(link("", path)) if path else None
    return html.unescape(found.group(1)) if found else ""


def _src(link: Link, path: str, embedded: str | None) -> str:
    """A picture's src: the file, relative to the report; else an embedded PNG; else ""."""
    address = href(link, path)
    if address:
        return html.escape(address, quote=True)
    return f"data:image/png;base64,{embedded}" if embedded else ""


def _picture(src: str, alt: str, title: str, css: str = "") -> str:
    if not src:
        return f'<div class="noimg">{html.escape(alt)}: no file kept</div>'
    cls = f' class="{css}"' if css else ""
    return f'<img{cls} src="{src}" alt="{html.escape(alt, quote=True)}" title="{html.escape(title, quote=True)}">'


def _ignored(regions: Sequence[Any], width: int, height: int) -> str:
    """Hatched boxes over the regions a comparison ignores (pixels of the full image)."""
    boxes = []
    for region in regions or []:
        try:
            x0, y0, x1, y1 = (float(v) for v in region)
        except (TypeError, ValueError):
            continue
        boxes.append(f'<div class="ignore" title="ignored by the comparison: {x0:g},{y0:g} to {x1:g},{y1:g}" '
                     f'style="left:{100 * x0 / width:.3f}%;top:{100 * y0 / height:.3f}%;'
                     f'width:{100 * (x1 - x0) / width:.3f}%;height:{100 * (y1 - y0) / height:.3f}%"></div>')
    return "".join(boxes)


def _zoom(tile: Mapping[str, Any], pictures: list[tuple[str, str]], width: int, height: int) -> str:
    """The worst tile of each picture, magnified (the whole picture, scaled and moved under a
    window the tile's size)."""
    rows, columns = tile["rows"], tile["columns"]
    style = (f"width:{100 * columns}%;height:{100 * rows}%;"
             f"left:{-100 * (tile['column'] - 1)}%;top:{-100 * (tile['row'] - 1)}%")
    aspect = f' style="aspect-ratio:{width * rows}/{height * columns}"' if width and height else ""
    panes = "".join(f'<figure><div class="window"{aspect}><img src="{src}" alt="{html.escape(name)} tile" '
                    f'style="{style}"></div><figcaption>{html.escape(name)}</figcaption></figure>'
                    for name, src in pictures if src)
    where = f"row {tile['row']}, column {tile['column']} of {rows}x{columns}"
    return (f'<div class="zoom" data-row="{tile["row"]}" data-column="{tile["column"]}" data-rows="{rows}" '
            f'data-columns="{columns}"><div class="label">worst tile ({html.escape(tile["metric"])}): {where}, '
            f'magnified</div><div class="row">{panes}</div></div>')


def readings_line(readings: Mapping[str, Any]) -> str:
    shown = []
    for name, pair in readings.items():
        value, limit = [*list(pair), None, None][:2]
        number = f"{value:g}" if isinstance(value, (int, float)) else "-"
        over = isinstance(value, (int, float)) and isinstance(limit, (int, float)) and value > limit
        text = f"{name} {number}" + (f" &gt; {limit:g}" if over else "")
        shown.append(f'<span class="over">{text}</span>' if over else text)
    return ", ".join(shown)


def comparison_view(comparison: Mapping[str, Any], image: Mapping[str, Any], link: Link,
                    ignore: Sequence[Any] = ()) -> str:
    """A failing image: the baseline and the new image large, side by side (or under a slider,
    or overlaid), the amplified difference and the worst tile magnified."""
    e = html.escape
    index, path = comparison.get("index"), str(image.get("path") or "")
    width, height = int(image.get("width") or 0), int(image.get("height") or 0)
    base_path = str(comparison.get("baseline_path") or "")
    base_src = _src(link, base_path, comparison.get("baseline"))
    new_src = _src(link, path, image.get("thumb") or comparison.get("new"))
    diff_src = f'data:image/png;base64,{comparison["diff"]}' if comparison.get("diff") else ""
    base_size = comparison.get("baseline_size") or []
    base_label = f"baseline: its reference, {base_size[0]}x{base_size[1]}" if len(base_size) == 2 else "baseline"
    new_label = f"new: the saved output, {width}x{height}" if width else "new"
    regions = ignore or comparison.get("ignore") or []
    hatch = _ignored(regions, width, height) if width and height else ""
    size = f"--w:{width}px" if width else "--w:512px"
    new_picture = _picture(new_src, "new", path, "new")
    if href(link, path):
        new_picture = link(new_picture, path)
    stage = (f'<div class="stage" style="{size}">'
             f'<figure class="side base"><div class="pic">{_picture(base_src, "baseline", base_path, "baseline")}'
             f'{hatch}</div><figcaption>{e(base_label)}</figcaption></figure>'
             f'<figure class="side new"><div class="pic">{new_picture}{hatch}</div>'
             f'<figcaption>{e(new_label)}</figcaption></figure></div>')
    modes = ("".join(f'<button type="button" data-view="{m}" aria-pressed="{str(m == "side").lower()}">{label}</button>'
                     for m, label in
                     (("side", "side by side"), ("slider", "slider"), ("overlay", "overlay")))
             + '<input type="range" class="split" min="0" max="100" value="50" '
               'title="slider: where the new image begins; overlay: its opacity">')
    extras = []
    if diff_src:
        extras.append(f'<figure class="diff"><div class="pic">{_picture(diff_src, "difference", "|baseline - new| x4")}'
                      f'{hatch}</div><figcaption>difference x4, at the reference\'s size</figcaption></figure>')
    tile = comparison.get("tile")
    if isinstance(tile, Mapping):
        shown = [("baseline", base_src), ("new", new_src), ("difference x4", diff_src)]
        extras.append(_zoom(tile, shown, width, height))
    label = f"image {index}: {comparison.get('status', '')}"
    return (f'<div class="compare still view" data-view="side" data-index="{e(str(index))}">'
            f'<div class="label">{e(label)} <span class="readings">'
            f'{readings_line(comparison.get("readings") or {})}</span></div>'
            f'<div class="modes">{modes}</div>{stage}<div class="row extras">{"".join(extras)}</div></div>')


def compact(comparison: Mapping[str, Any] | None, image: Mapping[str, Any], link: Link) -> str:
    """A passing (or uncompared) image: a small picture of the saved output, its readings."""
    path = str(image.get("path") or "")
    src = _src(link, path, image.get("thumb"))
    name = html.escape(Path(path).name)
    if Path(path).is_absolute() and not Path(path).is_file():
        name += ' <span class="missing">(file not found)</span>'
    picture = _picture(src, "output", path, "thumb") if src else img_tag(None, "output")
    if href(link, path):
        picture = link(picture, path)
    text = name
    if comparison is not None:
        text += (f'<br>image {html.escape(str(comparison.get("index")))}: '
                 f'{html.escape(str(comparison.get("status", "match")))}; '
                 f'{readings_line(comparison.get("readings") or {})}')
    return f'<figure class="compact">{picture}<figcaption>{text}</figcaption></figure>'


def card_html(card: Mapping[str, Any], link: Link) -> str:
    images = list(card.get("images") or [])
    by_index = {c.get("index"): c for c in card.get("comparisons") or []}
    views, small = [], []
    for position, image in enumerate(images):
        comparison = by_index.get(position)
        if comparison is not None and comparison.get("status", "diff") != "match":
            views.append(comparison_view(comparison, image, link, card.get("ignore") or ()))
        else:
            small.append(compact(comparison, image, link))
    if small:
        views.append('<div class="row outputs">' + "".join(small) + "</div>")
    return "\n".join(views)
