"""The review controls of the HTML report: tick the prompts whose new images are right (with
the mouse or the ``a`` key), download ``accepted.json`` for ``--comfy-accept``, and the keys
that walk the failures and switch a comparison's view (``assets/report.js``)."""

from __future__ import annotations

import html
from typing import Any

from ..baselines.verdict import REVIEWABLE


def acceptable(entry: dict[str, Any]) -> bool:
    status = str(entry.get("baseline") or "").split(":", 1)[0]
    return status in REVIEWABLE


def accept_box(entry: dict[str, Any]) -> str:
    """A checkbox on each card whose new images a reviewer may accept as the baseline."""
    if not acceptable(entry):
        return ""
    nodeid = html.escape(entry["nodeid"], quote=True)
    return (f'<label class="accept"><input type="checkbox" class="accept-box" data-nodeid="{nodeid}"> '
            "accept the new image(s) as the baseline</label>")


def download_bar(entries: list[dict[str, Any]]) -> str:
    """The button that downloads the ticked prompts' ids, and how to use the file."""
    if not any(acceptable(e) for e in entries):
        return ""
    return ('<div class="review"><button type="button" id="accept-download" disabled>'
            'download accepted.json (<span id="accept-count">0</span>)</button> '
            "then run <code>pytest --comfy-accept accepted.json</code>: the ticked prompts' new images become "
            "their baselines, without a rerun</div>")


#: The page's keys: (key, what it does), as the help line shows them and report.js reads them.
KEYS = (("j", "next failure"), ("k", "previous failure"), ("a", "tick / untick accept"),
        ("v", "side by side, slider, overlay"), ("[ ]", "move the slider"), ("n p", "next / previous page"))


def keys_help() -> str:
    """The keyboard's line under the filter box."""
    return '<p class="keys">keys: ' + " &middot; ".join(
        f"<kbd>{html.escape(key)}</kbd> {html.escape(what)}" for key, what in KEYS) + "</p>"
