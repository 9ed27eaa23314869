"""Structure-aware fuzzing of the UI-format converter: real editor workflows (the installed
``comfyui-workflow-templates*`` packages and tests/ui_fixtures/) mutated at the JSON level
and fed to ``convert``, ``convert_visible`` and what collection reads (``file_addresses``).
Only ``UIFormatError`` (and its subclasses) may come out; anything else is a crash, counted
by signature (exception type and the innermost frame of comfy_plugin).

    .venv/bin/python bench/fuzz_ui.py --cases 20000 [--seed 1]

``run(cases, seed)`` is what bench/fuzz.py and tests/unit/test_uiformat_fuzz.py call; the
mutations are plain data (``Op``), so hypothesis can draw them too (``apply``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from comfy_plugin.errors import UIFormatError  # noqa: E402
from comfy_plugin.uiformat import Catalog, convert, convert_visible, is_ui_format  # noqa: E402
from comfy_plugin.batchfile.ui_addressing import file_addresses  # noqa: E402

OBJECT_INFO = ROOT / "tests" / "ui_fixtures" / "object_info.json"
FIXTURES = ROOT / "tests" / "ui_fixtures"
TEMPLATES_GLOB = ".comfyui/venv/lib/python3*/site-packages/comfyui_workflow_templates*/**/*.json"

#: Values of the wrong type, out of range or hostile, that a field may be set to.
ODD: tuple[Any, ...] = (
    None, True, False, 0, -1, -10, -20, 1, 2, 7, 2**31, 2**64, 10**40, 1.5, -0.0, math.nan, math.inf, -math.inf,
    "", "x", "3", "-1", "²", "١٢", "\ud800", "fixed", "randomize", "*", "IMAGE", "v1.2.3", "0.3.75", "1e400",
    [], [1], [1, 2], ["a", "b", "c"], [[1, 2]], {}, {"name": "x"}, {"a": {"b": {}}},
)
KINDS = ("set", "set", "set", "node_field", "node_field", "link_part", "link_part", "input_link", "delete", "delete",
         "dup_node", "dup_link", "remove_node", "remove_link", "proxy", "control", "version", "self_instance",
         "surrogate", "swap")
GROW = ("deep_subgraphs", "wide_subgraphs", "reroute_chain", "deep_value")
#: Seconds one case may take (the issue's bound is 10 s per hostile file).
CASE_SECONDS = 10.0
NODE_FIELDS = ("id", "type", "mode", "inputs", "outputs", "widgets_values", "properties", "title")


@dataclass(frozen=True)
class Op:
    """One mutation: ``kind``, which place (``where``, taken modulo the places there are), a
    second choice (``extra``) and the value written (``payload``)."""

    kind: str
    where: int
    extra: int = 0
    payload: Any = None


def graphs(data: Any) -> list[dict[str, Any]]:
    """The root graph and every subgraph definition (iteratively: the nesting is the file's)."""
    found, pending = [], [data]
    while pending:
        item = pending.pop()
        if not isinstance(item, dict):
            continue
        found.append(item)
        defs = item.get("definitions")
        subs = defs.get("subgraphs") if isinstance(defs, dict) else None
        pending.extend(subs if isinstance(subs, list) else [])
    return found


def _nodes(data: Any) -> list[dict[str, Any]]:
    return [n for g in graphs(data) if isinstance(g.get("nodes"), list) for n in g["nodes"] if isinstance(n, dict)]


def _links(data: Any) -> list[list[Any] | dict[str, Any]]:
    return [lk for g in graphs(data) if isinstance(g.get("links"), list) for lk in g["links"]
            if isinstance(lk, (list, dict))]


def _places(data: Any, limit: int = 4000) -> list[tuple[Any, Any]]:
    """(container, key) of values in the tree, breadth first, at most ``limit``."""
    out: list[tuple[Any, Any]] = []
    pending = [data]
    while pending and len(out) < limit:
        item = pending.pop(0)
        keys = list(item) if isinstance(item, dict) else range(len(item)) if isinstance(item, list) else []
        for key in keys:
            out.append((item, key))
            pending.append(item[key])
    return out


def _pick(items: list[Any], where: int) -> Any:
    return items[where % len(items)] if items else None


def _chain(depth: int, width: int) -> dict[str, Any]:
    """A workflow of subgraphs nested ``depth`` deep, ``width`` instances a level."""
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(depth)]
    defs = []
    for level, sub_id in enumerate(ids):
        inner = ([{"id": k + 1, "type": ids[level + 1], "mode": 0} for k in range(width)] if level + 1 < depth
                 else [{"id": 1, "type": "ImageInvert", "mode": 0, "inputs": [{"name": "image", "type": "IMAGE",
                                                                              "link": None}]}])
        defs.append({"id": sub_id, "name": f"level {level}", "nodes": inner, "links": [], "inputs": [],
                     "outputs": []})
    root = [{"id": k + 1, "type": ids[0], "mode": 0} for k in range(width)]
    return {"nodes": root, "links": [], "definitions": {"subgraphs": defs}}


def _reroutes(count: int) -> dict[str, Any]:
    """LoadImage > ``count`` chained reroutes > ImageInvert."""
    nodes: list[dict[str, Any]] = [{"id": 1, "type": "LoadImage", "mode": 0, "widgets_values": ["a.png", "image"],
                                    "outputs": [{"type": "IMAGE"}, {"type": "MASK"}]}]
    links = []
    for k in range(count + 1):
        target = k + 2
        links.append([k + 1, k + 1, 0, target, 0, "IMAGE"])
        node: dict[str, Any] = {"id": target, "type": "Reroute" if k < count else "ImageInvert", "mode": 0,
                                "inputs": [{"name": "" if k < count else "image", "type": "*", "link": k + 1}]}
        nodes.append(node)
    return {"nodes": nodes, "links": links}


def grown(op: Op) -> dict[str, Any]:
    """The generated workflows: deep or wide nesting, long reroute chains, deep values."""
    if op.kind == "deep_subgraphs":
        return _chain(1 + op.where % 1300, 1)
    if op.kind == "wide_subgraphs":
        return _chain(1 + op.where % 24, 2)
    if op.kind == "reroute_chain":
        return _reroutes(op.where % 3000)
    value: Any = "x"
    for _ in range(op.where % 600):
        value = [value]
    return {"nodes": [{"id": 1, "type": "ImageInvert", "mode": 0, "widgets_values": value}], "links": []}


def apply(data: Any, op: Op) -> None:  # noqa: PLR0912 (one branch a mutation kind)
    """Mutate ``data`` in place (a place that is not there leaves it as it is)."""
    nodes, links = _nodes(data), _links(data)
    kind, where, extra, payload = op.kind, op.where, op.extra, op.payload
    if kind in {"set", "delete", "swap"}:
        places = _places(data)
        if not places:
            return
        holder, key = _pick(places, where)
        if kind == "set":
            holder[key] = payload
        elif kind == "delete":
            del holder[key]
        else:
            other, okey = _pick(places, extra)
            mine, theirs = copy.deepcopy(holder[key]), copy.deepcopy(other[okey])  # copies: never a cycle
            holder[key], other[okey] = theirs, mine
    elif kind == "node_field" and nodes:
        _pick(nodes, where)[NODE_FIELDS[extra % len(NODE_FIELDS)]] = payload
    elif kind == "link_part" and links:
        link = _pick(links, where)
        keys = list(link) if isinstance(link, dict) else list(range(len(link)))
        if keys:
            link[keys[extra % len(keys)]] = payload
    elif kind == "input_link":
        inputs = [i for n in nodes if isinstance(n.get("inputs"), list) for i in n["inputs"] if isinstance(i, dict)]
        if inputs:
            ids = [lk[0] if isinstance(lk, list) and lk else lk.get("id") if isinstance(lk, dict) else None
                   for lk in links]
            _pick(inputs, where)["link"] = _pick(ids, extra) if extra % 2 and ids else payload
    elif kind in ("dup_node", "remove_node", "dup_link", "remove_link"):
        holders = [g.get("nodes" if "node" in kind else "links") for g in graphs(data)]
        lists = [h for h in holders if isinstance(h, list) and h]
        target = _pick(lists, extra)
        if target is not None:
            index = where % len(target)
            if kind.startswith("dup"):
                target.append(copy.deepcopy(target[index]))
            else:
                del target[index]
    elif kind == "proxy" and nodes:
        node = _pick(nodes, where)
        props = node.setdefault("properties", {}) if isinstance(node.get("properties", {}), dict) else {}
        props["proxyWidgets"] = [[str(extra), "seed"], ["-1", "text"], payload] if extra % 3 else payload
    elif kind == "control" and nodes:
        node = _pick(nodes, where)
        values = node.get("widgets_values")
        if isinstance(values, list) and values:
            values[extra % len(values)] = payload if isinstance(payload, list) else [payload]
    elif kind == "version" and nodes:
        node = _pick(nodes, where)
        if isinstance(node.get("properties"), dict):
            node["properties"]["ver"] = payload
            node["properties"]["cnr_id"] = "comfy-core"
    elif kind == "self_instance":
        defs = [g for g in graphs(data)[1:] if isinstance(g.get("nodes"), list)]
        sub = _pick(defs, where)
        other = _pick(defs, extra)
        if sub is not None and other is not None:
            sub["nodes"].append({"id": 9000 + extra % 50, "type": other.get("id"), "mode": 0})
    elif kind == "surrogate" and nodes:
        node = _pick(nodes, where)
        values = node.get("widgets_values")
        if isinstance(values, list) and values:
            values[extra % len(values)] = "bad \ud800 text"
        else:
            node["title"] = "\udfff"


def random_ops(rng: random.Random) -> list[Op]:
    return [Op(rng.choice(KINDS), rng.randrange(1 << 16), rng.randrange(1 << 16), rng.choice(ODD))
            for _ in range(rng.randint(1, 4))]


def synthesized_info(info: dict[str, Any], workflows: list[Any]) -> dict[str, Any]:
    """``info`` plus a made-up class for each node type the workflows use that it lacks (the
    saved /object_info is a bare server's; templates use custom nodes and models): sockets
    from the node's inputs, widgets from its widgets_values, so conversion goes deep."""
    out = dict(info)
    for data in workflows:
        subgraph_ids = {g.get("id") for g in graphs(data)[1:]}
        for node in _nodes(data):
            kind = node.get("type")
            if not isinstance(kind, str) or kind in out or kind in subgraph_ids:
                continue
            required: dict[str, Any] = {}
            for entry in node.get("inputs") or []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str) and not entry.get("widget"):
                    required[entry["name"]] = [entry.get("type") if isinstance(entry.get("type"), str) else "*"]
            values = node.get("widgets_values")
            for index, value in enumerate(values if isinstance(values, list) else []):
                spec = ("BOOLEAN" if isinstance(value, bool) else "INT" if isinstance(value, int)
                        else "FLOAT" if isinstance(value, float) else "STRING" if isinstance(value, str) else None)
                if spec is None:
                    break
                required[f"widget_{index}"] = [spec, {}]
            outputs = [o.get("type") if isinstance(o.get("type"), str) else "*" for o in node.get("outputs") or []
                       if isinstance(o, dict)]
            out[kind] = {"input": {"required": required}, "output": outputs, "display_name": kind, "name": kind}
    return out


def sources() -> list[tuple[str, str]]:
    """(name, JSON text) of every UI-format workflow: fixtures (always), templates (if installed)."""
    paths = sorted(FIXTURES.glob("*.json")) + sorted(FIXTURES.glob("bad/*.json")) + sorted(ROOT.glob(TEMPLATES_GLOB))
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if is_ui_format(data):
            found.append((path.name, text))
    return found


def outcome(data: Any, catalog: Catalog) -> str:
    """"accepted" or "error"; anything other than a UIFormatError propagates (a crash)."""
    try:
        file_addresses(data, "fuzz.json")
        prompt = convert(data, catalog, "fuzz.json")
        convert_visible(data, catalog, "fuzz.json")
    except UIFormatError:
        return "error"
    json.dumps(prompt)  # what the converter command writes: every value JSON
    return "accepted"


def signature(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "comfy_plugin" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno} {frames[-1].name}" if frames else "the fuzzer itself"
    return f"{type(exc).__name__} at {where}"


class Fuzzer:
    """The sources read once, the catalog built once; ``case`` runs one mutated workflow."""

    def __init__(self) -> None:
        self.sources = sources()
        workflows = [json.loads(text) for _, text in self.sources]
        self.catalog = Catalog(synthesized_info(json.loads(OBJECT_INFO.read_text(encoding="utf-8")), workflows))

    def workflow(self, index: int, ops: list[Op]) -> Any:
        first = ops[0] if ops else None
        data = grown(first) if first is not None and first.kind in GROW else json.loads(
            self.sources[index % len(self.sources)][1])
        if first is not None and first.kind == "deep_value":
            return data  # copying it (a duplicated node) would overflow copy.deepcopy's recursion, not ours
        for op in ops:
            if op.kind not in GROW:
                apply(data, op)
        return data

    def case(self, index: int, ops: list[Op]) -> str:
        return outcome(self.workflow(index, ops), self.catalog)


class CaseTimeout(Exception):
    """A case ran past its time: unbounded work, counted as a crash where it was interrupted."""


def _interrupt(signum: int, frame: Any) -> None:
    raise CaseTimeout(f"a case ran past {CASE_SECONDS} s")


def run(cases: int, seed: int = 0) -> dict[str, Any]:
    """``cases`` mutated workflows from ``seed``: counts of clear errors, accepted files and
    crashes by signature (a case running past ``CASE_SECONDS`` is one, ``CaseTimeout``)."""
    rng = random.Random(seed)
    fuzzer = Fuzzer()
    counts: Counter[str] = Counter()
    crashes: Counter[str] = Counter()
    timed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    previous = signal.signal(signal.SIGALRM, _interrupt) if timed else None
    try:
        for _ in range(cases):
            ops = random_ops(rng)
            if rng.random() < 0.03:
                ops = [Op(rng.choice(GROW), rng.randrange(1 << 16)), *ops[:1]]
            index = rng.randrange(1 << 16)
            try:
                if timed:
                    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
                counts[fuzzer.case(index, ops)] += 1
            except Exception as exc:  # a crash: what the fuzzer exists to count
                crashes[signature(exc)] += 1
            finally:
                if timed:
                    signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        if timed:
            signal.signal(signal.SIGALRM, previous)
    return {"cases": cases, "errors": counts["error"], "accepted": counts["accepted"], "crashes": dict(crashes)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    start = time.monotonic()
    result = run(args.cases, args.seed)
    print(json.dumps(result, indent=2))
    print(f"{time.monotonic() - start:.1f} s", file=sys.stderr)
    return 1 if result["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
