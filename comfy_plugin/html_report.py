"""The HTML report (``--comfy-report PATH``) and pytest-html's thumbnails. No pytest here.

``Recorder`` keeps, per prompt test (node id): its outcome and, when images are wanted
(``--comfy-report`` or pytest-html's ``--html``), what the prompt's ``PromptReport`` says:
the ComfyUI prompt id, seed, parameters, thumbnails of the outputs and, for compared
prompts, the baseline's thumbnail, the new image and an amplified difference image. All of
it is plain JSON, so a pytest-xdist worker hands it to the controller in its payload; the
one process that writes renders one self-contained HTML file.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

THUMB_SIDE = 256
MAX_SAFE_INT = 2**53 - 1  # the largest integer JavaScript holds exactly
OUTCOME_ORDER = {"failed": 0, "xpassed": 1, "passed": 2, "xfailed": 3, "skipped": 4, "not run": 5}


class Recorder:
    def __init__(self, path: Path | None = None, images: bool = False) -> None:
        self.path = path
        self.images = images or path is not None
        self.entries: dict[str, dict[str, Any]] = {}  # node id -> entry
        self.written: Path | None = None
        self.error = ""  # why the report could not be written

    def _entry(self, nodeid: str) -> dict[str, Any]:
        return self.entries.setdefault(nodeid, {"nodeid": nodeid, "outcome": "not run", "order": len(self.entries)})

    # -- during the run ------------------------------------------------------------------

    def record(self, report: Any, baseline_thumbnails: list[Path | None]) -> None:
        """What a prompt produced (a ``run_prompt.PromptReport``), once its outputs are saved."""
        verdict = report.verdict
        entry = self._entry(report.job.key)
        entry.update(batch=report.job.batch.shown_as, prompt=report.job.spec.id, prompt_id=report.prompt_id,
                     seed=report.values.get("seed", report.values.get("noise_seed")),
                     params=dict(report.values), baseline=f"{verdict.status}: {verdict.message}" if verdict else "",
                     distances=list(verdict.distances) if verdict else [],
                     threshold=verdict.threshold if verdict else None, images=[], comparisons=[])
        if not self.images:
            return
        stills = report.still_images
        for o in stills:
            entry["images"].append({"path": str(o.path or o.file.filename), "thumb": _thumb(o.data)})
        for index, (o, distance) in enumerate(zip(stills, verdict.distances if verdict else ())):
            base = baseline_thumbnails[index] if index < len(baseline_thumbnails) else None
            base_bytes = base.read_bytes() if base is not None and base.is_file() else None
            entry["comparisons"].append({
                "index": index, "distance": distance, "threshold": verdict.threshold,
                "baseline_path": str(base or ""), "baseline": _b64(base_bytes) if base_bytes else None,
                "new": _thumb(o.data), "diff": _difference(base_bytes, o.data) if base_bytes else None,
            })

    def outcome(self, nodeid: str, outcome: str, message: str = "") -> None:
        """A prompt test's outcome (passed, failed, skipped, xfailed, xpassed) and why."""
        entry = self._entry(nodeid)
        entry["outcome"] = outcome
        if message:
            entry["message"] = message
        entry.setdefault("batch", nodeid.split("::")[0])
        entry.setdefault("prompt", nodeid.split("::")[-1])

    def thumbnails(self, nodeid: str) -> list[str]:
        """Base64 PNG thumbnails of a prompt's outputs (for pytest-html's extras)."""
        return [i["thumb"] for i in self.entries.get(nodeid, {}).get("images", []) if i.get("thumb")]

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

    def write(self) -> Path | None:
        if self.path is None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(render(list(self.entries.values())), encoding="utf-8")
        self.written = self.path
        return self.path


# -- images ------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return _b64(buffer.getvalue())


def _rgb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.convert("RGB")


def _thumb(data: bytes) -> str | None:
    try:
        image = _rgb(data)
    except (OSError, ValueError):
        return None
    image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.LANCZOS)
    return _png(image)


def _difference(baseline_png: bytes, new_data: bytes) -> str | None:
    """|baseline - new| at the baseline thumbnail's size, amplified 4x so small changes show."""
    try:
        base, new = _rgb(baseline_png), _rgb(new_data)
    except (OSError, ValueError):
        return None
    new = new.resize(base.size, Image.LANCZOS)
    diff = ImageChops.difference(base, new).point(lambda v: min(255, v * 4))
    return _png(diff)


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


def _img(b64: str | None, alt: str, title: str = "") -> str:
    if not b64:
        return f'<div class="noimg">{html.escape(alt)}: no image</div>'
    return (f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt, quote=True)}" '
            f'title="{html.escape(title or alt, quote=True)}">')


def _card(entry: dict[str, Any]) -> str:
    e = html.escape
    outcome = entry.get("outcome", "not run")
    params = {k: v for k, v in (entry.get("params") or {}).items()}
    seed = entry.get("seed")
    search = " ".join(str(x) for x in (entry["nodeid"], outcome, entry.get("message", ""), _json(params)))
    parts = [f'<section class="card {e(outcome)}" data-outcome="{e(outcome)}" data-nodeid="{e(entry["nodeid"], quote=True)}" '
             f'data-search="{e(search.lower(), quote=True)}">',
             f'<h2><span class="badge">{e(outcome)}</span> {e(str(entry.get("prompt", "")))} '
             f'<small>{e(str(entry.get("batch", "")))}</small></h2>',
             f'<div class="nodeid">{e(entry["nodeid"])}</div>']
    if entry.get("message"):
        parts.append(f'<pre class="message">{e(entry["message"])}</pre>')
    meta = []
    if entry.get("prompt_id"):
        meta.append(f'ComfyUI prompt_id <code>{e(entry["prompt_id"])}</code>')
    if seed is not None:
        meta.append(f'seed <code class="seed">{e(str(seed))}</code>')
    if entry.get("baseline"):
        meta.append(f'baseline {e(entry["baseline"].splitlines()[0])}')
    if meta:
        parts.append('<div class="meta">' + " &middot; ".join(meta) + "</div>")
    if params:
        parts.append(f'<details><summary>parameters</summary><pre class="params">{e(_json(params, 2))}</pre></details>')
    for comparison in entry.get("comparisons") or []:
        label = f'image {comparison["index"]}: distance {comparison["distance"]} (threshold {comparison["threshold"]})'
        parts.append(f'<div class="compare"><div class="label">{e(label)}</div><div class="row">'
                     f'<figure>{_img(comparison.get("baseline"), "baseline", comparison.get("baseline_path", ""))}'
                     f'<figcaption>baseline</figcaption></figure>'
                     f'<figure>{_img(comparison.get("new"), "new")}<figcaption>new</figcaption></figure>'
                     f'<figure>{_img(comparison.get("diff"), "difference")}<figcaption>difference (x4)</figcaption>'
                     f'</figure></div></div>')
    if entry.get("images"):
        parts.append('<div class="row outputs">' + "".join(
            f'<figure>{_img(i.get("thumb"), "output", i["path"])}<figcaption>{e(Path(i["path"]).name)}</figcaption></figure>'
            for i in entry["images"]) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;background:#fafafa;color:#222}
h1{margin:0 0 .3em} .summary{margin-bottom:1em}
#filter{width:100%;max-width:40em;padding:.4em;font-size:1em;margin-bottom:1em}
.card{background:#fff;border:1px solid #ddd;border-left:6px solid #999;border-radius:4px;padding:.6em 1em;margin:.8em 0}
.card.failed{border-left-color:#c0392b} .card.passed{border-left-color:#27ae60} .card.skipped{border-left-color:#f1c40f}
.card h2{font-size:1.1em;margin:.2em 0} .card h2 small{color:#777;font-weight:normal}
.badge{font-size:.8em;text-transform:uppercase;padding:.1em .4em;border-radius:3px;background:#eee}
.failed .badge{background:#c0392b;color:#fff} .passed .badge{background:#27ae60;color:#fff}
.nodeid{color:#777;font-size:.85em} .meta{margin:.4em 0;font-size:.9em}
pre{background:#f4f4f4;padding:.5em;overflow:auto;max-height:20em;white-space:pre-wrap}
.row{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0;text-align:center} figcaption{font-size:.8em;color:#555}
img{max-width:256px;image-rendering:pixelated;border:1px solid #ccc;min-width:64px}
.compare .label{font-weight:bold;margin:.4em 0} table{border-collapse:collapse} td,th{padding:.2em .6em;border:1px solid #ddd}
"""

SCRIPT = """
(function(){
  var filter=document.getElementById('filter');
  filter.addEventListener('input',function(){
    var q=filter.value.toLowerCase().trim();
    document.querySelectorAll('.card').forEach(function(c){
      c.style.display=(!q||c.dataset.search.indexOf(q)>=0)?'':'none';});
  });
  function check(){
    var imgs=Array.prototype.slice.call(document.images),ok=0;
    imgs.forEach(function(i){var good=i.complete&&i.naturalWidth>0;i.setAttribute('data-loaded',good?'yes':'no');if(good)ok++;});
    var first=document.querySelector('.card');
    document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-loaded',ok);
    document.title='comfy report: '+ok+'/'+imgs.length+' images loaded; first: '+(first?first.dataset.outcome+' '+first.dataset.nodeid:'none');
  }
  if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
})();
"""


def render(entries: list[dict[str, Any]]) -> str:
    ordered = sorted(entries, key=lambda x: (OUTCOME_ORDER.get(x.get("outcome", ""), 9), x.get("order", 0)))
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
    data = [{k: v for k, v in entry.items() if k not in ("images", "comparisons")} for entry in ordered]
    payload = _json(data).replace("</", "<\\/")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>comfy report</title>", f"<style>{STYLE}</style></head><body>",
        "<h1>ComfyUI batch report</h1>",
        '<div class="summary">' + ", ".join(f"{counts[o]} {e(o)}" for o in outcomes) + f"</div>{table}",
        '<p><input id="filter" type="search" placeholder="filter: prompt, batch, outcome, parameter ..."></p>',
        *(_card(entry) for entry in ordered),
        f'<script type="application/json" id="comfy-data">{payload}</script>',
        f"<script>{SCRIPT}</script>", "</body></html>",
    ])
