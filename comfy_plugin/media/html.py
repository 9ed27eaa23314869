"""HTML pieces the kinds' parts of a report card share: an embedded picture."""

from __future__ import annotations

import html


def img_tag(b64: str | None, alt: str, title: str = "") -> str:
    """An embedded PNG (base64), or a box saying there is none."""
    if not b64:
        return f'<div class="noimg">{html.escape(alt)}: no image</div>'
    return (f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt, quote=True)}" '
            f'title="{html.escape(title or alt, quote=True)}">')

