"""The HTML report's time and memory of one prompt: its figures and a per-node bar chart.

Kept apart from ``html.py`` (the page) so that each module does one job. The chart is
plain HTML and CSS (a bar's width is its share of the slowest node), so the report needs no
library and nothing from the network. Node times are what the client saw: ComfyUI does not
stamp its ``executing`` messages, so a node's time is the gap between their receipts.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..server.measure import PromptTiming

MAX_BARS = 12  # the slowest nodes charted; the rest are summed in one line, to keep the page small
NODE_NOTE = ("time per node, slowest first: when this client received the server's <code>executing</code> "
             "messages (the server does not stamp them)")


def timing_entry(timing: PromptTiming, classes: Mapping[str, str]) -> dict[str, Any]:
    """A ``measure.PromptTiming`` as plain JSON, each node named by its class (``classes``:
    node id -> class, from ``Batch.node_classes``); a node that ran more than once is summed."""
    nodes: dict[str, dict[str, Any]] = {}
    for node, spent in timing.node_s:
        if node not in nodes:
            nodes[node] = {"id": node, "class": classes.get(node), "s": 0.0}
        nodes[node]["s"] += spent
    for shown in nodes.values():
        shown["s"] = round(shown["s"], 4)
    return {"queued_s": timing.queued_s, "peak_mem_mb": timing.peak_mem_mb, "mem_kind": timing.mem_kind,
            "nodes": list(nodes.values())}  # in the order they first ran


def node_label(node: dict[str, Any]) -> str:
    """``KSampler 3``, or ``node 3`` when the workflow does not name its class."""
    return f'{node.get("class") or "node"} {node.get("id")}'


def node_seconds(value: float) -> str:
    """Node times are often well under a second: three decimals there, else as ``seconds``."""
    if value < 1:
        return f"{value:.3f} s"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def memory(mb: float, kind: str) -> str:
    """``peak resident memory <b>2,345 MB</b>``; a sampled figure says so after its value."""
    name, _, how = kind.partition(", ")
    after = f", {html.escape(how)}" if how else ""
    return f'{html.escape(name or "memory")} <b>{mb:,.0f} MB</b>{after}'


def figures(timing: dict[str, Any] | None) -> tuple[str, str]:
    """The header's queued time and peak memory, as spans ("" when not measured)."""
    if not isinstance(timing, dict):
        return "", ""
    queued, mb, kind = timing.get("queued_s"), timing.get("peak_mem_mb"), str(timing.get("mem_kind") or "")
    waited = memory_span = ""
    if isinstance(queued, (int, float)):
        waited = (f'<span class="queued" title="from this client\'s POST /prompt to the server\'s '
                  f'execution_start">queued <b>{node_seconds(max(queued, 0.0))}</b></span>')
    if isinstance(mb, (int, float)):
        memory_span = (f'<span class="memory" data-kind="{html.escape(kind, quote=True)}" title="'
                       f'{html.escape(_memory_title(kind), quote=True)}">{memory(mb, kind)}</span>')
    return waited, memory_span


def _memory_title(kind: str) -> str:
    if kind.endswith("sampled"):
        return "the server's device memory in use, sampled from /system_stats while the prompt ran"
    return "the launched server process's peak resident memory during the prompt (VmHWM, exact)"


def chart(timing: dict[str, Any] | None) -> str:
    """The per-node bar chart, slowest first; empty when no node's time was seen."""
    nodes = timing.get("nodes") if isinstance(timing, dict) else None
    ran = [n for n in nodes or [] if isinstance(n, dict) and isinstance(n.get("s"), (int, float))]
    if not ran:
        return ""
    ordered = sorted(ran, key=lambda n: -n["s"])  # stable: equal times keep their run order
    slowest = ordered[0]["s"]
    rows = [_bar(node, slowest) for node in ordered[:MAX_BARS]]
    rest = ordered[MAX_BARS:]
    if rest:
        rows.append(f'<div class="rest">{len(rest)} more node(s), '
                    f'{node_seconds(sum(n["s"] for n in rest))} in all</div>')
    return ('<figure class="nodes" aria-label="time per node, slowest first"><div class="bars">'
            + "".join(rows) + f'</div><figcaption>{NODE_NOTE}</figcaption></figure>')


def _bar(node: dict[str, Any], slowest: float) -> str:
    share = 100.0 * node["s"] / slowest if slowest > 0 else 100.0
    label = html.escape(node_label(node))
    return (f'<div class="bar" data-node="{html.escape(str(node.get("id")), quote=True)}" data-seconds="{node["s"]}">'
            f'<span class="name">{label}</span><span class="track"><span class="fill" style="width:{share:.1f}%">'
            f'</span></span><span class="s">{node_seconds(node["s"])}</span></div>')
