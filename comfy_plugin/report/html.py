"""The HTML report (``--comfy-report PATH``) and pytest-html's thumbnails. No pytest here.

``Recorder`` keeps, per prompt test (node id): its outcome and, when images are wanted
(``--comfy-report`` or pytest-html's ``--html``), what the prompt's ``PromptReport`` says:
the ComfyUI prompt id, seed, parameters, and each output kind's part of the card (for still
images: the saved outputs' paths and, for a failing comparison, the baseline's reference, an
amplified difference and the worst tile), made by the kind from what the comparison already
decoded (``media/``); the report renders each part through its kind, so it hosts kinds it
does not know. All of it is plain JSON, so a pytest-xdist worker hands it to the controller in
its payload; the one process that writes renders the page: the run's date and server(s), the
summary, then a card per prompt (failures first) with its positive prompt, durations, peak
memory, a bar chart of its nodes' times (``timing.py``) and its kinds' parts.

Made for ten thousand prompts: the cards travel as JSON strings that the page's script shows a
page at a time (the first page is in the HTML, so the summary and the first failures show
before the rest is read); saved outputs and baseline references are linked by relative paths,
the few pictures a kind embeds are moved to a folder beside the report (``pictures.py``), and
every picture loads lazily. Its CSS and script are in ``assets/``.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import urllib.parse
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BaselineError
from ..files import write_atomically
from .pictures import Pictures, lazy
from .review import accept_box, download_bar, keys_help
from .timing import chart, figures, timing_entry

if TYPE_CHECKING:
    from ..media.kinds import Kinds
    from ..run.prompt import PromptReport

MAX_SAFE_INT = 2**53 - 1  # the largest integer JavaScript holds exactly
OUTCOME_ORDER = {"failed": 0, "xpassed": 1, "passed": 2, "xfailed": 3, "skipped": 4, "not run": 5}
PAGE = 50  # cards the page shows at a time


class Recorder:
    def __init__(self, path: Path | None = None, kinds: Kinds | None = None, images: bool = False, *,
                 html: bool = False) -> None:
        self.path = path
        self.kinds = kinds
        self.images = images or path is not None
        self.html = html  # pytest-html's --html is given: it shows each prompt's thumbnails
        #: Whether anything will read the entries (a report here or at the controller, pytest-html's
        #: thumbnails); a session without either keeps nothing per prompt.
        self.keep = self.images or html
        self.entries: dict[str, dict[str, Any]] = {}  # node id -> entry
        self.written: Path | None = None
        self.error = ""  # why the report could not be written

    def _entry(self, nodeid: str) -> dict[str, Any]:
        return self.entries.setdefault(nodeid, {"nodeid": nodeid, "outcome": "not run", "order": len(self.entries)})

    # -- during the run ------------------------------------------------------------------

    def record(self, report: PromptReport, parts: list[dict[str, Any]]) -> None:
        """What a prompt produced, once its outputs are saved and compared; ``parts``: each
        output kind's part of its card (``Regression.cards``)."""
        if not self.keep:
            return
        verdict = report.verdict
        entry = self._entry(report.job.key)
        entry.update(batch=report.job.batch.shown_as, prompt=report.job.spec.id, prompt_id=report.prompt_id,
                     seed=report.values.get("seed", report.values.get("noise_seed")),
                     params=dict(report.values), baseline=f"{verdict.status}: {verdict.message}" if verdict else "",
                     provenance=verdict.provenance if verdict else "",
                     parts=parts if self.images else [],
                     positive_prompt=report.values.get("positive_prompt"), execution_s=report.execution_s,
                     timing=timing_entry(report.timing, report.job.batch.node_classes))

    def outcome(self, nodeid: str, outcome: str, message: str = "", duration_s: float | None = None) -> None:
        """A prompt test's outcome (passed, failed, skipped, xfailed, xpassed), why, and how long
        the test took."""
        if not self.keep:
            return
        entry = self._entry(nodeid)
        entry["outcome"] = outcome
        if duration_s is not None:
            entry["duration_s"] = duration_s
        if message:
            entry["message"] = message
        entry.setdefault("batch", nodeid.split("::", maxsplit=1)[0])
        entry.setdefault("prompt", nodeid.rsplit("::", maxsplit=1)[-1])

    def thumbnails(self, nodeid: str) -> list[str]:
        """Base64 PNG thumbnails of a prompt's outputs (for pytest-html's extras; none without
        ``--html``: a kind may decode an output to make them)."""
        if self.kinds is None or not self.html:
            return []
        return [thumb for part in self.entries.get(nodeid, {}).get("parts", [])
                for thumb in self.kinds.named(part["kind"]).thumbnails(part)]

    # -- pytest-xdist --------------------------------------------------------------------

    def to_json(self) -> list[dict[str, Any]]:
        return list(self.entries.values())

    def absorb(self, entries: list[dict[str, Any]]) -> None:
        """A worker's entries; the controller's outcomes (from the forwarded reports) win."""
        for worker_entry in entries:
            entry = self._entry(worker_entry["nodeid"])
            for key, value in worker_entry.items():
                if key in ("outcome", "message", "order") and entry.get("outcome") != "not run":
                    continue
                if key != "order":
                    entry[key] = value

    # -- the end -------------------------------------------------------------------------

    def write(self, started: float | None = None, servers: list[str] | None = None) -> Path | None:
        """Render the report; ``started`` (epoch seconds) and ``servers`` go in its header."""
        if self.path is None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pictures = Pictures.beside(self.path)
        page = render(list(self.entries.values()), started, servers, self.path.parent, self.kinds,
                      pictures=pictures)
        write_atomically(self.path, page.encode("utf-8"))  # a browser never shows half a report
        pictures.prune()
        self.written = self.path
        return self.path


# -- HTML --------------------------------------------------------------------------------

def exact(value: Any) -> Any:
    """JSON for JavaScript: integers beyond 2^53-1 become strings, so they stay exact."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_SAFE_INT:
        return str(value)
    if isinstance(value, dict):
        return {str(k): exact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact(v) for v in value]
    if isinstance(value, (str, int, float)) or value is None:
        return value
    return str(value)


def _json(value: Any, indent: int | None = None) -> str:
    return json.dumps(exact(value), indent=indent, sort_keys=True, ensure_ascii=False)


def full_size_href(path: str, folder: Path | None) -> str | None:
    """A link from the report's folder to a saved image, relative so that the report and the
    images still find each other when opened from disk or downloaded together; None when
    there is no file on disk to open (the embedded thumbnail shows all the same)."""
    target = Path(path)
    if folder is None or not target.is_absolute() or not target.is_file():
        return None
    try:
        relative = os.path.relpath(target, folder.absolute())
    except ValueError:  # another drive (Windows): no relative path exists
        return target.as_uri()
    return urllib.parse.quote(Path(relative).as_posix())


def _linked(inner: str, path: str, folder: Path | None) -> str:
    href = full_size_href(path, folder)
    if href is None:
        return inner
    return (f'<a class="full" href="{html.escape(href, quote=True)}" target="_blank" '
            f'title="{html.escape("full size: " + path, quote=True)}">{inner}</a>')


def seconds(value: float) -> str:
    """A duration a person reads at a glance: 0.42 s, 12.3 s, 2 min 05 s."""
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def _times(entry: dict[str, Any]) -> str:
    """The test's duration (pytest), the prompt's time in the queue, the server's execution
    time and the peak memory, when known."""
    shown = []
    if isinstance(entry.get("duration_s"), (int, float)):
        shown.append(f'<span title="how long the test took in pytest: queueing, running, downloading, comparing">'
                     f'test <b>{seconds(entry["duration_s"])}</b></span>')
    queued, memory = figures(entry.get("timing"))
    shown.extend([queued] if queued else [])
    if isinstance(entry.get("execution_s"), (int, float)):
        shown.append(f'<span title="the server\'s own execution time for this prompt">'
                     f'server <b>{seconds(entry["execution_s"])}</b></span>')
    shown.extend([memory] if memory else [])
    return f'<span class="times">{" &middot; ".join(shown)}</span>' if shown else ""


def _header(entry: dict[str, Any]) -> str:
    e = html.escape
    outcome = entry.get("outcome", "not run")
    positive = entry.get("positive_prompt")
    parts = ['<header>', f'<h2><span class="badge">{e(outcome)}</span> {e(str(entry.get("prompt", "")))} '
             f'<small>{e(str(entry.get("batch", "")))}</small></h2>', _times(entry)]
    if positive:
        parts.append(f'<p class="positive" title="positive prompt">{e(str(positive))}</p>')
    parts.append("</header>")
    return "".join(parts)


def _part(part: dict[str, Any], kinds: Kinds | None, folder: Path | None) -> str:
    """One output kind's part of a card, rendered by its kind; a kind this session does not
    know (its conftest.py not loaded) shows its figures as JSON."""
    try:
        if kinds is None:
            raise BaselineError("no output kinds")
        kind = kinds.named(str(part.get("kind")))
    except BaselineError:
        shown = {k: v for k, v in part.items() if not isinstance(v, str) or len(v) < 200}
        return f'<pre class="part">{html.escape(_json(shown, 2))}</pre>'
    return kind.card_html(part, lambda inner, path: _linked(inner, path, folder))


def _card(entry: dict[str, Any], folder: Path | None = None, kinds: Kinds | None = None) -> str:
    """One prompt's card: on a failure its provenance first, the failure's text once, the accept
    box; then the facts of the run and each kind's part."""
    e = html.escape
    outcome = entry.get("outcome", "not run")
    params = dict(entry.get("params") or {})
    seed = entry.get("seed")
    parts = [f'<section class="card {e(outcome)}" data-outcome="{e(outcome)}" '
             f'data-nodeid="{e(entry["nodeid"], quote=True)}">']
    if outcome == "failed" and entry.get("provenance"):
        parts.append(f'<div class="provenance">{e(str(entry["provenance"]))}</div>')
    parts += [_header(entry), f'<div class="nodeid">{e(entry["nodeid"])}</div>']
    if entry.get("message"):
        parts.append(f'<pre class="message">{e(entry["message"])}</pre>')
    parts.extend(box for box in [accept_box(entry)] if box)
    meta = []
    if entry.get("prompt_id"):
        meta.append(f'ComfyUI prompt_id <code>{e(entry["prompt_id"])}</code>')
    if seed is not None:
        meta.append(f'seed <code class="seed">{e(str(seed))}</code>')
    if entry.get("baseline"):  # its status; the text is the failure's, shown above
        status, _, text = str(entry["baseline"]).partition(":")
        shown = status if entry.get("message") else f"{status}:{text.splitlines()[0] if text else ''}"
        meta.append(f'baseline <span class="status">{e(shown)}</span>')
    if meta:
        parts.append('<div class="meta">' + " &middot; ".join(meta) + "</div>")
    if params:
        parts.append(f'<details><summary>parameters</summary><pre class="params">{e(_json(params, 2))}</pre></details>')
    parts.extend(c for c in [chart(entry.get("timing"))] if c)
    parts.extend(_part(part, kinds, folder) for part in entry.get("parts") or [])
    parts.append("</section>")
    return "\n".join(parts)


def _search(entry: dict[str, Any]) -> str:
    """What the filter box matches: the test id, outcome, failure text and parameters."""
    params = _json(entry.get("params") or {})
    return " ".join(str(x) for x in (entry["nodeid"], entry.get("outcome", ""), entry.get("message", ""),
                                      entry.get("positive_prompt") or "", params)).lower()


def _cards_script(cards: list[dict[str, Any]], pictures: Pictures | None) -> str:
    """Every card as JSON for the page's script: in a file beside the report, loaded once the
    page is shown, or (no folder) in the page."""
    if pictures is None:
        return f'<script type="application/json" id="comfy-cards">{_script_json(cards)}</script>'
    data = f"comfyCards({_script_json(cards)});\n".encode()
    src = pictures.file("cards.js", data) + "?" + hashlib.sha256(data).hexdigest()[:12]  # never a stale copy
    return f'<script defer src="{html.escape(src, quote=True)}"></script>'


def _timed(card: str) -> str:
    """The first card's heading marked for the browser's Element Timing (bench/report_scale.py)."""
    return card.replace("<h2>", '<h2 elementtiming="first-card">', 1)


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no "</" and no "<!--" outside a string's escapes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/").replace(
        "<!--", "<\\u0021--")


@functools.cache
def asset(name: str) -> str:
    """The page's CSS and script, shipped as package data beside this module."""
    return (resources.files("comfy_plugin.report") / "assets" / name).read_text(encoding="utf-8")


def when(started: float) -> str:
    """The run's start in the local time of the machine that ran it, with its UTC offset."""
    moment = datetime.fromtimestamp(started).astimezone()
    offset = moment.strftime("%z")
    return f'{moment.strftime("%Y-%m-%d %H:%M:%S")} (UTC{offset[:3]}:{offset[3:]})'


def _run_line(entries: list[dict[str, Any]], started: float | None, servers: list[str] | None) -> str:
    """When the run started, against which server(s), and how long its prompts took."""
    e = html.escape
    shown = []
    if started is not None:
        iso = datetime.fromtimestamp(started).astimezone().isoformat(timespec="seconds")
        shown.append(f'started <time datetime="{iso}">{e(when(started))}</time>')
    if servers:
        label = "server" if len(servers) == 1 else "servers"
        shown.append(f'<span class="servers">{label} ' + ", ".join(f"<code>{e(s)}</code>" for s in servers) + "</span>")
    tests = [x["duration_s"] for x in entries if isinstance(x.get("duration_s"), (int, float))]
    executions = [x["execution_s"] for x in entries if isinstance(x.get("execution_s"), (int, float))]
    if tests:
        shown.append(f"tests took {seconds(sum(tests))} in all")
    if executions:
        shown.append(f"server execution {seconds(sum(executions))} over {len(executions)} prompt(s)")
    return '<div class="run">' + " &middot; ".join(shown) + "</div>" if shown else ""


def _summary(entries: list[dict[str, Any]]) -> str:
    """Counts per outcome, and a table of them per batch file."""
    e = html.escape
    counts: dict[str, int] = {}
    batches: dict[str, dict[str, int]] = {}
    for entry in entries:
        outcome = entry.get("outcome", "not run")
        counts[outcome] = counts.get(outcome, 0) + 1
        per = batches.setdefault(str(entry.get("batch", "")), {})
        per[outcome] = per.get(outcome, 0) + 1
    outcomes = sorted(counts, key=lambda o: OUTCOME_ORDER.get(o, 9))
    table = "<table><tr><th>batch</th>" + "".join(f"<th>{e(o)}</th>" for o in outcomes) + "</tr>" + "".join(
        f"<tr><td>{e(b)}</td>" + "".join(f"<td>{per.get(o, 0)}</td>" for o in outcomes) + "</tr>"
        for b, per in sorted(batches.items())) + "</table>"
    counted = ", ".join(f"{counts[o]} {e(o)}" for o in outcomes)
    return f'<div class="summary" elementtiming="summary">{counted}</div>{table}'


def render(entries: list[dict[str, Any]], started: float | None = None, servers: list[str] | None = None,
           folder: Path | None = None, kinds: Kinds | None = None, *, pictures: Pictures | None = None) -> str:
    """The whole page: failures first, then file order. ``folder`` is where the page will be
    written, so that links to saved files are relative to it; ``pictures``: where embedded
    pictures go (None: they stay in the page)."""
    ordered = sorted(entries, key=lambda x: (OUTCOME_ORDER.get(x.get("outcome", ""), 9), x.get("order", 0)))
    cards = []
    for entry in ordered:
        card = lazy(_card(entry, folder, kinds))
        cards.append({"o": entry.get("outcome", "not run"), "n": entry["nodeid"], "s": _search(entry),
                      "h": pictures.moved(card) if pictures is not None else card})
    data = [{k: v for k, v in entry.items() if k != "parts"} for entry in ordered]
    payload = _json(data).replace("</", "<\\/")
    if pictures is not None:  # the entries as plain JSON, for tools, beside the report
        pictures.file("data.json", _json(data).encode("utf-8"))
    failed = sum(1 for c in cards if c["o"] == "failed")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>comfy report</title>", f"<style>{asset('report.css')}</style></head>",
        f'<body data-cards="{len(cards)}" data-failed="{failed}" data-page-size="{PAGE}">',
        "<h1>ComfyUI batch report</h1>", _run_line(entries, started, servers), _summary(entries),
        download_bar(entries),
        '<div class="controls"><input id="filter" type="search" '
        'placeholder="filter: prompt, batch, outcome, parameter ..."> <span class="pager">'
        '<button type="button" id="page-prev">&lsaquo; previous</button> <span id="page-label">'
        f'cards 1-{min(PAGE, len(cards))} of {len(cards)}</span> '
        '<button type="button" id="page-next">next &rsaquo;</button></span></div>', keys_help(),
        "<noscript><p>The cards are shown by the page's script: allow JavaScript for this file.</p></noscript>",
        '<main id="cards">', *(_timed(c["h"]) if i == 0 else c["h"] for i, c in enumerate(cards[:PAGE])), "</main>",
        _cards_script(cards, pictures),
        f'<script type="application/json" id="comfy-data">{payload}</script>' if pictures is None else "",
        f"<script>{asset('report.js')}</script>", "</body></html>",
    ])
